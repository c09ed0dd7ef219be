package dev.tether.net;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A Vert.x {@link NetServer} whose accepted connections are all {@link TrackedSocket}s, with a cap
 * on open connections (beyond it a new connection is closed at once and logged). Create it from a
 * verticle: connections are handled on that verticle's event loop.
 */
public final class TrackedServer {

  private static final Logger log = LoggerFactory.getLogger(TrackedServer.class);
  private static final AtomicLong NUMBERS = new AtomicLong();

  private final NetServer server;
  private final TrackingOptions options;
  private final int maxConnections;
  // State accessed exclusively from the creating verticle's event loop
  private int open;
  private long accepted;
  /** Removes this server from {@link ListeningServers}; set once listening. */
  private Runnable unregister;

  private TrackedServer(NetServer server, TrackingOptions options, int maxConnections) {
    this.server = server;
    this.options = options;
    this.maxConnections = maxConnections;
  }

  /**
   * Listens with {@code netOptions} and hands each accepted connection, already tracked, to
   * {@code handler}.
   */
  public static Future<TrackedServer> listen(Vertx vertx, NetServerOptions netOptions, TrackingOptions options,
                                             int maxConnections, Handler<TrackedSocket> handler) {
    dev.tether.Tether.of(vertx).recorder().registerServer(options.server());
    NetServer ns = vertx.createNetServer(netOptions);
    TrackedServer ts = new TrackedServer(ns, options, maxConnections);
    ns.connectHandler(socket -> {
      if (ts.open >= maxConnections) {
        log.warn("{}: refusing connection from {}: {} connections open (maxConnections)", options.server(),
          socket.remoteAddress(), ts.open);
        socket.close();
        return;
      }
      ts.open++;
      TrackedSocket tracked = TrackedSocket.wrap(vertx, socket, options, NUMBERS.incrementAndGet(), ++ts.accepted);
      tracked.onEnd(() -> ts.open--);
      handler.handle(tracked);
    });
    return ns.listen().map(ts).onSuccess(v -> ts.registerListening(vertx, netOptions.getHost()));
  }

  /** Records this server in {@link ListeningServers} until it is closed or its verticle undeployed. */
  private void registerListening(Vertx vertx, String host) {
    unregister = ListeningServers.register(vertx, options.server(), host, server.actualPort());
  }

  public int actualPort() {
    return server.actualPort();
  }

  public TrackingOptions options() {
    return options;
  }

  public int maxConnections() {
    return maxConnections;
  }

  public Future<Void> close() {
    if (unregister != null) {
      unregister.run();
    }
    return server.close();
  }
}
