package dev.tether.net;

import dev.tether.MemoryBudget;
import dev.tether.MemoryShedException;
import dev.tether.Tether;
import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.fault.FaultInjector;
import dev.tether.internal.ContextAccess;
import dev.tether.internal.NettyAccess;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.ledger.WriteLedger;
import dev.tether.metrics.TetherRecorder;
import dev.tether.net.impl.Callbacks;
import dev.tether.net.impl.Callbacks.Kind;
import dev.tether.internal.LentBuffer;
import dev.tether.net.impl.LentReader;
import dev.tether.net.impl.TlsRecords;
import dev.tether.net.impl.TrackedWrite;
import dev.tether.net.impl.WriteTimeouts;
import dev.tether.net.impl.WriteTracker;
import dev.tether.net.impl.TrackedWrite.Stage;
import dev.tether.net.spi.PartialWriteException;
import dev.tether.recovery.FailureReporter;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.PromiseInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The tracked socket: the Vert.x face of a connection (streams, handlers, threading) and its books.
 * The pieces it is made of each have one job:
 * <ul>
 *   <li>{@link WriteTracker}, the Netty handler where writes enter the transport: it keeps the
 *       stream's order, holds writes after a soft failure and replays them;</li>
 *   <li>{@link WriteLedger} with {@link TrackedWrite} entries: the byte accounting;</li>
 *   <li>{@link WriteTimeouts}: stall detection;</li>
 *   <li>{@link Callbacks}: user callbacks, deferred past state changes and guarded;</li>
 *   <li>{@link FailureReporter}: events, decisions and outcomes on the event bus.</li>
 * </ul>
 * This class ties them together: it accounts for what the tracker reports, turns failures into
 * events and carries decisions out.
 *
 * <p>Threading: everything below runs on the event loop of the socket's context; public methods
 * hop onto it or refuse to run elsewhere (see {@link TrackedSocket}).
 */
final class TrackedSocketImpl extends MemoryBudget.Account
  implements TrackedSocket, WriteTracker.Listener, Callbacks.Host, Handler<Object> {

  private static final Logger log = LoggerFactory.getLogger(TrackedSocketImpl.class);
  private static final AtomicLong NUMBERS = new AtomicLong();
  private static final VarHandle CLOSED;

  static {
    try {
      CLOSED = MethodHandles.lookup().findVarHandle(TrackedSocketImpl.class, "closed", PromiseInternal.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private enum State { OPEN, CLOSED }

  // Immutable after construction
  private final Vertx vertx;
  private final NetSocket socket;
  private final Channel channel;
  private final ContextInternal context;
  private final TrackingOptions options;
  private final TetherRecorder recorder;
  private final String server;
  /** The number in this connection's id ({@code <server>-<number>}); the id string is made on first use. */
  private final long number;
  private final FaultInjector injector;
  /**
   * Reporter, timeouts and write meters: per server (shared by its connections, see {@link Shared})
   * or per client connection; bound to the node's {@link Tether} as it was when this connection opened.
   */
  private final Bound shared;
  /** The recorder's meters of this server's write path (no lookup by name per write). */
  private final TetherRecorder.WritePath meters;
  private final Callbacks callbacks;
  private final WriteTracker tracker;
  /** Completed when the connection has closed; made on first ask (see {@link #closedPromise}). */
  private volatile PromiseInternal<Void> closed;
  /** Set once on the event loop when the connection has closed and its books are done. */
  private volatile boolean finished;

  // State accessed exclusively from the connection's event loop
  private final WriteLedger<TrackedWrite> ledger = new WriteLedger<>();
  private State state = State.OPEN;
  private long highWaterMark;
  /** The soft failure being handled while the tracker is latched. */
  private SoftFailure soft;
  /** Soft failures in the current episode (reset once a replay is completely flushed). */
  private int softAttempt;
  /** The soft failure whose replay is under way, its last resent write and the bytes resent. */
  private SoftFailure replay;
  private long replayBytes;
  private TrackedWrite replayLast;
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
  /** A write timeout was reported and nothing has been flushed since: one event per stall. */
  private boolean stalled;
  /** The armed write-timeout check (a Netty task on this channel's event loop), or null. */
  private ScheduledFuture<?> timeoutTask;
  /** Made on first use (events, logs, toString): most connections never need them. Benign races. */
  private String id;
  private String remote;
  private boolean full;
  private Runnable endHook;
  /** The zero-copy read path, when the user set a {@link #zeroCopyHandler}; set and used on the loop. */
  private volatile LentReader lent;
  /** What must live as long as this socket (the client that connected it: Vert.x closes collected clients). */
  private Object keepAlive;
  /** The pending cost charged to this connection's account in the node's memory budget (the socket is its own
   * account: its pending cost, plus what others charge to it); kept equal to cost() after every change. */
  private long memoryCost;
  /** Reading paused by the user (pause/resume), and by the memory budget: the socket reads when neither. */
  private boolean userPaused;
  private boolean memoryPaused;
  /** Demand a user's fetch asked for while the memory budget held reading. */
  private long heldFetch;

  // Handlers: set from any thread, read on the event loop
  private volatile Handler<Buffer> dataHandler;
  private volatile Handler<Void> drainHandler;
  private volatile Handler<Void> closeHandler;
  private volatile Handler<Throwable> exceptionHandler;
  private volatile Handler<FailureEvent> failureHandler;
  private volatile Handler<RecoveryOutcome> outcomeHandler;

  private TrackedSocketImpl(Vertx vertx, NetSocket socket, TrackingOptions options, long number, long faultIndex,
                            Shared shared) {
    super(Tether.of(vertx).memory(), "connection");
    this.vertx = vertx;
    this.socket = socket;
    this.channel = NettyAccess.channel(socket);
    this.context = NettyAccess.context(socket);
    this.options = options;
    Tether tether = Tether.of(vertx);
    this.recorder = tether.recorder();
    this.server = options.server();
    this.number = number;
    this.injector = options.faults().enabled() ? options.faults().newInjector(faultIndex) : null;
    if (shared == null) {
      shared = shared(vertx, options);
    }
    this.shared = shared.bind(tether);
    this.meters = this.shared.meters;
    this.callbacks = new Callbacks(this);
    this.tracker = new WriteTracker(socket, this);
    this.highWaterMark = options.highWaterMark();
  }

  /**
   * What every connection of one server can share: immutable, used from any of its event loops. A
   * server makes one ({@link #shared}); a socket wrapped on its own makes its own.
   */
  static final class Shared {
    private final Vertx vertx;
    private final TrackingOptions options;
    private final WriteTimeouts timeouts;
    /** What the connections opened under the node's current Tether share; made again if it is replaced. */
    private volatile Bound bound;

    private Shared(Vertx vertx, TrackingOptions options) {
      this.vertx = vertx;
      this.options = options;
      this.timeouts = new WriteTimeouts(options.writeTimeoutMs());
    }

    /**
     * The objects for a connection opening now under {@code tether} ({@code Tether.install} may replace
     * the node's recorder, name or failure budget: later connections get the new ones, as each used to
     * get its own reporter).
     */
    Bound bind(Tether tether) {
      Bound b = bound;
      if (b == null || b.tether != tether) {
        b = bound = new Bound(tether, new FailureReporter(vertx, options.server(), options.protocol(),
          options.policies(), options.decisionTimeoutMs()), timeouts, tether.recorder().writePath(options.server()));
      }
      return b;
    }
  }

  /** The shared objects of one server under one {@link Tether}: immutable. */
  static final class Bound {
    final Tether tether;
    final FailureReporter reporter;
    final WriteTimeouts timeouts;
    final TetherRecorder.WritePath meters;

    Bound(Tether tether, FailureReporter reporter, WriteTimeouts timeouts, TetherRecorder.WritePath meters) {
      this.tether = tether;
      this.reporter = reporter;
      this.timeouts = timeouts;
      this.meters = meters;
    }
  }

  /** The shared objects of connections tracked with {@code options} on {@code vertx}. */
  static Shared shared(Vertx vertx, TrackingOptions options) {
    return new Shared(vertx, options);
  }

  // Callbacks.Host: where this connection's callbacks run

  @Override
  public void runLater(Runnable task) {
    context.runOnContext(v -> task.run());
  }

  @Override
  public void runOnContext(Runnable task) {
    ContextAccess.dispatch(context, task);
  }

  @Override
  public String connectionId() {
    return id();
  }

  /** A number unique in this JVM, for connection ids of sockets wrapped outside a server. */
  static long nextNumber() {
    return NUMBERS.incrementAndGet();
  }

  /**
   * Wraps {@code socket} on its event loop (at once when called there).
   *
   * @param faultIndex the index that seeds this connection's faults (a server numbers its own
   *                   connections from 1, so the same seed gives the same faults run after run)
   */
  static Future<TrackedSocket> wrap(Vertx vertx, NetSocket socket, TrackingOptions options, long number,
                                           long faultIndex) {
    ContextInternal ctx = NettyAccess.context(socket);
    if (NettyAccess.channel(socket).eventLoop().inEventLoop()) {
      return Future.succeededFuture(create(vertx, socket, options, number, faultIndex));
    }
    Promise<TrackedSocket> p = ctx.promise();
    ctx.runOnContext(v -> p.complete(create(vertx, socket, options, number, faultIndex)));
    return p.future();
  }

  /** Wraps {@code socket}; must be called on its event loop. */
  static TrackedSocketImpl create(Vertx vertx, NetSocket socket, TrackingOptions options, long number,
                                         long faultIndex) {
    return create(vertx, socket, options, number, faultIndex, null);
  }

  /**
   * Wraps {@code socket} with the per-server objects {@code shared} (null: made for this connection);
   * must be called on its event loop.
   */
  static TrackedSocketImpl create(Vertx vertx, NetSocket socket, TrackingOptions options, long number,
                                  long faultIndex, Shared shared) {
    TrackedSocketImpl ts = new TrackedSocketImpl(vertx, socket, options, number, faultIndex, shared);
    ts.install();
    return ts;
  }

  private void install() {
    requireLoop("wrap");
    recorder.connections(server, 1);
    // the socket is its own account (one object less per connection), and its id is built only if a log line
    // needs it: idle connections are many
    budget().join(this);
    if (!NettyAccess.addFirstOutbound(socket, WriteTracker.NAME, tracker)) {
      // already closed: nothing can be written, the close handler will report
      log.debug("{} closed before tracking started", id());
    } else {
      // TLS: one record per piece of a write, progress per record (see TlsRecords); no-op in plaintext
      TlsRecords.install(channel);
      if (injector != null) {
        NettyAccess.addBefore(socket, WriteTracker.NAME, FaultInjector.NAME, injector);
      }
    }
    // this object is the socket's exception and close handler (and read handler, see handler()):
    // no handler objects per connection
    socket.exceptionHandler(self());
    socket.closeHandler(self());
  }

  @SuppressWarnings("unchecked")
  private <T> Handler<T> self() {
    return (Handler<T>) (Handler<?>) this;
  }

  /**
   * The socket's read, exception and close handler in one (Vert.x calls it on the event loop): a
   * buffer is data for the user's read handler, a throwable an exception, null the close.
   */
  @Override
  public void handle(Object event) {
    if (event instanceof Buffer buf) {
      Handler<Buffer> h = dataHandler;
      if (h != null) {
        onData(h, buf);
      }
    } else if (event instanceof Throwable t) {
      onException(t);
    } else {
      onClosed();
    }
  }

  /** The promise of {@link #close()}'s future, made on first ask; complete at once when already closed. */
  private PromiseInternal<Void> closedPromise() {
    PromiseInternal<Void> p = closed;
    if (p == null) {
      PromiseInternal<Void> made = context.promise();
      p = CLOSED.compareAndExchange(this, null, made) == null ? made : closed;
      // finishClose sets finished, then reads closed; we set closed, then read finished: one of us completes it
      if (finished) {
        p.tryComplete();
      }
    }
    return p;
  }

  /** Names of the channel's pipeline handlers, head first (for tests and diagnostics). */
  java.util.List<String> pipelineNames() {
    return channel.pipeline().names();
  }

  /** Keeps {@code owner} reachable as long as this socket is. */
  void keepAlive(Object owner) {
    this.keepAlive = owner;
  }

  /** For the server: runs once after the connection ended, whatever user code did. */
  void onEnd(Runnable hook) {
    this.endHook = hook;
  }

  // ---------------------------------------------------------------------------------------------
  // Threading

  private boolean onLoop() {
    return channel.eventLoop().inEventLoop();
  }

  private void requireLoop(String what) {
    if (!onLoop()) {
      throw new IllegalStateException(what + " of tracked socket " + id() + " called on " + Thread.currentThread().getName()
        + ", off its event loop; call it from the socket's context (context().runOnContext)");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Identity

  @Override
  public String id() {
    String s = id;
    if (s == null) {
      s = id = server + "-" + number;
    }
    return s;
  }

  @Override
  public String remote() {
    String s = remote;
    if (s == null) {
      // Vert.x and Netty keep the peer's address after close: asking late still names it
      SocketAddress ra = socket.remoteAddress();
      s = remote = ra == null ? "unknown" : ra.host() + ":" + ra.port();
    }
    return s;
  }

  @Override
  public SocketAddress remoteAddress() {
    return socket.remoteAddress();
  }

  @Override
  public SocketAddress localAddress() {
    return socket.localAddress();
  }

  @Override
  public Context context() {
    return context;
  }

  @Override
  public TrackingOptions options() {
    return options;
  }

  @Override
  public FaultInjector injector() {
    return injector;
  }

  @Override
  public String toString() {
    return "TrackedSocket[" + id() + " " + remote() + "]";
  }

  // ---------------------------------------------------------------------------------------------
  // Writing: public face

  @Override
  public Future<Void> write(Buffer data) {
    PromiseInternal<Void> p = context.promise();
    Object bytes = payload(data);
    if (onLoop()) {
      enterWrite(bytes, p, false);
    } else {
      context.runOnContext(v -> enterWrite(bytes, p, false));
    }
    return p.future();
  }

  @Override
  public Future<WriteReceipt> writeTracked(Buffer data) {
    PromiseInternal<WriteReceipt> p = context.promise();
    Object bytes = payload(data);
    if (onLoop()) {
      enterWrite(bytes, p, true);
    } else {
      context.runOnContext(v -> enterWrite(bytes, p, true));
    }
    return p.future();
  }

  @Override
  public void send(Buffer data) {
    Object bytes = payload(data);
    if (onLoop()) {
      enterWrite(bytes, null, false);
    } else {
      context.runOnContext(v -> enterWrite(bytes, null, false));
    }
  }

  /**
   * What a write holds: the buffer itself, or for a {@link LentBuffer} (pooled memory lent to a
   * read handler) a reference of its memory taken now, in the caller's call, while the lender still
   * holds it. That reference is the write's: released exactly once, when the write settles, or at
   * once when the write is refused ({@link #drop}).
   */
  private static Object payload(Buffer data) {
    if (data instanceof LentBuffer lb) {
      return lb.byteBuf().retain();
    }
    return data;
  }

  private static void drop(Object bytes) {
    if (bytes instanceof ByteBuf b) {
      b.release();
    }
  }

  private void enterWrite(Object data, Promise<?> waiter, boolean receipt) {
    // a user's call: its receipt, a drain or a failure it causes run after it returned
    callbacks.enterCall();
    try {
      doWrite(data, waiter, receipt);
    } finally {
      callbacks.exitCall();
    }
  }

  @Override
  public Future<Void> end() {
    return close();
  }

  @Override
  public Future<Void> close() {
    if (!onLoop()) {
      context.runOnContext(v -> close());
      return closedPromise().future();
    }
    if (state != State.CLOSED && !closeRequested) {
      closeRequested = true;
      callbacks.enterCall(); // what closing fails at once is reported after close() returned
      try {
        socket.close();
      } finally {
        callbacks.exitCall();
      }
    }
    return closedPromise().future();
  }

  @Override
  public TrackedSocket setWriteQueueMaxSize(int maxBytes) {
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("write queue max size must be > 0, got " + maxBytes);
    }
    long mark = Math.min(maxBytes, options.maxPendingBytes());
    if (onLoop()) {
      highWaterMark = mark;
    } else {
      context.runOnContext(v -> highWaterMark = mark);
    }
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    requireLoop("writeQueueFull");
    if (pendingCost() >= highWaterMark) {
      full = true; // remember the episode: the drain handler runs when it ends
      return true;
    }
    return false;
  }

  @Override
  public TrackedSocket drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  @Override
  public TrackedSocket exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading: the socket's read side, with user handlers guarded

  @Override
  public TrackedSocket handler(Handler<Buffer> handler) {
    if (lent != null) {
      zeroCopyHandler(null);
    }
    dataHandler = handler;
    socket.handler(handler == null ? null : self());
    return this;
  }

  @Override
  public TrackedSocket zeroCopyHandler(Handler<Buffer> handler) {
    if (!onLoop()) {
      context.runOnContext(v -> zeroCopyHandler(handler));
      return this;
    }
    LentReader r = lent;
    if (handler == null) {
      if (r != null) {
        lent = null;
        // what waited for a resume is released with the reader (handlerRemoved)
        channel.pipeline().remove(r);
        channel.config().setAutoRead(true);
        if (userPaused || memoryPaused) {
          socket.pause(); // still paused, now in Vert.x's queue
        }
      }
      return this;
    }
    // entered from a Netty handler: run the user's handler with the socket's context current, as
    // Vert.x does (emit), guarded; both lambdas are made once, not per read
    Handler<Buffer> guarded = buf -> onData(handler, buf);
    java.util.function.Consumer<Buffer> sink = buf -> context.emit(buf, guarded);
    if (r != null) {
      r.sink(sink);
      return this;
    }
    r = new LentReader(sink);
    // just before Vert.x's handler, behind the tracker: reads stop here, Vert.x's flushes pass here
    if (NettyAccess.addFirstOutbound(socket, LentReader.NAME, r)) {
      lent = r;
      // Vert.x's own queue gets no reads from now on; a pause in force moves to the new path
      socket.resume();
      if (userPaused || memoryPaused) {
        r.pause();
      }
    }
    return this;
  }

  private void onData(Handler<Buffer> handler, Buffer buf) {
    callbacks.enter();
    try {
      handler.handle(buf);
    } catch (Throwable t) {
      callbacks.threw(Kind.READ, t);
    } finally {
      callbacks.exit();
    }
  }

  @Override
  public TrackedSocket pause() {
    if (!onLoop()) {
      context.runOnContext(v -> pause());
      return this;
    }
    userPaused = true;
    readPause();
    return this;
  }

  @Override
  public TrackedSocket resume() {
    if (!onLoop()) {
      context.runOnContext(v -> resume());
      return this;
    }
    userPaused = false;
    if (!memoryPaused) {
      readResume();
    }
    return this;
  }

  @Override
  public TrackedSocket fetch(long amount) {
    if (!onLoop()) {
      context.runOnContext(v -> fetch(amount));
      return this;
    }
    if (memoryPaused) {
      heldFetch = heldFetch + amount < 0 ? Long.MAX_VALUE : heldFetch + amount;
    } else {
      readFetch(amount);
    }
    return this;
  }

  // Reading on or off, on whichever path reads: Vert.x's (copies) or the zero-copy one (event loop)

  private void readPause() {
    LentReader r = lent;
    if (r != null) {
      r.pause();
    } else {
      socket.pause();
    }
  }

  private void readResume() {
    LentReader r = lent;
    if (r != null) {
      r.resume();
    } else {
      socket.resume();
    }
  }

  /** On the zero-copy path any positive demand resumes reading (as Vert.x's message mode does). */
  private void readFetch(long amount) {
    LentReader r = lent;
    if (r == null) {
      socket.fetch(amount);
    } else if (amount > 0) {
      r.resume();
    }
  }

  /** The memory budget's back-pressure: reading stops while on, whatever the user asked (event loop). */
  private void memoryPause(boolean on) {
    if (on == memoryPaused || state == State.CLOSED) {
      return;
    }
    memoryPaused = on;
    if (on) {
      readPause();
    } else if (!userPaused) {
      readResume();
    } else if (heldFetch > 0) {
      long n = heldFetch;
      heldFetch = 0;
      readFetch(n);
    }
  }

  @Override
  public MemoryBudget.Account memory() {
    return this;
  }

  @Override
  public TrackedSocket endHandler(Handler<Void> handler) {
    socket.endHandler(handler == null ? null : v -> callbacks.run(() -> callbacks.post(Kind.END, () -> handler.handle(null))));
    return this;
  }

  // ---------------------------------------------------------------------------------------------
  // Life cycle and books: public face

  @Override
  public TrackedSocket closeHandler(Handler<Void> handler) {
    this.closeHandler = handler;
    return this;
  }

  @Override
  public TrackedSocket failureHandler(Handler<FailureEvent> handler) {
    this.failureHandler = handler;
    return this;
  }

  @Override
  public TrackedSocket outcomeHandler(Handler<RecoveryOutcome> handler) {
    this.outcomeHandler = handler;
    return this;
  }

  @Override
  public void reportFailure(FailureKind kind, Throwable cause) {
    if (!onLoop()) {
      context.runOnContext(v -> reportFailure(kind, cause));
      return;
    }
    callbacks.enterCall();
    try {
      if (state != State.CLOSED) {
        report(event(kind, Direction.READ, 0, 0, 0, cause, 1, false));
      }
    } finally {
      callbacks.exitCall();
    }
  }

  @Override
  public LedgerSnapshot ledger() {
    requireLoop("ledger");
    return ledger.snapshot();
  }

  @Override
  public void checkInvariant() {
    requireLoop("checkInvariant");
    ledger.checkInvariant();
    if (state == State.CLOSED && ledger.pending() != 0) {
      throw new IllegalStateException(id() + ": " + ledger.pending() + " bytes pending after close");
    }
  }

  @Override
  public long pendingCost() {
    requireLoop("pendingCost");
    return cost();
  }

  private long cost() {
    return ledger.pending() + (long) ledger.openCount() * TrackingOptions.WRITE_OVERHEAD_BYTES;
  }

  @Override
  public int queuedWrites() {
    requireLoop("queuedWrites");
    return tracker.inQueue();
  }

  @Override
  public int writesOnWire() {
    requireLoop("writesOnWire");
    return tracker.onWire();
  }

  @Override
  public boolean isClosed() {
    return finished;
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  private void doWrite(Object data, Promise<?> waiter, boolean receipt) {
    int n = data instanceof ByteBuf b ? b.readableBytes() : ((Buffer) data).length();
    if (state == State.CLOSED || closeRequested || closingFor != null) {
      drop(data);
      recorder.write(server, "rejected");
      if (waiter != null) {
        IllegalStateException ex = new IllegalStateException("connection " + id() + " is closed or closing");
        callbacks.post(Kind.RECEIPT, () -> waiter.fail(ex));
      }
      return;
    }
    if (n == 0) {
      drop(data);
      if (waiter != null) {
        long at = ledger.accepted();
        callbacks.post(Kind.RECEIPT, () -> succeed(waiter, receipt, new WriteReceipt(at, at, 0, false)));
      }
      return;
    }
    if (gap != null || cost() + n + TrackingOptions.WRITE_OVERHEAD_BYTES > options.maxPendingBytes()) {
      drop(data);
      overflow(n, waiter);
      return;
    }
    if (options.chargesWrites() && !charge(n + TrackingOptions.WRITE_OVERHEAD_BYTES)) {
      // the node's memory budget chose this connection for shedding: nothing more is retained
      drop(data);
      recorder.write(server, "rejected");
      if (waiter != null) {
        IllegalStateException ex = new IllegalStateException("connection " + id() + " is being shed by the node memory budget");
        callbacks.post(Kind.RECEIPT, () -> waiter.fail(ex));
      }
      return;
    }
    if (options.chargesWrites()) {
      memoryCost += n + TrackingOptions.WRITE_OVERHEAD_BYTES;
    }
    TrackedWrite w = ledger.accept(data instanceof ByteBuf b
      ? new TrackedWrite(channel, tracker, b, waiter, receipt)
      : new TrackedWrite(channel, tracker, (Buffer) data, waiter, receipt), n);
    meters.pending(n);
    if (cost() >= highWaterMark) {
      // remember it now: a single flush may bring the cost straight below the mark, and a caller
      // that saw writeQueueFull() must still get its drain
      full = true;
    }
    // on its way even while latched: the tracker holds it, behind the writes held before it
    tracker.transmit(w);
    // the write-timeout check is armed by the tracker when a flush leaves bytes unflushed
    // (unflushedAfterFlush): a write the kernel takes at once never arms it
  }

  @SuppressWarnings("unchecked")
  private static void succeed(Promise<?> waiter, boolean receipt, WriteReceipt r) {
    if (receipt) {
      ((Promise<WriteReceipt>) waiter).complete(r);
    } else {
      ((Promise<Void>) waiter).complete();
    }
  }

  @Override
  public void flushed(TrackedWrite w, int bytes) {
    if (bytes == 0) {
      return;
    }
    stalled = false;
    boolean done = ledger.flushed(w, bytes);
    creditMemory();
    if (!done) {
      meters.flushedPart(bytes);
    } else {
      long nanos = System.nanoTime() - w.acceptedAt;
      // flushed, pending, writes{ok} and the flush time in one call, no lookup by server name
      meters.writeFlushed(bytes, nanos);
      Promise<?> waiter = w.waiter;
      if (waiter != null) {
        boolean resent = w.is(TrackedWrite.RESENT);
        callbacks.post(Kind.RECEIPT, () -> succeed(waiter, w.wantsReceipt(), new WriteReceipt(w.start(), w.end(), nanos, resent)));
      }
      if (w == replayLast) {
        replayFlushed();
      }
    }
    checkDrain();
  }

  private int giveUp(TrackedWrite w, FailureKind kind, Throwable cause) {
    long unsentFrom = w.firstUnflushed();
    int bytes = ledger.giveUp(w);
    creditMemory();
    if (bytes > 0) {
      recorder.unsent(server, kind, bytes);
      recorder.pending(server, -bytes);
      recorder.write(server, "unsent");
      Promise<?> waiter = w.waiter;
      if (waiter != null) {
        WriteFailedException ex = new WriteFailedException(kind, w.start(), w.end(), unsentFrom, cause);
        callbacks.post(Kind.RECEIPT, () -> waiter.fail(ex));
      }
      if (state != State.CLOSED) {
        checkDrain();
      }
    }
    return bytes;
  }

  /** Returns to the memory budget what the pending cost no longer holds. */
  private void creditMemory() {
    if (memoryCost == 0) {
      return; // nothing charged (or writes not charged: TrackingOptions.setChargeWrites)
    }
    long c = cost();
    if (c < memoryCost) {
      credit(memoryCost - c);
      memoryCost = c;
    }
  }

  private void checkDrain() {
    if (full && cost() <= highWaterMark / 2) {
      full = false;
      Handler<Void> h = drainHandler;
      if (h != null) {
        callbacks.post(Kind.DRAIN, () -> h.handle(null));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // What the tracker reports (entered from Netty: each is an entry point of its own)

  @Override
  public void softFailure(TrackedWrite failed, Throwable cause) {
    callbacks.enter();
    try {
      if (soft != null) {
        return; // already handling a soft failure of this episode: the write is held with the rest
      }
      if (replay != null) {
        finishReplay(RecoveryOutcome.FAILED, "resend failed again: " + cause);
      }
      softAttempt++;
      soft = new SoftFailure(kindOf(cause), cause);
      maybeEmitSoft();
    } finally {
      callbacks.exit();
    }
  }

  @Override
  public void hardFailure(TrackedWrite w, Throwable cause) {
    if (hardCause == null) {
      hardCause = cause;
    }
    if (channel.isActive()) {
      tracker.abort();
    }
  }

  @Override
  public void unorderable(TrackedWrite w, Throwable cause) {
    IllegalStateException e = new IllegalStateException("write at offset " + w.firstUnflushed()
      + " was refused after later writes were passed on; resending it would reorder the stream: " + cause, cause);
    log.debug("{}: {}", id(), e.getMessage());
    hardFailure(w, e);
  }

  @Override
  public void unflushedAfterFlush() {
    armTimeout();
  }

  @Override
  public void enter() {
    callbacks.enter();
  }

  @Override
  public void exit() {
    callbacks.exit();
  }

  @Override
  public void wireIdle() {
    callbacks.enter();
    try {
      maybeEmitSoft();
      maybeReplay();
    } finally {
      callbacks.exit();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Soft failures: latch, hold, decide, replay or give up

  private static FailureKind kindOf(Throwable cause) {
    if (cause instanceof OutOfMemoryError) {
      return FailureKind.RESOURCE_EXHAUSTED;
    }
    if (cause instanceof PartialWriteException) {
      return FailureKind.WRITE_INCOMPLETE;
    }
    return FailureKind.WRITE_FAILED;
  }

  /** Reports the soft failure once nothing before it is still on the wire, so its counts are exact. */
  private void maybeEmitSoft() {
    SoftFailure s = soft;
    if (s == null || s.event != null || tracker.onWire() > 0 || !tracker.latched() || !channel.isActive()
      || state == State.CLOSED) {
      return;
    }
    long requested = 0;
    long flushed = 0;
    TrackedWrite first = null;
    for (var it = ledger.openEntries(); it.hasNext(); ) {
      TrackedWrite e = it.next();
      if (!e.settled()) {
        requested += e.length();
        flushed += e.flushedBytes();
        if (first == null) {
          first = e;
        }
      }
    }
    if (first == null) {
      // the failed write completed after all (its passed part was all that was left)
      soft = null;
      softAttempt = 0;
      tracker.releaseHeld(w -> { });
      return;
    }
    s.event = event(s.kind, Direction.WRITE, requested, flushed, first.firstUnflushed(), s.cause, softAttempt, true);
    report(s.event);
  }

  private void maybeReplay() {
    SoftFailure s = soft;
    // after close() nothing is resent: Vert.x's close marker is already queued, and bytes replayed
    // behind it may reach the kernel in the flush that closes, their writes failed nonetheless; the
    // held bytes are given up when the connection has closed (see end())
    if (s == null || !s.replayDue || tracker.onWire() > 0 || !tracker.latched() || state == State.CLOSED
      || closeRequested) {
      return;
    }
    soft = null;
    replay = s;
    replayBytes = 0;
    replayLast = null;
    for (var it = tracker.heldWrites(); it.hasNext(); ) {
      TrackedWrite w = it.next();
      if (!w.settled()) {
        replayLast = w;
      }
    }
    if (replayLast == null) {
      tracker.releaseHeld(w -> { });
      replayFlushed();
      return;
    }
    tracker.replay(w -> {
      int rem = w.remaining();
      replayBytes += rem;
      ledger.resent(rem);
      recorder.resent(server, rem);
      w.set(TrackedWrite.RESENT);
    });
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

  /** Gives up every write not on the wire (held, or queued behind the held ones) and unlatches. */
  private long giveUpHeld(FailureKind kind) {
    long bytes = 0;
    List<TrackedWrite> open = new ArrayList<>();
    ledger.forEachOpen(open::add);
    tracker.releaseHeld(w -> { });
    for (TrackedWrite w : open) {
      if (w.stage() != Stage.WIRE) {
        bytes += giveUp(w, kind, null);
      }
    }
    return bytes;
  }

  // ---------------------------------------------------------------------------------------------
  // Overflow, timeout, read failure, close

  private void overflow(int n, Promise<?> waiter) {
    long start = ledger.acceptUnsent(n);
    recorder.unsent(server, FailureKind.WRITE_QUEUE_OVERFLOW, n);
    recorder.write(server, "unsent");
    WriteFailedException ex = new WriteFailedException(FailureKind.WRITE_QUEUE_OVERFLOW, start, start + n, start, null);
    if (waiter != null) {
      callbacks.post(Kind.RECEIPT, () -> waiter.fail(ex));
    }
    if (gap == null) {
      gapBytes = n;
      gap = event(FailureKind.WRITE_QUEUE_OVERFLOW, Direction.WRITE, n, 0, start, ex, 1, true);
      report(gap);
    } else {
      gapBytes += n;
    }
  }

  // MemoryBudget.Account: called from any thread, each hops onto this socket's event loop

  @Override
  public String name() {
    return id();
  }

  @Override
  public void pauseReading() {
    context.runOnContext(v -> memoryPause(true));
  }

  @Override
  public void resumeReading() {
    context.runOnContext(v -> memoryPause(false));
  }

  @Override
  public void shed(String reason) {
    context.runOnContext(v -> callbacks.run(() -> shedForMemory(reason)));
  }

  /**
   * Shed by the node's memory budget: reported as WRITE_QUEUE_OVERFLOW with the pending bytes, and
   * closed at once. Shedding is not a policy's choice (the memory must come back); the outcome is
   * the close's.
   */
  private void shedForMemory(String reason) {
    if (state == State.CLOSED || closingFor != null) {
      return;
    }
    long requested = 0;
    long flushed = 0;
    long offset = ledger.accepted();
    boolean first = true;
    for (var it = ledger.openEntries(); it.hasNext(); ) {
      TrackedWrite e = it.next();
      requested += e.length();
      flushed += e.flushedBytes();
      if (first) {
        offset = e.firstUnflushed();
        first = false;
      }
    }
    MemoryShedException cause = new MemoryShedException(reason, bytes());
    FailureEvent e = event(FailureKind.WRITE_QUEUE_OVERFLOW, Direction.WRITE, requested, flushed, offset, cause, 1, false);
    Handler<FailureEvent> h = failureHandler;
    if (h != null) {
      callbacks.post(Kind.FAILURE, () -> h.handle(e));
    }
    callbacks.post(Kind.HOOK, () -> shared.reporter.report(e)); // counted, logged, published; no decision awaited
    closeFor(e, new Decision(Action.CLOSE, 0, "memory-budget", false, "shed by the node memory budget"));
  }

  private void armTimeout() {
    if (timeoutTask == null && options.writeTimeoutMs() > 0 && state != State.CLOSED) {
      scheduleTimeout(options.writeTimeoutMs());
    }
  }

  /**
   * Arms the write-timeout check on the channel's event loop with Netty's scheduler: one task object
   * per arming, where a Vert.x timer also keeps a handler, an id and a map entry per connection.
   */
  private void scheduleTimeout(long delayMs) {
    try {
      timeoutTask = channel.eventLoop().schedule(this::timeoutTick, delayMs, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      timeoutTask = null; // the event loop is shutting down: nothing will be flushed or reported any more
    }
  }

  /** The write-timeout task: an entry point like every other. */
  private void timeoutTick() {
    callbacks.enter();
    try {
      onTimeoutTimer();
    } finally {
      callbacks.exit();
    }
  }

  private void onTimeoutTimer() {
    timeoutTask = null;
    if (state == State.CLOSED || closingFor != null) {
      return;
    }
    WriteTimeouts.Overdue o = shared.timeouts.scan(ledger, System.nanoTime(), !stalled);
    if (o.writes > 0 && !stalled) {
      stalled = true;
      report(event(FailureKind.WRITE_TIMEOUT, Direction.WRITE, o.requested, o.flushed, o.offset,
        new TimeoutException("not flushed within " + options.writeTimeoutMs() + " ms"), 1, true));
    }
    if (ledger.pending() > 0) {
      scheduleTimeout(shared.timeouts.nextDelayMs(o));
    }
  }

  /**
   * An exception on the read path. The first one is reported (an allocation failure while reading
   * as {@code RESOURCE_EXHAUSTED}, anything else as {@code READ_FAILED}) and its policy decides,
   * normally closing: a connection whose reads fail has nothing left to serve. Later ones on the
   * same connection (Netty keeps the channel open after a failed allocation and tries again) are
   * logged at debug only, so one sick connection cannot flood the event bus.
   */
  private void onException(Throwable cause) {
    callbacks.enter();
    try {
      Handler<Throwable> h = exceptionHandler;
      if (h != null) {
        callbacks.post(Kind.EXCEPTION, () -> h.handle(cause));
      }
      if (state == State.CLOSED) {
        return;
      }
      if (readFailed) {
        log.debug("{}: further read failure {}", id(), cause.toString());
        return;
      }
      readFailed = true;
      FailureKind kind = cause instanceof OutOfMemoryError ? FailureKind.RESOURCE_EXHAUSTED : FailureKind.READ_FAILED;
      report(event(kind, Direction.READ, 0, 0, 0, cause, 1, false));
    } finally {
      callbacks.exit();
    }
  }

  private void onClosed() {
    callbacks.enter();
    try {
      closeBooks();
    } finally {
      try {
        finishClose();
      } finally {
        callbacks.exit();
      }
    }
  }

  /** Gives up what is still pending under one event (or under the decision that closed us). */
  private void closeBooks() {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    if (timeoutTask != null) {
      timeoutTask.cancel(false);
      timeoutTask = null;
    }
    long requested = 0;
    long flushed = 0;
    long offset = -1;
    List<TrackedWrite> open = new ArrayList<>();
    ledger.forEachOpen(open::add);
    tracker.releaseHeld(w -> { });
    for (TrackedWrite w : open) {
      requested += w.length();
      flushed += w.flushedBytes();
      if (offset < 0) {
        offset = w.firstUnflushed();
      }
    }
    if (replay != null) {
      finishReplay(RecoveryOutcome.FAILED, "connection closed before the resent bytes were flushed");
    }
    if (soft != null && soft.event != null && soft.event != closingFor && soft.decision != null
      && soft.decision.action() == Action.RESEND) {
      // its resend was pending: closed by the user, by a hard failure, or for another failure
      publish(outcome(soft.event, soft.decision, 0, RecoveryOutcome.FAILED, closingFor == null
        ? "connection closed before the resend" : "connection closed for " + closingFor.kind() + " before the resend"));
    }
    if (closingFor != null) {
      long bytes = 0;
      for (TrackedWrite w : open) {
        bytes += giveUp(w, closingFor.kind(), hardCause);
      }
      publish(outcome(closingFor, closingDecision, bytes + (closingFor == gap ? gapBytes : 0),
        closingDecision.escalated() ? RecoveryOutcome.FAILED : RecoveryOutcome.OK, closingDecision.message()));
    } else if (!open.isEmpty()) {
      FailureKind kind = hardCause != null ? FailureKind.WRITE_FAILED : FailureKind.WRITE_INCOMPLETE;
      Throwable cause = hardCause != null ? hardCause
        : new IllegalStateException("connection closed with " + (requested - flushed) + " bytes pending");
      for (TrackedWrite w : open) {
        giveUp(w, kind, cause);
      }
      report(event(kind, Direction.WRITE, requested, flushed, offset, cause, Math.max(1, softAttempt), false));
    }
  }

  /** Returns the connection's slot and meters and tells the user, whatever happened before. */
  private void finishClose() {
    if (finished) {
      return;
    }
    state = State.CLOSED;
    try {
      memoryCost = 0;
      leave();
      LedgerBooks.of(vertx).closed(server, ledger.accepted(), ledger.flushed(), ledger.unsent(), ledger.pending());
      recorder.connections(server, -1);
    } finally {
      Runnable hook = endHook;
      if (hook != null) {
        try {
          hook.run();
        } catch (Throwable t) {
          callbacks.threw(Kind.HOOK, t);
        }
      }
      finished = true;
      PromiseInternal<Void> p = closed;
      if (p != null) {
        p.tryComplete();
      }
      Handler<Void> h = closeHandler;
      if (h != null) {
        callbacks.post(Kind.CLOSE, () -> h.handle(null));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Events and decisions

  private FailureEvent event(FailureKind kind, Direction dir, long requested, long flushed, long offset,
                             Throwable cause, int attempt, boolean soft) {
    return shared.reporter.event(id(), remote(), kind, dir, requested, flushed, offset, cause, attempt, soft);
  }

  /**
   * Tells the failure handler, then counts, logs and publishes {@code e}, asks the recovery verticle
   * (the server's own policy when nobody answers in time), and carries the decision out on this
   * connection's event loop, in a later turn than the one that failed.
   */
  private void report(FailureEvent e) {
    Handler<FailureEvent> h = failureHandler;
    if (h != null) {
      callbacks.post(Kind.FAILURE, () -> h.handle(e));
    }
    callbacks.post(Kind.HOOK, () -> shared.reporter.report(e).onComplete(ar -> {
      Decision d = ar.succeeded() && ar.result() != null ? ar.result()
        : new Decision(Action.CLOSE, 0, "unknown", true, "no decision: " + ar.cause());
      context.runOnContext(v -> callbacks.run(() -> execute(e, d)));
    }));
  }

  /** Carries a decision out; runs on the connection's event loop. */
  private void execute(FailureEvent e, Decision d) {
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
          vertx.setTimer(Math.max(1, d.delayMs()), t -> callbacks.run(() -> {
            if (soft != null && soft.event == e) {
              soft.replayDue = true;
              maybeReplay();
            }
          }));
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
          soft = null;
          softAttempt = 0;
          bytes += giveUpHeld(e.kind());
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
      if (soft != null && soft.event == e) {
        soft.decision = d; // a soft failure closed for itself: its outcome is the close's
      }
    } else {
      // an escalated decision (a policy that threw, a spent budget) did not recover anything
      publish(outcome(e, d, 0, d.escalated() ? RecoveryOutcome.FAILED : RecoveryOutcome.OK, "already closing"));
    }
    tracker.abort();
  }

  private RecoveryOutcome outcome(FailureEvent e, Decision d, long bytes, String result, String message) {
    return shared.reporter.outcome(e, d, bytes, result, message);
  }

  private void publish(RecoveryOutcome o) {
    Handler<RecoveryOutcome> h = outcomeHandler;
    if (h != null) {
      callbacks.post(Kind.OUTCOME, () -> h.handle(o));
    }
    callbacks.post(Kind.HOOK, () -> shared.reporter.publish(o));
  }

  // ---------------------------------------------------------------------------------------------

  /** A soft failure being handled: its event once published, and its decision. */
  private static final class SoftFailure {
    final FailureKind kind;
    final Throwable cause;
    FailureEvent event;
    Decision decision;
    boolean replayDue;

    SoftFailure(FailureKind kind, Throwable cause) {
      this.kind = kind;
      this.cause = cause;
    }
  }
}
