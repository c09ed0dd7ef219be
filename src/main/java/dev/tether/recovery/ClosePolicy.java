package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;

/** Closes the connection; every pending byte is reported unsent. The default for raw streams. */
public final class ClosePolicy implements RecoveryPolicy {

  public static final String NAME = "close";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Decision decide(FailureEvent event) {
    return Decision.of(Action.CLOSE, NAME, "close on " + event.kind());
  }
}
