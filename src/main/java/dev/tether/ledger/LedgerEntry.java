package dev.tether.ledger;

/**
 * One accepted write as the {@link WriteLedger} sees it: its stream range and how much of it is
 * confirmed flushed. An interface, so that the socket layer's write object can be something else
 * as well (Tether's is also the write's Netty promise: one object per write instead of two); the
 * {@code ledger*} methods are for the ledger only. {@link SimpleLedgerEntry} is a plain one.
 */
public interface LedgerEntry {

  /** Stream offset of the first byte of this write. */
  long start();

  int length();

  /** Bytes of this write confirmed handed to the kernel. */
  int flushedBytes();

  /** Flushed completely or given up. */
  boolean settled();

  boolean givenUp();

  /** Ledger only: assigns the stream range. */
  void ledgerInit(long start, int length);

  /** Ledger only: {@code bytes} more were flushed. */
  void ledgerFlushed(int bytes);

  /** Ledger only: the entry is done, flushed or given up. */
  void ledgerSettle(boolean givenUp);

  /** Stream offset just past the last byte of this write. */
  default long end() {
    return start() + length();
  }

  /** Bytes of this write neither flushed nor given up. */
  default int remaining() {
    return settled() && givenUp() ? 0 : length() - flushedBytes();
  }

  /** Stream offset of the first byte not yet flushed. */
  default long firstUnflushed() {
    return start() + flushedBytes();
  }
}
