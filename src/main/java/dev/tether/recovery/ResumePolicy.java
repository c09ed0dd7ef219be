package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;

/**
 * For acknowledged, resumable protocols: the connection closes, and the session keeps its
 * unacknowledged frames so the peer can resume it on a new connection (on this node or another),
 * within the session's time-to-live and retained-bytes cap. Nothing is given up on the connection's
 * behalf: its unsent bytes are still held by the session.
 */
public final class ResumePolicy implements RecoveryPolicy {

  public static final String NAME = "resume";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Decision decide(FailureEvent event) {
    return Decision.of(Action.RESUME, NAME, "keep the session's unacknowledged frames for the peer to resume");
  }
}
