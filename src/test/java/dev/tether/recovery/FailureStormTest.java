package dev.tether.recovery;

import ch.qos.logback.classic.Level;
import dev.tether.FailureBudget;
import dev.tether.Tether;
import dev.tether.event.Action;
import dev.tether.event.Addresses;
import dev.tether.event.Decision;
import dev.tether.event.FailureKind;
import dev.tether.fault.FaultPlan;
import dev.tether.net.TrackingOptions;
import dev.tether.support.Harness;
import dev.tether.support.LogCapture;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real storm: {@value #CONNECTIONS} loopback connections to a tracked server whose fault injector
 * fails every write, each failing on its first write, under a node budget of {@value #EVENTS} events
 * and {@value #WARNS} WARN lines per second. The budget's clock is stepped by hand, so the whole
 * storm falls in one window and the bounds are exact whatever the machine's speed.
 */
class FailureStormTest {

  static final int CONNECTIONS = 300;
  static final int EVENTS = 20;
  static final int WARNS = 10;
  static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void aStormIsBoundedButCountedDecidedAndSummarised() throws Exception {
    AtomicLong clock = new AtomicLong(5_000_000_000L);
    AtomicInteger failures = new AtomicInteger();
    AtomicInteger requests = new AtomicInteger();
    TrackingOptions o = new TrackingOptions().setServer("echo").setPolicies(PolicySet.closeAll())
      .setFaults(FaultPlan.seeded(9).withRates(1.0, 0, 0));
    try (LogCapture logs = new LogCapture(FailureReporter.class, Level.WARN);
         Harness h = Harness.start(o, new NetServerOptions(), ts -> {
           ts.failureHandler(e -> failures.incrementAndGet());
           ts.write(Buffer.buffer("hello"));
         })) {
      Tether.install(h.vertx, "test-node", Tether.of(h.vertx).recorder(), new FailureBudget(WARNS, EVENTS, clock::get));
      // a recovery verticle of the test's own: answers close, and counts the requests it gets
      h.vertx.eventBus().<JsonObject>localConsumer(Addresses.recover("test-node"), m -> {
        requests.incrementAndGet();
        m.reply(new Decision(Action.CLOSE, 0, "storm-test", false, "closed by the test").toJson());
      });

      List<Socket> peers = new ArrayList<>();
      try {
        for (int i = 0; i < CONNECTIONS; i++) {
          peers.add(new Socket("127.0.0.1", h.port()));
        }
        // every failure is decided and its outcome published; every connection is closed
        await().atMost(WAIT).until(() -> h.outcomes.size() >= CONNECTIONS
          && h.gauge("tether.connections", "server", "echo") == 0);
        int real = failures.get();
        assertThat(real).isGreaterThanOrEqualTo(CONNECTIONS);
        await().atMost(WAIT).until(() -> h.outcomes.size() == real);
        assertThat(h.outcomes).allMatch(x -> "CLOSE".equals(x.getString("action")));
        // counters are exact
        assertThat(h.counter("tether.failures", "server", "echo")).isEqualTo(real);
        assertThat(h.counter("tether.suppressed.events", "kind", FailureKind.WRITE_FAILED.name()))
          .isEqualTo(real - EVENTS);

        // the summaries account for every suppressed event and line
        await().atMost(WAIT).until(() -> suppressedIn(h) == real - EVENTS);
        List<JsonObject> published = h.failures.stream().filter(e -> !e.containsKey("suppressed")).toList();
        List<JsonObject> summaries = h.failures.stream().filter(e -> e.containsKey("suppressed")).toList();
        assertThat(published).hasSize(EVENTS);
        assertThat(summaries).isNotEmpty().allSatisfy(s -> {
          assertThat(s.getString("kind")).isEqualTo(FailureKind.WRITE_FAILED.name());
          assertThat(s.getString("server")).isEqualTo("echo");
          assertThat(s.getString("connection")).isNull();
          assertThat(s.getJsonArray("suppressedBy").getJsonObject(0).getLong("count")).isEqualTo(s.getLong("suppressed"));
        });
        // only the published ones were sent to the recovery verticle; the others took the local policy
        assertThat(requests.get()).isEqualTo(EVENTS);
        assertThat(h.outcomes.stream().filter(x -> "storm-test".equals(x.getString("policy")))).hasSize(EVENTS);
        assertThat(h.outcomes.stream().filter(x -> "close".equals(x.getString("policy")))).hasSize(real - EVENTS);

        List<String> warns = logs.lines(Level.WARN);
        List<String> failureLines = warns.stream().filter(l -> l.startsWith("WRITE_FAILED")).toList();
        List<String> summaryLines = warns.stream().filter(l -> l.contains("similar failures suppressed")).toList();
        assertThat(failureLines).hasSize(WARNS);
        assertThat(warns).hasSize(WARNS + summaryLines.size());
        assertThat(summaryLines).hasSize(summaries.size());
        assertThat(summaryLines.get(0)).contains("WRITE_FAILED x ", " on echo");
        long notLogged = summaryLines.stream()
          .mapToLong(l -> Long.parseLong(l.replaceAll("^.*\\((\\d+) not logged.*$", "$1"))).sum();
        assertThat(notLogged).isEqualTo(real - WARNS);

        // the next window has a fresh budget: a later failure is logged and published again
        clock.addAndGet(1_000_000_000L);
        int before = h.failures.size();
        peers.add(new Socket("127.0.0.1", h.port()));
        await().atMost(WAIT).until(() -> h.failures.size() > before);
        JsonObject later = h.failures.get(before);
        assertThat(later.containsKey("suppressed")).isFalse();
        assertThat(later.getString("connection")).isNotNull();
        await().atMost(WAIT).until(() -> logs.lines(Level.WARN).stream()
          .filter(l -> l.startsWith("WRITE_FAILED")).count() == WARNS + 1);
        await().atMost(WAIT).until(() -> requests.get() == EVENTS + 1);
      } finally {
        for (Socket s : peers) {
          s.close();
        }
      }
    }
  }

  private static long suppressedIn(Harness h) {
    return h.failures.stream().filter(e -> e.containsKey("suppressed")).mapToLong(e -> e.getLong("suppressed")).sum();
  }
}
