package dev.tether.tools;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** Minimal {@code --key value} parsing for the command-line tools; unknown keys are errors. */
final class Args {

  private final Map<String, String> values = new HashMap<>();

  Args(String[] args, Set<String> known, String usage) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("-h") || a.equals("--help")) {
        throw new UsageException(usage);
      }
      if (!a.startsWith("--") || i + 1 >= args.length) {
        throw new UsageException("bad argument '" + a + "'\n" + usage);
      }
      String key = a.substring(2);
      if (!known.contains(key)) {
        throw new UsageException("unknown option --" + key + "\n" + usage);
      }
      values.put(key, args[++i]);
    }
  }

  String string(String key, String def) {
    return values.getOrDefault(key, def);
  }

  long number(String key, long def) {
    String v = values.get(key);
    try {
      return v == null ? def : Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new UsageException("--" + key + ": not an integer: " + v);
    }
  }

  /** "MIN-MAX" or "N" (both ends N). */
  long[] range(String key, String def) {
    String v = values.getOrDefault(key, def);
    try {
      String[] p = v.split("-", 2);
      long a = Long.parseLong(p[0].trim());
      long b = p.length > 1 ? Long.parseLong(p[1].trim()) : a;
      return new long[] {a, b};
    } catch (RuntimeException e) {
      throw new UsageException("--" + key + ": expected MIN-MAX, got " + v);
    }
  }

  /** "P:MIN-MAX", e.g. 0.3:1-65536. */
  double[] chance(String key, String def) {
    String v = values.getOrDefault(key, def);
    try {
      String[] p = v.split(":", 2);
      double prob = Double.parseDouble(p[0]);
      String[] r = p.length > 1 ? p[1].split("-", 2) : new String[] {"0", "0"};
      return new double[] {prob, Long.parseLong(r[0]), Long.parseLong(r.length > 1 ? r[1] : r[0])};
    } catch (RuntimeException e) {
      throw new UsageException("--" + key + ": expected PROBABILITY:MIN-MAX, got " + v);
    }
  }

  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }
}
