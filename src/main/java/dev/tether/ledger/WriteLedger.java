package dev.tether.ledger;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.function.Consumer;

/**
 * Byte accounting of one connection's outbound stream. Offsets start at 0 and grow by the size of
 * each accepted write. Every accepted byte is in exactly one of three places: {@code flushed}
 * (confirmed handed to the kernel), {@code pending} (accepted, not yet confirmed: in Vert.x's queue,
 * inside Netty, or held after a soft failure), or {@code unsent} (given up for good).
 *
 * <p>Not thread-safe: a ledger belongs to its connection's event loop, like the socket.
 *
 * @param <E> the entry type, so the socket layer can hang its own state on each write
 */
public final class WriteLedger<E extends LedgerEntry> {

  // State accessed exclusively from the owning event loop
  /** Sized for one: an idle connection keeps it; a busy one grows it once to what it needs. */
  private final ArrayDeque<E> open = new ArrayDeque<>(1);
  private long accepted;
  private long flushed;
  private long pending;
  private long unsent;
  private long resent;
  /** Entries neither flushed completely nor given up. */
  private int openCount;

  /** Assigns the next stream range to {@code entry} and counts its bytes as accepted and pending. */
  public E accept(E entry, int length) {
    entry.ledgerInit(accepted, length);
    accepted += length;
    pending += length;
    openCount++;
    open.addLast(entry);
    return entry;
  }

  /** Counts bytes that were accepted and given up at once (never entered the stream queue). */
  public long acceptUnsent(int length) {
    long start = accepted;
    accepted += length;
    unsent += length;
    return start;
  }

  /**
   * Confirms {@code bytes} more of {@code entry} handed to the kernel.
   *
   * @return true when the entry is now completely flushed
   */
  public boolean flushed(E entry, int bytes) {
    if (bytes < 0 || bytes > entry.remaining()) {
      throw new IllegalStateException("flushed " + bytes + " bytes of an entry with " + entry.remaining() + " remaining");
    }
    entry.ledgerFlushed(bytes);
    flushed += bytes;
    pending -= bytes;
    boolean done = entry.remaining() == 0;
    if (done) {
      openCount--;
      entry.ledgerSettle(false);
      trim();
    }
    return done;
  }

  /**
   * Gives up what remains of {@code entry}: its bytes move from pending to unsent.
   *
   * @return the number of bytes given up
   */
  public int giveUp(E entry) {
    if (entry.settled()) {
      return 0;
    }
    int rem = entry.remaining();
    unsent += rem;
    pending -= rem;
    openCount--;
    entry.ledgerSettle(true);
    trim();
    return rem;
  }

  /** Records bytes that were replayed after a soft failure. */
  public void resent(long bytes) {
    resent += bytes;
  }

  private void trim() {
    E head;
    while ((head = open.peekFirst()) != null && head.settled()) {
      open.pollFirst();
    }
  }

  /** The oldest unsettled entry, or null. */
  public E oldest() {
    return open.peekFirst();
  }

  /** Visits unsettled entries in stream order. */
  public void forEachOpen(Consumer<E> action) {
    for (E e : open) {
      if (!e.settled()) {
        action.accept(e);
      }
    }
  }

  public Iterator<E> openEntries() {
    return open.iterator();
  }

  /** Entries neither flushed completely nor given up: what the pending bytes cost beyond their payload. */
  public int openCount() {
    return openCount;
  }

  public long accepted() {
    return accepted;
  }

  public long flushed() {
    return flushed;
  }

  public long pending() {
    return pending;
  }

  public long unsent() {
    return unsent;
  }

  public LedgerSnapshot snapshot() {
    return new LedgerSnapshot(accepted, flushed, pending, unsent, resent);
  }

  /**
   * Recomputes pending from the entries and checks the conservation invariant.
   *
   * @throws IllegalStateException describing the imbalance
   */
  public void checkInvariant() {
    long sum = 0;
    for (E e : open) {
      if (!e.settled()) {
        sum += e.remaining();
      }
    }
    if (sum != pending || accepted != flushed + pending + unsent) {
      throw new IllegalStateException("ledger out of balance: accepted=" + accepted + " flushed=" + flushed
        + " pending=" + pending + " (entries " + sum + ") unsent=" + unsent);
    }
  }
}
