package dev.tether.session;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;

import java.util.ArrayList;
import java.util.List;

/** A hand-driven protocol peer on a real socket: writes raw bytes, records what comes back. */
final class RawPeer {

  final NetSocket socket;
  private final Buffer received = Buffer.buffer();
  private final Promise<Void> closed = Promise.promise();

  private RawPeer(NetSocket socket) {
    this.socket = socket;
    socket.handler(b -> {
      synchronized (received) {
        received.appendBuffer(b);
      }
    });
    socket.closeHandler(v -> closed.tryComplete());
  }

  static Future<RawPeer> connect(Vertx vertx, int port) {
    return vertx.createNetClient().connect(port, "127.0.0.1").map(RawPeer::new);
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
