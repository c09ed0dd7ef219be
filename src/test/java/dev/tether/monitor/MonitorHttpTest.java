package dev.tether.monitor;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** {@code /health}, {@code /events} and {@code /metrics} over real HTTP against a real node. */
class MonitorHttpTest {

  /** The failure event fields of DESIGN.md. */
  static final List<String> FAILURE_FIELDS = List.of("id", "time", "node", "server", "protocol", "connection",
    "remote", "kind", "direction", "requested", "flushed", "unsent", "offset", "cause", "message", "attempt");
  static final List<String> OUTCOME_FIELDS = List.of("failure", "node", "connection", "policy", "action",
    "delayMs", "bytes", "result", "message");

  private MonitorNode node;

  @AfterEach
  void close() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void healthIsUpWhileTheServerListensAndDownOnceItIsGone() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject());
    HttpResponse<String> up = node.get("/health");
    assertThat(up.statusCode()).isEqualTo(200);
    assertThat(up.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
    JsonObject body = new JsonObject(up.body());
    assertThat(body.getString("status")).isEqualTo("UP");
    assertThat(body.getString("node")).isEqualTo(MonitorNode.NODE);
    JsonObject echo = body.getJsonObject("servers").getJsonObject("echo");
    assertThat(echo.getBoolean("listening")).isTrue();
    assertThat(echo.getInteger("instances")).isEqualTo(1);
    assertThat(echo.getInteger("port")).isEqualTo(node.echoPort);
    assertThat(echo.getString("host")).isEqualTo("127.0.0.1");
    // not clustered: a cluster of one
    assertThat(body.getJsonObject("cluster")).isEqualTo(new JsonObject().put("enabled", false)
      .put("members", new JsonArray().add(MonitorNode.NODE)).put("size", 1));

    await(node.vertx.undeploy(node.echoDeployment));
    HttpResponse<String> down = node.get("/health");
    assertThat(down.statusCode()).isEqualTo(503);
    JsonObject d = new JsonObject(down.body());
    assertThat(d.getString("status")).isEqualTo("DOWN");
    assertThat(d.getJsonObject("servers").getJsonObject("echo").getBoolean("listening")).isFalse();
    assertThat(d.getJsonObject("servers").getJsonObject("echo").getInteger("instances")).isZero();
  }

  @Test
  void nodesListsThisNodeLiveWithItsCounts() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("failWrites", new JsonArray().add(2))), new JsonObject());
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(40, 1);
      peer.exchange(60, 2);
    }
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      JsonObject body = node.getJson("/nodes");
      assertThat(body.getString("node")).isEqualTo(MonitorNode.NODE);
      assertThat(body.getJsonObject("cluster").getBoolean("enabled")).isFalse();
      assertThat(body.getJsonArray("nodes")).hasSize(1);
      JsonObject self = body.getJsonArray("nodes").getJsonObject(0);
      assertThat(self.getString("node")).isEqualTo(MonitorNode.NODE);
      assertThat(self.getString("status")).isEqualTo("live");
      assertThat(self.getBoolean("self")).isTrue();
      assertThat(self.getLong("failures")).isEqualTo(1);
      assertThat(self.getJsonObject("byKind")).isEqualTo(new JsonObject().put("WRITE_FAILED", 1));
    });
  }

  @Test
  void aDisabledServerDoesNotMakeTheNodeDown() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject());
    // a second configured server that is disabled: reported, but not a reason for 503
    JsonObject conf = node.config.copy();
    conf.getJsonObject("servers").put("spare", new JsonObject().put("verticle", "echo").put("port", 0).put("enabled", false));
    conf.getJsonObject("http").put("port", 0);
    dev.tether.verticles.MonitorVerticle mv = new dev.tether.verticles.MonitorVerticle();
    await(node.vertx.deployVerticle(mv, new io.vertx.core.DeploymentOptions().setConfig(conf)));
    java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
    HttpResponse<String> r = c.send(java.net.http.HttpRequest.newBuilder(
      java.net.URI.create("http://127.0.0.1:" + mv.actualPort() + "/health")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonObject spare = new JsonObject(r.body()).getJsonObject("servers").getJsonObject("spare");
    assertThat(spare.getBoolean("enabled")).isFalse();
    assertThat(spare.getBoolean("listening")).isFalse();
  }

  @Test
  void eventsCarryEveryFieldNewestFirstAndFilter() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("failWrites", new JsonArray().add(2))), new JsonObject());
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(10, 1);
      peer.exchange(20, 2); // WRITE_FAILED, resent: one failure and one recovery outcome
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
      assertThat(node.getJson("/events").getJsonArray("events")).hasSize(2));
    Peer reset = new Peer(node.echoPort);
    reset.exchange(5, 3);
    reset.reset(); // READ_FAILED, closed: one failure and one outcome
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
      assertThat(node.getJson("/events").getJsonArray("events")).hasSize(4));

    JsonObject all = node.getJson("/events");
    JsonArray events = all.getJsonArray("events");
    // newest first
    for (int i = 1; i < events.size(); i++) {
      assertThat(events.getJsonObject(i - 1).getLong("time")).isGreaterThanOrEqualTo(events.getJsonObject(i).getLong("time"));
    }
    assertThat(events.getJsonObject(events.size() - 1).getString("kind")).isEqualTo("WRITE_FAILED");
    JsonObject writeFailed = events.stream().map(JsonObject.class::cast)
      .filter(e -> "failure".equals(e.getString("type")) && "WRITE_FAILED".equals(e.getString("kind"))).findFirst().orElseThrow();
    assertThat(writeFailed.fieldNames()).containsAll(FAILURE_FIELDS);
    assertThat(writeFailed.getString("node")).isEqualTo(MonitorNode.NODE);
    assertThat(writeFailed.getString("server")).isEqualTo("echo");
    assertThat(writeFailed.getString("direction")).isEqualTo("WRITE");
    assertThat(writeFailed.getLong("requested")).isEqualTo(20);
    assertThat(writeFailed.getLong("flushed")).isZero();
    assertThat(writeFailed.getLong("unsent")).isEqualTo(20);
    assertThat(writeFailed.getLong("offset")).isEqualTo(10);
    JsonObject resend = events.stream().map(JsonObject.class::cast)
      .filter(e -> writeFailed.getString("id").equals(e.getString("failure"))).findFirst().orElseThrow();
    assertThat(resend.getString("type")).isEqualTo("recovery");
    assertThat(resend.fieldNames()).containsAll(OUTCOME_FIELDS);
    assertThat(resend.getString("action")).isEqualTo("RESEND");
    assertThat(resend.getString("result")).isEqualTo("OK");
    assertThat(resend.getLong("bytes")).isEqualTo(20);

    JsonArray readFailed = node.getJson("/events?kind=READ_FAILED").getJsonArray("events");
    assertThat(readFailed).hasSize(2); // the failure and its outcome both carry the kind
    assertThat(readFailed.stream().map(o -> ((JsonObject) o).getString("kind"))).containsOnly("READ_FAILED");
    assertThat(node.getJson("/events?kind=READ_FAILED&type=failure").getJsonArray("events")).hasSize(1);
    assertThat(node.getJson("/events?type=recovery").getJsonArray("events")).hasSize(2);
    assertThat(node.getJson("/events?node=" + MonitorNode.NODE).getJsonArray("events")).hasSize(4);
    assertThat(node.getJson("/events?node=elsewhere").getJsonArray("events")).isEmpty();
    assertThat(node.getJson("/events?limit=1").getJsonArray("events")).hasSize(1)
      .first().satisfies(e -> assertThat(((JsonObject) e).getString("kind")).isEqualTo("READ_FAILED"));
    assertThat(node.get("/events?limit=0").statusCode()).isEqualTo(400);
    assertThat(node.get("/events?limit=x").statusCode()).isEqualTo(400);
    assertThat(node.get("/events?type=other").statusCode()).isEqualTo(400);

    JsonObject counts = all.getJsonObject("counts");
    assertThat(counts.getLong("failures")).isEqualTo(2);
    assertThat(counts.getLong("recoveries")).isEqualTo(2);
    assertThat(counts.getJsonObject("byKind").fieldNames()).containsExactlyInAnyOrder("WRITE_FAILED", "READ_FAILED");
    assertThat(counts.getJsonObject("byKind").getLong("WRITE_FAILED")).isEqualTo(1);
    assertThat(counts.getJsonObject("byKind").getLong("READ_FAILED")).isEqualTo(1);
    assertThat(counts.getJsonObject("byNode").getJsonObject(MonitorNode.NODE).getLong("READ_FAILED")).isEqualTo(1);
  }

  @Test
  void theRingIsBoundedButTheCountsAreNot() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
        .put("failWrites", new JsonArray().add(2).add(4).add(6))),
      new JsonObject().put("monitor", new JsonObject().put("ringSize", 3)));
    try (Peer peer = new Peer(node.echoPort)) {
      for (int i = 1; i <= 4; i++) {
        peer.exchange(100, i); // messages 2, 3 and 4 each fail once and are resent
      }
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      JsonObject counts = node.getJson("/events").getJsonObject("counts");
      assertThat(counts.getLong("failures")).isEqualTo(3);
      assertThat(counts.getLong("recoveries")).isEqualTo(3);
    });
    JsonObject r = node.getJson("/events?limit=100");
    assertThat(r.getJsonArray("events")).hasSize(3);
    assertThat(r.getJsonObject("counts").getJsonObject("ring").getInteger("size")).isEqualTo(3);
    assertThat(r.getJsonObject("counts").getJsonObject("ring").getInteger("dropped")).isEqualTo(3);
    assertThat(r.getJsonObject("counts").getJsonObject("byKind").getLong("WRITE_FAILED")).isEqualTo(3);
  }

  @Test
  void metricsAreServedInPrometheusTextFormatWithoutConnectionTags() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject());
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(1234, 1);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(node.sample("tether_written_bytes_total", Map.of("server", "echo"))).isEqualTo(1234.0));
      HttpResponse<String> r = node.get("/metrics");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
      String s = r.body();
      assertThat(s).contains("# TYPE tether_written_bytes_total counter", "# HELP tether_written_bytes_total",
        "# TYPE tether_pending_bytes gauge", "# TYPE tether_connections gauge",
        "# TYPE tether_write_flush_seconds summary", "# TYPE tether_writes_total counter");
      assertThat(s.lines().filter(l -> l.startsWith("tether_")))
        .isNotEmpty()
        .allSatisfy(l -> assertThat(l).matches("tether_[a-z_]+(\\{[a-z]+=\"[^\"]*\"(,[a-z]+=\"[^\"]*\")*})? [0-9.Ee+-]+"))
        .noneSatisfy(l -> assertThat(l).containsAnyOf("connection=", "remote=", "address="));
    }
  }

  @Test
  void otherMethodsAndPathsAreRefused() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject());
    assertThat(node.get("/nope").statusCode()).isEqualTo(404);
    java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
    HttpResponse<String> post = c.send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create("http://127.0.0.1:" + node.httpPort + "/events"))
      .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    HttpResponse<String> page = node.get("/");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body()).contains("<canvas id=\"rate\"").doesNotContain("http://", "https://");
    assertThat(node.get("/app.js").body()).contains("EventSource").doesNotContain("http://", "https://");
  }

  @Test
  void liveClientsAreBoundedAndFedWithASnapshotFirst() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject().put("http", new JsonObject().put("maxSseClients", 1)));
    java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
    java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + node.httpPort + "/events/stream");
    HttpResponse<java.io.InputStream> first = c.send(java.net.http.HttpRequest.newBuilder(uri).build(),
      HttpResponse.BodyHandlers.ofInputStream());
    try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(first.body(),
      java.nio.charset.StandardCharsets.UTF_8))) {
      assertThat(first.statusCode()).isEqualTo(200);
      assertThat(first.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
      assertThat(in.readLine()).isEqualTo("event: snapshot");
      String data = in.readLine();
      assertThat(data).startsWith("data: ");
      assertThat(new JsonObject(data.substring(6)).getString("node")).isEqualTo(MonitorNode.NODE);
      HttpResponse<String> second = c.send(java.net.http.HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(second.statusCode()).isEqualTo(503);
    }
  }
}
