package dev.tether.recovery;

import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;

/**
 * Decides what to do about one failure. Implementations must be thread-safe and cheap: they run on
 * the recovery verticle's event loop, or on the owning connection's loop when nobody answered.
 * They decide only; the verticle that owns the socket carries the decision out.
 */
public interface RecoveryPolicy {

  /** The name this policy was configured with, reported in decisions and outcomes. */
  String name();

  Decision decide(FailureEvent event);
}
