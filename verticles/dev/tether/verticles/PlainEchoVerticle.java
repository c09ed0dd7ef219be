package dev.tether.verticles;

import dev.tether.net.ListeningServers;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An untracked Vert.x echo server with the same back-pressure as {@link EchoVerticle}: the baseline
 * the benchmark compares the tracked echo against. Not deployed by default.
 */
public class PlainEchoVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(PlainEchoVerticle.class);

  private volatile NetServer server;

  @Override
  public Future<?> start() {
    String host = config().getString("host", "127.0.0.1");
    int port = config().getInteger("port", 7010);
    NetServer ns = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(port));
    ns.connectHandler(socket -> {
      socket.handler(buf -> {
        socket.write(buf);
        if (socket.writeQueueFull()) {
          socket.pause();
          socket.drainHandler(v -> socket.resume());
        }
      });
    });
    return ns.listen().onSuccess(s -> {
      server = s;
      // reported by /health like the tracked servers (until undeployed)
      ListeningServers.register(vertx, config().getString("name", "plain-echo"), host, s.actualPort());
      log.info("plain echo listening on {}:{}", host, s.actualPort());
    });
  }

  public int actualPort() {
    NetServer s = server;
    return s == null ? -1 : s.actualPort();
  }
}
