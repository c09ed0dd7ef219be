package dev.tether.session;

import dev.tether.config.ServerConfig;
import dev.tether.config.TetherConfig;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The shipped configuration registers the session server, and its keys are validated. */
class SessionConfigTest {

  @Test
  void shippedConfigurationRunsTheSessionServerOn7001() throws Exception {
    TetherConfig cfg = TetherConfig.fromJson(new JsonObject(Files.readString(Path.of("conf/tether.json"))));
    ServerConfig session = cfg.servers().stream().filter(s -> s.name().equals("session")).findFirst().orElseThrow();
    assertThat(session.port()).isEqualTo(7001);
    assertThat(session.host()).isEqualTo("127.0.0.1");
    assertThat(session.protocol()).isEqualTo("session");
    assertThat(TetherConfig.verticleClass(session.verticle())).isEqualTo(SessionVerticle.class.getName());
    SessionOptions o = SessionOptions.fromJson(session.raw(), "servers.session");
    assertThat(o.maxFrameBytes()).isEqualTo(1 << 20);
    assertThat(o.sessionTtlMs()).isEqualTo(60_000);
  }

  @Test
  void unknownAndInvalidSessionKeysAreRejectedWithTheirName() {
    JsonObject bad = new JsonObject().put("servers", new JsonObject().put("s", new JsonObject()
      .put("verticle", "session").put("port", 0).put("sessionTTL", 5)));
    assertThatThrownBy(() -> TetherConfig.fromJson(bad)).hasMessageContaining("servers.s.sessionTTL: unknown key");
    assertThatThrownBy(() -> SessionOptions.fromJson(new JsonObject().put("maxFrameBytes", 3), "servers.s"))
      .hasMessageContaining("servers.s.maxFrameBytes");
  }

  @Test
  void replicationBackupWithoutAClusterAndUnknownModesAreRefusedWithTheKey() throws Exception {
    assertThatThrownBy(() -> SessionOptions.fromJson(new JsonObject().put("replication", "sync"), "servers.s"))
      .hasMessageContaining("servers.s.replication");
    Vertx vertx = Vertx.vertx();
    try {
      assertThatThrownBy(() -> vertx.deployVerticle(new SessionVerticle(), new DeploymentOptions()
          .setConfig(new JsonObject().put("name", "s").put("port", 0).put("replication", "backup")))
        .toCompletionStage().toCompletableFuture().get())
        .isInstanceOf(ExecutionException.class).hasMessageContaining("servers.s.replication");
      // "none" (and the default) run without a cluster
      vertx.deployVerticle(new SessionVerticle(), new DeploymentOptions()
          .setConfig(new JsonObject().put("name", "s").put("port", 0).put("replication", "none").put("instances", 2)))
        .toCompletionStage().toCompletableFuture().get();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get();
    }
  }
}
