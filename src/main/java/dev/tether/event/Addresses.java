package dev.tether.event;

/** Event-bus addresses of the public contract. */
public final class Addresses {

  /** Failure events, published cluster-wide. */
  public static final String FAILURE = "tether.failure";
  /** Recovery outcomes, published cluster-wide. */
  public static final String RECOVERY = "tether.recovery";
  /** Prefix of the per-node request/reply address of the node's recovery verticle. */
  public static final String RECOVER_PREFIX = "tether.recover.";

  private Addresses() {
  }

  /** The request/reply address the recovery verticle of {@code node} consumes. */
  public static String recover(String node) {
    return RECOVER_PREFIX + node;
  }
}
