package dev.tether.net.impl;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.EnumSet;

/**
 * Runs a connection's user callbacks (receipts, drain, failure, outcome, close, exception and read
 * handlers) so that they can neither re-enter the socket in the middle of a state change nor break
 * it by throwing.
 *
 * <p>Every entry point into the socket (a user call, a Netty write or completion, a timer, a
 * decision) runs inside {@link #run}. A callback {@linkplain #post posted} while inside is queued
 * and runs when the outermost entry point has finished its state change, in the order posted; one
 * posted outside runs at once. So a receipt that writes sees the socket as it is after the
 * transition that completed it, never half way through a replay. A callback that throws is logged
 * (once per kind and connection at WARN, later ones at DEBUG) and the next one runs.
 *
 * <p>Threading: confined to the connection's event loop, like all socket state.
 */
public final class Callbacks {

  private static final Logger log = LoggerFactory.getLogger(Callbacks.class);

  /** What a callback was, for the log line. */
  public enum Kind { RECEIPT, DRAIN, FAILURE, OUTCOME, CLOSE, EXCEPTION, READ, END, HOOK }

  private final String connection;
  // State accessed exclusively from the connection's event loop
  private final ArrayDeque<Object> queue = new ArrayDeque<>();
  private final EnumSet<Kind> logged = EnumSet.noneOf(Kind.class);
  private int depth;
  private boolean draining;
  private long thrown;

  public Callbacks(String connection) {
    this.connection = connection;
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

  /** True inside an entry point or while posted callbacks run. */
  boolean busy() {
    return depth > 0 || draining;
  }

  /** Runs {@code callback} guarded, now when outside any entry point, else when the outermost one ends. */
  public void post(Kind kind, Runnable callback) {
    if (depth == 0 && !draining) {
      guarded(kind, callback);
    } else {
      queue.addLast(kind);
      queue.addLast(callback);
    }
  }

  /** Runs {@code callback} at once, guarded (for handlers that must run inside the current step). */
  public void now(Kind kind, Runnable callback) {
    guarded(kind, callback);
  }

  /** User callbacks that threw so far. */
  long thrown() {
    return thrown;
  }

  private void drain() {
    if (draining) {
      return;
    }
    draining = true;
    try {
      Object kind;
      while ((kind = queue.pollFirst()) != null) {
        guarded((Kind) kind, (Runnable) queue.pollFirst());
      }
    } finally {
      draining = false;
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
    if (logged.add(kind)) {
      log.warn("{}: a {} callback threw; Tether carries on with the connection's books intact", connection,
        kind.name().toLowerCase(), t);
    } else {
      log.debug("{}: a {} callback threw again: {}", connection, kind.name().toLowerCase(), t.toString());
    }
  }
}
