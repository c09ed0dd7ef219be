package dev.tether.net.impl;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;

/**
 * Runs a connection's user callbacks (receipts, drain, failure, outcome, close, exception and read
 * handlers) so that they can neither re-enter the socket in the middle of a state change nor break
 * it by throwing.
 *
 * <p>Every entry point into the socket (a user call, a Netty write or completion, a timer, a
 * decision) runs inside {@link #run} (or {@link #enter}/{@link #exit}). A callback
 * {@linkplain #post posted} while inside is queued and runs when the outermost entry point has
 * finished its state change, in the order posted. So a receipt that writes sees the socket as it is
 * after the transition that completed it, never half way through a replay. A callback that throws
 * is logged (once per kind and connection at WARN, later ones at DEBUG) and the next one runs.
 *
 * <p>When the outermost entry point is a call of the user's made outside any callback (a write at
 * top level on the loop, or its hop from another thread, {@code close}, {@code reportFailure}),
 * what it posted does not run before the call returns: the user's own code is in the middle of
 * something, and a drain or failure handler (or the receipt of another write) must not run inside
 * its {@code write}. Those callbacks run in a later turn of the loop, or at the end of the next
 * entry point if that comes first, still in the order posted ({@link #enterCall}/{@link #exitCall}).
 *
 * <p>Callbacks run with the socket's context as Vert.x's current context, whichever entry point
 * ran them (a Netty completion has none of its own).
 *
 * <p>Threading: confined to the connection's event loop, like all socket state.
 */
public final class Callbacks {

  private static final Logger log = LoggerFactory.getLogger(Callbacks.class);

  /** What a callback was, for the log line. */
  public enum Kind { RECEIPT, DRAIN, FAILURE, OUTCOME, CLOSE, EXCEPTION, READ, END, HOOK }

  /**
   * What a connection gives its callbacks: where to run them, and its name for log lines. The
   * socket implements it itself, so that no executor objects are kept per connection.
   */
  public interface Host {
    /** Runs a task in a later turn of the connection's event loop, on its context. */
    void runLater(Runnable task);

    /** Runs a task now with the connection's context current. */
    void runOnContext(Runnable task);

    /** The connection's id, for log lines (called only when something is logged). */
    String connectionId();
  }

  private final Host host;
  /** Runs what is queued, in order (made on first use, then kept: draining happens on the write path). */
  private Runnable runQueued;
  // State accessed exclusively from the connection's event loop
  /** Kind, callback, kind, callback, ...; made on the first post (most connections never post). */
  private ArrayDeque<Object> queue;
  /** Kinds already logged at WARN, one bit per {@link Kind} ordinal. */
  private int logged;
  private int depth;
  private boolean draining;
  /** A later turn will run what a user's call posted. */
  private boolean drainScheduled;
  private int thrown;

  public Callbacks(Host host) {
    this.host = host;
  }

  /** For tests and tools: a host made of two executors. */
  public Callbacks(String connection, Executor later, Executor onContext) {
    this(new Host() {
      @Override
      public void runLater(Runnable task) {
        later.execute(task);
      }

      @Override
      public void runOnContext(Runnable task) {
        onContext.execute(task);
      }

      @Override
      public String connectionId() {
        return connection;
      }
    });
  }

  /** Runs {@code action} as an entry point: callbacks it posts wait until it (and any outer one) returns. */
  public void run(Runnable action) {
    depth++;
    try {
      action.run();
    } finally {
      exit();
    }
  }

  /** Enters an entry point without a lambda (hot paths); pair with {@link #exit()} in a finally block. */
  public void enter() {
    depth++;
  }

  /** Leaves an entry point; the outermost one runs what was posted meanwhile. */
  public void exit() {
    depth--;
    if (depth == 0) {
      drain();
    }
  }

  /**
   * Enters a call of the user's (write, close, reportFailure); pair with {@link #exitCall()} in a
   * finally block. Inside a callback it is an ordinary nested entry point.
   */
  public void enterCall() {
    depth++;
  }

  /**
   * Leaves a call of the user's. When it was the outermost entry point, what it posted runs in a
   * later turn of the loop (or at the end of the next entry point), never before the call returns.
   */
  public void exitCall() {
    depth--;
    if (depth == 0 && !draining && queue != null && !queue.isEmpty() && !drainScheduled) {
      drainScheduled = true;
      host.runLater(() -> {
        drainScheduled = false;
        if (depth == 0) {
          drain();
        }
      });
    }
  }

  /** True inside an entry point or while posted callbacks run. */
  public boolean busy() {
    return depth > 0 || draining;
  }

  /**
   * Runs {@code callback} guarded, after what was posted before it: when the outermost entry point
   * ends (see {@link #exitCall} for user calls), or now when outside any.
   */
  public void post(Kind kind, Runnable callback) {
    ArrayDeque<Object> queue = this.queue;
    if (queue == null) {
      queue = this.queue = new ArrayDeque<>(4);
    }
    queue.addLast(kind);
    queue.addLast(callback);
    if (depth == 0) {
      drain(); // outside any entry point: now, behind anything a user's call left queued
    }
  }

  /** Runs {@code callback} at once, guarded (for handlers that must run inside the current step). */
  public void now(Kind kind, Runnable callback) {
    guarded(kind, callback);
  }

  /** User callbacks that threw so far. */
  int thrown() {
    return thrown;
  }

  private void drain() {
    if (draining) {
      return;
    }
    if (queue == null || queue.isEmpty()) {
      return;
    }
    draining = true;
    try {
      Runnable r = runQueued;
      if (r == null) {
        r = runQueued = this::runQueued;
      }
      host.runOnContext(r);
    } finally {
      draining = false;
    }
  }

  private void runQueued() {
    Object kind;
    while ((kind = queue.pollFirst()) != null) {
      guarded((Kind) kind, (Runnable) queue.pollFirst());
    }
  }

  private void guarded(Kind kind, Runnable callback) {
    try {
      callback.run();
    } catch (Throwable t) {
      threw(kind, t);
    }
  }

  /** Logs a user callback that threw (for callers that guard inline, without a lambda). */
  public void threw(Kind kind, Throwable t) {
    thrown++;
    int bit = 1 << kind.ordinal();
    if ((logged & bit) == 0) {
      logged |= bit;
      log.warn("{}: a {} callback threw; Tether carries on with the connection's books intact", host.connectionId(),
        kind.name().toLowerCase(), t);
    } else if (log.isDebugEnabled()) {
      log.debug("{}: a {} callback threw again: {}", host.connectionId(), kind.name().toLowerCase(), t.toString());
    }
  }
}
