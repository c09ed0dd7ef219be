package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import io.vertx.core.json.JsonObject;

import java.util.concurrent.ThreadLocalRandom;

/**
 * For soft failures: resend the unsent remainder after an exponential backoff with jitter, never
 * straight away, for at most {@code maxAttempts} attempts; then escalate to close. Hard failures
 * cannot be resent on their connection and close at once.
 *
 * <p>The delay of attempt {@code n} (from 1) is drawn uniformly from {@code [d/2, d]} where
 * {@code d = min(maxDelayMs, initialDelayMs * 2^(n-1))} ("equal jitter"): spread out, yet never
 * below half the nominal backoff, so a retry storm cannot form.
 */
public final class ResendRemainderPolicy implements RecoveryPolicy {

  public static final String NAME = "resend-remainder";
  public static final long DEFAULT_INITIAL_DELAY_MS = 20;
  public static final long DEFAULT_MAX_DELAY_MS = 2_000;
  public static final int DEFAULT_MAX_ATTEMPTS = 5;

  private final long initialDelayMs;
  private final long maxDelayMs;
  private final int maxAttempts;

  public ResendRemainderPolicy(long initialDelayMs, long maxDelayMs, int maxAttempts) {
    if (initialDelayMs < 1) {
      throw new IllegalArgumentException("initialDelayMs must be >= 1 (a resend is never immediate), got " + initialDelayMs);
    }
    if (maxDelayMs < initialDelayMs) {
      throw new IllegalArgumentException("maxDelayMs must be >= initialDelayMs, got " + maxDelayMs);
    }
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be >= 1, got " + maxAttempts);
    }
    this.initialDelayMs = initialDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.maxAttempts = maxAttempts;
  }

  @Override
  public String name() {
    return NAME;
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  /** The nominal (pre-jitter) backoff of attempt {@code attempt}, from 1. */
  public long nominalDelayMs(int attempt) {
    int shift = Math.min(Math.max(attempt - 1, 0), 30);
    long d = initialDelayMs << shift;
    return d <= 0 || d > maxDelayMs ? maxDelayMs : d;
  }

  /**
   * The backoff before resend number {@code attempt} (from 1), with "equal jitter": uniformly in
   * {@code [d/2, d]} of the nominal delay {@code d}, never 0. Policies of your own may use it.
   */
  public long delayMs(int attempt) {
    long d = nominalDelayMs(attempt);
    return Math.max(1, d / 2 + ThreadLocalRandom.current().nextLong(d - d / 2 + 1));
  }

  @Override
  public Decision decide(FailureEvent event) {
    if (!event.soft()) {
      return new Decision(Action.CLOSE, 0, NAME, true, "hard failure: the remainder cannot be resent on this connection");
    }
    if (event.attempt() > maxAttempts) {
      return new Decision(Action.CLOSE, 0, NAME, true,
        "budget exhausted: " + maxAttempts + " resend attempt(s) failed");
    }
    return new Decision(Action.RESEND, delayMs(event.attempt()), NAME, false,
      "resend " + event.unsent() + " bytes, attempt " + event.attempt() + "/" + maxAttempts);
  }

  public static final class Factory implements RecoveryPolicyFactory {
    @Override
    public String name() {
      return NAME;
    }

    @Override
    public RecoveryPolicy create(JsonObject config) {
      Policies.checkKeys(config, NAME, "initialDelayMs", "maxDelayMs", "maxAttempts");
      return new ResendRemainderPolicy(
        Policies.positiveLong(config, "initialDelayMs", DEFAULT_INITIAL_DELAY_MS),
        Policies.positiveLong(config, "maxDelayMs", DEFAULT_MAX_DELAY_MS),
        (int) Policies.positiveLong(config, "maxAttempts", DEFAULT_MAX_ATTEMPTS));
    }
  }
}
