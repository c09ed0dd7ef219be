package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;

/**
 * At-most-once data: the held bytes are given up (counted and reported) and the connection carries
 * on. A hard failure cannot carry on, so it closes. For a write timeout nothing is held (the bytes
 * are inside the transport), so the connection simply keeps waiting.
 */
public final class DropPolicy implements RecoveryPolicy {

  public static final String NAME = "drop";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Decision decide(FailureEvent event) {
    if (!event.soft()) {
      return Decision.of(Action.CLOSE, NAME, "hard failure: nothing to carry on with");
    }
    return Decision.of(Action.DROP, NAME, "drop " + event.unsent() + " bytes and carry on");
  }
}
