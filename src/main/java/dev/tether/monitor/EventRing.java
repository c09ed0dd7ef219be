package dev.tether.monitor;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The monitor's memory: the most recent failure and recovery events in a bounded ring (oldest
 * dropped first), exact counts of every event ever received by node and by kind, and failures per
 * second over the last minute. Counts are not bounded by the ring: they say how many events
 * arrived, the ring only which ones are still shown.
 *
 * <p>Not thread-safe: owned by the event loop of the verticle that created it (MonitorVerticle).
 */
public final class EventRing {

  /** Seconds of failure-rate history kept for the chart. */
  public static final int RATE_SECONDS = 60;
  /** Bound on distinct node names counted (events are trusted, but a bound costs nothing). */
  static final int MAX_NODES = 256;

  private final int capacity;
  /** Entries: the event JSON plus {@code type} ({@code failure}/{@code recovery}); newest last. */
  private final ArrayDeque<JsonObject> ring;
  private long failures;
  private long recoveries;
  private long dropped;
  /** kind -> failures. */
  private final Map<String, Long> byKind = new TreeMap<>();
  /** node -> kind -> failures. */
  private final Map<String, Map<String, Long>> byNode = new TreeMap<>();
  /** "action/result" -> recovery outcomes. */
  private final Map<String, Long> byOutcome = new TreeMap<>();
  /** Failures per second: a circular array indexed by epoch second. */
  private final long[] rate = new long[RATE_SECONDS];
  private long rateSecond;

  public EventRing(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1");
    }
    this.capacity = capacity;
    this.ring = new ArrayDeque<>(Math.min(capacity, 4096));
  }

  /** Adds a failure event body (as published on {@code tether.failure}); returns the ring entry. */
  public JsonObject addFailure(JsonObject event, long nowMs) {
    String node = String.valueOf(event.getValue("node"));
    tick(nowMs);
    // a storm summary (FailureBudget) stands for the failures it says were not published
    if (event.getValue("suppressed") instanceof Number && event.getValue("suppressedBy") instanceof JsonArray by) {
      for (Object o : by) {
        if (o instanceof JsonObject g && g.getValue("count") instanceof Number n && n.longValue() > 0) {
          count(node, String.valueOf(g.getValue("kind")), n.longValue());
        }
      }
    } else {
      count(node, String.valueOf(event.getValue("kind")), 1);
    }
    return push(event.copy().put("type", "failure"));
  }

  private void count(String node, String kind, long n) {
    failures += n;
    byKind.merge(kind, n, Long::sum);
    Map<String, Long> kinds = byNode.get(node);
    if (kinds == null && byNode.size() < MAX_NODES) {
      kinds = new TreeMap<>();
      byNode.put(node, kinds);
    }
    if (kinds != null) {
      kinds.merge(kind, n, Long::sum);
    }
    rate[(int) (rateSecond % RATE_SECONDS)] += n;
  }

  /** Adds a recovery outcome body (as published on {@code tether.recovery}); returns the ring entry. */
  public JsonObject addRecovery(JsonObject outcome) {
    recoveries++;
    byOutcome.merge(outcome.getValue("action") + "/" + outcome.getValue("result"), 1L, Long::sum);
    return push(outcome.copy().put("type", "recovery"));
  }

  private JsonObject push(JsonObject entry) {
    if (ring.size() == capacity) {
      ring.removeFirst();
      dropped++;
    }
    ring.addLast(entry);
    return entry;
  }

  /** Advances the rate window to the second of {@code nowMs}, zeroing the seconds skipped. */
  private void tick(long nowMs) {
    long second = nowMs / 1000;
    if (rateSecond == 0 || second - rateSecond >= RATE_SECONDS) {
      java.util.Arrays.fill(rate, 0);
      rateSecond = second;
      return;
    }
    while (rateSecond < second) {
      rateSecond++;
      rate[(int) (rateSecond % RATE_SECONDS)] = 0;
    }
  }

  /**
   * The newest entries first, at most {@code limit}, keeping only those whose {@code kind},
   * {@code node} and {@code type} match (a null filter matches everything).
   */
  public List<JsonObject> newest(int limit, String kind, String node, String type) {
    List<JsonObject> out = new ArrayList<>(Math.min(limit, ring.size()));
    for (Iterator<JsonObject> it = ring.descendingIterator(); it.hasNext() && out.size() < limit; ) {
      JsonObject e = it.next();
      if ((kind == null || kind.equals(e.getValue("kind")))
        && (node == null || node.equals(e.getValue("node")))
        && (type == null || type.equals(e.getValue("type")))) {
        out.add(e);
      }
    }
    return out;
  }

  public int size() {
    return ring.size();
  }

  public int capacity() {
    return capacity;
  }

  public long failures() {
    return failures;
  }

  public long recoveries() {
    return recoveries;
  }

  /** Counts and the failure rate, as the dashboard and {@code /events} show them. */
  public JsonObject counts(long nowMs) {
    tick(nowMs);
    JsonObject nodes = new JsonObject();
    byNode.forEach((n, kinds) -> nodes.put(n, json(kinds)));
    JsonArray perSecond = new JsonArray();
    // oldest second first, ending with the current (incomplete) second
    for (int i = RATE_SECONDS - 1; i >= 0; i--) {
      long s = rateSecond - i;
      perSecond.add(s <= 0 ? 0 : rate[(int) (s % RATE_SECONDS)]);
    }
    return new JsonObject()
      .put("failures", failures)
      .put("recoveries", recoveries)
      .put("byKind", json(byKind))
      .put("byNode", nodes)
      .put("byOutcome", json(byOutcome))
      .put("ring", new JsonObject().put("size", ring.size()).put("capacity", capacity).put("dropped", dropped))
      .put("ratePerSecond", perSecond)
      .put("rateEndsAt", rateSecond * 1000);
  }

  private static JsonObject json(Map<String, Long> counts) {
    JsonObject o = new JsonObject();
    counts.forEach(o::put);
    return o;
  }
}
