package dev.tether.tools;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * TLS for one {@link LoadGen} connection: an {@link SSLEngine} over its non-blocking channel, with
 * the channel's write/read semantics LoadGen relies on:
 * <ul>
 *   <li>{@link #write} takes a whole message or nothing: the buffer's position moves only once all
 *       of its records are in the kernel; until then the same buffer is offered again (LoadGen
 *       retries the message it is writing, and writes nothing else meanwhile);</li>
 *   <li>{@link #read} returns the plaintext it could decrypt (0 for a partial record), -1 at the
 *       end of the stream.</li>
 * </ul>
 * The handshake is done up front, blocking, before LoadGen's clock starts.
 */
final class LoadGenTls {

  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  private final SocketChannel ch;
  private final SSLEngine engine;
  /** Encrypted bytes to write (read mode). */
  private final ByteBuffer netOut;
  /** Encrypted bytes read (write mode). */
  private final ByteBuffer netIn;
  /** The buffer whose records are in {@link #netOut}, and how many of its bytes they hold. */
  private ByteBuffer heldSrc;
  private int held;

  private LoadGenTls(SocketChannel ch, SSLEngine engine, int maxMessage) {
    this.ch = ch;
    this.engine = engine;
    int packet = engine.getSession().getPacketBufferSize();
    this.netOut = ByteBuffer.allocateDirect(packet * (2 + maxMessage / (16 * 1024)));
    this.netOut.flip();
    this.netIn = ByteBuffer.allocateDirect(2 * packet);
  }

  /**
   * TLS over the connected, still blocking {@code ch}: handshake done, server name checked
   * against its certificate.
   */
  static LoadGenTls handshake(SocketChannel ch, SSLContext ctx, String host, int port, int maxMessage)
    throws IOException {
    SSLEngine engine = ctx.createSSLEngine(host, port);
    engine.setUseClientMode(true);
    SSLParameters p = engine.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    engine.setSSLParameters(p);
    LoadGenTls t = new LoadGenTls(ch, engine, maxMessage);
    ByteBuffer app = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize());
    engine.beginHandshake();
    for (int guard = 0; guard < 10_000; guard++) {
      switch (engine.getHandshakeStatus()) {
        case NEED_WRAP -> {
          t.netOut.clear();
          check(engine.wrap(EMPTY, t.netOut));
          t.netOut.flip();
          while (t.netOut.hasRemaining()) {
            ch.write(t.netOut);
          }
        }
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
          t.netIn.flip();
          SSLEngineResult r = engine.unwrap(t.netIn, app);
          t.netIn.compact();
          if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW && ch.read(t.netIn) < 0) {
            throw new IOException("server closed the connection during the TLS handshake");
          }
          if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
            throw new IOException("TLS closed during the handshake");
          }
        }
        case NEED_TASK -> {
          Runnable task;
          while ((task = engine.getDelegatedTask()) != null) {
            task.run();
          }
        }
        default -> {
          t.netOut.clear().flip();
          return t;
        }
      }
    }
    throw new IOException("TLS handshake did not finish");
  }

  private static void check(SSLEngineResult r) throws SSLException {
    if (r.getStatus() != SSLEngineResult.Status.OK) {
      throw new SSLException("TLS wrap: " + r);
    }
  }

  /** All of {@code src} or nothing (see the class comment); returns the plaintext bytes taken. */
  int write(ByteBuffer src) throws IOException {
    if (netOut.hasRemaining()) {
      ch.write(netOut);
      if (netOut.hasRemaining()) {
        return 0;
      }
    }
    if (heldSrc != null) {
      if (heldSrc != src) {
        throw new IllegalStateException("a message is partly written: it must be finished first");
      }
      int n = held;
      src.position(src.position() + n);
      heldSrc = null;
      held = 0;
      return n;
    }
    if (!src.hasRemaining()) {
      return 0;
    }
    ByteBuffer d = src.duplicate();
    netOut.clear();
    while (d.hasRemaining()) {
      check(engine.wrap(d, netOut));
    }
    netOut.flip();
    int n = d.position() - src.position();
    ch.write(netOut);
    if (netOut.hasRemaining()) {
      heldSrc = src;
      held = n;
      return 0;
    }
    src.position(d.position());
    return n;
  }

  /** Decrypts what arrived into {@code dst}: the plaintext bytes, 0 for none yet, -1 at the end. */
  int read(ByteBuffer dst) throws IOException {
    int n = ch.read(netIn);
    netIn.flip();
    int produced = 0;
    boolean closed = false;
    while (netIn.hasRemaining()) {
      SSLEngineResult r = engine.unwrap(netIn, dst);
      produced += r.bytesProduced();
      if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
        closed = true;
        break;
      }
      if (r.getStatus() != SSLEngineResult.Status.OK) {
        break; // BUFFER_UNDERFLOW: a partial record, the rest comes later; BUFFER_OVERFLOW: dst is full
      }
      if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
          task.run();
        }
      }
      if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP && !netOut.hasRemaining()
        && heldSrc == null) {
        // a post-handshake message to answer (a key update): nothing of ours is in netOut
        netOut.clear();
        engine.wrap(EMPTY, netOut);
        netOut.flip();
        ch.write(netOut);
      }
      if (r.bytesConsumed() == 0 && r.bytesProduced() == 0) {
        break;
      }
    }
    netIn.compact();
    if (produced == 0 && (n < 0 || closed)) {
      return -1;
    }
    return produced;
  }
}
