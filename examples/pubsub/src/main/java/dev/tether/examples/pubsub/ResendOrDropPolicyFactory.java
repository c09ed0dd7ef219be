package dev.tether.examples.pubsub;

import dev.tether.recovery.Policies;
import dev.tether.recovery.RecoveryPolicy;
import dev.tether.recovery.RecoveryPolicyFactory;
import io.vertx.core.json.JsonObject;

/**
 * Makes {@link ResendOrDropPolicy} available under the name {@value ResendOrDropPolicy#NAME}.
 * Registered for {@link java.util.ServiceLoader} in
 * {@code META-INF/services/dev.tether.recovery.RecoveryPolicyFactory}, so configuration can say
 * <pre>{@code
 * "soft": {"policy": "pubsub-resend-or-drop", "initialDelayMs": 10, "maxDelayMs": 1000, "maxAttempts": 3}
 * }</pre>
 * Every key is optional; unknown keys and bad values are rejected with a message that starts with
 * the key (Tether prefixes it with the configuration path, e.g.
 * {@code servers.pubsub.policies.soft.maxAttempts: ...}).
 */
public final class ResendOrDropPolicyFactory implements RecoveryPolicyFactory {

  /** Needed by ServiceLoader (and by Tether when configured by class name). */
  public ResendOrDropPolicyFactory() {
  }

  @Override
  public String name() {
    return ResendOrDropPolicy.NAME;
  }

  @Override
  public RecoveryPolicy create(JsonObject config) {
    Policies.checkKeys(config, ResendOrDropPolicy.NAME, "initialDelayMs", "maxDelayMs", "maxAttempts");
    return new ResendOrDropPolicy(
      integer(config, "initialDelayMs", ResendOrDropPolicy.DEFAULT_INITIAL_DELAY_MS),
      integer(config, "maxDelayMs", ResendOrDropPolicy.DEFAULT_MAX_DELAY_MS),
      (int) Math.min(Integer.MAX_VALUE, integer(config, "maxAttempts", ResendOrDropPolicy.DEFAULT_MAX_ATTEMPTS)));
  }

  /** A whole number >= 0, or {@code def} when absent; the message starts with the key. */
  private static long integer(JsonObject config, String key, long def) {
    Object v = config.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0) {
      throw new IllegalArgumentException(key + ": must be a whole number >= 0, got " + v);
    }
    return n.longValue();
  }
}
