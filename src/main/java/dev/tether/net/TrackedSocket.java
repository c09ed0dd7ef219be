package dev.tether.net;

import dev.tether.Tether;
import dev.tether.event.Action;
import dev.tether.event.Addresses;
import dev.tether.event.Decision;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.fault.FaultInjector;
import dev.tether.internal.NettyAccess;
import dev.tether.ledger.LedgerEntry;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.ledger.WriteLedger;
import dev.tether.metrics.TetherRecorder;
import dev.tether.recovery.FailureReporter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelProgressivePromise;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelProgressivePromise;
import io.netty.util.concurrent.PromiseNotifier;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * A Vert.x {@link NetSocket} whose every outbound byte is accounted for. Each {@link #write} gets
 * the next range of the stream's offsets; the connection's {@link WriteLedger} knows at any moment
 * how many bytes were flushed to the kernel, how many are pending and how many were given up.
 * Failures become {@link FailureEvent}s published on {@value Addresses#FAILURE}; the node's recovery
 * verticle (or, when it does not answer in time, this server's own policy) decides what happens,
 * and this class carries the decision out on the connection's event loop.
 *
 * <h2>How a write is followed</h2>
 * A write is sent through Vert.x's outbound queue as a {@code Write} object (so it keeps its place
 * in the stream) and unwrapped by a small handler installed first on the outbound pipeline, which
 * hands Netty the bytes with a progressive promise. Netty reports partial progress to that promise,
 * so even a write that fails half way has an exact flushed count. A handler that refuses a write
 * synchronously while the channel stays open (the fault injector, or the transport failing to
 * allocate a direct buffer) is a <em>soft</em> failure: the outbound path latches, later writes are
 * held, and the held suffix is resent in order or given up as the policy decides. A failure that
 * closes the channel is <em>hard</em>: every pending byte is given up in one event when the
 * connection has closed.
 *
 * <h2>Threading</h2>
 * A tracked socket belongs to the event loop of the context that created it (the verticle that
 * accepted the connection). Every method must be called on that loop; the ledger and all state
 * below are touched only there. This is asserted where cheap.
 */
public final class TrackedSocket {

  private static final Logger log = LoggerFactory.getLogger(TrackedSocket.class);

  /** Pipeline name of the write tracker. */
  public static final String TRACKER = "tether-tracker";

  private enum State { OPEN, LATCHED, CLOSED }

  private enum Stage {
    /** Sent into Vert.x's outbound queue, not yet at the tracker. */
    QUEUED,
    /** Handed to Netty, completion pending. */
    WIRE,
    /** Held after a soft failure, waiting for the decision. */
    HELD
  }

  // Immutable after construction
  private final Vertx vertx;
  private final NetSocket socket;
  private final Channel channel;
  private final TrackingOptions options;
  private final Tether tether;
  private final TetherRecorder recorder;
  private final String server;
  private final String id;
  private final String remote;
  private final FaultInjector injector;
  private final FailureReporter reporter;

  // State accessed exclusively from the connection's event loop
  private final WriteLedger<Write> ledger = new WriteLedger<>();
  private State state = State.OPEN;
  /** The soft failure being handled while LATCHED. */
  private SoftFailure soft;
  /** Soft failures in the current episode (reset once a replay is completely flushed). */
  private int softAttempt;
  /** Last write of the current replay, and the outcome published once it is flushed. */
  private SoftFailure replay;
  private long replayBytes;
  private Write replayLast;
  /** Writes handed to Netty whose completion is pending. */
  private int onWire;
  /** Writes sitting in Vert.x's queue (not yet seen by the tracker). */
  private int inQueue;
  /** An overflow left a gap in the stream: later writes are refused until its decision. */
  private FailureEvent gap;
  /** Bytes refused since the overflow that opened the gap (the overflowing write included). */
  private long gapBytes;
  /** The first hard failure, reported when the connection has closed. */
  private Throwable hardCause;
  /** Set when we close the connection on a decision: what was pending is given up under that event. */
  private FailureEvent closingFor;
  private Decision closingDecision;
  private boolean closeRequested;
  private boolean readFailed;
  private ChannelHandlerContext trackerContext;
  /** A write timeout was reported and nothing has been flushed since: one event per stall. */
  private boolean stalled;
  private long timeoutTimer = -1;
  private boolean full;
  private Handler<Void> drainHandler;
  private Handler<Void> closeHandler;
  private Runnable endHook;
  private Handler<FailureEvent> failureHandler;
  private Handler<RecoveryOutcome> outcomeHandler;

  private TrackedSocket(Vertx vertx, NetSocket socket, TrackingOptions options, Tether tether, long number,
                        long faultIndex) {
    this.vertx = vertx;
    this.socket = socket;
    this.channel = NettyAccess.channel(socket);
    this.options = options;
    this.tether = tether;
    this.recorder = tether.recorder();
    this.server = options.server();
    this.id = server + "-" + number;
    SocketAddress ra = socket.remoteAddress();
    this.remote = ra == null ? "unknown" : ra.host() + ":" + ra.port();
    this.injector = options.faults().enabled() ? options.faults().newInjector(faultIndex) : null;
    this.reporter = new FailureReporter(vertx, server, options.protocol(), options.policies(), options.decisionTimeoutMs());
  }

  /**
   * Wraps an accepted (or connected) socket. Call it on the socket's event loop before the first
   * write, typically first thing in the connect handler.
   *
   * @param number a number unique within the server, used in the connection id and to seed faults
   */
  public static TrackedSocket wrap(Vertx vertx, NetSocket socket, TrackingOptions options, long number) {
    return wrap(vertx, socket, options, number, number);
  }

  /**
   * Like {@link #wrap(Vertx, NetSocket, TrackingOptions, long)}, with the index that seeds this
   * connection's faults given separately (a server numbers its own connections from 1, so the same
   * seed gives the same faults run after run).
   */
  public static TrackedSocket wrap(Vertx vertx, NetSocket socket, TrackingOptions options, long number, long faultIndex) {
    TrackedSocket ts = new TrackedSocket(vertx, socket, options, Tether.of(vertx), number, faultIndex);
    ts.install();
    return ts;
  }

  private void install() {
    assert channel.eventLoop().inEventLoop();
    recorder.connections(server, 1);
    if (!NettyAccess.addFirstOutbound(socket, TRACKER, new Tracker())) {
      // already closed: nothing can be written, the close handler will report
      log.debug("{} closed before tracking started", id);
    } else if (injector != null) {
      NettyAccess.addBefore(socket, TRACKER, FaultInjector.NAME, injector);
    }
    socket.exceptionHandler(this::onReadFailure);
    socket.closeHandler(v -> onClosed());
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** The connection id used in events and logs, e.g. {@code echo-12}. */
  public String id() {
    return id;
  }

  public String remote() {
    return remote;
  }

  /** The wrapped socket, for reading ({@code handler}, {@code pause}, {@code resume}). Do not write to it directly. */
  public NetSocket socket() {
    return socket;
  }

  public TrackingOptions options() {
    return options;
  }

  /** The fault injector of this connection, or null when faults are off. */
  public FaultInjector injector() {
    return injector;
  }

  /**
   * Writes {@code data} as the next range of the stream. The future succeeds when the last byte was
   * handed to the kernel (possibly after a resend), or fails with {@link WriteFailedException} when
   * some of its bytes were given up. The buffer must not be modified afterwards: it is retained
   * until flushed, so that the unsent remainder can be resent.
   */
  public Future<WriteReceipt> write(Buffer data) {
    Promise<WriteReceipt> promise = Promise.promise();
    doWrite(data, promise);
    return promise.future();
  }

  /** Like {@link #write} without a future: tracked all the same, failures reach you as events. */
  public void send(Buffer data) {
    doWrite(data, null);
  }

  /** True when pending bytes reached the high-water mark: pause your source until {@link #drainHandler}. */
  public boolean writeQueueFull() {
    if (ledger.pending() >= options.highWaterMark()) {
      full = true; // remember the episode: the drain handler fires when it ends
      return true;
    }
    return false;
  }

  /** Called once each time pending bytes fall to half the high-water mark after the queue was full. */
  public TrackedSocket drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  /** Called after the connection closed and every byte was accounted for. */
  public TrackedSocket closeHandler(Handler<Void> handler) {
    this.closeHandler = handler;
    return this;
  }

  /** For the server: runs after the connection ended, before the user's close handler. */
  void onEnd(Runnable hook) {
    this.endHook = hook;
  }

  /** Called on the event loop for each failure event of this connection, before it is published. */
  public TrackedSocket failureHandler(Handler<FailureEvent> handler) {
    this.failureHandler = handler;
    return this;
  }

  /** Called on the event loop for each recovery outcome of this connection, before it is published. */
  public TrackedSocket outcomeHandler(Handler<RecoveryOutcome> handler) {
    this.outcomeHandler = handler;
    return this;
  }

  /** The books of this connection now. */
  public LedgerSnapshot ledger() {
    return ledger.snapshot();
  }

  /** Recomputes the books from the pending writes and throws if they do not balance. */
  public void checkInvariant() {
    ledger.checkInvariant();
  }

  /** Writes sitting in Vert.x's outbound queue, not yet handed to Netty. */
  public int queuedWrites() {
    return inQueue;
  }

  /** Writes handed to Netty whose completion is pending. */
  public int writesOnWire() {
    return onWire;
  }

  public boolean isClosed() {
    return state == State.CLOSED;
  }

  /** Closes gracefully: what is on its way is flushed first; held bytes are reported unsent. */
  public Future<Void> close() {
    closeRequested = true;
    return socket.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  private void doWrite(Buffer data, Promise<WriteReceipt> promise) {
    assert channel.eventLoop().inEventLoop() : "tracked socket used off its event loop";
    int n = data.length();
    if (state == State.CLOSED || closeRequested || closingFor != null) {
      recorder.write(server, "rejected");
      if (promise != null) {
        promise.fail(new IllegalStateException("connection " + id + " is closed or closing"));
      }
      return;
    }
    if (n == 0) {
      if (promise != null) {
        promise.complete(new WriteReceipt(ledger.accepted(), ledger.accepted(), 0, false));
      }
      return;
    }
    if (gap != null || ledger.pending() + n > options.maxPendingBytes()) {
      overflow(n, promise);
      return;
    }
    Write w = ledger.accept(new Write(data, promise), n);
    recorder.pending(server, n);
    if (ledger.pending() >= options.highWaterMark()) {
      // remember it now: a single flush may bring pending straight below the mark, and a caller
      // that saw writeQueueFull() must still get its drain
      full = true;
    }
    if (state == State.OPEN) {
      transmit(w);
    } else {
      w.stage(Stage.HELD);
    }
    armTimeout();
  }

  private void transmit(Write w) {
    w.stage(Stage.QUEUED);
    w.set(Write.QUEUED, true);
    inQueue++;
    // the promise travels with the write through Vert.x's queue to Netty; the write listens to it
    ChannelProgressivePromise p = w.nextPromise();
    w.onItsWay = p;
    p.addListener(w);
    NettyAccess.write(socket, w, p);
  }

  /** Called by the tracker when a write comes out of Vert.x's queue. */
  private void admit(ChannelHandlerContext ctx, Write w, ChannelPromise promise) {
    w.set(Write.QUEUED, false);
    inQueue--;
    if (w.stage() != Stage.QUEUED || w.settled()) {
      // latched (or given up) while it waited in Vert.x's queue: it goes no further, and its
      // promise is dropped unresolved (nobody but this write listens to it)
      w.onItsWay = null;
      maybeReplay();
      return;
    }
    w.stage(Stage.WIRE);
    int from = w.flushedBytes();
    w.progress = 0;
    onWire++;
    ChannelPromise p = promise;
    if (p != w.onItsWay) {
      // Vert.x passed its own promise (the writeMessage fallback): follow ours, complete theirs
      p = w.onItsWay;
      p.addListener(new PromiseNotifier<>(promise));
    }
    ctx.write(NettyAccess.byteBuf(w.data, from), p);
  }

  /** Completion of the promise of a write on its way. */
  private void onComplete(Write w, ChannelProgressiveFuture f) {
    if (f != w.onItsWay) {
      return; // a promise dropped by admit
    }
    w.onItsWay = null;
    if (w.stage() != Stage.WIRE) {
      // failed before it left Vert.x's queue (the connection closed): the close gives it up
      if (w.is(Write.QUEUED)) {
        w.set(Write.QUEUED, false);
        inQueue--;
      }
      return;
    }
    onWire--;
    if (f.isSuccess()) {
      flushed(w, w.remaining());
      // a soft failure behind this write waits for it: its event (or its replay) may go now
      maybeEmitSoft();
      maybeReplay();
      return;
    }
    Throwable cause = f.cause();
    if (w.progress > 0 && !w.settled()) {
      flushed(w, Math.min(w.progress, w.remaining()));
    }
    if (cause instanceof PartialWriteException pwe && channel.isActive() && !w.settled()) {
      // the first part is still on its way: follow it as a write of its own
      onWire++;
      int passed = Math.min(pwe.passedBytes(), w.remaining());
      pwe.passed().addListener((ChannelFuture pf) -> onPassedComplete(w, passed, pf));
    }
    if (w.settled()) {
      return;
    }
    if (channel.isActive() && state != State.CLOSED) {
      softFailure(w, cause);
    } else {
      w.stage(Stage.HELD);
      hardFailure(cause);
    }
  }

  private void onPassedComplete(Write w, int passed, ChannelFuture f) {
    onWire--;
    if (f.isSuccess() && !w.settled()) {
      flushed(w, passed);
    } else if (!f.isSuccess()) {
      hardFailure(f.cause());
    }
    maybeEmitSoft();
  }

  private void flushed(Write w, int bytes) {
    if (bytes == 0) {
      return;
    }
    stalled = false;
    boolean done = ledger.flushed(w, bytes);
    recorder.flushed(server, bytes);
    recorder.pending(server, -bytes);
    if (done) {
      recorder.write(server, "ok");
      long nanos = System.nanoTime() - w.acceptedAt;
      recorder.flushTime(server, nanos);
      if (w.receipt != null) {
        w.receipt.complete(new WriteReceipt(w.start(), w.end(), nanos, w.is(Write.RESENT)));
      }
      if (w == replayLast) {
        replayFlushed();
      }
    }
    checkDrain();
  }

  private int giveUp(Write w, FailureKind kind, Throwable cause) {
    long unsentFrom = w.firstUnflushed();
    int bytes = ledger.giveUp(w);
    if (bytes > 0) {
      recorder.unsent(server, kind, bytes);
      recorder.pending(server, -bytes);
      recorder.write(server, "unsent");
      if (w.receipt != null) {
        w.receipt.fail(new WriteFailedException(kind, w.start(), w.end(), unsentFrom, cause));
      }
      if (state != State.CLOSED) {
        checkDrain();
      }
    }
    return bytes;
  }

  private void checkDrain() {
    if (full && ledger.pending() <= options.highWaterMark() / 2) {
      full = false;
      Handler<Void> h = drainHandler;
      if (h != null) {
        h.handle(null);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Soft failures: latch, hold, decide, replay or give up

  private void softFailure(Write failed, Throwable cause) {
    failed.stage(Stage.HELD);
    if (state == State.LATCHED) {
      return; // already holding everything after an earlier failure of this episode
    }
    state = State.LATCHED;
    ledger.forEachOpen(e -> {
      if (e.stage() == Stage.QUEUED) {
        e.stage(Stage.HELD); // refused when it reaches the tracker
      }
    });
    if (replay != null) {
      finishReplay(RecoveryOutcome.FAILED, "resend failed again: " + cause);
    }
    softAttempt++;
    soft = new SoftFailure(failed, kindOf(cause), cause);
    maybeEmitSoft();
  }

  private static FailureKind kindOf(Throwable cause) {
    if (cause instanceof OutOfMemoryError) {
      return FailureKind.RESOURCE_EXHAUSTED;
    }
    if (cause instanceof PartialWriteException) {
      return FailureKind.WRITE_INCOMPLETE;
    }
    return FailureKind.WRITE_FAILED;
  }

  /** Publishes the soft failure once nothing before it is still on the wire, so its counts are exact. */
  private void maybeEmitSoft() {
    SoftFailure s = soft;
    if (s == null || s.event != null || onWire > 0 || state != State.LATCHED || !channel.isActive()) {
      return;
    }
    long[] bytes = new long[2];
    ledger.forEachOpen(e -> {
      bytes[0] += e.length();
      bytes[1] += e.flushedBytes();
    });
    Write first = ledger.oldest();
    if (first == null) {
      // the failed write completed after all (its passed part was all that was left)
      state = State.OPEN;
      soft = null;
      softAttempt = 0;
      return;
    }
    s.event = event(s.kind, Direction.WRITE, bytes[0], bytes[1], first.firstUnflushed(), s.cause, softAttempt, true);
    report(s.event);
  }

  private void maybeReplay() {
    SoftFailure s = soft;
    if (s == null || !s.replayDue || inQueue > 0 || onWire > 0 || state != State.LATCHED) {
      return;
    }
    state = State.OPEN;
    soft = null;
    List<Write> held = new ArrayList<>();
    ledger.forEachOpen(held::add);
    replay = s;
    replayBytes = 0;
    if (held.isEmpty()) {
      replayFlushed();
      return;
    }
    replayLast = held.get(held.size() - 1);
    for (Write w : held) {
      if (state != State.OPEN) {
        break; // a write of the replay failed softly at once: the rest stays held for the next decision
      }
      int rem = w.remaining();
      replayBytes += rem;
      ledger.resent(rem);
      recorder.resent(server, rem);
      w.set(Write.RESENT, true);
      transmit(w);
    }
  }

  private void replayFlushed() {
    softAttempt = 0;
    finishReplay(RecoveryOutcome.OK, null);
  }

  private void finishReplay(String result, String message) {
    SoftFailure r = replay;
    replay = null;
    replayLast = null;
    if (r != null) {
      publish(outcome(r.event, r.decision, replayBytes, result,
        message == null ? "resent " + replayBytes + " bytes" : message));
    }
  }

  private long giveUpHeld(FailureKind kind, Throwable cause) {
    long[] bytes = new long[1];
    List<Write> open = new ArrayList<>();
    ledger.forEachOpen(open::add);
    for (Write w : open) {
      if (w.stage() == Stage.HELD) {
        bytes[0] += giveUp(w, kind, cause);
      }
    }
    return bytes[0];
  }

  // ---------------------------------------------------------------------------------------------
  // Overflow, timeout, read failure, hard failure

  private void overflow(int n, Promise<WriteReceipt> promise) {
    long start = ledger.acceptUnsent(n);
    recorder.unsent(server, FailureKind.WRITE_QUEUE_OVERFLOW, n);
    recorder.write(server, "unsent");
    WriteFailedException ex = new WriteFailedException(FailureKind.WRITE_QUEUE_OVERFLOW, start, start + n, start, null);
    if (promise != null) {
      promise.fail(ex);
    }
    if (gap == null) {
      gapBytes = n;
      gap = event(FailureKind.WRITE_QUEUE_OVERFLOW, Direction.WRITE, n, 0, start, ex, 1, true);
      report(gap);
    } else {
      gapBytes += n;
    }
  }

  private void armTimeout() {
    if (timeoutTimer == -1 && options.writeTimeoutMs() > 0 && state != State.CLOSED) {
      timeoutTimer = vertx.setTimer(options.writeTimeoutMs(), t -> onTimeoutTimer());
    }
  }

  private void onTimeoutTimer() {
    timeoutTimer = -1;
    if (state == State.CLOSED || closingFor != null) {
      return;
    }
    long now = System.nanoTime();
    long limit = options.writeTimeoutMs() * 1_000_000L;
    long requested = 0;
    long flushed = 0;
    long offset = -1;
    long oldestAge = -1;
    List<Write> overdue = new ArrayList<>();
    for (var it = ledger.openEntries(); it.hasNext(); ) {
      Write w = it.next();
      if (w.settled() || w.stage() == Stage.HELD || w.is(Write.TIMEOUT_REPORTED)) {
        continue;
      }
      long age = now - w.acceptedAt;
      if (age >= limit) {
        overdue.add(w);
        requested += w.length();
        flushed += w.flushedBytes();
        if (offset < 0) {
          offset = w.firstUnflushed();
        }
      } else {
        oldestAge = Math.max(oldestAge, age);
        break;
      }
    }
    if (!overdue.isEmpty() && !stalled) {
      stalled = true;
      overdue.forEach(w -> w.set(Write.TIMEOUT_REPORTED, true));
      report(event(FailureKind.WRITE_TIMEOUT, Direction.WRITE, requested, flushed, offset,
        new java.util.concurrent.TimeoutException("not flushed within " + options.writeTimeoutMs() + " ms"), 1, true));
    }
    if (ledger.pending() > 0) {
      long wait = oldestAge < 0 ? limit : limit - oldestAge;
      timeoutTimer = vertx.setTimer(Math.max(1, wait / 1_000_000L), t -> onTimeoutTimer());
    }
  }

  /**
   * An exception on the read path. The first one is reported (an allocation failure while reading
   * as {@code RESOURCE_EXHAUSTED}, anything else as {@code READ_FAILED}) and its policy decides,
   * normally closing: a connection whose reads fail has nothing left to serve. Later ones on the
   * same connection (Netty keeps the channel open after a failed allocation and tries again) are
   * logged at debug only, so one sick connection cannot flood the event bus.
   */
  private void onReadFailure(Throwable cause) {
    if (state == State.CLOSED) {
      return;
    }
    if (readFailed) {
      log.debug("{}: further read failure {}", id, cause.toString());
      return;
    }
    readFailed = true;
    FailureKind kind = cause instanceof OutOfMemoryError ? FailureKind.RESOURCE_EXHAUSTED : FailureKind.READ_FAILED;
    report(event(kind, Direction.READ, 0, 0, 0, cause, 1, false));
  }

  private void hardFailure(Throwable cause) {
    if (hardCause == null) {
      hardCause = cause;
    }
    if (channel.isActive()) {
      abort();
    }
  }

  /**
   * Closes now, failing what Netty still holds. Vert.x's own close first flushes and waits for the
   * flush, which a stalled peer never lets finish; closing from the tracker's place in the pipeline
   * goes straight to the transport.
   */
  private void abort() {
    ChannelHandlerContext ctx = trackerContext;
    if (ctx != null) {
      ctx.close();
    } else {
      channel.close();
    }
  }

  /**
   * Reports a protocol-level failure detected by the owner of this socket (a session layer, say),
   * with zero byte fields, and lets the policy decide.
   */
  public void reportReadFailure(FailureKind kind, Throwable cause) {
    if (state != State.CLOSED) {
      report(event(kind, Direction.READ, 0, 0, 0, cause, 1, false));
    }
  }

  private void onClosed() {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    if (timeoutTimer != -1) {
      vertx.cancelTimer(timeoutTimer);
      timeoutTimer = -1;
    }
    long requested = 0;
    long flushed = 0;
    long offset = -1;
    List<Write> open = new ArrayList<>();
    ledger.forEachOpen(open::add);
    for (Write w : open) {
      requested += w.length();
      flushed += w.flushedBytes();
      if (offset < 0) {
        offset = w.firstUnflushed();
      }
    }
    if (replay != null) {
      finishReplay(RecoveryOutcome.FAILED, "connection closed before the resent bytes were flushed");
    }
    if (soft != null && soft.decision != null && soft.decision.action() == Action.RESEND && closingFor == null) {
      publish(outcome(soft.event, soft.decision, 0, RecoveryOutcome.FAILED,
        "connection closed before the resend"));
    }
    if (closingFor != null) {
      long bytes = 0;
      for (Write w : open) {
        bytes += giveUp(w, closingFor.kind(), hardCause);
      }
      publish(outcome(closingFor, closingDecision, bytes + closingOverflowBytes(),
        closingDecision.escalated() ? RecoveryOutcome.FAILED : RecoveryOutcome.OK, closingDecision.message()));
    } else if (!open.isEmpty()) {
      FailureKind kind = hardCause != null ? FailureKind.WRITE_FAILED : FailureKind.WRITE_INCOMPLETE;
      Throwable cause = hardCause != null ? hardCause
        : new IllegalStateException("connection closed with " + (requested - flushed) + " bytes pending");
      for (Write w : open) {
        giveUp(w, kind, cause);
      }
      report(event(kind, Direction.WRITE, requested, flushed, offset, cause, Math.max(1, softAttempt), false));
    }
    recorder.connections(server, -1);
    assert ledger.pending() == 0 : "pending bytes after close: " + ledger.snapshot();
    if (endHook != null) {
      endHook.run();
    }
    Handler<Void> h = closeHandler;
    if (h != null) {
      h.handle(null);
    }
  }

  private long closingOverflowBytes() {
    return closingFor == gap ? gapBytes : 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Events and decisions

  private FailureEvent event(FailureKind kind, Direction dir, long requested, long flushed, long offset,
                             Throwable cause, int attempt, boolean soft) {
    return reporter.event(id, remote, kind, dir, requested, flushed, offset, cause, attempt, soft);
  }

  /**
   * Counts, logs and publishes {@code e}, asks the recovery verticle (the server's own policy when
   * nobody answers in time), and carries the decision out on this connection's event loop, in a
   * later turn than the one that failed.
   */
  private void report(FailureEvent e) {
    Handler<FailureEvent> h = failureHandler;
    if (h != null) {
      h.handle(e);
    }
    Context context = vertx.getOrCreateContext();
    reporter.report(e).onComplete(ar -> context.runOnContext(v -> execute(e, ar.result())));
  }

  /** Carries a decision out; runs on the connection's event loop (the request was made from it). */
  private void execute(FailureEvent e, Decision d) {
    assert channel.eventLoop().inEventLoop();
    boolean isSoft = soft != null && soft.event == e;
    boolean isGap = gap == e;
    if (state == State.CLOSED) {
      // hard failures are decided after the fact: nothing is left to do on this connection
      String result = d.escalated() || d.action() == Action.RESEND ? RecoveryOutcome.FAILED : RecoveryOutcome.OK;
      publish(outcome(e, d, e.unsent(), result,
        d.action() == Action.RESEND ? "connection closed: nothing can be resent on it" : d.message()));
      return;
    }
    switch (d.action()) {
      case RESEND -> {
        if (isSoft) {
          soft.decision = d;
          vertx.setTimer(Math.max(1, d.delayMs()), t -> {
            if (soft != null && soft.event == e) {
              soft.replayDue = true;
              maybeReplay();
            }
          });
        } else if (isGap) {
          closeFor(e, new Decision(Action.CLOSE, 0, d.policy(), true,
            "overflowed bytes are not retained and cannot be resent"));
        } else {
          publish(outcome(e, d, 0, RecoveryOutcome.OK, "nothing held: the bytes are still in the transport"));
        }
      }
      case DROP -> {
        long bytes = isGap ? gapBytes : 0;
        if (isSoft) {
          bytes += giveUpHeld(e.kind(), null);
          soft = null;
          softAttempt = 0;
          state = State.OPEN;
        }
        if (isGap) {
          gap = null;
        }
        publish(outcome(e, d, bytes, d.escalated() ? RecoveryOutcome.FAILED : RecoveryOutcome.OK, d.message()));
      }
      case NONE -> {
        if (isSoft) {
          closeFor(e, new Decision(Action.CLOSE, 0, d.policy(), true, "held bytes cannot wait for ever"));
        } else {
          if (isGap) {
            gap = null;
          }
          publish(outcome(e, d, 0, RecoveryOutcome.OK, d.message()));
        }
      }
      case CLOSE, RESUME -> closeFor(e, d);
    }
  }

  private void closeFor(FailureEvent e, Decision d) {
    if (closingFor == null) {
      closingFor = e;
      closingDecision = d;
      if (soft != null) {
        soft.decision = d;
      }
    } else {
      publish(outcome(e, d, 0, RecoveryOutcome.OK, "already closing"));
    }
    abort();
  }

  private RecoveryOutcome outcome(FailureEvent e, Decision d, long bytes, String result, String message) {
    return reporter.outcome(e, d, bytes, result, message);
  }

  private void publish(RecoveryOutcome o) {
    Handler<RecoveryOutcome> h = outcomeHandler;
    if (h != null) {
      h.handle(o);
    }
    reporter.publish(o);
  }

  // ---------------------------------------------------------------------------------------------

  /** A soft failure being handled: the latch it set, its event once published, and its decision. */
  private static final class SoftFailure {
    final Write failed;
    final FailureKind kind;
    final Throwable cause;
    FailureEvent event;
    Decision decision;
    boolean replayDue;

    SoftFailure(Write failed, FailureKind kind, Throwable cause) {
      this.failed = failed;
      this.kind = kind;
      this.cause = cause;
    }
  }

  /**
   * One accepted write: its ledger entry, the retained buffer, and where it is on its way. It is
   * also the message that travels through Vert.x's queue to the tracker, the Netty promise of its
   * first transmission (one object per write, not two: a replay gets a fresh promise) and the
   * listener of whichever promise is on its way.
   */
  private final class Write extends DefaultChannelProgressivePromise
    implements LedgerEntry, ChannelProgressiveFutureListener {
    final Buffer data;
    final Promise<WriteReceipt> receipt;
    final long acceptedAt = System.nanoTime();
    // ledger state (see LedgerEntry)
    long start;
    int length;
    int flushed;
    /** Progress reported by Netty for the bytes on the wire. */
    int progress;
    /** The promise of the transmission on its way (in Vert.x's queue or in Netty), if any. */
    ChannelProgressivePromise onItsWay;
    /** The flags below and the stage, in one byte: this object is made for every write. */
    byte bits;

    static final int SETTLED = 1;
    static final int GIVEN_UP = 1 << 1;
    /** A message for this write is in Vert.x's queue. */
    static final int QUEUED = 1 << 2;
    /** This object already served as the promise of a transmission (promises complete once). */
    static final int PROMISE_USED = 1 << 3;
    static final int RESENT = 1 << 4;
    static final int TIMEOUT_REPORTED = 1 << 5;
    private static final int STAGE_SHIFT = 6;
    private static final Stage[] STAGES = {null, Stage.QUEUED, Stage.WIRE, Stage.HELD};

    boolean is(int flag) {
      return (bits & flag) != 0;
    }

    void set(int flag, boolean on) {
      bits = (byte) (on ? bits | flag : bits & ~flag);
    }

    Stage stage() {
      return STAGES[(bits >> STAGE_SHIFT) & 3];
    }

    void stage(Stage stage) {
      bits = (byte) ((bits & ((1 << STAGE_SHIFT) - 1)) | ((stage.ordinal() + 1) << STAGE_SHIFT));
    }

    Write(Buffer data, Promise<WriteReceipt> receipt) {
      super(channel);
      this.data = data;
      this.receipt = receipt;
    }

    /** The promise for the next transmission: this object the first time, a fresh one after. */
    ChannelProgressivePromise nextPromise() {
      if (!is(PROMISE_USED)) {
        set(PROMISE_USED, true);
        return this;
      }
      return channel.newProgressivePromise();
    }

    @Override
    public long start() {
      return start;
    }

    @Override
    public int length() {
      return length;
    }

    @Override
    public int flushedBytes() {
      return flushed;
    }

    @Override
    public boolean settled() {
      return is(SETTLED);
    }

    @Override
    public boolean givenUp() {
      return is(GIVEN_UP);
    }

    @Override
    public void ledgerInit(long start, int length) {
      this.start = start;
      this.length = length;
    }

    @Override
    public void ledgerFlushed(int bytes) {
      flushed += bytes;
    }

    @Override
    public void ledgerSettle(boolean givenUp) {
      set(SETTLED, true);
      set(GIVEN_UP, givenUp);
    }

    @Override
    public void operationProgressed(ChannelProgressiveFuture future, long progress, long total) {
      if (future == onItsWay) {
        this.progress = (int) Math.min(progress, Integer.MAX_VALUE);
      }
    }

    @Override
    public void operationComplete(ChannelProgressiveFuture future) {
      onComplete(this, future);
    }
  }

  /** First handler on the outbound path: unwraps tracked writes and follows their promises. */
  private final class Tracker extends ChannelOutboundHandlerAdapter {
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      trackerContext = ctx;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      if (msg instanceof TrackedSocket.Write w) {
        admit(ctx, w, promise);
      } else {
        ctx.write(msg, promise);
      }
    }
  }
}
