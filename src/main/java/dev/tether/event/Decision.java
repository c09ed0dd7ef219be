package dev.tether.event;

import io.vertx.core.json.JsonObject;

import java.util.Objects;

/**
 * The answer of a recovery policy to a failure event: what the owning verticle does, and when.
 *
 * @param escalated true when the policy wanted something else but its budget was spent (or the
 *                  action is impossible for this failure), so the data is not recovered
 */
public record Decision(Action action, long delayMs, String policy, boolean escalated, String message) {

  public Decision {
    Objects.requireNonNull(action, "action");
    if (delayMs < 0) {
      throw new IllegalArgumentException("delayMs must be >= 0");
    }
  }

  public static Decision of(Action action, String policy, String message) {
    return new Decision(action, 0, policy, false, message);
  }

  public JsonObject toJson() {
    return new JsonObject()
      .put("action", action.name())
      .put("delayMs", delayMs)
      .put("policy", policy)
      .put("escalated", escalated)
      .put("message", message);
  }

  public static Decision fromJson(JsonObject json) {
    return new Decision(
      Action.valueOf(json.getString("action")),
      json.getLong("delayMs", 0L),
      json.getString("policy"),
      json.getBoolean("escalated", false),
      json.getString("message"));
  }
}
