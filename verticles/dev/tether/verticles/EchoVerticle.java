package dev.tether.verticles;

import dev.tether.config.ServerConfig;
import dev.tether.net.TrackedServer;
import dev.tether.net.TrackedSocket;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tracked echo server: every byte received is written back through a {@link TrackedSocket},
 * without copying it (the zero-copy read path, {@link TrackedSocket#zeroCopyHandler}).
 * Reading pauses while the connection's pending bytes are over the high-water mark and resumes when
 * they drain, so a peer that stops reading cannot make the server buffer without bound.
 *
 * <p>Configuration: a {@code servers.<name>} object of {@code conf/tether.json} plus {@code name}.
 */
public class EchoVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(EchoVerticle.class);

  private volatile TrackedServer server;

  @Override
  public Future<?> start() {
    ServerConfig cfg = ServerConfig.forVerticle(config(), "echo");
    return TrackedServer.create(vertx, cfg.trackedServerOptions())
      .connectHandler(EchoVerticle::echo)
      .listen()
      .onSuccess(s -> {
        server = s;
        log.info("{} (tracked echo) listening on {}:{}{}", cfg.name(), cfg.host(), s.actualPort(),
          s.options().isSsl() ? " (TLS)" : "");
      });
  }

  /**
   * Echoes on the zero-copy path: each read is lent from Netty's pool and written back as it is;
   * the write holds the pooled memory until its bytes are flushed or given up.
   */
  static void echo(TrackedSocket socket) {
    socket.zeroCopyHandler(buf -> {
      socket.send(buf);
      if (socket.writeQueueFull()) {
        socket.pause();
      }
    });
    socket.drainHandler(v -> socket.resume());
  }

  /** The port actually bound (useful with port 0), or -1 before start. */
  public int actualPort() {
    TrackedServer s = server;
    return s == null ? -1 : s.actualPort();
  }
}
