package dev.tether.config;

import dev.tether.net.TlsOptions;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

/**
 * The observability sections of {@code conf/tether.json}: {@code metrics}, {@code http},
 * {@code monitor}, {@code bridge} and {@code storms}. Every key has a default; unknown keys and bad values fail with
 * a message naming the key, like {@link ServerConfig}.
 *
 * <pre>{@code
 * "metrics": {"enabled": true},
 * "http":    {"enabled": true, "host": "127.0.0.1", "port": 8080, "maxSseClients": 16},
 * "monitor": {"enabled": true, "ringSize": 1000, "pushIntervalMs": 250, "maxEventsPerPush": 50},
 * "bridge":  {"enabled": true, "host": "127.0.0.1", "port": 7002, "maxConnections": 64},
 * "storms":  {"warnPerSecond": 100, "eventsPerSecond": 1000}
 * }</pre>
 *
 * {@code http} and {@code bridge} also take {@code tls} (PEM files, see {@link TlsOptions}): the
 * HTTP endpoints become HTTPS, the bridge speaks TLS.
 */
public record ObservabilityConfig(Metrics metrics, Http http, Monitor monitor, Bridge bridge, Storms storms) {

  /**
   * {@code storms}: the node-wide failure budget ({@link dev.tether.FailureBudget}): at most
   * {@code warnPerSecond} failure WARN lines and {@code eventsPerSecond} events on {@code tether.failure}
   * per second, plus one summary of what was suppressed.
   */
  public record Storms(int warnPerSecond, int eventsPerSecond) {
    public dev.tether.FailureBudget budget() {
      return new dev.tether.FailureBudget(warnPerSecond, eventsPerSecond);
    }
  }

  /** {@code metrics}: whether Tether records its meters (off: a no-op recorder, for benchmarks). */
  public record Metrics(boolean enabled) { }

  /** {@code http}: the HTTP server of {@code /metrics}, {@code /health}, {@code /events} and the dashboard. */
  public record Http(boolean enabled, String host, int port, int maxSseClients, TlsOptions tls) {
    public static final int DEFAULT_PORT = 8080;
    public static final int DEFAULT_MAX_SSE_CLIENTS = 16;
  }

  /** {@code monitor}: the event ring and counts behind {@code /events} and the dashboard. */
  public record Monitor(boolean enabled, int ringSize, long pushIntervalMs, int maxEventsPerPush) {
    public static final int DEFAULT_RING_SIZE = 1000;
    public static final long DEFAULT_PUSH_INTERVAL_MS = 250;
    public static final int DEFAULT_MAX_EVENTS_PER_PUSH = 50;
  }

  /** {@code bridge}: the TCP event-bus bridge (outbound {@code tether.failure}/{@code tether.recovery} only). */
  public record Bridge(boolean enabled, String host, int port, int maxConnections, TlsOptions tls) {
    public static final int DEFAULT_PORT = 7002;
    public static final int DEFAULT_MAX_CONNECTIONS = 64;
  }

  public static ObservabilityConfig fromJson(JsonObject root) {
    JsonObject m = section(root, "metrics", Set.of("enabled"));
    JsonObject h = section(root, "http", Set.of("enabled", "host", "port", "maxSseClients", "tls"));
    JsonObject mo = section(root, "monitor", Set.of("enabled", "ringSize", "pushIntervalMs", "maxEventsPerPush"));
    JsonObject b = section(root, "bridge", Set.of("enabled", "host", "port", "maxConnections", "tls"));
    Metrics metrics = new Metrics(ServerConfig.bool(m, "enabled", true, "metrics"));
    Http http = new Http(ServerConfig.bool(h, "enabled", true, "http"),
      ServerConfig.string(h, "host", ServerConfig.DEFAULT_HOST, "http"),
      port(h, Http.DEFAULT_PORT, "http"),
      range(h, "maxSseClients", Http.DEFAULT_MAX_SSE_CLIENTS, 0, 1000, "http"),
      TlsOptions.fromJson(h.getValue("tls"), "http.tls"));
    Monitor monitor = new Monitor(ServerConfig.bool(mo, "enabled", true, "monitor"),
      range(mo, "ringSize", Monitor.DEFAULT_RING_SIZE, 1, 1_000_000, "monitor"),
      range(mo, "pushIntervalMs", (int) Monitor.DEFAULT_PUSH_INTERVAL_MS, 10, 60_000, "monitor"),
      range(mo, "maxEventsPerPush", Monitor.DEFAULT_MAX_EVENTS_PER_PUSH, 1, 10_000, "monitor"));
    Bridge bridge = new Bridge(ServerConfig.bool(b, "enabled", true, "bridge"),
      ServerConfig.string(b, "host", ServerConfig.DEFAULT_HOST, "bridge"),
      port(b, Bridge.DEFAULT_PORT, "bridge"),
      range(b, "maxConnections", Bridge.DEFAULT_MAX_CONNECTIONS, 1, 100_000, "bridge"),
      TlsOptions.fromJson(b.getValue("tls"), "bridge.tls"));
    JsonObject st = section(root, "storms", Set.of("warnPerSecond", "eventsPerSecond"));
    Storms storms = new Storms(
      range(st, "warnPerSecond", dev.tether.FailureBudget.DEFAULT_WARN_PER_SECOND, 0, 1_000_000, "storms"),
      range(st, "eventsPerSecond", dev.tether.FailureBudget.DEFAULT_EVENTS_PER_SECOND, 0, 1_000_000, "storms"));
    return new ObservabilityConfig(metrics, http, monitor, bridge, storms);
  }

  private static JsonObject section(JsonObject root, String name, Set<String> keys) {
    Object v = root.getValue(name);
    if (v == null) {
      return new JsonObject();
    }
    if (!(v instanceof JsonObject o)) {
      throw new IllegalArgumentException(name + ": must be an object");
    }
    for (String key : o.fieldNames()) {
      if (!keys.contains(key)) {
        throw new IllegalArgumentException(name + "." + key + ": unknown key; allowed: " + new TreeSet<>(keys));
      }
    }
    return o;
  }

  private static int port(JsonObject json, int def, String where) {
    int port = ServerConfig.integer(json, "port", def, where);
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(where + ".port: must be within 0..65535 (0 picks a free port), got " + port);
    }
    return port;
  }

  private static int range(JsonObject json, String key, int def, int min, int max, String where) {
    int v = ServerConfig.integer(json, key, def, where);
    if (v < min || v > max) {
      throw new IllegalArgumentException(where + "." + key + ": must be within " + min + ".." + max + ", got " + v);
    }
    return v;
  }
}
