package dev.tether.event;

import io.vertx.core.json.JsonObject;

/**
 * What became of a failure once its decision was carried out, published on
 * {@link Addresses#RECOVERY}. {@code bytes} is the number of bytes the action concerned: resent
 * bytes for {@code RESEND}, bytes given up for {@code CLOSE} and {@code DROP}.
 *
 * @param result {@code OK} when the action was carried out as the policy intended, {@code FAILED}
 *               when the data could not be recovered (budget spent, resend failed, escalated)
 */
public record RecoveryOutcome(
  String failure,
  long time,
  String node,
  String server,
  String connection,
  FailureKind kind,
  String policy,
  Action action,
  long delayMs,
  long bytes,
  String result,
  String message) {

  public static final String OK = "OK";
  public static final String FAILED = "FAILED";

  public JsonObject toJson() {
    return new JsonObject()
      .put("failure", failure)
      .put("time", time)
      .put("node", node)
      .put("server", server)
      .put("connection", connection)
      .put("kind", kind == null ? null : kind.name())
      .put("policy", policy)
      .put("action", action.name())
      .put("delayMs", delayMs)
      .put("bytes", bytes)
      .put("result", result)
      .put("message", message);
  }

  public static RecoveryOutcome fromJson(JsonObject json) {
    String kind = json.getString("kind");
    return new RecoveryOutcome(
      json.getString("failure"),
      json.getLong("time", 0L),
      json.getString("node"),
      json.getString("server"),
      json.getString("connection"),
      kind == null ? null : FailureKind.parse(kind),
      json.getString("policy"),
      Action.valueOf(json.getString("action")),
      json.getLong("delayMs", 0L),
      json.getLong("bytes", 0L),
      json.getString("result"),
      json.getString("message"));
  }
}
