package dev.tether.event;

import io.vertx.core.json.JsonObject;

import java.util.Objects;

/**
 * A failure on one connection, as published on {@link Addresses#FAILURE} and sent to the node's
 * recovery verticle. Immutable; carries byte counts and offsets but never payload bytes.
 *
 * <p>Byte fields: {@code requested} is the size of the writes this event covers, {@code flushed}
 * how many of them reached the kernel, {@code unsent = requested - flushed}, {@code offset} the
 * stream offset of the first unsent byte. Read failures carry zeros. A failed accept
 * ({@link Direction#ACCEPT}, kind {@code RESOURCE_EXHAUSTED}) has no connection: {@code connection} is
 * null, {@code remote} is the listening address, {@code requested} (= {@code unsent}) the number of
 * connections refused since the previous such event of that listening socket (at most one a second).
 *
 * @param soft    whether the socket was still usable when the failure happened (its bytes are held
 *                and may be resent); not in the original contract, added for policies
 */
public record FailureEvent(
  String id,
  long time,
  String node,
  String server,
  String protocol,
  String connection,
  String remote,
  FailureKind kind,
  Direction direction,
  long requested,
  long flushed,
  long unsent,
  long offset,
  String cause,
  String message,
  int attempt,
  boolean soft) {

  public FailureEvent {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(direction, "direction");
    if (requested < 0 || flushed < 0 || unsent < 0 || requested != flushed + unsent) {
      throw new IllegalArgumentException("byte fields must satisfy requested == flushed + unsent, got requested="
        + requested + " flushed=" + flushed + " unsent=" + unsent);
    }
  }

  public JsonObject toJson() {
    return new JsonObject()
      .put("id", id)
      .put("time", time)
      .put("node", node)
      .put("server", server)
      .put("protocol", protocol)
      .put("connection", connection)
      .put("remote", remote)
      .put("kind", kind.name())
      .put("direction", direction.name())
      .put("requested", requested)
      .put("flushed", flushed)
      .put("unsent", unsent)
      .put("offset", offset)
      .put("cause", cause)
      .put("message", message)
      .put("attempt", attempt)
      .put("soft", soft);
  }

  public static FailureEvent fromJson(JsonObject json) {
    return new FailureEvent(
      json.getString("id"),
      json.getLong("time", 0L),
      json.getString("node"),
      json.getString("server"),
      json.getString("protocol"),
      json.getString("connection"),
      json.getString("remote"),
      FailureKind.parse(json.getString("kind")),
      Direction.valueOf(json.getString("direction", "WRITE")),
      json.getLong("requested", 0L),
      json.getLong("flushed", 0L),
      json.getLong("unsent", 0L),
      json.getLong("offset", 0L),
      json.getString("cause"),
      json.getString("message"),
      json.getInteger("attempt", 1),
      json.getBoolean("soft", false));
  }
}
