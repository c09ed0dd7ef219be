package dev.tether.event;

/**
 * What went wrong on a connection. The names are part of the public contract: they appear in
 * failure events, metric tags and policy configuration.
 */
public enum FailureKind {
  /** A write failed outright: reset, broken pipe, closed channel, or refused before the transport. */
  WRITE_FAILED,
  /** Fewer bytes reached the kernel than were written: partial progress, or closed with bytes pending. */
  WRITE_INCOMPLETE,
  /** A write was not flushed within the connection's write timeout (stalled peer, zero window). */
  WRITE_TIMEOUT,
  /** Pending (retained) bytes would pass the connection's hard cap: the peer does not keep up. */
  WRITE_QUEUE_OVERFLOW,
  /** A buffer allocation failed (direct memory): the JVM analogue of non-paged pool exhaustion. */
  RESOURCE_EXHAUSTED,
  /** An exception while reading; the connection closes. */
  READ_FAILED,
  /** Malformed or oversized input from the peer. */
  PROTOCOL_ERROR,
  /** A resumable session was dropped (TTL or retained-bytes cap) with data unacknowledged. */
  SESSION_EXPIRED,
  /**
   * A cluster member left (crashed, hung or stopped): published once, by one surviving node, with the
   * sessions the lost node held, took over elsewhere and lost ({@link NodeLostEvent}).
   */
  NODE_LOST;

  /** Parses a kind name, with a message that lists the valid names. */
  public static FailureKind parse(String name) {
    try {
      return valueOf(name);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IllegalArgumentException("unknown failure kind '" + name + "', expected one of "
        + java.util.Arrays.toString(values()));
    }
  }
}
