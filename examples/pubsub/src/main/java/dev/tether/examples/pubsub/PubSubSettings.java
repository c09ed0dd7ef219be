package dev.tether.examples.pubsub;

import io.vertx.core.json.JsonObject;

import java.util.Set;

/**
 * The pub/sub server's own settings, beyond the keys every Tether server has.
 *
 * @param maxLineBytes     longest command line accepted, newline excluded; a longer one is answered
 *                         {@code ERR line too long} and the connection is closed
 * @param maxSubscriptions topics one connection may subscribe to at once
 */
public record PubSubSettings(int maxLineBytes, int maxSubscriptions) {

  public static final int DEFAULT_MAX_LINE_BYTES = 1024;
  public static final int DEFAULT_MAX_SUBSCRIPTIONS = 100;
  /** The keys read by {@link #fromJson}. */
  public static final Set<String> KEYS = Set.of("maxLineBytes", "maxSubscriptions");

  public static final PubSubSettings DEFAULTS = new PubSubSettings(DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_SUBSCRIPTIONS);

  /**
   * Reads {@link #KEYS} from a server's configuration object (other keys are left to Tether).
   *
   * @param where configuration path for error messages, e.g. {@code servers.pubsub}
   */
  public static PubSubSettings fromJson(JsonObject json, String where) {
    return new PubSubSettings(
      positive(json, "maxLineBytes", DEFAULT_MAX_LINE_BYTES, where),
      positive(json, "maxSubscriptions", DEFAULT_MAX_SUBSCRIPTIONS, where));
  }

  private static int positive(JsonObject json, String key, int def, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != n.intValue() || n.intValue() < 1) {
      throw new IllegalArgumentException(where + "." + key + ": must be a whole number >= 1, got " + v);
    }
    return n.intValue();
  }
}
