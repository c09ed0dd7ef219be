package dev.tether.config;

import dev.tether.MemoryBudget;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code memory} section of {@code conf/tether.json}: the node-wide {@link MemoryBudget}.
 *
 * <pre>{@code
 * "memory": {"limitBytes": 0, "limitFraction": 0.5, "highMark": 0.8, "lowMark": 0.6}
 * }</pre>
 *
 * {@code limitBytes} 0 (the default) means {@code limitFraction} of the JVM's max heap ({@code -Xmx});
 * the marks are shares of the limit.
 */
public record MemoryConfig(long limitBytes, double limitFraction, double highMark, double lowMark) {

  static final Set<String> KEYS = Set.of("limitBytes", "limitFraction", "highMark", "lowMark");

  public static MemoryConfig fromJson(JsonObject root) {
    Object v = root.getValue("memory");
    if (v == null) {
      v = new JsonObject();
    }
    if (!(v instanceof JsonObject m)) {
      throw new IllegalArgumentException("memory: must be an object");
    }
    for (String key : m.fieldNames()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException("memory." + key + ": unknown key; allowed: " + new TreeSet<>(KEYS));
      }
    }
    Object l = m.getValue("limitBytes", 0);
    if (!(l instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0) {
      throw new IllegalArgumentException("memory.limitBytes: must be an integer >= 0 (0: limitFraction of the max heap), got " + l);
    }
    double fraction = share(m, "limitFraction", MemoryBudget.DEFAULT_LIMIT_FRACTION);
    double high = share(m, "highMark", MemoryBudget.DEFAULT_HIGH_MARK);
    double low = share(m, "lowMark", MemoryBudget.DEFAULT_LOW_MARK);
    if (!(low < high)) {
      throw new IllegalArgumentException("memory.lowMark: must be below memory.highMark (" + high + "), got " + low);
    }
    return new MemoryConfig(((Number) l).longValue(), fraction, high, low);
  }

  private static double share(JsonObject m, String key, double def) {
    Object v = m.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || !(n.doubleValue() > 0) || n.doubleValue() > 1) {
      throw new IllegalArgumentException("memory." + key + ": must be a number within (0, 1], got " + v);
    }
    return n.doubleValue();
  }

  /** The limit in bytes: {@code limitBytes}, or {@code limitFraction} of the max heap. */
  public long limit() {
    return limitBytes > 0 ? limitBytes : MemoryBudget.defaultLimit(limitFraction);
  }

  public MemoryBudget budget() {
    return new MemoryBudget(limit(), highMark, lowMark);
  }
}
