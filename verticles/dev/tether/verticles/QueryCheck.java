package dev.tether.verticles;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Strict reading of an HTTP request's path and query for the monitoring endpoints: the query is parsed here
 * (not by Vert.x's lenient decoder, which throws on a bad percent-escape), and every problem is a
 * {@link Bad} naming the parameter, answered with 400 and a JSON body instead of a 500 or a silently
 * ignored parameter. Stateless; any thread.
 */
final class QueryCheck {

  /** Longest query string accepted (the endpoints take at most three short parameters). */
  static final int MAX_QUERY = 2048;
  /** Longest parameter value accepted. */
  static final int MAX_VALUE = 256;

  private QueryCheck() {
  }

  /** A request parameter (or the path) that cannot be served: 400 with {@code error} and {@code parameter}. */
  static final class Bad extends Exception {
    final String parameter;

    Bad(String parameter, String message) {
      super(parameter + ": " + message, null, false, false);
      this.parameter = parameter;
    }
  }

  /** Checks the raw path: percent-escapes must decode and it may hold no control characters. */
  static void path(String rawPath) throws Bad {
    if (rawPath == null || rawPath.isEmpty() || rawPath.charAt(0) != '/') {
      throw new Bad("path", "must start with /");
    }
    String decoded = decode("path", rawPath);
    for (int i = 0; i < decoded.length(); i++) {
      char c = decoded.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw new Bad("path", "control character at " + i);
      }
    }
  }

  /**
   * The query's parameters, decoded, in order. Unknown names, a name given twice, a bad percent-escape,
   * an empty name and values over {@link #MAX_VALUE} characters are {@link Bad}.
   */
  static Map<String, String> params(String rawQuery, Set<String> allowed) throws Bad {
    Map<String, String> out = new LinkedHashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return out;
    }
    if (rawQuery.length() > MAX_QUERY) {
      throw new Bad("query", "longer than " + MAX_QUERY + " characters");
    }
    for (String pair : rawQuery.split("&", -1)) {
      if (pair.isEmpty()) {
        continue; // "a=1&&b=2" or a trailing '&'
      }
      int eq = pair.indexOf('=');
      String name = decode("query", eq < 0 ? pair : pair.substring(0, eq));
      if (name.isEmpty()) {
        throw new Bad("query", "a parameter without a name");
      }
      String shown = name.length() > 40 ? name.substring(0, 40) + "..." : name;
      if (!allowed.contains(name)) {
        throw new Bad(shown, "unknown parameter" + (allowed.isEmpty() ? "; this endpoint takes none"
          : "; allowed: " + new java.util.TreeSet<>(allowed)));
      }
      String value = decode(name, eq < 0 ? "" : pair.substring(eq + 1));
      if (value.length() > MAX_VALUE) {
        throw new Bad(name, "longer than " + MAX_VALUE + " characters");
      }
      if (out.put(name, value) != null) {
        throw new Bad(name, "given more than once");
      }
    }
    return out;
  }

  /** An integer within [min, max]; null when absent. */
  static Integer intWithin(Map<String, String> params, String name, int min, int max) throws Bad {
    String v = params.get(name);
    if (v == null) {
      return null;
    }
    long n;
    try {
      n = Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      n = Long.MIN_VALUE;
    }
    if (n < min || n > max) {
      throw new Bad(name, "must be an integer within " + min + ".." + max + ", got '" + abbreviate(v) + "'");
    }
    return (int) n;
  }

  /** A value from {@code choices}; null when absent. */
  static String oneOf(Map<String, String> params, String name, Set<String> choices) throws Bad {
    String v = params.get(name);
    if (v != null && !choices.contains(v)) {
      throw new Bad(name, "must be one of " + new java.util.TreeSet<>(choices) + ", got '" + abbreviate(v) + "'");
    }
    return v;
  }

  /** A non-empty value; null when absent. */
  static String nonEmpty(Map<String, String> params, String name) throws Bad {
    String v = params.get(name);
    if (v != null && v.isEmpty()) {
      throw new Bad(name, "must not be empty");
    }
    return v;
  }

  private static String decode(String parameter, String raw) throws Bad {
    try {
      return URLDecoder.decode(raw, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new Bad(parameter, "malformed percent-escape");
    }
  }

  private static String abbreviate(String v) {
    return v.length() > 40 ? v.substring(0, 40) + "..." : v;
  }
}
