package dev.tether.monitor;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The monitor's ring, counts and failure rate, on their own. */
class MonitorEventRingTest {

  private static JsonObject failure(String id, String kind, String node) {
    return new JsonObject().put("id", id).put("kind", kind).put("node", node).put("requested", 5);
  }

  @Test
  void keepsTheNewestUpToCapacityAndCountsEverything() {
    EventRing ring = new EventRing(3);
    long t = 1_000_000_000L;
    for (int i = 0; i < 5; i++) {
      ring.addFailure(failure("f" + i, i % 2 == 0 ? "WRITE_FAILED" : "WRITE_TIMEOUT", "n" + (i % 2)), t);
    }
    ring.addRecovery(new JsonObject().put("failure", "f4").put("kind", "WRITE_FAILED").put("node", "n0")
      .put("action", "RESEND").put("result", "OK"));
    List<JsonObject> newest = ring.newest(10, null, null, null);
    assertThat(newest).extracting(e -> e.getString("id", e.getString("failure"))).containsExactly("f4", "f4", "f3");
    assertThat(newest.get(0).getString("type")).isEqualTo("recovery");
    assertThat(newest.get(1).getString("type")).isEqualTo("failure");
    assertThat(ring.size()).isEqualTo(3);
    JsonObject counts = ring.counts(t);
    assertThat(counts.getLong("failures")).isEqualTo(5);
    assertThat(counts.getLong("recoveries")).isEqualTo(1);
    assertThat(counts.getJsonObject("byKind").getLong("WRITE_FAILED")).isEqualTo(3);
    assertThat(counts.getJsonObject("byKind").getLong("WRITE_TIMEOUT")).isEqualTo(2);
    assertThat(counts.getJsonObject("byNode").getJsonObject("n1").getLong("WRITE_TIMEOUT")).isEqualTo(2);
    assertThat(counts.getJsonObject("byOutcome").getLong("RESEND/OK")).isEqualTo(1);
    assertThat(counts.getJsonObject("ring").getLong("dropped")).isEqualTo(3);
  }

  @Test
  void filtersByKindNodeAndTypeAndLimits() {
    EventRing ring = new EventRing(100);
    ring.addFailure(failure("a", "WRITE_FAILED", "x"), 1000);
    ring.addFailure(failure("b", "READ_FAILED", "y"), 1000);
    ring.addFailure(failure("c", "WRITE_FAILED", "y"), 1000);
    assertThat(ring.newest(10, "WRITE_FAILED", null, null)).extracting(e -> e.getString("id")).containsExactly("c", "a");
    assertThat(ring.newest(10, "WRITE_FAILED", "y", null)).extracting(e -> e.getString("id")).containsExactly("c");
    assertThat(ring.newest(10, null, null, "recovery")).isEmpty();
    assertThat(ring.newest(1, null, null, null)).extracting(e -> e.getString("id")).containsExactly("c");
  }

  @Test
  void ratesArePerSecondOverTheLastMinute() {
    EventRing ring = new EventRing(10);
    long t0 = 1_700_000_000_000L;
    ring.addFailure(failure("a", "WRITE_FAILED", "x"), t0);
    ring.addFailure(failure("b", "WRITE_FAILED", "x"), t0 + 10);
    ring.addFailure(failure("c", "WRITE_FAILED", "x"), t0 + 2_000);
    var rate = ring.counts(t0 + 2_500).getJsonArray("ratePerSecond");
    assertThat(rate).hasSize(EventRing.RATE_SECONDS);
    assertThat(rate.getLong(59)).isEqualTo(1);
    assertThat(rate.getLong(58)).isZero();
    assertThat(rate.getLong(57)).isEqualTo(2);
    // a minute later everything has rolled off
    var later = ring.counts(t0 + 70_000).getJsonArray("ratePerSecond");
    assertThat(later.stream().mapToLong(v -> ((Number) v).longValue()).sum()).isZero();
    assertThatThrownBy(() -> new EventRing(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aStormSummaryCountsTheFailuresItStandsFor() {
    EventRing ring = new EventRing(10);
    long t = 1_000_000_000L;
    ring.addFailure(failure("1", "WRITE_FAILED", "n"), t);
    ring.addFailure(failure("2", "WRITE_FAILED", "n").put("suppressed", 7).put("suppressedBy", new io.vertx.core.json.JsonArray()
      .add(new JsonObject().put("server", "echo").put("kind", "WRITE_FAILED").put("direction", "WRITE").put("count", 5))
      .add(new JsonObject().put("server", "echo").put("kind", "READ_FAILED").put("direction", "READ").put("count", 2))), t);
    JsonObject counts = ring.counts(t);
    assertThat(counts.getLong("failures")).isEqualTo(8);
    assertThat(counts.getJsonObject("byKind").getLong("WRITE_FAILED")).isEqualTo(6);
    assertThat(counts.getJsonObject("byKind").getLong("READ_FAILED")).isEqualTo(2);
    assertThat(ring.newest(10, null, null, null)).hasSize(2);
  }
}
