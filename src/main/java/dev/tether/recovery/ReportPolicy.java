package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;

/**
 * Count and report only; the connection carries on. Meant for {@code WRITE_TIMEOUT}: the late bytes
 * are still inside the transport and keep their chance to go out. For a soft failure (bytes held) it
 * behaves like {@code drop}; a hard failure has already closed the connection.
 */
public final class ReportPolicy implements RecoveryPolicy {

  public static final String NAME = "report";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Decision decide(FailureEvent event) {
    if (!event.soft()) {
      return Decision.of(Action.CLOSE, NAME, "hard failure");
    }
    if (event.kind() != dev.tether.event.FailureKind.WRITE_TIMEOUT) {
      return Decision.of(Action.DROP, NAME, "held bytes dropped, reported");
    }
    return Decision.of(Action.NONE, NAME, "reported only: the bytes stay in the transport");
  }
}
