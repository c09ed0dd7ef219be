package dev.tether.monitor;

import dev.tether.event.Addresses;
import dev.tether.event.FailureKind;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A storm: thousands of failure events per second for a few seconds, from a publisher of failure
 * events of three other nodes (exactly {@value #STORM_EVENTS} of them) plus real injected faults
 * on the local echo server, while a live dashboard client is connected. {@code /health} must keep
 * answering quickly, the ring must stay bounded and every count must be exact.
 */
class MonitorStormTest {

  static final int STORM_EVENTS = 15_000;
  static final int PER_TICK = 50;          // 50 every 10 ms: 5,000 per second for 3 s
  static final int RING = 500;
  static final String[] NODES = {"storm-a", "storm-b", "storm-c"};

  private MonitorNode node;

  @AfterEach
  void close() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  /** Publishes STORM_EVENTS failure events of other nodes at a fixed rate, then completes. */
  static final class StormPublisher extends AbstractVerticle {
    final Promise<Void> done = Promise.promise();
    int sent;

    @Override
    public void start() {
      FailureKind[] kinds = FailureKind.values();
      vertx.setPeriodic(10, t -> {
        for (int i = 0; i < PER_TICK && sent < STORM_EVENTS; i++, sent++) {
          JsonObject e = new JsonObject().put("id", "storm-" + sent).put("time", System.currentTimeMillis())
            .put("node", NODES[sent % NODES.length]).put("server", "echo").put("protocol", "raw")
            .put("connection", "echo-" + sent).put("remote", "127.0.0.1:1").put("kind", kinds[sent % kinds.length].name())
            .put("direction", "WRITE").put("requested", 10).put("flushed", 4).put("unsent", 6).put("offset", 4)
            .put("cause", "storm").put("message", "storm").put("attempt", 1);
          vertx.eventBus().publish(Addresses.FAILURE, e);
        }
        if (sent == STORM_EVENTS) {
          vertx.cancelTimer(t);
          done.tryComplete();
        }
      });
    }
  }

  @Test
  void healthAnswersTheRingStaysBoundedAndCountsAreExact() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 7)
        .put("writeFailureRate", 0.2)).put("policies", new JsonObject().put("default", "close").put("soft", "drop")),
      new JsonObject().put("monitor", new JsonObject().put("ringSize", RING).put("pushIntervalMs", 100)));
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    // a live dashboard client for the whole storm
    AtomicLong sseBytes = new AtomicLong();
    CompletableFuture<HttpResponse<InputStream>> stream = http.sendAsync(HttpRequest.newBuilder(
      URI.create("http://127.0.0.1:" + node.httpPort + "/events/stream")).build(), HttpResponse.BodyHandlers.ofInputStream());
    InputStream sse = stream.get(10, TimeUnit.SECONDS).body();
    Thread reader = new Thread(() -> {
      byte[] buf = new byte[65536];
      try {
        for (int r; (r = sse.read(buf)) >= 0; ) {
          sseBytes.addAndGet(r);
        }
      } catch (java.io.IOException closed) {
        // closed at the end of the test
      }
    }, "sse-reader");
    reader.setDaemon(true);
    reader.start();

    // real injected faults: a peer that streams small messages, with one in five writes refused and dropped
    Peer peer = new Peer(node.echoPort);
    Thread sink = new Thread(() -> {
      try {
        InputStream in = peer.socket.getInputStream();
        byte[] buf = new byte[65536];
        while (in.read(buf) >= 0) {
          // discard
        }
      } catch (java.io.IOException closed) {
        // closed at the end of the storm
      }
    }, "echo-sink");
    sink.setDaemon(true);
    sink.start();

    StormPublisher publisher = new StormPublisher();
    long start = System.nanoTime();
    await(node.vertx.deployVerticle(publisher));
    OutputStream out = peer.socket.getOutputStream();
    byte[] msg = new byte[64];
    long healthChecks = 0;
    long slowest = 0;
    while (!publisher.done.future().isComplete()) {
      assertThat(System.nanoTime() - start).as("storm bounded in time").isLessThan(TimeUnit.SECONDS.toNanos(30));
      for (int i = 0; i < 20; i++) {
        out.write(msg);
      }
      out.flush();
      long t0 = System.nanoTime();
      HttpResponse<String> health = node.get("/health");
      long took = System.nanoTime() - t0;
      slowest = Math.max(slowest, took);
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(took).as("/health answer time").isLessThan(TimeUnit.SECONDS.toNanos(2));
      healthChecks++;
      JsonObject events = node.getJson("/events?limit=10000");
      assertThat(events.getJsonArray("events").size()).isLessThanOrEqualTo(RING);
      assertThat(events.getJsonObject("counts").getJsonObject("ring").getInteger("size")).isLessThanOrEqualTo(RING);
    }
    long stormMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    peer.close();

    // quiescence: the echo connection is closed and accounted for
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
      assertThat(node.sample("tether_connections", Map.of("server", "echo"))).isZero());

    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      JsonObject counts = node.getJson("/events?limit=1").getJsonObject("counts");
      JsonObject byNode = counts.getJsonObject("byNode");
      for (String n : NODES) {
        long expected = 0;
        for (int i = 0; i < STORM_EVENTS; i++) {
          expected += NODES[i % NODES.length].equals(n) ? 1 : 0;
        }
        long sum = byNode.getJsonObject(n).stream().mapToLong(e -> ((Number) e.getValue()).longValue()).sum();
        assertThat(sum).as("events of %s", n).isEqualTo(expected);
      }
      FailureKind[] kinds = FailureKind.values();
      String scrape = node.scrape();
      double realTotal = MonitorNode.sample(scrape, "tether_failures_total", Map.of("server", "echo"));
      assertThat(realTotal).as("real injected failures").isGreaterThan(0);
      JsonObject local = byNode.getJsonObject(MonitorNode.NODE);
      for (FailureKind k : kinds) {
        long storm = 0;
        for (int i = 0; i < STORM_EVENTS; i++) {
          storm += kinds[i % kinds.length] == k ? 1 : 0;
        }
        long real = (long) MonitorNode.sample(scrape, "tether_failures_total", Map.of("server", "echo", "kind", k.name()));
        assertThat(counts.getJsonObject("byKind").getLong(k.name(), 0L)).as("kind %s", k).isEqualTo(storm + real);
        assertThat(local.getLong(k.name(), 0L)).as("local %s", k).isEqualTo(real);
      }
      assertThat(counts.getLong("failures")).isEqualTo(STORM_EVENTS + (long) realTotal);
      assertThat(counts.getJsonObject("ring").getInteger("size")).isEqualTo(RING);
    });
    assertThat(healthChecks).isPositive();
    assertThat(sseBytes.get()).as("the live client was fed").isPositive();
    assertThat(stormMs).isGreaterThanOrEqualTo(2_000); // several seconds of storm, not a burst
    sse.close();
    org.slf4j.LoggerFactory.getLogger(MonitorStormTest.class).warn(
      "storm: {} synthetic + {} real failures in {} ms; {} health checks, slowest {} ms",
      STORM_EVENTS, (long) node.sample("tether_failures_total", Map.of("server", "echo")), stormMs, healthChecks,
      TimeUnit.NANOSECONDS.toMillis(slowest));
  }
}
