package dev.tether.bench;

import dev.tether.ledger.LedgerEntry;
import dev.tether.ledger.SimpleLedgerEntry;
import dev.tether.ledger.WriteLedger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * The write ledger's per-write path as {@code TrackedSocket} uses it: one entry accepted, then
 * confirmed flushed. Run with {@code scripts/bench.sh jmh} (-prof gc): the B/op column is the
 * allocation per write.
 *
 * <ul>
 *   <li>{@code acceptFlushed}: a bare {@link LedgerEntry} per write, flushed at once (one open entry);</li>
 *   <li>{@code acceptFlushedWriteSized}: an entry with the same fields as TrackedSocket's private
 *   {@code Write} class (so B/op is the size of the object TrackedSocket allocates per write);</li>
 *   <li>{@code pipelined16}: 16 writes accepted before the first is flushed, as when the peer is
 *   slower than the writer (the deque holds 16 entries); per write.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class WriteLedgerBench {

  /** Same instance fields as TrackedSocket.Write (an inner class: it also holds its outer socket). */
  static final class WriteLike extends SimpleLedgerEntry {
    final Object outer;
    final Object data;
    final Object promise;
    final long acceptedAt = System.nanoTime();
    Object stage;
    boolean queued;
    int from;
    long progress;
    Object vertxPromise;
    boolean resent;
    boolean timeoutReported;

    WriteLike(Object outer, Object data, Object promise) {
      this.outer = outer;
      this.data = data;
      this.promise = promise;
    }
  }

  private WriteLedger<LedgerEntry> ledger;
  private WriteLedger<WriteLike> writes;
  private final Object data = new Object();
  private final LedgerEntry[] batch = new LedgerEntry[16];

  @Setup(Level.Iteration)
  public void setup() {
    ledger = new WriteLedger<>();
    writes = new WriteLedger<>();
  }

  @Benchmark
  public boolean acceptFlushed() {
    LedgerEntry e = ledger.accept(new SimpleLedgerEntry(), 1024);
    return ledger.flushed(e, 1024);
  }

  @Benchmark
  public boolean acceptFlushedWriteSized() {
    WriteLike w = writes.accept(new WriteLike(this, data, null), 1024);
    return writes.flushed(w, 1024);
  }

  @Benchmark
  @OperationsPerInvocation(16)
  public long pipelined16() {
    for (int i = 0; i < 16; i++) {
      batch[i] = ledger.accept(new SimpleLedgerEntry(), 64);
    }
    for (int i = 0; i < 16; i++) {
      ledger.flushed(batch[i], 64);
    }
    return ledger.pending();
  }
}
