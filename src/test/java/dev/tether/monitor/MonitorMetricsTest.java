package dev.tether.monitor;

import dev.tether.event.Addresses;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Exact values of Tether's meters, scraped through real HTTP from {@code /metrics}, after each kind
 * of failure is provoked on a real tracked echo server.
 */
class MonitorMetricsTest {

  private static final String WRITTEN = "tether_written_bytes_total";
  private static final String FAILURES = "tether_failures_total";
  private static final String UNSENT = "tether_unsent_bytes_total";
  private static final String RESENT = "tether_resent_bytes_total";
  private static final String ACTIONS = "tether_recovery_actions_total";
  private static final String WRITES = "tether_writes_total";
  private static final String PENDING = "tether_pending_bytes";
  private static final String CONNECTIONS = "tether_connections";
  private static final Map<String, String> ECHO = Map.of("server", "echo");

  private MonitorNode node;
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  private final List<JsonObject> outcomes = new CopyOnWriteArrayList<>();

  private MonitorNode start(JsonObject echo) throws Exception {
    node = new MonitorNode(echo, new JsonObject());
    await(node.vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body())).completion());
    await(node.vertx.eventBus().<JsonObject>consumer(Addresses.RECOVERY, m -> outcomes.add(m.body())).completion());
    return node;
  }

  @AfterEach
  void close() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private static Map<String, String> failure(String kind, String direction) {
    return Map.of("server", "echo", "kind", kind, "direction", direction);
  }

  @Test
  void cleanRunCountsExactlyTheBytesThePeerReceived() throws Exception {
    start(MonitorNode.echo(null));
    try (Peer peer = new Peer(node.echoPort)) {
      for (int i = 1; i <= 20; i++) {
        peer.exchange(100 * i, i);
      }
      long received = peer.received();
      assertThat(received).isEqualTo(21_000);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        String s = node.scrape();
        assertThat(MonitorNode.sample(s, WRITTEN, ECHO)).isEqualTo((double) received);
        assertThat(MonitorNode.sample(s, WRITES, Map.of("server", "echo", "outcome", "ok")))
          .isEqualTo(MonitorNode.sample(s, WRITES, ECHO));
        assertThat(MonitorNode.sample(s, PENDING, ECHO)).isZero();
        assertThat(MonitorNode.sample(s, CONNECTIONS, ECHO)).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, "tether_write_flush_seconds_count", ECHO))
          .isEqualTo(MonitorNode.sample(s, WRITES, ECHO));
      });
      String s = node.scrape();
      assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isZero();
      assertThat(MonitorNode.sample(s, UNSENT, ECHO)).isZero();
      assertThat(MonitorNode.sample(s, RESENT, ECHO)).isZero();
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
      assertThat(node.sample(CONNECTIONS, ECHO)).isZero());
    assertThat(failures).isEmpty();
  }

  @Test
  void refusedWriteIsCountedOnceAndItsBytesResent() throws Exception {
    start(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1).put("failWrites", new JsonArray().add(2))));
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(300, 1);
      peer.exchange(500, 2); // write #2 is refused, then resent by resend-remainder
      peer.exchange(700, 3);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        String s = node.scrape();
        assertThat(MonitorNode.sample(s, FAILURES, failure("WRITE_FAILED", "WRITE"))).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, RESENT, ECHO)).isEqualTo(500.0);
        assertThat(MonitorNode.sample(s, WRITTEN, ECHO)).isEqualTo((double) peer.received());
        assertThat(MonitorNode.sample(s, UNSENT, ECHO)).isZero();
        assertThat(MonitorNode.sample(s, ACTIONS, Map.of("policy", "resend-remainder", "action", "RESEND", "result", "OK")))
          .isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, WRITES, Map.of("server", "echo", "outcome", "ok"))).isEqualTo(3.0);
        assertThat(MonitorNode.sample(s, PENDING, ECHO)).isZero();
      });
    }
    JsonObject e = peerEvent("WRITE_FAILED");
    {
      assertThat(e.getLong("requested")).isEqualTo(500);
      assertThat(e.getLong("flushed")).isZero();
      assertThat(e.getLong("unsent")).isEqualTo(500);
      assertThat(e.getLong("offset")).isEqualTo(300);
    }
  }

  @Test
  void partialWriteCountsTheFlushedPartOnceAndResendsTheRest() throws Exception {
    start(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("partialWrites", new JsonObject().put("3", 100))));
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(200, 1);
      peer.exchange(200, 2);
      peer.exchange(1000, 3); // write #3: 100 bytes pass, 900 refused and resent
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        String s = node.scrape();
        assertThat(MonitorNode.sample(s, FAILURES, failure("WRITE_INCOMPLETE", "WRITE"))).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, RESENT, ECHO)).isEqualTo(900.0);
        assertThat(MonitorNode.sample(s, WRITTEN, ECHO)).isEqualTo(1400.0);
        assertThat(MonitorNode.sample(s, UNSENT, ECHO)).isZero();
        assertThat(MonitorNode.sample(s, ACTIONS, Map.of("action", "RESEND", "result", "OK"))).isEqualTo(1.0);
      });
      assertThat(peer.received()).isEqualTo(1400);
    }
    JsonObject e = peerEvent("WRITE_INCOMPLETE");
    {
      assertThat(e.getLong("requested")).isEqualTo(1000);
      assertThat(e.getLong("flushed")).isEqualTo(100);
      assertThat(e.getLong("unsent")).isEqualTo(900);
      assertThat(e.getLong("offset")).isEqualTo(500);
    }
  }

  @Test
  void allocationFailureIsResourceExhausted() throws Exception {
    start(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("allocationFailures", new JsonArray().add(2))));
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(64, 1);
      peer.exchange(4096, 2);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        String s = node.scrape();
        assertThat(MonitorNode.sample(s, FAILURES, failure("RESOURCE_EXHAUSTED", "WRITE"))).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, RESENT, ECHO)).isEqualTo(4096.0);
        assertThat(MonitorNode.sample(s, WRITTEN, ECHO)).isEqualTo(4160.0);
        assertThat(MonitorNode.sample(s, UNSENT, ECHO)).isZero();
      });
    }
  }

  @Test
  void peerResetIsOneReadFailureAndNothingUnsent() throws Exception {
    start(MonitorNode.echo(null));
    Peer peer = new Peer(node.echoPort);
    peer.exchange(1000, 1);
    peer.reset();
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      String s = node.scrape();
      assertThat(MonitorNode.sample(s, FAILURES, failure("READ_FAILED", "READ"))).isEqualTo(1.0);
      assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isEqualTo(1.0);
      assertThat(MonitorNode.sample(s, ACTIONS, Map.of("policy", "close", "action", "CLOSE"))).isEqualTo(1.0);
      assertThat(MonitorNode.sample(s, CONNECTIONS, ECHO)).isZero();
    });
    String s = node.scrape();
    assertThat(MonitorNode.sample(s, WRITTEN, ECHO)).isEqualTo(1000.0);
    assertThat(MonitorNode.sample(s, UNSENT, ECHO)).isZero();
    assertThat(MonitorNode.sample(s, PENDING, ECHO)).isZero();
    assertThat(peerEvent("READ_FAILED").getString("direction")).isEqualTo("READ");
  }

  @Test
  void stalledPeerTimesOutAndEveryByteIsEitherWrittenOrUnsent() throws Exception {
    // high-water mark = cap: the server reads everything the peer sends, so its receive queue is
    // empty when it closes and the peer gets every flushed byte before the FIN
    int total = 16 << 20; // well beyond what the kernel buffers of both ends can hold
    start(MonitorNode.echo(null).put("writeTimeoutMs", 300).put("maxPendingBytes", 64 << 20)
      .put("highWaterMark", 64 << 20));
    try (Peer peer = new Peer(node.echoPort, 32 * 1024)) {
      OutputStream out = peer.socket.getOutputStream();
      byte[] chunk = new byte[64 * 1024];
      for (int sent = 0; sent < total; sent += chunk.length) {
        out.write(chunk);
      }
      out.flush();
      await().atMost(Duration.ofSeconds(15)).until(() -> !outcomes.isEmpty());
      long received = peer.drainToEof();
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        String s = node.scrape();
        assertThat(MonitorNode.sample(s, FAILURES, failure("WRITE_TIMEOUT", "WRITE"))).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, WRITTEN, ECHO)).isEqualTo((double) received);
        assertThat(MonitorNode.sample(s, UNSENT, Map.of("server", "echo", "kind", "WRITE_TIMEOUT")))
          .isEqualTo((double) (total - received));
        assertThat(MonitorNode.sample(s, UNSENT, ECHO)).isEqualTo((double) (total - received));
        assertThat(MonitorNode.sample(s, ACTIONS, Map.of("policy", "close", "action", "CLOSE", "result", "OK")))
          .isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, PENDING, ECHO)).isZero();
        assertThat(MonitorNode.sample(s, CONNECTIONS, ECHO)).isZero();
      });
      assertThat(received).isLessThan(total);
      assertThat(outcomes.get(0).getLong("bytes")).isEqualTo(total - received);
    }
  }

  @Test
  void overflowOfAStalledPeerIsCountedOnceWithItsBytes() throws Exception {
    start(MonitorNode.echo(null).put("writeTimeoutMs", 0).put("maxPendingBytes", 262_147)
      .put("highWaterMark", 262_147)); // odd: aligned reads cannot fill it exactly (which would pause reading without an overflow)
    try (Peer peer = new Peer(node.echoPort, 32 * 1024)) {
      Thread writer = new Thread(() -> {
        try {
          OutputStream out = peer.socket.getOutputStream();
          byte[] chunk = new byte[16 * 1024];
          for (int sent = 0; sent < (32 << 20); sent += chunk.length) {
            out.write(chunk);
          }
        } catch (java.io.IOException closed) {
          // the server closed the connection: expected
        }
      }, "overflow-writer");
      writer.setDaemon(true);
      writer.start();
      await().atMost(Duration.ofSeconds(20)).until(() -> !outcomes.isEmpty());
      long unsent = outcomes.get(0).getLong("bytes");
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        String s = node.scrape();
        assertThat(MonitorNode.sample(s, FAILURES, failure("WRITE_QUEUE_OVERFLOW", "WRITE"))).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, FAILURES, ECHO)).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, UNSENT, Map.of("server", "echo", "kind", "WRITE_QUEUE_OVERFLOW")))
          .isEqualTo((double) unsent);
        assertThat(MonitorNode.sample(s, ACTIONS, Map.of("policy", "close", "action", "CLOSE"))).isEqualTo(1.0);
        assertThat(MonitorNode.sample(s, PENDING, ECHO)).isZero();
        assertThat(MonitorNode.sample(s, CONNECTIONS, ECHO)).isZero();
      });
      assertThat(unsent).isPositive();
      JsonObject event = peerEvent("WRITE_QUEUE_OVERFLOW");
      assertThat(event.getLong("flushed")).isZero();
      assertThat(event.getLong("unsent")).isEqualTo(event.getLong("requested")).isPositive();
    }
  }

  private JsonObject peerEvent(String kind) {
    return failures.stream().filter(e -> kind.equals(e.getString("kind"))).findFirst()
      .orElseThrow(() -> new AssertionError("no " + kind + " event among " + failures));
  }
}
