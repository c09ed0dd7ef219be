package dev.tether.recovery;

import io.vertx.core.json.JsonObject;

/**
 * Service-provider interface for recovery policies. Factories are found with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/dev.tether.recovery.RecoveryPolicyFactory})
 * and selected by {@link #name()} in configuration, e.g. {@code {"policy": "resend-remainder"}}.
 */
public interface RecoveryPolicyFactory {

  /** The name used in configuration. */
  String name();

  /**
   * Creates a policy from its configuration object (which also holds the {@code policy} key).
   *
   * @throws IllegalArgumentException naming the bad key when the configuration is invalid
   */
  RecoveryPolicy create(JsonObject config);
}
