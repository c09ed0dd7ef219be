package dev.tether.net;

import dev.tether.config.ServerConfig;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The options classes speak the same JSON as {@code servers.<name>} in conf/tether.json. */
class TrackedOptionsTest {

  @Test
  void defaultsAreTheConfigurationDefaultsAndLoopback() {
    TrackedServerOptions o = new TrackedServerOptions();
    ServerConfig c = ServerConfig.fromJson("tether", new JsonObject().put("verticle", "echo").put("port", 0), Set.of());
    TrackedServerOptions fromConfig = c.trackedServerOptions();
    assertThat(o.getHost()).isEqualTo("127.0.0.1").isEqualTo(fromConfig.getHost());
    assertThat(o.getMaxConnections()).isEqualTo(fromConfig.getMaxConnections()).isEqualTo(10_000);
    assertThat(o.tracking().toJson()).isEqualTo(fromConfig.tracking().toJson());
    assertThat(o.getProtocol()).isEqualTo("raw");
    assertThat(new TrackedServerOptions(new JsonObject()).getHost()).isEqualTo("127.0.0.1");
  }

  @Test
  void theShippedServerConfigurationReadsTheSameBothWays() throws Exception {
    JsonObject conf = new JsonObject(Files.readString(Path.of("conf", "tether.json")));
    JsonObject echo = conf.getJsonObject("servers").getJsonObject("echo");
    TrackedServerOptions o = new TrackedServerOptions(echo.copy().put("name", "echo"));
    TrackedServerOptions viaConfig = ServerConfig.fromJson("echo", echo, Set.of()).trackedServerOptions();
    assertThat(o.getPort()).isEqualTo(7000).isEqualTo(viaConfig.getPort());
    assertThat(o.getName()).isEqualTo("echo");
    assertThat(o.tracking().toJson()).isEqualTo(viaConfig.tracking().toJson());
    assertThat(o.tracking().toJson().getJsonObject("policies")).isEqualTo(echo.getJsonObject("policies"));
  }

  @Test
  void toJsonAndTheCopyConstructorRoundTrip() {
    TrackedServerOptions o = new TrackedServerOptions().setName("orders").setPort(9000).setMaxConnections(5)
      .setWriteTimeoutMs(1234).setMaxPendingBytes(1 << 20).setHighWaterMark(1 << 16).setDecisionTimeoutMs(77)
      .setPolicies(new JsonObject().put("default", "close").put("soft", new JsonObject()
        .put("policy", "resend-remainder").put("maxAttempts", 3)));
    JsonObject json = o.toJson();
    assertThat(json.getInteger("maxConnections")).isEqualTo(5);
    assertThat(json.getLong("writeTimeoutMs")).isEqualTo(1234);
    assertThat(new TrackedServerOptions(json).toJson()).isEqualTo(json);
    TrackedServerOptions copy = new TrackedServerOptions(o);
    assertThat(copy.toJson()).isEqualTo(json);
    copy.setWriteTimeoutMs(1);
    assertThat(o.tracking().writeTimeoutMs()).as("the copy is deep").isEqualTo(1234);

    TrackedClientOptions client = new TrackedClientOptions().setName("up").setMaxPendingBytes(1 << 20);
    assertThat(new TrackedClientOptions(client.toJson()).toJson()).isEqualTo(client.toJson());
  }

  @Test
  void badValuesNameTheirKey() {
    assertThatThrownBy(() -> new TrackedServerOptions(new JsonObject().put("name", "x").put("maxPendingBytes", -1)))
      .hasMessageContaining("servers.x.maxPendingBytes");
    assertThatThrownBy(() -> new TrackedServerOptions(new JsonObject().put("name", "x").put("maxConnections", 0)))
      .hasMessageContaining("servers.x.maxConnections");
    assertThatThrownBy(() -> new TrackedServerOptions(new JsonObject().put("name", "x")
      .put("policies", new JsonObject().put("soft", "no-such-policy"))))
      .hasMessageContaining("servers.x.policies.soft");
  }
}
