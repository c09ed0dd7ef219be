package dev.tether.metrics;

import dev.tether.event.Action;
import dev.tether.event.Direction;
import dev.tether.event.FailureKind;

/**
 * The one interface through which Tether records its meters. Called from event loops, so
 * implementations must be thread-safe and must not block. Tags are bounded: server names, kinds,
 * policies, never connections or addresses.
 */
public interface TetherRecorder {

  /** Creates a server's meters up front, so a scrape shows them (at zero) before the first connection. */
  default void registerServer(String server) {
  }

  /** Final outcome of one application write: {@code ok}, {@code unsent} or {@code rejected}. */
  void write(String server, String outcome);

  /** Bytes confirmed handed to the kernel (resent bytes included once flushed). */
  void flushed(String server, long bytes);

  /** Time from a write being accepted until its last byte was flushed. */
  void flushTime(String server, long nanos);

  /** Bytes given up for good. */
  void unsent(String server, FailureKind kind, long bytes);

  void failure(String server, FailureKind kind, Direction direction);

  /**
   * Connections a server could not accept ({@code reason}: {@code failed}, an accept that failed for lack
   * of descriptors; {@code shed}, one accepted from the backlog on the reserve descriptor and closed at once).
   */
  default void acceptRefused(String server, String reason, long n) {
  }

  /** Change of the pending bytes of a server's connections (may be negative). */
  void pending(String server, long delta);

  /** Change of the open connection count of a server (+1 / -1). */
  void connections(String server, int delta);

  void recoveryAction(String policy, Action action, String result);

  /** A failure event not published on {@code tether.failure} because the node's failure budget was spent. */
  default void suppressed(FailureKind kind) {
  }

  /**
   * Registers the meters of the node's memory budget ({@code tether_memory_used_bytes}, ...): its
   * total now, limit and high mark, accounts paused now and pauses so far (suppliers read by any thread).
   */
  default void memoryBudget(java.util.function.LongSupplier used, long limit, long highMark,
                            java.util.function.LongSupplier paused, java.util.function.LongSupplier pauses) {
  }

  /** One party ({@code connection} or {@code session}) shed by the memory budget, holding {@code bytes}. */
  default void memoryShed(String kind, long bytes) {
  }

  /** Bytes replayed after a soft failure. */
  void resent(String server, long bytes);

  /**
   * The meters of one server's write path, resolved once per server so that a write records with
   * no lookup by name (see {@link #writePath}). Thread-safe like the recorder.
   */
  interface WritePath {
    /** Same as {@link TetherRecorder#pending} for this server. */
    void pending(long delta);

    /** Same as {@link TetherRecorder#flushed} followed by {@code pending(-bytes)}: part of a write flushed. */
    void flushedPart(long bytes);

    /**
     * The last {@code bytes} of a write flushed, {@code nanos} after it was accepted: in one call, what
     * {@code flushed(bytes)}, {@code pending(-bytes)}, {@code write("ok")} and {@code flushTime(nanos)} record.
     */
    void writeFlushed(long bytes, long nanos);
  }

  /**
   * The write path of {@code server}. The default delegates to the by-name methods; a recorder with
   * meters to look up returns an object holding them (one per server, not per connection).
   */
  default WritePath writePath(String server) {
    TetherRecorder r = this;
    return new WritePath() {
      @Override
      public void pending(long delta) {
        r.pending(server, delta);
      }

      @Override
      public void flushedPart(long bytes) {
        r.flushed(server, bytes);
        r.pending(server, -bytes);
      }

      @Override
      public void writeFlushed(long bytes, long nanos) {
        r.flushed(server, bytes);
        r.pending(server, -bytes);
        r.write(server, "ok");
        r.flushTime(server, nanos);
      }
    };
  }

  /** A recorder that records nothing. */
  TetherRecorder NOOP = new TetherRecorder() {
    @Override public void write(String server, String outcome) { }
    @Override public void flushed(String server, long bytes) { }
    @Override public void flushTime(String server, long nanos) { }
    @Override public void unsent(String server, FailureKind kind, long bytes) { }
    @Override public void failure(String server, FailureKind kind, Direction direction) { }
    @Override public void pending(String server, long delta) { }
    @Override public void connections(String server, int delta) { }
    @Override public void recoveryAction(String policy, Action action, String result) { }
    @Override public void resent(String server, long bytes) { }
    @Override public WritePath writePath(String server) {
      return NOOP_PATH;
    }
  };

  /** The write path of {@link #NOOP}. */
  WritePath NOOP_PATH = new WritePath() {
    @Override public void pending(long delta) { }
    @Override public void flushedPart(long bytes) { }
    @Override public void writeFlushed(long bytes, long nanos) { }
  };
}
