package dev.tether.event;

import io.vertx.core.json.JsonObject;

import java.util.Objects;

/**
 * A cluster member left, as published on {@link Addresses#FAILURE} by exactly one surviving node
 * (docs/cluster.md). The JSON is a {@link FailureEvent} (every contract field, so monitors, the
 * dashboard and {@link FailureEvent#fromJson} read it like any failure) with kind
 * {@link FailureKind#NODE_LOST}, plus the cluster fields:
 *
 * <ul>
 *   <li>{@code node}: the lost node's name (so per-node counts and {@code /events?node=} find it);</li>
 *   <li>{@code member}: its Hazelcast member UUID; {@code remote}: its cluster address;</li>
 *   <li>{@code reportedBy}: the surviving node that published the event;</li>
 *   <li>{@code sessionsHeld}: the sessions it held (its last published count, at most ~1 s old);
 *       {@code sessionsTakenOver}: rebuilt from their replicas on the reporting node (session
 *       servers with replication "backup"); {@code sessionsLost = sessionsHeld - sessionsTakenOver};</li>
 *   <li>{@code graceful}: whether it announced its departure (stopped) rather than vanished.</li>
 * </ul>
 *
 * <p>Fixed contract fields: {@code server} and {@code protocol} are {@code "cluster"},
 * {@code connection} is null, the byte fields are 0, {@code direction} is {@code READ} (the
 * survivors stopped hearing from the member), {@code soft} is false.
 */
public record NodeLostEvent(
  String id,
  long time,
  String node,
  String member,
  String address,
  String reportedBy,
  int sessionsHeld,
  int sessionsTakenOver,
  boolean graceful) {

  /** The {@code server} and {@code protocol} of a NODE_LOST event. */
  public static final String SERVER = "cluster";

  public NodeLostEvent {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(node, "node");
    if (sessionsHeld < 0 || sessionsTakenOver < 0 || sessionsTakenOver > sessionsHeld) {
      throw new IllegalArgumentException("sessions: need 0 <= takenOver <= held, got held=" + sessionsHeld
        + " takenOver=" + sessionsTakenOver);
    }
  }

  public int sessionsLost() {
    return sessionsHeld - sessionsTakenOver;
  }

  /** The human-readable summary carried in {@code message}. */
  public String summary() {
    return "node " + node + (graceful ? " left" : " was lost") + " (member " + member + " at " + address + "): held "
      + sessionsHeld + " session(s), " + sessionsTakenOver + " taken over, " + sessionsLost() + " lost";
  }

  /** This event as a failure event (the contract fields). */
  public FailureEvent toFailureEvent() {
    return new FailureEvent(id, time, node, SERVER, SERVER, null, address, FailureKind.NODE_LOST, Direction.READ,
      0, 0, 0, 0, null, summary(), 1, false);
  }

  public JsonObject toJson() {
    return toFailureEvent().toJson()
      .put("member", member)
      .put("reportedBy", reportedBy)
      .put("sessionsHeld", sessionsHeld)
      .put("sessionsTakenOver", sessionsTakenOver)
      .put("sessionsLost", sessionsLost())
      .put("graceful", graceful);
  }

  public static NodeLostEvent fromJson(JsonObject json) {
    if (!FailureKind.NODE_LOST.name().equals(json.getString("kind"))) {
      throw new IllegalArgumentException("not a NODE_LOST event: kind " + json.getString("kind"));
    }
    return new NodeLostEvent(json.getString("id"), json.getLong("time", 0L), json.getString("node"),
      json.getString("member"), json.getString("remote"), json.getString("reportedBy"),
      json.getInteger("sessionsHeld", 0), json.getInteger("sessionsTakenOver", 0), json.getBoolean("graceful", false));
  }
}
