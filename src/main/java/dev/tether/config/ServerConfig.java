package dev.tether.config;

import dev.tether.net.TlsOptions;
import dev.tether.net.TrackingOptions;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

/**
 * The configuration of one server in {@code conf/tether.json} ({@code servers.<name>}): where it
 * listens, which verticle runs it, and how its connections are tracked. Parsed and validated up
 * front so a bad key stops start-up with a message that names it.
 */
public record ServerConfig(
  String name,
  String verticle,
  boolean enabled,
  String host,
  int port,
  int instances,
  int maxConnections,
  String protocol,
  int sendBufferSize,
  int receiveBufferSize,
  TrackingOptions tracking,
  TlsOptions tls,
  JsonObject raw) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_MAX_CONNECTIONS = 10_000;

  /** Keys common to every server; verticles may accept more ({@code extraKeys}). */
  private static final Set<String> KEYS = Set.of("verticle", "enabled", "host", "port", "instances",
    "maxConnections", "protocol", "sendBufferSize", "receiveBufferSize", "tls");

  /**
   * @param extraKeys keys the server's verticle understands beyond the common and tracking ones, or
   *                  null to leave keys beyond those to the verticle (a verticle Tether does not know)
   */
  public static ServerConfig fromJson(String name, JsonObject json, Set<String> extraKeys) {
    String where = "servers." + name;
    Set<String> allowed = new TreeSet<>(KEYS);
    allowed.addAll(TrackingOptions.keys());
    if (extraKeys != null) {
      allowed.addAll(extraKeys);
    }
    for (String key : json.fieldNames()) {
      if (extraKeys != null && !allowed.contains(key)) {
        throw new IllegalArgumentException(where + "." + key + ": unknown key; allowed: " + allowed);
      }
    }
    String verticle = string(json, "verticle", null, where);
    if (verticle == null) {
      throw new IllegalArgumentException(where + ".verticle: missing (e.g. \"echo\" or a verticle class name)");
    }
    boolean enabled = bool(json, "enabled", true, where);
    String host = string(json, "host", DEFAULT_HOST, where);
    int port = integer(json, "port", -1, where);
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(where + ".port: must be within 0..65535 (0 picks a free port), got "
        + json.getValue("port"));
    }
    int instances = integer(json, "instances", 1, where);
    if (instances < 1) {
      throw new IllegalArgumentException(where + ".instances: must be >= 1");
    }
    int maxConnections = integer(json, "maxConnections", DEFAULT_MAX_CONNECTIONS, where);
    if (maxConnections < 1) {
      throw new IllegalArgumentException(where + ".maxConnections: must be >= 1");
    }
    String protocol = string(json, "protocol", "raw", where);
    int sendBufferSize = integer(json, "sendBufferSize", -1, where);
    int receiveBufferSize = integer(json, "receiveBufferSize", -1, where);
    if (sendBufferSize == 0 || sendBufferSize < -1 || receiveBufferSize == 0 || receiveBufferSize < -1) {
      throw new IllegalArgumentException(where + ".sendBufferSize/receiveBufferSize: must be > 0 (or -1 for the OS default)");
    }
    TrackingOptions tracking = TrackingOptions.fromJson(json, where).setServer(name).setProtocol(protocol);
    TlsOptions tls = TlsOptions.fromJson(json.getValue("tls"), where + ".tls");
    return new ServerConfig(name, verticle, enabled, host, port, instances, maxConnections, protocol,
      sendBufferSize, receiveBufferSize, tracking, tls, json);
  }

  /** The tracked-server options this configuration describes (net options, tracking keys, cap). */
  public dev.tether.net.TrackedServerOptions trackedServerOptions() {
    return new dev.tether.net.TrackedServerOptions(netServerOptions()).setTracking(tracking)
      .setMaxConnections(maxConnections).setTls(tls);
  }

  /** The Vert.x server options this configuration describes (TLS on when {@code tls} is set and enabled). */
  public io.vertx.core.net.NetServerOptions netServerOptions() {
    io.vertx.core.net.NetServerOptions o = new io.vertx.core.net.NetServerOptions().setHost(host).setPort(port);
    if (sendBufferSize > 0) {
      o.setSendBufferSize(sendBufferSize);
    }
    if (receiveBufferSize > 0) {
      o.setReceiveBufferSize(receiveBufferSize);
    }
    if (tls != null) {
      tls.applyTo(o);
    }
    return o;
  }

  /**
   * Parses the configuration a server verticle was deployed with: its {@code servers.<name>} object
   * plus {@code name} (MainVerticle adds it; {@code defaultName} otherwise).
   */
  public static ServerConfig forVerticle(JsonObject config, String defaultName) {
    return forVerticle(config, defaultName, Set.of());
  }

  /**
   * Like {@link #forVerticle(JsonObject, String)} for a verticle that understands {@code extraKeys}
   * beyond the common and tracking ones (read them from {@link #raw()}).
   */
  public static ServerConfig forVerticle(JsonObject config, String defaultName, Set<String> extraKeys) {
    JsonObject c = config.copy();
    Object name = c.remove("name");
    if (!c.containsKey("verticle")) {
      c.put("verticle", defaultName);
    }
    if (!c.containsKey("port")) {
      c.put("port", 0);
    }
    return fromJson(name instanceof String s ? s : defaultName, c, extraKeys);
  }

  static String string(JsonObject json, String key, String def, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof String s) || s.isBlank()) {
      throw new IllegalArgumentException(where + "." + key + ": must be a non-empty string, got " + v);
    }
    return s;
  }

  static boolean bool(JsonObject json, String key, boolean def, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Boolean b)) {
      throw new IllegalArgumentException(where + "." + key + ": must be true or false, got " + v);
    }
    return b;
  }

  static int integer(JsonObject json, String key, int def, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != n.intValue()) {
      throw new IllegalArgumentException(where + "." + key + ": must be an integer, got " + v);
    }
    return n.intValue();
  }
}
