package dev.tether.net;

import dev.tether.fault.FaultPlan;
import dev.tether.recovery.PolicySet;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

/**
 * How the connections of one tracked server are tracked. Every setting has a default and a JSON key
 * (the same name), validated with a message naming the key.
 */
public final class TrackingOptions {

  /** Default write timeout: 30 s. A write not flushed by then raises {@code WRITE_TIMEOUT}. 0 disables. */
  public static final long DEFAULT_WRITE_TIMEOUT_MS = 30_000;
  /** Default hard cap on a connection's pending bytes: 4 MiB. Passing it raises {@code WRITE_QUEUE_OVERFLOW}. */
  public static final long DEFAULT_MAX_PENDING_BYTES = 4L << 20;
  /** Default back-pressure mark: 256 KiB pending makes {@code writeQueueFull()} true; drain at half. */
  public static final long DEFAULT_HIGH_WATER_MARK = 256L << 10;
  /**
   * What one pending write costs in heap beyond its payload, as the caps count it: the write's own
   * object (ledger entry and Netty promise), the user's buffer wrapper, Netty's outbound-buffer
   * entry and the queue slots. Measured with 1-byte writes into a peer that never reads (see
   * docs/architecture.md, "What a write costs"), rounded up. {@code maxPendingBytes} and the
   * high-water mark compare {@code payload + WRITE_OVERHEAD_BYTES * writes}, so a flood of tiny
   * writes is bounded by memory, not by payload alone.
   */
  public static final int WRITE_OVERHEAD_BYTES = 320;
  /** Default time to wait for the recovery verticle's decision before applying the local policy. */
  public static final long DEFAULT_DECISION_TIMEOUT_MS = 500;

  private String server = "tether";
  private String protocol = "raw";
  private long writeTimeoutMs = DEFAULT_WRITE_TIMEOUT_MS;
  private long maxPendingBytes = DEFAULT_MAX_PENDING_BYTES;
  private long highWaterMark = DEFAULT_HIGH_WATER_MARK;
  private long decisionTimeoutMs = DEFAULT_DECISION_TIMEOUT_MS;
  private PolicySet policies = PolicySet.closeAll();
  /** The {@code policies} object the policies were built from, if they were (for {@link #toJson}). */
  private JsonObject policiesConfig;
  private FaultPlan faults = FaultPlan.NONE;
  private boolean chargeWrites = true;

  public TrackingOptions() {
  }

  /** A copy of {@code other} (policies and fault plan are immutable and shared). */
  public TrackingOptions(TrackingOptions other) {
    this.server = other.server;
    this.protocol = other.protocol;
    this.writeTimeoutMs = other.writeTimeoutMs;
    this.maxPendingBytes = other.maxPendingBytes;
    this.highWaterMark = other.highWaterMark;
    this.decisionTimeoutMs = other.decisionTimeoutMs;
    this.policies = other.policies;
    this.policiesConfig = other.policiesConfig == null ? null : other.policiesConfig.copy();
    this.faults = other.faults;
    this.chargeWrites = other.chargeWrites;
  }

  /**
   * The tracking keys as {@link #fromJson} reads them. {@code policies} is included when the
   * policies came from JSON ({@link #setPolicies(JsonObject, String)} or {@link #fromJson}).
   */
  public JsonObject toJson() {
    JsonObject json = new JsonObject()
      .put("writeTimeoutMs", writeTimeoutMs)
      .put("maxPendingBytes", maxPendingBytes)
      .put("highWaterMark", highWaterMark)
      .put("decisionTimeoutMs", decisionTimeoutMs);
    if (policiesConfig != null) {
      json.put("policies", policiesConfig.copy());
    }
    json.put("faults", faults.enabled() ? faults.toJson() : new JsonObject().put("enabled", false));
    return json;
  }

  /**
   * Reads the tracking keys of a server's configuration object; other keys are left to the caller.
   *
   * @param where configuration path used in error messages
   */
  public static TrackingOptions fromJson(JsonObject json, String where) {
    TrackingOptions o = new TrackingOptions();
    o.setWriteTimeoutMs(nonNegative(json, "writeTimeoutMs", DEFAULT_WRITE_TIMEOUT_MS, where));
    o.setMaxPendingBytes(positive(json, "maxPendingBytes", DEFAULT_MAX_PENDING_BYTES, where));
    o.setHighWaterMark(positive(json, "highWaterMark", Math.min(DEFAULT_HIGH_WATER_MARK, o.maxPendingBytes), where));
    o.setDecisionTimeoutMs(positive(json, "decisionTimeoutMs", DEFAULT_DECISION_TIMEOUT_MS, where));
    if (o.highWaterMark > o.maxPendingBytes) {
      throw new IllegalArgumentException(where + ".highWaterMark: must be <= maxPendingBytes (" + o.maxPendingBytes + ")");
    }
    Object policies = json.getValue("policies");
    if (policies != null && !(policies instanceof JsonObject)) {
      throw new IllegalArgumentException(where + ".policies: must be an object");
    }
    if (policies != null) {
      o.setPolicies((JsonObject) policies, where + ".policies");
    }
    Object faults = json.getValue("faults");
    if (faults != null && !(faults instanceof JsonObject)) {
      throw new IllegalArgumentException(where + ".faults: must be an object");
    }
    o.setFaults(FaultPlan.fromJson((JsonObject) faults, where + ".faults"));
    return o;
  }

  /** The keys {@link #fromJson} understands. */
  public static Set<String> keys() {
    return new TreeSet<>(Set.of("writeTimeoutMs", "maxPendingBytes", "highWaterMark", "decisionTimeoutMs", "policies", "faults"));
  }

  static long nonNegative(JsonObject json, String key, long def, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0) {
      throw new IllegalArgumentException(where + "." + key + ": must be an integer >= 0, got " + v);
    }
    return n.longValue();
  }

  static long positive(JsonObject json, String key, long def, String where) {
    long v = nonNegative(json, key, def, where);
    if (v == 0) {
      throw new IllegalArgumentException(where + "." + key + ": must be > 0");
    }
    return v;
  }

  public String server() {
    return server;
  }

  public TrackingOptions setServer(String server) {
    this.server = server;
    return this;
  }

  public String protocol() {
    return protocol;
  }

  public TrackingOptions setProtocol(String protocol) {
    this.protocol = protocol;
    return this;
  }

  public long writeTimeoutMs() {
    return writeTimeoutMs;
  }

  public TrackingOptions setWriteTimeoutMs(long writeTimeoutMs) {
    if (writeTimeoutMs < 0) {
      throw new IllegalArgumentException("writeTimeoutMs must be >= 0");
    }
    this.writeTimeoutMs = writeTimeoutMs;
    return this;
  }

  public long maxPendingBytes() {
    return maxPendingBytes;
  }

  public TrackingOptions setMaxPendingBytes(long maxPendingBytes) {
    if (maxPendingBytes <= 0) {
      throw new IllegalArgumentException("maxPendingBytes must be > 0");
    }
    this.maxPendingBytes = maxPendingBytes;
    return this;
  }

  public long highWaterMark() {
    return highWaterMark;
  }

  public TrackingOptions setHighWaterMark(long highWaterMark) {
    if (highWaterMark <= 0) {
      throw new IllegalArgumentException("highWaterMark must be > 0");
    }
    this.highWaterMark = highWaterMark;
    return this;
  }

  public long decisionTimeoutMs() {
    return decisionTimeoutMs;
  }

  public TrackingOptions setDecisionTimeoutMs(long decisionTimeoutMs) {
    if (decisionTimeoutMs <= 0) {
      throw new IllegalArgumentException("decisionTimeoutMs must be > 0");
    }
    this.decisionTimeoutMs = decisionTimeoutMs;
    return this;
  }

  public PolicySet policies() {
    return policies;
  }

  public TrackingOptions setPolicies(PolicySet policies) {
    this.policies = policies == null ? PolicySet.closeAll() : policies;
    this.policiesConfig = null;
    return this;
  }

  /**
   * Policies from a {@code policies} object, e.g.
   * {@code {"default": "close", "soft": {"policy": "resend-remainder", "maxAttempts": 5}}}.
   *
   * @param where configuration path used in error messages
   */
  public TrackingOptions setPolicies(JsonObject policies, String where) {
    this.policies = PolicySet.fromJson(policies, where);
    this.policiesConfig = policies == null ? null : policies.copy();
    return this;
  }

  public FaultPlan faults() {
    return faults;
  }

  public TrackingOptions setFaults(FaultPlan faults) {
    this.faults = faults == null ? FaultPlan.NONE : faults;
    return this;
  }

  /** Whether pending writes are charged to the node's memory budget (default true). */
  public boolean chargesWrites() {
    return chargeWrites;
  }

  /**
   * Whether a connection charges its pending writes to the node's memory budget (default true). A
   * protocol that keeps, and charges, what it writes itself turns it off so nothing counts twice and
   * the budget sheds what it can free: the session server charges each session's retained frames,
   * which are the DATA frames its connection has pending; shedding the connection would free none of
   * them, shedding the session frees them all (and tells the client with ERROR 201). Not a JSON key:
   * the protocol's choice, not the deployment's.
   */
  public TrackingOptions setChargeWrites(boolean chargeWrites) {
    this.chargeWrites = chargeWrites;
    return this;
  }
}
