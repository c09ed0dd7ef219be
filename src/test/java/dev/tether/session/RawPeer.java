package dev.tether.session;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/** A hand-driven protocol peer on a real socket: writes raw bytes, records what comes back. */
final class RawPeer {

  final NetSocket socket;
  private final Buffer received = Buffer.buffer();
  private final Promise<Void> closed = Promise.promise();
  private NetClient client;

  private RawPeer(NetSocket socket) {
    this.socket = socket;
    socket.handler(b -> {
      synchronized (received) {
        received.appendBuffer(b);
      }
    });
    // the end of the stream, not the close: Vert.x may run the close handler before it delivered the
    // last bytes read (they wait in its inbound queue); the end handler runs after them
    socket.endHandler(v -> closed.tryComplete());
  }

  static Future<RawPeer> connect(Vertx vertx, int port) {
    NetClient client = vertx.createNetClient();
    return client.connect(port, "127.0.0.1").map(so -> {
      RawPeer p = new RawPeer(so);
      p.client = client; // Vert.x closes the connections of a client that was garbage-collected
      return p;
    });
  }

  /**
   * A hand-driven server on 127.0.0.1, port 0: {@code script} gets each frame a client sends, with
   * the client's socket, on that connection's event loop (so it may answer on the socket). Input
   * that does not decode closes the connection.
   */
  static Future<NetServer> serve(Vertx vertx, BiConsumer<NetSocket, Frame> script) {
    return vertx.createNetServer().connectHandler(so -> {
      FrameDecoder decoder = new FrameDecoder(1 << 20);
      so.handler(b -> {
        try {
          decoder.feed(b, f -> script.accept(so, f));
        } catch (ProtocolException e) {
          so.close();
        }
      });
    }).listen(0, "127.0.0.1");
  }

  RawPeer write(Buffer b) {
    socket.write(b);
    return this;
  }

  /** Completes when the server closed the connection. */
  Future<Void> closed() {
    return closed.future();
  }

  /** "host:port" of our end, as the server sees it in {@code remote}. */
  String local() {
    return socket.localAddress().host() + ":" + socket.localAddress().port();
  }

  /** What was received, in hex (for failure messages). */
  String receivedHex() {
    synchronized (received) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < Math.min(received.length(), 120); i++) {
        sb.append(String.format("%02x", received.getByte(i)));
      }
      return received.length() + " bytes: " + sb;
    }
  }

  /** Frames received so far (decoded; a trailing partial frame is ignored). */
  List<Frame> frames() throws ProtocolException {
    List<Frame> frames = new ArrayList<>();
    Buffer copy;
    synchronized (received) {
      copy = received.copy();
    }
    new FrameDecoder(1 << 20).feed(copy, frames::add);
    return frames;
  }
}
