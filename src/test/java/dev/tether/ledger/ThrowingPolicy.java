package dev.tether.ledger;

import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import dev.tether.recovery.RecoveryPolicy;

import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A user's recovery policy that now and then throws from {@code decide} (or returns null) instead
 * of deciding. {@code PolicySet.decide} must turn that into an escalated close: the connection
 * closes and the outcome is {@code FAILED}. Records the events it refused to decide.
 */
final class ThrowingPolicy implements RecoveryPolicy {

  static final String NAME = "adversary";

  /** The failure ids a throwing policy refused to decide (one log per schedule). */
  static final class Log {
    final Set<String> refused = ConcurrentHashMap.newKeySet();
  }

  private final RecoveryPolicy delegate;
  private final double rate;
  private final SplittableRandom random;
  private final Log log;

  ThrowingPolicy(RecoveryPolicy delegate, double rate, long seed, Log log) {
    this.delegate = delegate;
    this.rate = rate;
    this.random = new SplittableRandom(seed);
    this.log = log;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Decision decide(FailureEvent event) {
    double roll;
    synchronized (random) {
      roll = random.nextDouble();
    }
    if (roll < rate) {
      log.refused.add(event.id());
      if (roll < rate / 4) {
        return null;
      }
      throw new AdversarialUserProperties.Adversary("policy refuses to decide " + event.kind());
    }
    return delegate.decide(event);
  }
}
