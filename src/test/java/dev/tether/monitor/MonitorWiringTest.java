package dev.tether.monitor;

import dev.tether.Tether;
import dev.tether.config.TetherConfig;
import dev.tether.metrics.TetherRecorder;
import dev.tether.verticles.MainVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * MainVerticle deploys the monitoring verticles from {@code http}, {@code monitor}, {@code bridge}
 * and {@code metrics}; Vert.x's own meters and Tether's share one registry; everything can be
 * switched off; bad keys are named.
 */
class MonitorWiringTest {

  private Vertx vertx;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void close() throws Exception {
    if (vertx != null) {
      await(vertx.close());
    }
  }

  private JsonObject config(int echo, int httpPort, int bridge) {
    return new JsonObject()
      .put("node", "wired")
      .put("servers", new JsonObject().put("echo", new JsonObject().put("verticle", "echo").put("port", echo)))
      .put("http", new JsonObject().put("port", httpPort))
      .put("bridge", new JsonObject().put("port", bridge));
  }

  private HttpResponse<String> get(int port, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
      .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void mainVerticleServesVertxAndTetherMetersFromOneRegistry() throws Exception {
    vertx = Vertx.vertx(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
      .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))));
    int echo = MonitorBridgeTest.freePort();
    int httpPort = MonitorBridgeTest.freePort();
    int bridge = MonitorBridgeTest.freePort();
    await(vertx.deployVerticle(MainVerticle.class.getName(), new DeploymentOptions().setConfig(config(echo, httpPort, bridge))));

    JsonObject health = new JsonObject(get(httpPort, "/health").body());
    assertThat(health.getString("status")).isEqualTo("UP");
    assertThat(health.getString("node")).isEqualTo("wired");
    assertThat(health.getJsonObject("servers").getJsonObject("echo").getInteger("port")).isEqualTo(echo);

    try (Peer peer = new Peer(echo)) {
      peer.exchange(777, 1);
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      String s = get(httpPort, "/metrics").body();
      assertThat(MonitorNode.sample(s, "tether_written_bytes_total", Map.of("server", "echo"))).isEqualTo(777.0);
      assertThat(s).contains("vertx_net_server_", "vertx_http_server_");
    });
    try (MonitorBridgeTest.RawClient client = new MonitorBridgeTest.RawClient(bridge)) {
      client.send(new JsonObject().put("type", "register").put("address", "tether.failure"));
      assertThat(client.sync()).isEmpty();
    }
    assertThat(get(httpPort, "/events").statusCode()).isEqualTo(200);
  }

  @Test
  void metricsMonitorAndBridgeCanBeSwitchedOff() throws Exception {
    vertx = Vertx.vertx();
    int echo = MonitorBridgeTest.freePort();
    int httpPort = MonitorBridgeTest.freePort();
    int bridge = MonitorBridgeTest.freePort();
    JsonObject conf = config(echo, httpPort, bridge)
      .put("metrics", new JsonObject().put("enabled", false))
      .put("monitor", new JsonObject().put("enabled", false))
      .put("bridge", new JsonObject().put("enabled", false).put("port", bridge));
    await(vertx.deployVerticle(MainVerticle.class.getName(), new DeploymentOptions().setConfig(conf)));
    assertThat(Tether.of(vertx).recorder()).isSameAs(TetherRecorder.NOOP);
    assertThat(get(httpPort, "/health").statusCode()).isEqualTo(200);
    assertThat(get(httpPort, "/metrics").statusCode()).isEqualTo(404);
    assertThat(get(httpPort, "/events").statusCode()).isEqualTo(404);
    assertThat(get(httpPort, "/").statusCode()).isEqualTo(404);
    assertThatThrownBy(() -> new java.net.Socket("127.0.0.1", bridge).close()).isInstanceOf(java.net.ConnectException.class);
  }

  @Test
  void badObservabilityKeysAreNamed() {
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("http", new JsonObject().put("prot", 1))))
      .hasMessageStartingWith("http.prot: unknown key");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("http", new JsonObject().put("port", 70000))))
      .hasMessageStartingWith("http.port: must be within 0..65535");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("http", new JsonObject().put("host", ""))))
      .hasMessageStartingWith("http.host: must be a non-empty string");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("monitor", new JsonObject().put("ringSize", 0))))
      .hasMessageStartingWith("monitor.ringSize: must be within 1..");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("monitor", new JsonObject().put("pushIntervalMs", "1s"))))
      .hasMessageStartingWith("monitor.pushIntervalMs: must be an integer");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("bridge", "on")))
      .hasMessageStartingWith("bridge: must be an object");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("bridge", new JsonObject().put("maxConnections", -1))))
      .hasMessageStartingWith("bridge.maxConnections: must be within 1..");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("metrics", new JsonObject().put("enabled", "yes"))))
      .hasMessageStartingWith("metrics.enabled: must be true or false");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("metrics", new JsonObject().put("prometheus", true))))
      .hasMessageStartingWith("metrics.prometheus: unknown key");
  }

  @Test
  void aBadKeyStopsTheDeploymentWithItsName() {
    vertx = Vertx.vertx();
    JsonObject conf = new JsonObject().put("node", "bad").put("monitor", new JsonObject().put("ringsize", 10));
    assertThatThrownBy(() -> await(vertx.deployVerticle(MainVerticle.class.getName(), new DeploymentOptions().setConfig(conf))))
      .hasMessageContaining("monitor.ringsize: unknown key");
  }

  @Test
  void theShippedConfigurationIsValidAndUsesTheDocumentedPorts() throws Exception {
    JsonObject conf = new JsonObject(java.nio.file.Files.readString(java.nio.file.Path.of("conf/tether.json")));
    var obs = TetherConfig.fromJson(conf).observability();
    assertThat(obs.http().port()).isEqualTo(8080);
    assertThat(obs.http().host()).isEqualTo("127.0.0.1");
    assertThat(obs.bridge().port()).isEqualTo(7002);
    assertThat(obs.bridge().host()).isEqualTo("127.0.0.1");
    assertThat(obs.metrics().enabled()).isTrue();
    assertThat(obs.monitor().enabled()).isTrue();
  }

  @Test
  void anUntrackedPlainEchoServerIsReportedByHealthToo() throws Exception {
    vertx = Vertx.vertx();
    int plain = MonitorBridgeTest.freePort();
    int httpPort = MonitorBridgeTest.freePort();
    JsonObject conf = new JsonObject().put("node", "wired")
      .put("servers", new JsonObject().put("baseline", new JsonObject().put("verticle", "plain-echo").put("port", plain)))
      .put("http", new JsonObject().put("port", httpPort))
      .put("bridge", new JsonObject().put("enabled", false));
    await(vertx.deployVerticle(MainVerticle.class.getName(), new DeploymentOptions().setConfig(conf)));
    HttpResponse<String> up = get(httpPort, "/health");
    assertThat(up.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(up.body()).getJsonObject("servers").getJsonObject("baseline").getInteger("port")).isEqualTo(plain);
  }
}
