package dev.tether.session;

import io.vertx.core.json.JsonObject;

import java.util.Set;

/**
 * Limits of a session server. Every setting has a default and a JSON key of the same name in the
 * server's {@code servers.<name>} object, validated with a message naming the key.
 */
public final class SessionOptions {

  public static final int DEFAULT_MAX_FRAME_BYTES = 1 << 20;
  public static final long DEFAULT_SESSION_TTL_MS = 60_000;
  public static final long DEFAULT_MAX_RETAINED_BYTES = 16L << 20;
  public static final int DEFAULT_MAX_SESSIONS = 10_000;
  public static final long DEFAULT_HELLO_TIMEOUT_MS = 10_000;
  public static final long DEFAULT_IDLE_TIMEOUT_MS = 120_000;
  public static final long DEFAULT_FRAME_DEADLINE_MS = 30_000;

  private int maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private long sessionTtlMs = DEFAULT_SESSION_TTL_MS;
  private long maxRetainedBytes = DEFAULT_MAX_RETAINED_BYTES;
  private int maxSessions = DEFAULT_MAX_SESSIONS;
  private long helloTimeoutMs = DEFAULT_HELLO_TIMEOUT_MS;
  private long idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS;
  private long frameDeadlineMs = DEFAULT_FRAME_DEADLINE_MS;
  /** null: backup when clustered, none otherwise. */
  private SessionStore.Replication replication;

  /** The keys {@link #fromJson} reads. */
  public static Set<String> keys() {
    return Set.of("maxFrameBytes", "sessionTtlMs", "maxRetainedBytes", "maxSessions", "helloTimeoutMs", "idleTimeoutMs",
      "frameDeadlineMs", "replication");
  }

  public static SessionOptions fromJson(JsonObject json, String where) {
    SessionOptions o = new SessionOptions();
    o.setMaxFrameBytes((int) num(json, "maxFrameBytes", DEFAULT_MAX_FRAME_BYTES, 9, Integer.MAX_VALUE, where));
    o.setSessionTtlMs(num(json, "sessionTtlMs", DEFAULT_SESSION_TTL_MS, 1, Long.MAX_VALUE, where));
    o.setMaxRetainedBytes(num(json, "maxRetainedBytes", DEFAULT_MAX_RETAINED_BYTES, 1, Long.MAX_VALUE, where));
    o.setMaxSessions((int) num(json, "maxSessions", DEFAULT_MAX_SESSIONS, 1, Integer.MAX_VALUE, where));
    o.setHelloTimeoutMs(num(json, "helloTimeoutMs", DEFAULT_HELLO_TIMEOUT_MS, 1, Long.MAX_VALUE, where));
    o.setIdleTimeoutMs(num(json, "idleTimeoutMs", DEFAULT_IDLE_TIMEOUT_MS, 0, Long.MAX_VALUE, where));
    o.setFrameDeadlineMs(num(json, "frameDeadlineMs", DEFAULT_FRAME_DEADLINE_MS, 0, Long.MAX_VALUE, where));
    Object r = json.getValue("replication");
    if (r != null) {
      if (!"backup".equals(r) && !"none".equals(r)) {
        throw new IllegalArgumentException(where + ".replication: must be \"backup\" or \"none\", got " + r);
      }
      o.setReplication((String) r);
    }
    return o;
  }

  private static long num(JsonObject json, String key, long def, long min, long max, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < min || n.longValue() > max) {
      throw new IllegalArgumentException(where + "." + key + ": must be an integer within " + min + ".." + max + ", got " + v);
    }
    return n.longValue();
  }

  /** Largest frame accepted (length field value): 1 MiB by default. */
  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  public SessionOptions setMaxFrameBytes(int v) {
    if (v < 9) {
      throw new IllegalArgumentException("maxFrameBytes must be >= 9");
    }
    maxFrameBytes = v;
    return this;
  }

  /** How long a session without a connection is kept for a resume: 60 s by default. */
  public long sessionTtlMs() {
    return sessionTtlMs;
  }

  public SessionOptions setSessionTtlMs(long v) {
    if (v < 1) {
      throw new IllegalArgumentException("sessionTtlMs must be >= 1");
    }
    sessionTtlMs = v;
    return this;
  }

  /** Cap on a session's unacknowledged outbound frame bytes; passing it expires the session. 16 MiB by default. */
  public long maxRetainedBytes() {
    return maxRetainedBytes;
  }

  public SessionOptions setMaxRetainedBytes(long v) {
    if (v < 1) {
      throw new IllegalArgumentException("maxRetainedBytes must be >= 1");
    }
    maxRetainedBytes = v;
    return this;
  }

  /** Cap on sessions held (attached or waiting for a resume); a new session beyond it is refused. */
  public int maxSessions() {
    return maxSessions;
  }

  public SessionOptions setMaxSessions(int v) {
    if (v < 1) {
      throw new IllegalArgumentException("maxSessions must be >= 1");
    }
    maxSessions = v;
    return this;
  }

  /** A connection that sends no HELLO within this time is closed with an ERROR. */
  public long helloTimeoutMs() {
    return helloTimeoutMs;
  }

  public SessionOptions setHelloTimeoutMs(long v) {
    if (v < 1) {
      throw new IllegalArgumentException("helloTimeoutMs must be >= 1");
    }
    helloTimeoutMs = v;
    return this;
  }

  /** An attached connection that receives nothing (not even PING) for this long is closed; 0 disables. */
  public long idleTimeoutMs() {
    return idleTimeoutMs;
  }

  public SessionOptions setIdleTimeoutMs(long v) {
    if (v < 0) {
      throw new IllegalArgumentException("idleTimeoutMs must be >= 0");
    }
    idleTimeoutMs = v;
    return this;
  }

  /**
   * Once a frame's first byte arrived, the whole frame must arrive within this time, else ERROR 105
   * and close with a PROTOCOL_ERROR event (a peer trickling bytes cannot hold a connection and its
   * buffer for ever); 30 s by default, 0 disables.
   */
  public long frameDeadlineMs() {
    return frameDeadlineMs;
  }

  public SessionOptions setFrameDeadlineMs(long v) {
    if (v < 0) {
      throw new IllegalArgumentException("frameDeadlineMs must be >= 0");
    }
    frameDeadlineMs = v;
    return this;
  }

  /**
   * "backup": each session's state and unacknowledged frames live in the cluster's replicated store
   * (output commit), so the session survives its node; "none": a session dies with its node. Null
   * (the default): "backup" when Vert.x runs clustered, "none" otherwise.
   */
  public String replication() {
    return replication == null ? null : replication.name().toLowerCase(java.util.Locale.ROOT);
  }

  public SessionOptions setReplication(String v) {
    replication = v == null ? null : SessionStore.Replication.valueOf(v.toUpperCase(java.util.Locale.ROOT));
    return this;
  }

  SessionStore.Replication replicationMode() {
    return replication;
  }
}
