package dev.tether;

/**
 * The cause of an event for a connection or session shed by the node's {@link MemoryBudget}: it held
 * {@link #bytes()} when it was chosen, the largest of the node.
 */
public final class MemoryShedException extends RuntimeException {

  private final long bytes;

  public MemoryShedException(String message, long bytes) {
    super(message, null, false, false);
    this.bytes = bytes;
  }

  /** Bytes charged to the budget by the party when it was shed. */
  public long bytes() {
    return bytes;
  }
}
