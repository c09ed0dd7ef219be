package dev.tether.examples.pubsub;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.recovery.ResendRemainderPolicy;


/**
 * The pub/sub server's recovery policy, {@value #NAME}: a subscriber may miss messages, but its
 * line stream must stay well formed and it must be told what it missed.
 *
 * <ul>
 *   <li>Soft write failures with bytes held ({@code WRITE_FAILED}, {@code WRITE_INCOMPLETE},
 *       {@code RESOURCE_EXHAUSTED}): resend the held bytes after an exponential backoff with jitter,
 *       at most {@code maxAttempts} times. Then give up: {@code DROP} the held messages (at-most-once
 *       for this subscriber, the connection carries on) when none of their bytes went out, since
 *       every write is one whole line; {@code CLOSE} when part of a message already went out, since
 *       dropping its rest would leave half a line in the stream.</li>
 *   <li>{@code WRITE_QUEUE_OVERFLOW} (the subscriber's pending bytes hit {@code maxPendingBytes}):
 *       {@code DROP}. The refused writes were whole messages; the server stops offering messages
 *       until the subscriber has drained and then tells it {@code LOST <n>}.</li>
 *   <li>{@code WRITE_TIMEOUT}: {@code DROP}, which for a timeout means "keep the connection and keep
 *       waiting" (nothing is held: the bytes are inside the transport). The server marks the
 *       subscriber as lagging so that publishers stop waiting for it.</li>
 *   <li>Anything else (hard failures, read failures, protocol errors): {@code CLOSE}.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe, as the SPI requires: it runs on the recovery verticle's event loop,
 * or on the connection's own loop when the recovery verticle did not answer in time.
 */
public final class ResendOrDropPolicy implements dev.tether.recovery.RecoveryPolicy {

  public static final String NAME = "pubsub-resend-or-drop";
  public static final long DEFAULT_INITIAL_DELAY_MS = 10;
  public static final long DEFAULT_MAX_DELAY_MS = 1_000;
  public static final int DEFAULT_MAX_ATTEMPTS = 3;

  private final long initialDelayMs;
  private final long maxDelayMs;
  private final int maxAttempts;
  /** Tether's own backoff (exponential, capped, equal jitter), reused rather than written again. */
  private final ResendRemainderPolicy backoff;

  public ResendOrDropPolicy(long initialDelayMs, long maxDelayMs, int maxAttempts) {
    if (initialDelayMs < 1) {
      throw new IllegalArgumentException("initialDelayMs: must be >= 1, got " + initialDelayMs);
    }
    if (maxDelayMs < initialDelayMs) {
      throw new IllegalArgumentException("maxDelayMs: must be >= initialDelayMs (" + initialDelayMs + "), got "
        + maxDelayMs);
    }
    if (maxAttempts < 0) {
      throw new IllegalArgumentException("maxAttempts: must be >= 0, got " + maxAttempts);
    }
    this.initialDelayMs = initialDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.maxAttempts = maxAttempts;
    this.backoff = new ResendRemainderPolicy(initialDelayMs, maxDelayMs, Math.max(1, maxAttempts));
  }

  @Override
  public String name() {
    return NAME;
  }

  public long initialDelayMs() {
    return initialDelayMs;
  }

  public long maxDelayMs() {
    return maxDelayMs;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  /** The backoff before resend number {@code attempt} (from 1), before jitter. */
  public long nominalDelayMs(int attempt) {
    return backoff.nominalDelayMs(attempt);
  }

  @Override
  public Decision decide(FailureEvent event) {
    if (!event.soft()) {
      return new Decision(Action.CLOSE, 0, NAME, true, "hard failure: nothing can be resent on this connection");
    }
    if (event.kind() == FailureKind.WRITE_QUEUE_OVERFLOW) {
      return Decision.of(Action.DROP, NAME,
        "subscriber over maxPendingBytes: drop " + event.unsent() + " bytes of messages, carry on");
    }
    if (event.kind() == FailureKind.WRITE_TIMEOUT) {
      return Decision.of(Action.DROP, NAME, "lagging subscriber: keep it, publishers stop waiting for it");
    }
    if (event.attempt() <= maxAttempts) {
      return new Decision(Action.RESEND, backoff.delayMs(event.attempt()), NAME, false,
        "resend " + event.unsent() + " bytes, attempt " + event.attempt() + "/" + maxAttempts);
    }
    if (event.flushed() == 0) {
      return new Decision(Action.DROP, 0, NAME, true,
        maxAttempts + " resend(s) failed: drop " + event.unsent() + " bytes of whole messages, carry on");
    }
    return new Decision(Action.CLOSE, 0, NAME, true, maxAttempts + " resend(s) failed and " + event.flushed()
      + " bytes of a message already went out: dropping the rest would cut a line, closing");
  }
}
