package dev.tether.session;

import dev.tether.verticles.RecoveryVerticle;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.concurrent.TimeUnit;

/** Starts session servers for tests: real Vert.x, real sockets on 127.0.0.1, port 0. */
final class SessionTestSupport {

  private SessionTestSupport() {
  }

  /** The server config used by the tests; callers override keys. */
  static JsonObject serverConfig(String name) {
    return new JsonObject()
      .put("name", name)
      .put("host", "127.0.0.1")
      .put("port", 0)
      .put("protocol", "session")
      .put("decisionTimeoutMs", 200)
      .put("policies", new JsonObject().put("default", "resume").put("PROTOCOL_ERROR", "close"));
  }

  /** Deploys a session verticle (and, when {@code recovery}, the recovery verticle) and returns it. */
  static SessionVerticle deploy(Vertx vertx, JsonObject serverConfig, boolean recovery) throws Exception {
    SessionVerticle v = new SessionVerticle();
    Future<String> f = Future.succeededFuture();
    if (recovery) {
      JsonObject conf = new JsonObject().put("servers", new JsonObject()
        .put(serverConfig.getString("name"), serverConfig.copy().put("verticle", "session").put("policies",
          serverConfig.getJsonObject("policies"))));
      f = vertx.deployVerticle(RecoveryVerticle.class.getName(), new DeploymentOptions().setConfig(conf));
    }
    f.compose(x -> vertx.deployVerticle(v, new DeploymentOptions().setConfig(serverConfig)))
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    return v;
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
