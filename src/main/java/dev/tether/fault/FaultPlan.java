package dev.tether.fault;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A seeded, reproducible schedule of outbound faults for the connections of one server. Writes are
 * numbered from 1 per connection, in the order they reach the transport (resent writes count too).
 * Explicit schedules ({@code failWrites}, {@code partialWrites}, {@code allocationFailures}) name
 * write numbers; rates draw from a {@link java.util.SplittableRandom} seeded with {@code seed} and the
 * connection's number, so the same seed gives the same faults. {@code maxFaults} bounds the faults
 * per connection. Off unless {@code enabled} is true.
 *
 * <pre>{@code
 * "faults": {"enabled": true, "seed": 7, "writeFailureRate": 0.01, "partialWriteRate": 0.01,
 *            "allocationFailureRate": 0.0, "failWrites": [3], "partialWrites": {"5": 100},
 *            "allocationFailures": [], "flushDelayMs": 0, "maxFaults": 1000, "refusalDelayMs": 0}
 * }</pre>
 */
public record FaultPlan(
  boolean enabled,
  long seed,
  Set<Long> failWrites,
  Map<Long, Integer> partialWrites,
  Set<Long> allocationFailures,
  double writeFailureRate,
  double partialWriteRate,
  double allocationFailureRate,
  long flushDelayMs,
  int maxFaults,
  long refusalDelayMs) {

  public static final FaultPlan NONE = new FaultPlan(false, 0, Set.of(), Map.of(), Set.of(), 0, 0, 0, 0, 0, 0);

  public FaultPlan {
    failWrites = Set.copyOf(failWrites);
    partialWrites = Map.copyOf(partialWrites);
    allocationFailures = Set.copyOf(allocationFailures);
    check("writeFailureRate", writeFailureRate);
    check("partialWriteRate", partialWriteRate);
    check("allocationFailureRate", allocationFailureRate);
    if (writeFailureRate + partialWriteRate + allocationFailureRate > 1) {
      throw new IllegalArgumentException("the fault rates must add up to at most 1");
    }
    if (flushDelayMs < 0 || maxFaults < 0 || refusalDelayMs < 0) {
      throw new IllegalArgumentException("flushDelayMs, maxFaults and refusalDelayMs must be >= 0");
    }
  }

  private static void check(String key, double rate) {
    if (!(rate >= 0 && rate <= 1)) {
      throw new IllegalArgumentException(key + ": must be within [0, 1], got " + rate);
    }
  }

  /** A plan that is enabled, with nothing scheduled yet; use the {@code with...} methods. */
  public static FaultPlan seeded(long seed) {
    return new FaultPlan(true, seed, Set.of(), Map.of(), Set.of(), 0, 0, 0, 0, Integer.MAX_VALUE, 0);
  }

  public FaultPlan withFailWrite(long n) {
    Set<Long> s = new TreeSet<>(failWrites);
    s.add(n);
    return new FaultPlan(enabled, seed, s, partialWrites, allocationFailures, writeFailureRate, partialWriteRate,
      allocationFailureRate, flushDelayMs, maxFaults, refusalDelayMs);
  }

  public FaultPlan withPartialWrite(long n, int passBytes) {
    Map<Long, Integer> m = new TreeMap<>(partialWrites);
    m.put(n, passBytes);
    return new FaultPlan(enabled, seed, failWrites, m, allocationFailures, writeFailureRate, partialWriteRate,
      allocationFailureRate, flushDelayMs, maxFaults, refusalDelayMs);
  }

  public FaultPlan withAllocationFailure(long n) {
    Set<Long> s = new TreeSet<>(allocationFailures);
    s.add(n);
    return new FaultPlan(enabled, seed, failWrites, partialWrites, s, writeFailureRate, partialWriteRate,
      allocationFailureRate, flushDelayMs, maxFaults, refusalDelayMs);
  }

  public FaultPlan withRates(double writeFailure, double partialWrite, double allocationFailure) {
    return new FaultPlan(enabled, seed, failWrites, partialWrites, allocationFailures, writeFailure, partialWrite,
      allocationFailure, flushDelayMs, maxFaults, refusalDelayMs);
  }

  public FaultPlan withFlushDelayMs(long ms) {
    return new FaultPlan(enabled, seed, failWrites, partialWrites, allocationFailures, writeFailureRate, partialWriteRate,
      allocationFailureRate, ms, maxFaults, refusalDelayMs);
  }

  public FaultPlan withMaxFaults(int max) {
    return new FaultPlan(enabled, seed, failWrites, partialWrites, allocationFailures, writeFailureRate, partialWriteRate,
      allocationFailureRate, flushDelayMs, max, refusalDelayMs);
  }

  /**
   * Refusals arrive {@code ms} after the refused write reached the injector instead of at once, the
   * way a transport that queues writes fails one later; writes behind it wait in the injector in
   * order meanwhile (as they would in the transport's queue). 0 refuses at once.
   */
  public FaultPlan withRefusalDelayMs(long ms) {
    return new FaultPlan(enabled, seed, failWrites, partialWrites, allocationFailures, writeFailureRate, partialWriteRate,
      allocationFailureRate, flushDelayMs, maxFaults, ms);
  }

  /** This plan as the {@code faults} object it is parsed from. */
  public JsonObject toJson() {
    JsonObject partial = new JsonObject();
    new TreeMap<>(partialWrites).forEach((k, v) -> partial.put(String.valueOf(k), v));
    return new JsonObject().put("enabled", enabled).put("seed", seed)
      .put("failWrites", new JsonArray(new java.util.ArrayList<>(new TreeSet<>(failWrites))))
      .put("partialWrites", partial)
      .put("allocationFailures", new JsonArray(new java.util.ArrayList<>(new TreeSet<>(allocationFailures))))
      .put("writeFailureRate", writeFailureRate).put("partialWriteRate", partialWriteRate)
      .put("allocationFailureRate", allocationFailureRate).put("flushDelayMs", flushDelayMs)
      .put("maxFaults", maxFaults).put("refusalDelayMs", refusalDelayMs);
  }

  /** A fresh injector for the connection numbered {@code connection} (its faults depend on the seed and that number). */
  public FaultInjector newInjector(long connection) {
    return new FaultInjector(this, seed * 0x9E3779B97F4A7C15L + connection);
  }

  private static final Set<String> KEYS = Set.of("enabled", "seed", "failWrites", "partialWrites", "allocationFailures",
    "writeFailureRate", "partialWriteRate", "allocationFailureRate", "flushDelayMs", "maxFaults", "refusalDelayMs");

  /**
   * Parses a {@code faults} object; null or {@code enabled: false} gives {@link #NONE}.
   *
   * @param where configuration path used in error messages
   */
  public static FaultPlan fromJson(JsonObject json, String where) {
    if (json == null) {
      return NONE;
    }
    for (String key : json.fieldNames()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException(where + "." + key + ": unknown key; allowed: " + new TreeSet<>(KEYS));
      }
    }
    try {
      if (!json.getBoolean("enabled", false)) {
        return NONE;
      }
      Set<Long> fail = longs(json.getJsonArray("failWrites"));
      Set<Long> alloc = longs(json.getJsonArray("allocationFailures"));
      Map<Long, Integer> partial = new TreeMap<>();
      JsonObject p = json.getJsonObject("partialWrites", new JsonObject());
      for (String k : p.fieldNames()) {
        partial.put(Long.parseLong(k), p.getInteger(k));
      }
      return new FaultPlan(true, json.getLong("seed", 1L), fail, partial, alloc,
        json.getDouble("writeFailureRate", 0.0), json.getDouble("partialWriteRate", 0.0),
        json.getDouble("allocationFailureRate", 0.0), json.getLong("flushDelayMs", 0L),
        json.getInteger("maxFaults", Integer.MAX_VALUE), json.getLong("refusalDelayMs", 0L));
    } catch (ClassCastException | NumberFormatException e) {
      throw new IllegalArgumentException(where + ": bad value: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + "." + e.getMessage(), e);
    }
  }

  private static Set<Long> longs(JsonArray array) {
    Set<Long> s = new TreeSet<>();
    if (array != null) {
      for (int i = 0; i < array.size(); i++) {
        s.add(array.getLong(i));
      }
    }
    return s;
  }
}
