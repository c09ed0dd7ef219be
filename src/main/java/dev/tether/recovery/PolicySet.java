package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import io.vertx.core.json.JsonObject;

import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The policies of one server: one per failure kind where configured, else one for soft failures
 * (refused writes whose bytes are held: not {@code WRITE_TIMEOUT} or {@code WRITE_QUEUE_OVERFLOW},
 * which keep the connection usable but have nothing to resend), else the default. Configured as
 * <pre>{@code
 * "policies": {
 *   "default": "close",
 *   "soft": {"policy": "resend-remainder", "initialDelayMs": 20, "maxDelayMs": 2000, "maxAttempts": 5},
 *   "WRITE_TIMEOUT": "close"
 * }}</pre>
 */
public final class PolicySet {

  private static final Logger log = LoggerFactory.getLogger(PolicySet.class);
  /** Policy classes whose failure was logged with its stack trace already. */
  private static final Set<Class<?>> WARNED = ConcurrentHashMap.newKeySet();

  private final RecoveryPolicy defaultPolicy;
  private final RecoveryPolicy softPolicy;
  private final Map<FailureKind, RecoveryPolicy> byKind;

  public PolicySet(RecoveryPolicy defaultPolicy, RecoveryPolicy softPolicy, Map<FailureKind, RecoveryPolicy> byKind) {
    this.defaultPolicy = defaultPolicy;
    this.softPolicy = softPolicy;
    this.byKind = byKind.isEmpty() ? Map.of() : new EnumMap<>(byKind);
  }

  /** Close on everything: what a server gets with no configuration at all. */
  public static PolicySet closeAll() {
    return new PolicySet(new ClosePolicy(), null, Map.of());
  }

  /**
   * Parses a {@code policies} object.
   *
   * @param where configuration path for error messages, e.g. {@code servers.echo.policies}
   */
  public static PolicySet fromJson(JsonObject json, String where) {
    if (json == null) {
      return closeAll();
    }
    RecoveryPolicy def = new ClosePolicy();
    RecoveryPolicy soft = null;
    Map<FailureKind, RecoveryPolicy> byKind = new EnumMap<>(FailureKind.class);
    for (String key : json.fieldNames()) {
      Object spec = json.getValue(key);
      String path = where + "." + key;
      switch (key) {
        case "default" -> def = Policies.create(spec, path);
        case "soft" -> soft = Policies.create(spec, path);
        default -> {
          FailureKind kind;
          try {
            kind = FailureKind.parse(key);
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": expected 'default', 'soft' or a failure kind; " + e.getMessage());
          }
          byKind.put(kind, Policies.create(spec, path));
        }
      }
    }
    return new PolicySet(def, soft, byKind);
  }

  /**
   * Decides {@code event} with the policy selected for it, guarded: a policy that throws, or
   * returns no decision, counts as {@code close}, escalated (its outcome is {@code FAILED}), with
   * the reason in the decision's message. Logged once per failure with the connection id.
   */
  public Decision decide(FailureEvent event) {
    RecoveryPolicy p = select(event);
    String name = "unknown";
    try {
      name = String.valueOf(p.name());
      Decision d = p.decide(event);
      if (d == null) {
        throw new IllegalStateException("returned no decision");
      }
      return d;
    } catch (Throwable t) {
      String reason = "policy '" + name + "' failed to decide " + event.kind() + ": " + t;
      if (WARNED.add(p.getClass())) {
        log.warn("{}: {}; closing the connection instead", event.connection(), reason, t);
      } else {
        log.warn("{}: {}; closing the connection instead", event.connection(), reason);
      }
      return new Decision(Action.CLOSE, 0, name, true, reason);
    }
  }

  public RecoveryPolicy select(FailureEvent event) {
    RecoveryPolicy p = byKind.get(event.kind());
    if (p != null) {
      return p;
    }
    if (event.soft() && softPolicy != null && event.kind() != FailureKind.WRITE_TIMEOUT
      && event.kind() != FailureKind.WRITE_QUEUE_OVERFLOW) {
      // "soft" is for refusals whose bytes are held and can be resent; a timeout (bytes still in
      // the transport) or an overflow (bytes never retained) has nothing to resend
      return softPolicy;
    }
    return defaultPolicy;
  }
}
