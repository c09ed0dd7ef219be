package dev.tether.net;

import dev.tether.Tether;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP server whose connections are all {@link TrackedSocket}s, used like Vert.x's
 * {@code NetServer}:
 *
 * <pre>{@code
 * TrackedServer.create(vertx, new TrackedServerOptions().setName("echo").setPort(7000))
 *   .connectHandler(socket -> socket.handler(socket::send))
 *   .listen();
 * }</pre>
 *
 * Beyond {@code maxConnections} open connections a new one is closed at once and logged. An accept that
 * fails for lack of descriptors is a {@code RESOURCE_EXHAUSTED}/{@code ACCEPT} failure event, not a Netty
 * stack trace ({@link AcceptFailures}). Create and
 * listen from a verticle: its connections are handled on that verticle's event loop (with
 * {@code instances > 1} Vert.x spreads them over the instances, as for a NetServer).
 *
 * <p>Threading: the connection count is kept per event loop that accepts; everything else is
 * immutable once listening.
 */
public final class TrackedServer {

  private static final Logger log = LoggerFactory.getLogger(TrackedServer.class);
  private static final AtomicLong NUMBERS = new AtomicLong();

  private final Vertx vertx;
  private final NetServer server;
  private final TrackedServerOptions options;
  private volatile Handler<TrackedSocket> handler;
  // State accessed exclusively from the accepting event loop
  private int open;
  private long accepted;
  /** Open connections of this server name over all its instances, for /health (see ListeningServers). */
  private final java.util.concurrent.atomic.AtomicLong connections;
  /** Runs when one of this server's connections ended (one object for all of them). */
  private final Runnable onEnd = this::ended;
  /** Reporter and timeout settings shared by all connections of this server (immutable). */
  private final TrackedSocketImpl.Shared shared;
  /** Removes this server from {@link ListeningServers}; set once listening. */
  private volatile Runnable unregister;

  private TrackedServer(Vertx vertx, TrackedServerOptions options) {
    this.vertx = vertx;
    // a failed TLS handshake is logged once, naming the remote (Vert.x reports it without one)
    this.options = TlsHandshakeLog.install(new TrackedServerOptions(options), options.getName());
    this.server = vertx.createNetServer(this.options);
    Tether.of(vertx).recorder().registerServer(this.options.getName());
    this.connections = ListeningServers.of(vertx).connectionCounter(this.options.getName());
    this.shared = TrackedSocketImpl.shared(vertx, this.options.tracking());
    server.connectHandler(this::accept);
  }

  /** A server with {@code options}; set the connect handler, then {@link #listen()}. */
  public static TrackedServer create(Vertx vertx, TrackedServerOptions options) {
    return new TrackedServer(vertx, options);
  }

  /** Receives each accepted connection, already tracked, on the accepting context. */
  public TrackedServer connectHandler(Handler<TrackedSocket> handler) {
    this.handler = handler;
    return this;
  }

  /** Listens on the options' host and port. */
  public Future<TrackedServer> listen() {
    return listen(options.getPort(), options.getHost());
  }

  /** Listens on {@code port} (0 picks a free one) of the options' host. */
  public Future<TrackedServer> listen(int port) {
    return listen(port, options.getHost());
  }

  /** Listens on {@code host}:{@code port} (0 picks a free port). */
  public Future<TrackedServer> listen(int port, String host) {
    return server.listen(port, host).map(this).onSuccess(v -> {
      unregister = ListeningServers.register(vertx, options.getName(), host, server.actualPort());
      AcceptFailures.install(vertx, server, options.getName(), options.tracking().protocol());
    });
  }

  private void accept(NetSocket socket) {
    TrackingOptions tracking = options.tracking();
    if (open >= options.getMaxConnections()) {
      log.warn("{}: refusing connection from {}: {} connections open (maxConnections)", tracking.server(),
        socket.remoteAddress(), open);
      socket.close();
      return;
    }
    open++;
    TrackedSocketImpl tracked;
    try {
      tracked = TrackedSocketImpl.create(vertx, socket, tracking, NUMBERS.incrementAndGet(), ++accepted, shared);
    } catch (RuntimeException e) {
      open--;
      log.warn("{}: cannot track connection from {}: {}", tracking.server(), socket.remoteAddress(), e.toString());
      socket.close();
      return;
    }
    connections.incrementAndGet();
    tracked.onEnd(onEnd);
    Handler<TrackedSocket> h = handler;
    if (h == null) {
      log.warn("{}: no connect handler set; closing connection from {}", tracking.server(), socket.remoteAddress());
      tracked.close();
      return;
    }
    try {
      h.handle(tracked);
    } catch (Throwable t) {
      log.warn("{}: the connect handler threw for {}; closing it", tracked.id(), tracked.remote(), t);
      tracked.close();
    }
  }

  /** A connection of this server ended; on its (the accepting) event loop. */
  private void ended() {
    open--;
    connections.decrementAndGet();
  }

  public int actualPort() {
    return server.actualPort();
  }

  public TrackedServerOptions options() {
    return options;
  }

  /** Connections open now on the calling event loop's share of the server. */
  public int openConnections() {
    return open;
  }

  public Future<Void> close() {
    Runnable u = unregister;
    if (u != null) {
      u.run();
    }
    return server.close();
  }
}
