package dev.tether.net;

import dev.tether.Tether;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.SocketAddress;

/**
 * Outbound tracked connections, used like Vert.x's {@code NetClient}:
 *
 * <pre>{@code
 * TrackedClient client = TrackedClient.create(vertx, new TrackedClientOptions().setName("upstream"));
 * client.connect(7000, "127.0.0.1").onSuccess(socket -> socket.write(Buffer.buffer("hello")));
 * }</pre>
 *
 * The socket is tracked before the future completes, on the context that called {@code connect}
 * (the socket's context), so no byte is written untracked.
 *
 * <p>Threading: any thread; each socket then belongs to its own event loop.
 */
public final class TrackedClient {

  private final Vertx vertx;
  private final NetClient client;
  private final TrackedClientOptions options;

  private TrackedClient(Vertx vertx, TrackedClientOptions options) {
    this.vertx = vertx;
    this.options = new TrackedClientOptions(options);
    this.client = vertx.createNetClient(this.options);
    Tether.of(vertx).recorder().registerServer(this.options.getName());
  }

  public static TrackedClient create(Vertx vertx, TrackedClientOptions options) {
    return new TrackedClient(vertx, options);
  }

  public Future<TrackedSocket> connect(int port, String host) {
    return connect(SocketAddress.inetSocketAddress(port, host));
  }

  public Future<TrackedSocket> connect(SocketAddress remote) {
    return client.connect(remote).compose(socket -> TrackedSocketImpl.wrap(vertx, socket, options.tracking(),
      TrackedSocketImpl.nextNumber(), 0)).onSuccess(ts -> ((TrackedSocketImpl) ts).keepAlive(this));
  }

  public TrackedClientOptions options() {
    return options;
  }

  /** Closes the client and every connection it made. */
  public Future<Void> close() {
    return client.close();
  }
}
