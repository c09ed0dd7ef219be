package dev.tether.ledger;

/**
 * The books of one connection at one moment. At every quiescent point
 * {@code accepted == flushed + pending + unsent}; when the connection has ended {@code pending == 0}.
 *
 * @param resent bytes replayed after soft failures (they are also in {@code flushed} once flushed)
 */
public record LedgerSnapshot(long accepted, long flushed, long pending, long unsent, long resent) {

  public boolean balanced() {
    return accepted == flushed + pending + unsent;
  }
}
