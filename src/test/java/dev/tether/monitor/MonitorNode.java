package dev.tether.monitor;

import dev.tether.Tether;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.verticles.EchoVerticle;
import dev.tether.verticles.MonitorVerticle;
import dev.tether.verticles.RecoveryVerticle;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Tether node for the monitoring tests: its own Vert.x, a private Prometheus registry behind
 * Tether's recorder, the recovery verticle, one tracked echo server named {@code echo} on a free
 * port and the monitor's HTTP server on a free port, all on 127.0.0.1. Blocking helpers for the test
 * thread (HTTP through java.net.http, scrape parsing).
 */
final class MonitorNode implements AutoCloseable {

  static final String NODE = "test-node";

  final Vertx vertx;
  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final JsonObject config;
  final String echoDeployment;
  final int echoPort;
  final int httpPort;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /**
   * @param echo    the {@code servers.echo} object (port, tracking options, faults); port 0 if absent
   * @param extra   top-level sections to add ({@code http}, {@code monitor}, ...), may be empty
   */
  MonitorNode(JsonObject echo, JsonObject extra) throws Exception {
    vertx = Vertx.vertx();
    Tether.install(vertx, NODE, new MicrometerRecorder(registry));
    JsonObject echoConf = echo.copy();
    echoConf.put("verticle", "echo");
    if (!echoConf.containsKey("port")) {
      echoConf.put("port", 0);
    }
    config = new JsonObject().put("node", NODE).put("servers", new JsonObject().put("echo", echoConf));
    JsonObject http = new JsonObject().put("port", 0);
    config.put("http", http);
    extra.forEach(e -> config.put(e.getKey(), e.getValue()));
    if (config.getJsonObject("http").getValue("port") == null) {
      config.getJsonObject("http").put("port", 0);
    }
    await(vertx.deployVerticle(RecoveryVerticle.class.getName(), new DeploymentOptions().setConfig(config.copy())));
    EchoVerticle ev = new EchoVerticle();
    JsonObject serverConf = echoConf.copy().put("name", "echo");
    serverConf.remove("verticle");
    echoDeployment = await(vertx.deployVerticle(ev, new DeploymentOptions().setConfig(serverConf)));
    echoPort = ev.actualPort();
    MonitorVerticle mv = new MonitorVerticle();
    await(vertx.deployVerticle(mv, new DeploymentOptions().setConfig(config.copy())));
    httpPort = mv.actualPort();
  }

  /** The default echo server for these tests: soft failures resent quickly, timeouts and overflows close. */
  static JsonObject echo(JsonObject faults) {
    return new JsonObject()
      .put("policies", new JsonObject()
        .put("default", "close")
        .put("soft", new JsonObject().put("policy", "resend-remainder")
          .put("initialDelayMs", 5).put("maxDelayMs", 50).put("maxAttempts", 5))
        .put("WRITE_TIMEOUT", "close")
        .put("WRITE_QUEUE_OVERFLOW", "close"))
      .put("faults", faults == null ? new JsonObject().put("enabled", false) : faults);
  }

  static <T> T await(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + pathAndQuery))
      .timeout(Duration.ofSeconds(10)).GET().build();
    return http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  JsonObject getJson(String pathAndQuery) throws IOException, InterruptedException {
    return new JsonObject(get(pathAndQuery).body());
  }

  String scrape() throws IOException, InterruptedException {
    HttpResponse<String> r = get("/metrics");
    if (r.statusCode() != 200) {
      throw new IllegalStateException("/metrics answered " + r.statusCode() + ": " + r.body());
    }
    return r.body();
  }

  /**
   * The value of the sample {@code name} whose labels include all of {@code labels}, summed over
   * the samples that match (0 when none does, as Prometheus would read an absent counter).
   */
  static double sample(String scrape, String name, Map<String, String> labels) {
    double sum = 0;
    Pattern line = Pattern.compile("^" + Pattern.quote(name) + "(\\{([^}]*)\\})? (\\S+)$", Pattern.MULTILINE);
    Matcher m = line.matcher(scrape);
    while (m.find()) {
      String l = m.group(2) == null ? "" : m.group(2);
      boolean all = labels.entrySet().stream().allMatch(e -> l.contains(e.getKey() + "=\"" + e.getValue() + "\""));
      if (all) {
        sum += Double.parseDouble(m.group(3));
      }
    }
    return sum;
  }

  double sample(String name, Map<String, String> labels) throws IOException, InterruptedException {
    return sample(scrape(), name, labels);
  }

  @Override
  public void close() throws Exception {
    await(vertx.close());
    registry.close();
  }
}
