package dev.tether.config;

import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The whole of {@code conf/tether.json}, validated. Unknown keys are errors: a typo must not be
 * silently ignored.
 */
public record TetherConfig(String node, List<ServerConfig> servers, JsonObject raw) {

  /** Short names of the verticles Tether ships; anything else must be a class name. */
  public static final Map<String, String> VERTICLES = Map.of(
    "echo", "dev.tether.verticles.EchoVerticle",
    "plain-echo", "dev.tether.verticles.PlainEchoVerticle",
    "session", "dev.tether.verticles.SessionVerticle");

  /**
   * Keys a shipped verticle understands beyond the common and tracking ones, by short name; they
   * are validated by the verticle itself when it starts.
   */
  public static final Map<String, Set<String>> VERTICLE_KEYS = Map.of(
    "session", Set.of("maxFrameBytes", "sessionTtlMs", "maxRetainedBytes", "maxSessions", "helloTimeoutMs",
      "idleTimeoutMs", "frameDeadlineMs", "replication"));

  private static final Set<String> KEYS = Set.of("node", "servers", "recovery", "http", "bridge", "monitor", "metrics", "storms",
    "memory");

  public static TetherConfig fromJson(JsonObject json) {
    for (String key : json.fieldNames()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException(key + ": unknown top-level key; allowed: " + new TreeSet<>(KEYS));
      }
    }
    String node = json.getValue("node") == null ? "node-" + ProcessHandle.current().pid() : null;
    if (node == null) {
      if (!(json.getValue("node") instanceof String n) || n.isBlank() || !n.matches("[A-Za-z0-9_.-]+")) {
        throw new IllegalArgumentException("node: must be a name of letters, digits, '.', '_' or '-', got " + json.getValue("node"));
      }
      node = n;
    }
    Object serversValue = json.getValue("servers");
    if (serversValue != null && !(serversValue instanceof JsonObject)) {
      throw new IllegalArgumentException("servers: must be an object of named servers");
    }
    JsonObject servers = serversValue == null ? new JsonObject() : (JsonObject) serversValue;
    List<ServerConfig> list = new ArrayList<>();
    for (String name : servers.fieldNames()) {
      Object s = servers.getValue(name);
      if (!(s instanceof JsonObject o)) {
        throw new IllegalArgumentException("servers." + name + ": must be an object");
      }
      String v = o.getValue("verticle") instanceof String vs ? vs : "";
      // Tether's own verticles have a fixed set of keys; a verticle of yours gets its server object
      // as it is and validates its own keys (ServerConfig.forVerticle(config(), name, yourKeys))
      boolean own = VERTICLES.containsKey(v) || VERTICLES.containsValue(v);
      ServerConfig sc = ServerConfig.fromJson(name, o,
        own ? VERTICLE_KEYS.getOrDefault(v, VERTICLE_KEYS.getOrDefault(shortName(v), Set.of())) : null);
      verticleClass(sc.verticle());
      list.add(sc);
    }
    Object recovery = json.getValue("recovery");
    if (recovery != null && !(recovery instanceof JsonObject)) {
      throw new IllegalArgumentException("recovery: must be an object");
    }
    JsonObject rec = recovery == null ? new JsonObject() : (JsonObject) recovery;
    for (String key : rec.fieldNames()) {
      if (!Set.of("enabled", "default", "protocols").contains(key)) {
        throw new IllegalArgumentException("recovery." + key + ": unknown key; allowed: [default, enabled, protocols]");
      }
    }
    ServerConfig.bool(rec, "enabled", true, "recovery");
    dev.tether.recovery.PolicySet.fromJson(rec.getJsonObject("default"), "recovery.default");
    JsonObject protocols = rec.getJsonObject("protocols", new JsonObject());
    for (String p : protocols.fieldNames()) {
      dev.tether.recovery.PolicySet.fromJson(protocols.getJsonObject(p), "recovery.protocols." + p);
    }
    ObservabilityConfig.fromJson(json); // validates metrics, http, monitor, bridge, storms
    MemoryConfig.fromJson(json);
    return new TetherConfig(node, List.copyOf(list), json);
  }

  /** Whether MainVerticle deploys the node's recovery verticle ({@code recovery.enabled}, default true). */
  public boolean recoveryEnabled() {
    JsonObject rec = raw.getJsonObject("recovery");
    return rec == null || rec.getBoolean("enabled", true);
  }

  /** The {@code memory} section: the node-wide memory budget. */
  public MemoryConfig memory() {
    return MemoryConfig.fromJson(raw);
  }

  /** The {@code metrics}, {@code http}, {@code monitor} and {@code bridge} sections. */
  public ObservabilityConfig observability() {
    return ObservabilityConfig.fromJson(raw);
  }

  private static String shortName(String verticleClass) {
    for (Map.Entry<String, String> e : VERTICLES.entrySet()) {
      if (e.getValue().equals(verticleClass)) {
        return e.getKey();
      }
    }
    return verticleClass;
  }

  /** The class name for a verticle's short name or class name. */
  public static String verticleClass(String verticle) {
    String cls = VERTICLES.getOrDefault(verticle, verticle);
    if (!cls.contains(".")) {
      throw new IllegalArgumentException("verticle: unknown verticle '" + verticle + "'; known: "
        + new TreeSet<>(VERTICLES.keySet()) + " or a class name");
    }
    return cls;
  }
}
