package dev.tether.monitor;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;

/** A blocking loopback client for the tests, driven from the test thread. */
final class Peer implements AutoCloseable {

  final Socket socket;
  private long received;

  Peer(int port) throws IOException {
    this(port, 0);
  }

  /** @param receiveBuffer SO_RCVBUF to ask for before connecting (0 = the default) */
  Peer(int port, int receiveBuffer) throws IOException {
    socket = new Socket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer);
    }
    socket.setSoTimeout(20_000);
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
  }

  /** Sends {@code n} bytes of a recognisable pattern and reads the echo back completely. */
  byte[] exchange(int n, int seed) throws IOException {
    byte[] out = new byte[n];
    for (int i = 0; i < n; i++) {
      out[i] = (byte) (seed + i);
    }
    socket.getOutputStream().write(out);
    socket.getOutputStream().flush();
    byte[] in = new byte[n];
    new DataInputStream(socket.getInputStream()).readFully(in);
    received += n;
    if (!Arrays.equals(out, in)) {
      throw new AssertionError("echo differs from what was sent");
    }
    return in;
  }

  /** Reads until the server closes, returning how many bytes came. */
  long drainToEof() throws IOException {
    InputStream in = socket.getInputStream();
    byte[] buf = new byte[65536];
    long n = 0;
    try {
      for (int r; (r = in.read(buf)) >= 0; ) {
        n += r;
      }
    } catch (java.net.SocketException reset) {
      // a reset ends the stream too; what was read before it counts
    }
    received += n;
    return n;
  }

  /** Total bytes this peer has read. */
  long received() {
    return received;
  }

  /** Closes with SO_LINGER 0: the server sees a reset (RST), not a FIN. */
  void reset() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
