package dev.tether.event;

/** What a recovery decision tells the owning verticle to do. */
public enum Action {
  /** Replay the held, unsent suffix of the stream after a delay (soft failures only). */
  RESEND,
  /** Keep unacknowledged frames for the peer to resume the session on a new connection. */
  RESUME,
  /** Close the connection; every pending byte becomes unsent. */
  CLOSE,
  /** At-most-once: give up the held bytes, count and report them, carry on. */
  DROP,
  /** Nothing to do (the failure is reported only). */
  NONE
}
