package dev.tether.net.impl;

import dev.tether.ledger.WriteLedger;
import dev.tether.net.impl.TrackedWrite.Stage;

import java.util.Iterator;

/**
 * Finds the writes of one connection that were not flushed within the write timeout: the oldest
 * ones, in stream order, that are on their way (held writes wait for a decision and are not
 * overdue) and were not reported yet. One scan per timer tick; the ledger's open entries are in
 * stream order, so the scan stops at the first write that is still young.
 *
 * <p>Threading: used on the connection's event loop only.
 */
public final class WriteTimeouts {

  /** What one scan found. */
  public static final class Overdue {
    public long requested;
    public long flushed;
    public long offset = -1;
    public int writes;
    /** Age of the oldest write that is not overdue yet, or -1. */
    public long youngestAgeNanos = -1;
  }

  private final long limitNanos;

  public WriteTimeouts(long timeoutMs) {
    this.limitNanos = timeoutMs * 1_000_000L;
  }

  /** Marks and sums the overdue writes of {@code ledger} at {@code now}; {@code mark} false only counts. */
  public Overdue scan(WriteLedger<TrackedWrite> ledger, long now, boolean mark) {
    Overdue o = new Overdue();
    for (Iterator<TrackedWrite> it = ledger.openEntries(); it.hasNext(); ) {
      TrackedWrite w = it.next();
      if (w.settled() || w.stage() == Stage.HELD || w.is(TrackedWrite.TIMEOUT_REPORTED)) {
        continue;
      }
      long age = now - w.acceptedAt;
      if (age < limitNanos) {
        o.youngestAgeNanos = age;
        break;
      }
      if (mark) {
        w.set(TrackedWrite.TIMEOUT_REPORTED);
      }
      o.writes++;
      o.requested += w.length();
      o.flushed += w.flushedBytes();
      if (o.offset < 0) {
        o.offset = w.firstUnflushed();
      }
    }
    return o;
  }

  /** Milliseconds until the next scan is due, given what the last one found. */
  public long nextDelayMs(Overdue o) {
    long wait = o.youngestAgeNanos < 0 ? limitNanos : limitNanos - o.youngestAgeNanos;
    return Math.max(1, wait / 1_000_000L);
  }
}
