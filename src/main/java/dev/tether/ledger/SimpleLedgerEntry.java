package dev.tether.ledger;

/** A ledger entry and nothing else. Not thread-safe: owned by the ledger's event loop. */
public class SimpleLedgerEntry implements LedgerEntry {

  private long start;
  private int length;
  private int flushed;
  private boolean settled;
  private boolean givenUp;

  @Override
  public final long start() {
    return start;
  }

  @Override
  public final int length() {
    return length;
  }

  @Override
  public final int flushedBytes() {
    return flushed;
  }

  @Override
  public final boolean settled() {
    return settled;
  }

  @Override
  public final boolean givenUp() {
    return givenUp;
  }

  @Override
  public final void ledgerInit(long start, int length) {
    this.start = start;
    this.length = length;
  }

  @Override
  public final void ledgerFlushed(int bytes) {
    flushed += bytes;
  }

  @Override
  public final void ledgerSettle(boolean givenUp) {
    settled = true;
    this.givenUp = givenUp;
  }
}
