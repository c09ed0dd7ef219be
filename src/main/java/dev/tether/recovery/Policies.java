package dev.tether.recovery;

import io.vertx.core.json.JsonObject;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Finds policy factories by name (the built-ins, then ServiceLoader, or a fully qualified class name implementing
 * {@link RecoveryPolicyFactory}) and builds policies from configuration, failing with a message
 * that names the offending key.
 */
public final class Policies {

  private static final Map<String, RecoveryPolicyFactory> FACTORIES = load();

  private Policies() {
  }

  private static Map<String, RecoveryPolicyFactory> load() {
    Map<String, RecoveryPolicyFactory> map = new TreeMap<>();
    for (RecoveryPolicy p : List.of(new ClosePolicy(), new DropPolicy(), new ReportPolicy(), new ResumePolicy())) {
      map.put(p.name(), stateless(p));
    }
    map.put(ResendRemainderPolicy.NAME, new ResendRemainderPolicy.Factory());
    var it = ServiceLoader.load(RecoveryPolicyFactory.class, Policies.class.getClassLoader()).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        RecoveryPolicyFactory f = it.next();
        map.putIfAbsent(f.name(), f);
      } catch (ServiceConfigurationError e) {
        LoggerFactory.getLogger(Policies.class).warn("ignoring a recovery policy provider that cannot be loaded: {}",
          e.getMessage());
      }
    }
    return Map.copyOf(map);
  }

  /** A factory for a policy without settings: the same instance for every configuration. */
  private static RecoveryPolicyFactory stateless(RecoveryPolicy policy) {
    return new RecoveryPolicyFactory() {
      @Override
      public String name() {
        return policy.name();
      }

      @Override
      public RecoveryPolicy create(JsonObject config) {
        checkKeys(config, policy.name());
        return policy;
      }
    };
  }

  /** Names of every policy found on the class path. */
  public static Set<String> names() {
    return new TreeSet<>(FACTORIES.keySet());
  }

  /**
   * Builds a policy from {@code "close"} or {@code {"policy": "resend-remainder", ...}}.
   *
   * @param where the configuration path of this value, used in error messages
   */
  public static RecoveryPolicy create(Object spec, String where) {
    JsonObject config;
    if (spec instanceof String s) {
      config = new JsonObject().put("policy", s);
    } else if (spec instanceof JsonObject o) {
      config = o;
    } else if (spec instanceof Map<?, ?> m) {
      @SuppressWarnings("unchecked")
      Map<String, Object> map = (Map<String, Object>) m;
      config = new JsonObject(map);
    } else {
      throw new IllegalArgumentException(where + ": expected a policy name or an object with a \"policy\" key, got " + spec);
    }
    String name = config.getValue("policy") instanceof String s ? s : null;
    if (name == null) {
      throw new IllegalArgumentException(where + ".policy: missing policy name; known policies: " + names());
    }
    RecoveryPolicyFactory factory = FACTORIES.get(name);
    if (factory == null && name.contains(".")) {
      factory = instantiate(name, where);
    }
    if (factory == null) {
      throw new IllegalArgumentException(where + ".policy: unknown policy '" + name + "'; known policies: " + names());
    }
    try {
      return factory.create(config);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + "." + e.getMessage(), e);
    }
  }

  private static RecoveryPolicyFactory instantiate(String className, String where) {
    try {
      Class<?> c = Class.forName(className, true, Policies.class.getClassLoader());
      return (RecoveryPolicyFactory) c.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException | ClassCastException e) {
      throw new IllegalArgumentException(where + ".policy: cannot load policy factory class '" + className + "': " + e, e);
    }
  }

  /** Rejects keys a policy does not know, so a typo is not silently ignored. */
  public static void checkKeys(JsonObject config, String policy, String... allowed) {
    Set<String> ok = new TreeSet<>(Set.of(allowed));
    ok.add("policy");
    for (String key : config.fieldNames()) {
      if (!ok.contains(key)) {
        throw new IllegalArgumentException(key + ": unknown key for policy '" + policy + "'; allowed: " + ok);
      }
    }
  }

  static long positiveLong(JsonObject config, String key, long def) {
    Object v = config.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.longValue() < 1 || n.doubleValue() != n.longValue()) {
      throw new IllegalArgumentException(key + ": must be a positive integer, got " + v);
    }
    return n.longValue();
  }
}
