package dev.tether.examples.pubsub;

import dev.tether.config.ServerConfig;
import dev.tether.net.TrackedServer;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A line-based publish/subscribe server on Tether (protocol: {@link PubSubConnection}).
 *
 * <p>Deploy it from {@code conf/tether.json} by class name, beside Tether's own verticles:
 * <pre>{@code
 * "servers": {
 *   "pubsub": {"verticle": "dev.tether.examples.pubsub.PubSubVerticle", "protocol": "pubsub", "port": 7010,
 *              "policies": {"default": "close", "soft": {"policy": "pubsub-resend-or-drop"}}}
 * }}</pre>
 * Its configuration is a {@code servers.<name>} object plus {@code name}, as Tether's
 * {@code MainVerticle} passes it. Besides the keys every Tether server has, it understands
 * {@link PubSubSettings#KEYS} when deployed directly (MainVerticle does not let a verticle of your
 * own have keys of its own yet, so through conf/tether.json the defaults apply).
 *
 * <p>One instance only: the topics live on the instance's event loop, and subscribers on another
 * instance would not see its publishers.
 */
public class PubSubVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(PubSubVerticle.class);

  private volatile TrackedServer server;

  @Override
  public Future<?> start() {
    ServerConfig cfg;
    PubSubSettings settings;
    try {
      cfg = ServerConfig.forVerticle(config(), "pubsub", PubSubSettings.KEYS);
      if (cfg.instances() != 1) {
        throw new IllegalArgumentException("servers." + cfg.name() + ".instances: must be 1 (the topics live on one"
          + " event loop), got " + cfg.instances());
      }
      settings = PubSubSettings.fromJson(cfg.raw(), "servers." + cfg.name());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    Broker broker = new Broker();
    return TrackedServer.create(vertx, cfg.trackedServerOptions())
      .connectHandler(socket -> new PubSubConnection(socket, broker, settings))
      .listen()
      .onSuccess(s -> {
        server = s;
        log.info("{} (pub/sub) listening on {}:{}, lines up to {} bytes", cfg.name(), cfg.host(), s.actualPort(),
          settings.maxLineBytes());
      });
  }

  /** The port actually bound (useful with port 0), or -1 before start. */
  public int actualPort() {
    TrackedServer s = server;
    return s == null ? -1 : s.actualPort();
  }
}
