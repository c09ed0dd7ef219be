package dev.tether.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.awaitility.Awaitility.await;

/**
 * A real TCP peer on 127.0.0.1 for tests, built on a plain blocking {@link Socket}: it can read
 * everything into memory on its own thread, never read at all, or reset the connection (SO_LINGER 0).
 * The {@code tls*} variants speak TLS through the JDK's {@code SSLSocket} (trusting
 * {@link TestTls}'s server certificate) over that socket; a reset still resets the TCP socket
 * underneath, without a TLS close_notify.
 */
public final class Peer implements AutoCloseable {

  /** What is read and written: the TCP socket, or the SSLSocket over it. */
  private final Socket socket;
  /** The TCP socket. */
  private final Socket raw;
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private volatile boolean eof;
  private volatile Throwable readError;
  private final CompletableFuture<byte[]> eofFuture = new CompletableFuture<>();
  private Thread reader;

  private Peer(Socket socket) {
    this(socket, socket);
  }

  private Peer(Socket socket, Socket raw) {
    this.socket = socket;
    this.raw = raw;
  }

  /** Connects and starts reading everything the server sends. */
  public static Peer reading(int port) throws IOException {
    Peer p = new Peer(connect(port, -1));
    p.startReading();
    return p;
  }

  /**
   * Connects with a small receive buffer, stays stalled (reads nothing) for {@code stallMs}, then
   * reads everything: the stall and its end are part of a test's schedule.
   */
  public static Peer stalledThenReading(int port, int receiveBuffer, long stallMs) throws IOException {
    Peer p = new Peer(connect(port, receiveBuffer));
    p.startReading(stallMs);
    return p;
  }

  /** Connects with a small receive buffer and never reads. */
  public static Peer stalled(int port, int receiveBuffer) throws IOException {
    return new Peer(connect(port, receiveBuffer));
  }

  /** Connects over TLS and starts reading everything the server sends. */
  public static Peer tlsReading(int port) throws IOException {
    Socket raw = connect(port, -1);
    Peer p = new Peer(TestTls.get().handshake(raw, false), raw);
    p.startReading();
    return p;
  }

  /** Connects over TLS with a small receive buffer and does not read (but see {@link #readExactly}). */
  public static Peer tlsStalled(int port, int receiveBuffer) throws IOException {
    Socket raw = connect(port, receiveBuffer);
    return new Peer(TestTls.get().handshake(raw, false), raw);
  }

  private static Socket connect(int port, int receiveBuffer) throws IOException {
    Socket s = new Socket();
    if (receiveBuffer > 0) {
      s.setReceiveBufferSize(receiveBuffer);
    }
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    s.setTcpNoDelay(true);
    return s;
  }

  private void startReading() {
    startReading(0);
  }

  private void startReading(long stallMs) {
    reader = new Thread(() -> {
      byte[] buf = new byte[64 * 1024];
      try (InputStream in = socket.getInputStream()) {
        if (stallMs > 0) {
          Thread.sleep(stallMs); // the behaviour under test: a peer that stops reading for stallMs (not synchronisation)
        }
        int n;
        while ((n = in.read(buf)) >= 0) {
          synchronized (received) {
            received.write(buf, 0, n);
          }
        }
      } catch (IOException e) {
        readError = e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        eof = true;
        eofFuture.complete(received());
      }
    }, "peer-reader-" + socket.getLocalPort());
    reader.setDaemon(true);
    reader.start();
  }

  /** Reads exactly {@code n} bytes on the calling thread (a peer that does not read otherwise). */
  public void readExactly(int n, Duration timeout) throws IOException {
    socket.setSoTimeout((int) timeout.toMillis());
    byte[] buf = new byte[n];
    int off = 0;
    InputStream in = socket.getInputStream();
    while (off < n) {
      int r = in.read(buf, off, n - off);
      if (r < 0) {
        throw new IOException("end of stream after " + off + " of " + n + " bytes");
      }
      off += r;
    }
    synchronized (received) {
      received.write(buf, 0, n);
    }
  }

  public void send(byte[] data) throws IOException {
    // one stream: the reader closes the socket at EOF, and asking for the stream again then throws
    java.io.OutputStream out = socket.getOutputStream();
    out.write(data);
    out.flush();
  }

  public byte[] received() {
    synchronized (received) {
      return received.toByteArray();
    }
  }

  public int receivedCount() {
    synchronized (received) {
      return received.size();
    }
  }

  public boolean eof() {
    return eof;
  }

  /** Waits until the server closed the connection (or it failed) and reading ended. */
  public byte[] awaitEof(Duration timeout) {
    await().atMost(timeout).until(() -> eof);
    return received();
  }

  /** Completes with everything received once reading ended (EOF or a read error). */
  public CompletableFuture<byte[]> eofFuture() {
    return eofFuture;
  }

  /** The error that ended reading, if any (null after a clean EOF). */
  public Throwable readError() {
    return readError;
  }

  public void awaitReceived(int bytes, Duration timeout) {
    await().atMost(timeout).until(() -> receivedCount() >= bytes || eof);
  }

  /** Resets the connection: close with SO_LINGER 0 sends an RST. */
  public void reset() throws IOException {
    raw.setSoLinger(true, 0);
    raw.close();
  }

  public int localPort() {
    return raw.getLocalPort();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
