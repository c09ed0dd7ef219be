package dev.tether.verticles;

import dev.tether.config.ObservabilityConfig;
import dev.tether.event.Addresses;
import dev.tether.internal.NettyAccess;
import dev.tether.net.AcceptGuard;
import dev.tether.net.TlsHandshakeLog;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Handler;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.impl.NetServerImpl;
import io.vertx.ext.bridge.BridgeEventType;
import io.vertx.ext.bridge.BridgeOptions;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.eventbus.bridge.tcp.BridgeEvent;
import io.vertx.ext.eventbus.bridge.tcp.TcpEventBusBridge;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Vert.x TCP event-bus bridge for monitors outside the JVM: a client may register to
 * {@value Addresses#FAILURE} and {@value Addresses#RECOVERY} and receives their events as frames
 * (4-byte big-endian length, then UTF-8 JSON). Nothing is inbound-permitted, so every send or
 * publish is answered with an error frame; registrations to other addresses are refused the same
 * way. Connections beyond {@code bridge.maxConnections} are closed at once.
 *
 * <p>Configuration: the whole {@code conf/tether.json}; it reads {@code bridge} ({@code bridge.tls}:
 * the bridge speaks TLS, see {@link dev.tether.net.TlsOptions}).
 *
 * <p>Threading: {@code clients} is touched only from this verticle's event loop (the bridge's
 * event handler runs on its context).
 */
public class BridgeVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(BridgeVerticle.class);

  /** Largest inbound frame (length field) a client may send; more closes it. */
  static final int MAX_FRAME_BYTES = 64 * 1024;
  /** Unread outbound event bytes after which a client that does not read is closed. */
  static final long MAX_PENDING_BYTES = 4L << 20;

  // State accessed exclusively from this verticle's event loop
  private TcpEventBusBridge bridge;
  private final java.util.Set<io.vertx.core.net.NetSocket> clients = new java.util.HashSet<>();

  @Override
  public Future<?> start() {
    ObservabilityConfig.Bridge cfg;
    try {
      cfg = ObservabilityConfig.fromJson(config()).bridge();
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new IllegalArgumentException("invalid configuration: " + e.getMessage(), e));
    }
    BridgeOptions options = new BridgeOptions()
      .addOutboundPermitted(new PermittedOptions().setAddress(Addresses.FAILURE))
      .addOutboundPermitted(new PermittedOptions().setAddress(Addresses.RECOVERY));
    // no inbound permitted: send and publish from clients are refused with an error frame
    NetServerOptions net = new NetServerOptions().setHost(cfg.host()).setPort(cfg.port());
    if (cfg.tls() != null) {
      cfg.tls().applyTo(net); // bridge.tls
    }
    TlsHandshakeLog.install(net, "bridge");
    bridge = TcpEventBusBridge.create(vertx, options, net, event -> onEvent(event, cfg.maxConnections()));
    // vertx-tcp-eventbus-bridge 5.0.7 never fires SOCKET_CREATED, so the connection limit and the guard go
    // in front of the bridge's own connect handler instead
    NetServer server = AcceptGuard.netServerOf(bridge);
    if (server instanceof NetServerImpl impl && impl.connectHandler() != null) {
      Handler<NetSocket> inner = impl.connectHandler();
      impl.connectHandler(socket -> onConnect(socket, inner, cfg.maxConnections()));
    } else {
      return Future.failedFuture(new IllegalStateException("bridge: cannot reach the bridge's server to guard it"));
    }
    return bridge.listen().onSuccess(b -> AcceptGuard.install(vertx, b, "bridge", "bridge")).onSuccess(b -> log.info("event-bus bridge on {}:{}{} (outbound {} and {} only)",
      cfg.host(), server.actualPort(), net.isSsl() ? " with TLS" : "", Addresses.FAILURE, Addresses.RECOVERY));
  }

  /**
   * A new client: refused beyond {@code max}; otherwise counted, guarded ({@link BridgeGuard}: only
   * well-formed frames reach the bridge, a client that never reads is closed) and handed to the bridge.
   */
  private void onConnect(NetSocket socket, Handler<NetSocket> bridgeHandler, int max) {
    if (clients.size() >= max) {
      log.warn("bridge: refusing {}: {} clients connected (bridge.maxConnections)", socket.remoteAddress(), clients.size());
      socket.close();
      return;
    }
    clients.add(socket);
    // the channel's event loop is this verticle's (the server was created on its context)
    NettyAccess.channel(socket).closeFuture().addListener(f -> clients.remove(socket));
    log.debug("bridge client {} connected", socket.remoteAddress());
    bridgeHandler.handle(BridgeGuard.guard(vertx, socket, MAX_FRAME_BYTES, MAX_PENDING_BYTES));
  }

  /** Clients connected now (any thread; a snapshot for tests). */
  int clients() {
    return clients.size();
  }

  private void onEvent(BridgeEvent event, int max) {
    BridgeEventType type = event.type();
    switch (type) {
      case SEND, PUBLISH -> log.debug("bridge: refused {} to {} from {}", type,
        event.getRawMessage() == null ? null : event.getRawMessage().getValue("address"), event.socket().remoteAddress());
      default -> { }
    }
    event.complete(true);
  }

  @Override
  public Future<?> stop() {
    return bridge == null ? Future.succeededFuture() : bridge.close();
  }
}
