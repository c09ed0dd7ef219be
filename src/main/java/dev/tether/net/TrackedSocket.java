package dev.tether.net;

import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.fault.FaultInjector;
import dev.tether.ledger.LedgerSnapshot;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;

/**
 * A TCP connection whose every outbound byte is accounted for: a Vert.x {@link ReadStream} and
 * {@link WriteStream} of buffers, like a {@link NetSocket}, with a byte ledger behind the write side.
 *
 * <p>Each write gets the next range of the stream's offsets. The connection's ledger knows at any
 * moment how many bytes reached the kernel ({@code flushed}), how many are on their way or held
 * ({@code pending}) and how many were given up ({@code unsent}); the peer receives the flushed
 * prefix of the stream, in order, whatever the user's handlers do and whenever they do it. Failures
 * become {@link FailureEvent}s on the event bus; the node's recovery verticle (or this server's own
 * policy) decides, and the socket carries the decision out.
 *
 * <h2>Writing</h2>
 * <ul>
 *   <li>{@link #write(Buffer)}: the {@code WriteStream} way; the future succeeds when the whole
 *       buffer reached the kernel (possibly after a resend) and fails with
 *       {@link WriteFailedException} when some of it was given up.</li>
 *   <li>{@link #writeTracked(Buffer)}: the same, with a {@link WriteReceipt} (stream range, time to
 *       flush, whether it was resent).</li>
 *   <li>{@link #send(Buffer)}: no future at all (the cheapest); failures reach you as events.</li>
 * </ul>
 * A buffer must not be modified after it was written: it is retained until flushed.
 *
 * <h2>Threading</h2>
 * A tracked socket belongs to one event loop, the one of the context that accepted or connected it
 * ({@link #context()}). Every handler and every future of this socket runs there. The write, close
 * and flow-control methods may be called from any thread: off the loop they hop onto it, in the
 * order they were called, as {@code NetSocket.write} does. Methods that read the books
 * ({@link #ledger()}, {@link #writeQueueFull()}, ...) must be called on the loop and throw
 * {@link IllegalStateException} elsewhere, in every build.
 *
 * <h2>User callbacks</h2>
 * Receipts, handlers and policies may write, close or throw at any moment. A callback never runs in
 * the middle of a state change of the socket: it runs after it, in order, with {@link #context()}
 * as Vert.x's current context. Nor does it run inside a call of yours made outside any callback: a
 * write that flushes or is refused at once completes its future, and runs the drain or failure
 * handler it causes, after it returned (in a later turn of the loop). One that throws is logged
 * once with the connection id and the socket carries on with its books intact.
 */
public interface TrackedSocket extends ReadStream<Buffer>, WriteStream<Buffer> {

  /**
   * Tracks an accepted or connected socket from now on. Call it before anything else writes to
   * {@code socket}; afterwards use the returned object only (its handlers replace the socket's).
   * Completes on the socket's context.
   */
  static Future<TrackedSocket> wrap(Vertx vertx, NetSocket socket, TrackingOptions options) {
    return TrackedSocketImpl.wrap(vertx, socket, options, TrackedSocketImpl.nextNumber(), 0);
  }

  /** The connection id used in events and logs, e.g. {@code echo-12}. */
  String id();

  /** The peer's address as {@code host:port}. */
  String remote();

  SocketAddress remoteAddress();

  SocketAddress localAddress();

  /** The context that owns this socket: its handlers and futures run there. */
  Context context();

  TrackingOptions options();

  /** The fault injector of this connection, or null when faults are off. */
  FaultInjector injector();

  // ---------------------------------------------------------------------------------------------
  // Writing

  /**
   * Writes {@code data} as the next range of the stream. The future succeeds when its last byte was
   * handed to the kernel, or fails with {@link WriteFailedException} when some of it was given up
   * (or with {@link IllegalStateException} when the socket is closed or closing).
   */
  @Override
  Future<Void> write(Buffer data);

  /** Like {@link #write(Buffer)}, with a receipt: the stream range, the time to flush, whether resent. */
  Future<WriteReceipt> writeTracked(Buffer data);

  /** Like {@link #write(Buffer)} without a future: tracked all the same, failures reach you as events. */
  void send(Buffer data);

  /**
   * Ends the stream: closes gracefully once what is on its way was flushed; held bytes are reported
   * unsent. The future completes when the connection has closed and every byte was accounted for.
   */
  @Override
  Future<Void> end();

  /** Same as {@link #end()}. */
  Future<Void> close();

  /**
   * Back-pressure mark in bytes of memory the pending writes cost (payload plus
   * {@link TrackingOptions#WRITE_OVERHEAD_BYTES} per write): {@link #writeQueueFull()} is true at or
   * above it, the drain handler runs once the cost fell to half of it. At most
   * {@code maxPendingBytes}.
   */
  @Override
  TrackedSocket setWriteQueueMaxSize(int maxBytes);

  /** True when pending writes cost at least the high-water mark: pause your source until the drain handler. */
  @Override
  boolean writeQueueFull();

  @Override
  TrackedSocket drainHandler(Handler<Void> handler);

  /** Read failures of this connection (they are also reported as events). */
  @Override
  TrackedSocket exceptionHandler(Handler<Throwable> handler);

  // ---------------------------------------------------------------------------------------------
  // Reading

  @Override
  TrackedSocket handler(Handler<Buffer> handler);

  /**
   * Sets the read handler on the zero-copy path: the handler gets the bytes read as they are in
   * Netty's pooled memory, without the copy to the heap that {@link #handler} (like any Vert.x
   * {@code NetSocket}) makes of every read. Replaces {@link #handler}; null goes back to nothing
   * set (call {@link #handler} to read copies again).
   *
   * <p>Ownership rules: the buffer is <b>lent for the duration of the call</b>. When the handler
   * returns, the memory goes back to the pool and the buffer must not be touched again (Netty's
   * checks then throw {@code IllegalReferenceCountException}). Inside the call you may read it,
   * {@code slice} it (lent too) or {@code copy} it (a heap copy you may keep); do not modify it.
   * Writing it (or a slice of it) through a tracked socket, during the call, is a zero-copy
   * write: the write holds the memory, and releases it exactly once, when its bytes were flushed
   * or given up (an unsent remainder kept for a resend stays held until the resend or the close).
   *
   * <p>{@link #pause()} stops reading at the transport (auto-read off); what was already read
   * waits and is delivered after {@link #resume()}. Reads still waiting when the connection
   * closes are released, not delivered. Vert.x's TCP metrics do not count the bytes read on this
   * path.
   */
  TrackedSocket zeroCopyHandler(Handler<Buffer> handler);

  @Override
  TrackedSocket pause();

  @Override
  TrackedSocket resume();

  @Override
  TrackedSocket fetch(long amount);

  /** The peer ended its side (FIN); the close handler follows when the connection has closed. */
  @Override
  TrackedSocket endHandler(Handler<Void> handler);

  // ---------------------------------------------------------------------------------------------
  // Life cycle, failures, books

  /** Called once after the connection closed and every byte was accounted for. */
  TrackedSocket closeHandler(Handler<Void> handler);

  /** Called for each failure event of this connection, before it is published. */
  TrackedSocket failureHandler(Handler<FailureEvent> handler);

  /** Called for each recovery outcome of this connection, before it is published. */
  TrackedSocket outcomeHandler(Handler<RecoveryOutcome> handler);

  /**
   * Reports a failure found by the protocol on top (a malformed frame, say) with zero byte fields;
   * the policy decides (normally closing).
   */
  void reportFailure(FailureKind kind, Throwable cause);

  /** The books of this connection now. On the socket's event loop only. */
  LedgerSnapshot ledger();

  /**
   * This connection's account in the node's memory budget ({@link dev.tether.Tether#memory()}): its
   * pending cost is charged there, and a protocol on top may charge what it buffers for this
   * connection (the session server charges its frame decoder's buffer), on the socket's event loop.
   * Closed with the connection: charges are then refused and credits ignored.
   */
  dev.tether.MemoryBudget.Account memory();

  /** Recomputes the books from the pending writes and throws if they do not balance. On the event loop only. */
  void checkInvariant();

  /** What the pending writes cost in memory now (payload plus per-write overhead). On the event loop only. */
  long pendingCost();

  /** Writes in Vert.x's outbound queue, not yet handed to Netty. On the event loop only. */
  int queuedWrites();

  /** Writes handed to Netty whose completion is pending. On the event loop only. */
  int writesOnWire();

  /** True once the connection has closed and its books were closed. */
  boolean isClosed();
}
