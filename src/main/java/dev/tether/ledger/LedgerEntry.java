package dev.tether.ledger;

/**
 * One accepted write: its stream range and how much of it is confirmed flushed. Subclassed by the
 * socket layer; the ledger owns the accounting fields.
 */
public class LedgerEntry {

  // State accessed exclusively from the owning event loop
  long start;
  int length;
  int flushed;
  boolean settled;
  boolean givenUp;

  final void init(long start, int length) {
    this.start = start;
    this.length = length;
  }

  /** Stream offset of the first byte of this write. */
  public final long start() {
    return start;
  }

  /** Stream offset just past the last byte of this write. */
  public final long end() {
    return start + length;
  }

  public final int length() {
    return length;
  }

  /** Bytes of this write confirmed handed to the kernel. */
  public final int flushedBytes() {
    return flushed;
  }

  /** Bytes of this write neither flushed nor given up. */
  public final int remaining() {
    return settled && givenUp ? 0 : length - flushed;
  }

  /** Stream offset of the first byte not yet flushed. */
  public final long firstUnflushed() {
    return start + flushed;
  }

  public final boolean settled() {
    return settled;
  }

  public final boolean givenUp() {
    return givenUp;
  }
}
