package dev.tether.verticles;

import dev.tether.config.ServerConfig;
import dev.tether.session.SessionApplication;
import dev.tether.session.SessionOptions;
import dev.tether.session.SessionServer;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The session-protocol echo server: every DATA payload a session receives is sent back as DATA on
 * the same session, exactly once and in order across reconnects.
 *
 * <p>Configuration: a {@code servers.<name>} object of {@code conf/tether.json} plus {@code name};
 * besides the common and tracking keys it reads the {@link SessionOptions} keys. Sessions live on
 * the event loop of the instance that holds them; with {@code instances > 1} a resume accepted by another
 * instance takes the session over from its owner (docs/cluster.md). {@code replication} ("backup" or
 * "none") chooses whether sessions survive the death of their node.
 */
public class SessionVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(SessionVerticle.class);

  private volatile SessionServer server;

  @Override
  public Future<?> start() {
    ServerConfig cfg;
    SessionOptions options;
    try {
      JsonConfig c = new JsonConfig(config());
      cfg = ServerConfig.forVerticle(c.json, "session", SessionOptions.keys());
      options = SessionOptions.fromJson(cfg.raw(), "servers." + cfg.name());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    // host, port, buffer sizes and TLS (servers.<name>.tls) as configured
    NetServerOptions net = cfg.netServerOptions().setTcpNoDelay(true);
    return SessionServer.listen(vertx, net, cfg.tracking(), cfg.maxConnections(), options, SessionApplication.echo())
      .onSuccess(s -> {
        server = s;
        log.info("{} (session echo) listening on {}:{}{}", cfg.name(), cfg.host(), s.actualPort(), net.isSsl() ? " (TLS)" : "");
      });
  }

  @Override
  public Future<?> stop() {
    SessionServer s = server;
    return s == null ? Future.succeededFuture() : s.close();
  }

  /** The port actually bound (useful with port 0), or -1 before start. */
  public int actualPort() {
    SessionServer s = server;
    return s == null ? -1 : s.actualPort();
  }

  /** The running server, for in-process tools and tests (event-loop confined). */
  public SessionServer server() {
    return server;
  }

  /** The deployment config with the protocol defaulting to "session". */
  private record JsonConfig(io.vertx.core.json.JsonObject json) {
    JsonConfig {
      json = json.copy();
      if (!json.containsKey("protocol")) {
        json.put("protocol", "session");
      }
      if (!json.containsKey("policies")) {
        json.put("policies", new io.vertx.core.json.JsonObject().put("default", "resume"));
      }
    }
  }
}
