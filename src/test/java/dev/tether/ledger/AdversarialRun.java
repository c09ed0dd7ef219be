package dev.tether.ledger;

import dev.tether.event.Action;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.ledger.AdversarialSchedule.AskFull;
import dev.tether.ledger.AdversarialSchedule.Burst;
import dev.tether.ledger.AdversarialSchedule.Close;
import dev.tether.ledger.AdversarialSchedule.Method;
import dev.tether.ledger.AdversarialSchedule.Op;
import dev.tether.ledger.AdversarialSchedule.Report;
import dev.tether.ledger.AdversarialSchedule.SetMark;
import dev.tether.ledger.AdversarialSchedule.Throw;
import dev.tether.ledger.AdversarialSchedule.Write;
import dev.tether.net.TrackedServerOptions;
import dev.tether.net.TrackedSocket;
import dev.tether.net.TrackingOptions;
import dev.tether.net.WriteFailedException;
import dev.tether.net.WriteReceipt;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

import static org.awaitility.Awaitility.await;

/**
 * Runs one {@link AdversarialSchedule} on a real loopback connection and checks, for that
 * connection only, that every byte is accounted for and the peer got the stream in order.
 *
 * <p>How order is checked: every write call (on the loop, in a callback or from another thread)
 * gets a payload of its own: the first byte is a marker {@code 0x80 | callIndex} and the others are
 * seeded noise below {@code 0x80}. Where the ledger put each accepted write is known exactly: on the
 * loop by reading {@code ledger().accepted()} around the call (the ledger assigns offsets in call
 * order), off the loop from the receipt or the failure. So the expected stream is known byte for
 * byte, and the peer must receive, for each accepted write in stream order, a prefix of its payload
 * ({@code flushed} bytes of it: all for a success, {@code unsentFrom - start} for a failure,
 * inferred from the markers for {@code send}), nothing else and nothing twice. With close and resend
 * policies only, that must moreover be an exact prefix of the stream.
 *
 * <p>Threading: the ops run on the socket's event loop (callbacks, bursts) or on the off-loop
 * executor; the checks at the end run on the test thread, reading the books on the loop.
 */
final class AdversarialRun {

  private static final Duration LONG = Duration.ofSeconds(30);
  private static final Duration SHORT = Duration.ofSeconds(10);

  /** One write call. */
  static final class Call {
    final int index;
    final Method method;
    final byte[] payload;
    final boolean onLoop;
    final String where;
    /** Stream offset of its first byte once known to be accepted; -1 otherwise. */
    volatile long start = -1;
    /** 1 accepted, 0 rejected, -1 not known yet (off the loop: known from its future). */
    volatile int accepted = -1;
    volatile Future<?> future;
    /** Bytes of it the peer must have received; -1 while unknown. */
    int sent = -1;

    Call(int index, Method method, byte[] payload, boolean onLoop, String where) {
      this.index = index;
      this.method = method;
      this.payload = payload;
      this.onLoop = onLoop;
      this.where = where;
    }

    int size() {
      return payload.length;
    }

    @Override
    public String toString() {
      String fate;
      Future<?> f = future;
      if (f == null) {
        fate = "";
      } else if (!f.isComplete()) {
        fate = " future PENDING";
      } else if (f.succeeded()) {
        fate = " ok";
      } else {
        fate = " failed " + f.cause().getMessage();
      }
      return "#" + index + " " + method + "(" + size() + ") " + (onLoop ? "" : "off-loop ") + "from " + where
        + (accepted == 1 ? " at [" + start + ", " + (start + size()) + ")" : accepted == 0 ? " rejected" : "")
        + (sent >= 0 ? " sent " + sent : "") + fate;
    }
  }

  private final AdversarialSchedule s;
  private final Harness h;
  private final String server;
  private final ScheduledExecutorService offLoop;
  private final ThrowingPolicy.Log policyLog = new ThrowingPolicy.Log();
  final List<String> violations = new CopyOnWriteArrayList<>();
  final List<Call> calls = new CopyOnWriteArrayList<>();
  final List<FailureEvent> failures = new CopyOnWriteArrayList<>();
  /** Callbacks that ran, by kind (coverage). */
  final java.util.Map<String, Integer> callbacks = new java.util.concurrent.ConcurrentHashMap<>();
  final List<RecoveryOutcome> outcomes = new CopyOnWriteArrayList<>();
  private final List<Future<Void>> closeFutures = new CopyOnWriteArrayList<>();
  /** How long each phase of the run took, for slow runs. */
  final List<String> phases = new CopyOnWriteArrayList<>();
  private long phaseStart = System.nanoTime();

  private void phase(String name) {
    long now = System.nanoTime();
    phases.add(name + " " + (now - phaseStart) / 1_000_000 + "ms");
    phaseStart = now;
  }

  /** What ran when, for the failure report (bounded). */
  private final List<String> log = new CopyOnWriteArrayList<>();
  private final AtomicInteger nextCall = new AtomicInteger();
  private final AtomicInteger connections = new AtomicInteger();
  private final CompletableFuture<TrackedSocket> first = new CompletableFuture<>();
  private final CompletableFuture<TrackedSocket> second = new CompletableFuture<>();
  private final CountDownLatch bursts;
  private volatile int readBytes;
  private volatile TrackedSocket ts;

  // State accessed exclusively from the connection's event loop
  private Thread loop;
  private final ArrayDeque<List<Op>> onDrain;
  private final ArrayDeque<List<Op>> onFailure;
  private final ArrayDeque<List<Op>> onOutcome;
  private final ArrayDeque<List<Op>> onRead;
  private boolean userClosed;
  private int closeHandlerRuns;
  /** Bytes accepted by write calls made inside the current call (callbacks run at its end). */
  private long innerAccepted;
  /** Start offsets of successful on-loop receipts, in the order their callbacks ran. */
  private long lastReceiptStart = -1;

  AdversarialRun(AdversarialSchedule s, Harness h, String server, ScheduledExecutorService offLoop) {
    this.s = s;
    this.h = h;
    this.server = server;
    this.offLoop = offLoop;
    this.bursts = new CountDownLatch(s.bursts.size());
    this.onDrain = new ArrayDeque<>(s.onDrain);
    this.onFailure = new ArrayDeque<>(s.onFailure);
    this.onOutcome = new ArrayDeque<>(s.onOutcome);
    this.onRead = new ArrayDeque<>(s.onRead);
  }

  String server() {
    return server;
  }

  void violation(String what) {
    violations.add(what);
  }

  // ---------------------------------------------------------------------------------------------
  // The run

  void run() throws Exception {
    TrackingOptions tracking = new TrackingOptions().setServer(server)
      .setWriteTimeoutMs(s.writeTimeoutMs)
      .setMaxPendingBytes(s.maxPendingBytes)
      .setHighWaterMark(s.markBySetter ? Math.min(TrackingOptions.DEFAULT_HIGH_WATER_MARK, s.maxPendingBytes) : s.highWaterMark)
      .setDecisionTimeoutMs(200)
      .setPolicies(s.policies(policyLog))
      .setFaults(s.faultPlan());
    TrackedServerOptions options = new TrackedServerOptions().setTracking(tracking).setMaxConnections(1);
    if (s.stall) {
      options.setSendBufferSize(s.sendBuffer);
    }
    Harness.Served served = h.serve(options, this::onConnect);
    Peer peer = null;
    try {
      peer = s.stall ? Peer.stalledThenReading(served.port(), s.receiveBuffer, s.stallMs) : Peer.reading(served.port());
      TrackedSocket socket = first.get(10, TimeUnit.SECONDS);
      Context ctx = socket.context();
      if (s.pings > 0) {
        // one segment, read before anything else happens: input left unread at close would turn the
        // close into a reset, and a reset may cost the peer flushed bytes
        peer.send(new byte[s.pings]);
        if (!awaitTrue(SHORT, () -> readBytes >= s.pings || socket.isClosed())) {
          violation("the server did not read the peer's " + s.pings + " byte(s) within " + SHORT);
        }
      }
      phase("connect");
      startBursts(ctx);
      if (!bursts.await(LONG.toSeconds(), TimeUnit.SECONDS)) {
        violation("the bursts did not all run within " + LONG);
      }
      phase("bursts");
      awaitQuiet(socket);
      phase("quiet");
      if (s.finalClose == AdversarialSchedule.FinalClose.ON_LOOP) {
        onLoop(t -> closeFutures.add(t.close()));
      } else {
        closeFutures.add(socket.close());
      }
      if (!awaitTrue(LONG, socket::isClosed)) {
        violation("the connection did not close within " + LONG + ": " + onLoop(AdversarialRun::state));
        return;
      }
      phase("closed");
      if (!awaitTrue(SHORT, () -> calls.stream().allMatch(c -> c.future == null || c.future.isComplete()))) {
        violation("futures still pending after close: " + calls.stream()
          .filter(c -> c.future != null && !c.future.isComplete()).map(Call::toString).toList());
      }
      byte[] received;
      try {
        received = peer.eofFuture().get(LONG.toSeconds(), TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        violation("the peer saw no end of stream within " + LONG);
        return;
      }
      phase("futures+eof");
      if (peer.readError() != null) {
        violation("the peer's read ended with " + peer.readError() + " (a reset loses flushed bytes)");
      }
      checkBooks(received);
      phase("books");
      // a fault injector's delayed refusal gives its view back when its timer fires, maybe after the close
      if (!awaitTrue(SHORT, () -> {
        try {
          lender.assertAllReleased();
          return true;
        } catch (AssertionError e) {
          return false;
        }
      })) {
        try {
          lender.assertAllReleased();
        } catch (AssertionError e) {
          violation(e.getMessage());
        }
      }
      phase("released");
      checkSlot(served);
      phase("slot");
    } finally {
      if (peer != null) {
        peer.close();
      }
      served.stop();
    }
  }

  private void onConnect(TrackedSocket socket) {
    if (connections.incrementAndGet() > 1) {
      second.complete(socket);
      return;
    }
    ts = socket;
    loop = Thread.currentThread();
    if (s.markBySetter) {
      socket.setWriteQueueMaxSize(s.highWaterMark);
    }
    socket.drainHandler(v -> callback("drain handler", onDrain.poll()));
    socket.failureHandler(e -> {
      failures.add(e);
      callback("failure handler (" + e.kind() + ")", onFailure.poll());
    });
    socket.outcomeHandler(o -> {
      outcomes.add(o);
      callback("outcome handler (" + o.action() + " " + o.result() + ")", onOutcome.poll());
    });
    socket.handler(buf -> {
      readBytes += buf.length();
      callback("read handler", onRead.poll());
    });
    socket.closeHandler(v -> onClosed());
    first.complete(socket);
  }

  private void startBursts(Context ctx) {
    long at = 0;
    int i = 0;
    for (Burst b : s.bursts) {
      at += b.delayMs();
      long delay = at;
      String where = "burst " + (++i);
      if (b.offLoop()) {
        offLoop.schedule(() -> {
          try {
            runOffLoop(b.ops(), where);
          } catch (Throwable t) {
            violation(where + " off the loop threw " + t);
          } finally {
            bursts.countDown();
          }
        }, delay, TimeUnit.MILLISECONDS);
      } else {
        ctx.runOnContext(v -> {
          if (delay == 0) {
            runBurst(b, where);
          } else {
            ctx.owner().setTimer(delay, id -> runBurst(b, where));
          }
        });
      }
    }
  }

  private void runBurst(Burst b, String where) {
    try {
      if (Thread.currentThread() != loop) {
        violation(where + " ran off the socket's event loop");
      }
      runOps(b.ops(), where);
    } finally {
      bursts.countDown();
    }
  }

  /** Waits until nothing is left to do: closed, or nothing pending and every future complete. */
  private void awaitQuiet(TrackedSocket socket) {
    boolean quiet = awaitTrue(LONG, () -> onLoop(t -> t.isClosed()
      || (t.ledger().pending() == 0 && calls.stream().allMatch(c -> c.future == null || c.future.isComplete()))));
    if (!quiet) {
      violation("no progress for " + LONG + " with the connection open: " + onLoop(AdversarialRun::state)
        + "; pending futures " + calls.stream().filter(c -> c.future != null && !c.future.isComplete())
        .map(Call::toString).toList());
    }
  }

  private static String state(TrackedSocket t) {
    return "ledger " + t.ledger() + " closed=" + t.isClosed() + (t.isClosed() ? ""
      : " queued=" + t.queuedWrites() + " onWire=" + t.writesOnWire() + " cost=" + t.pendingCost());
  }

  // ---------------------------------------------------------------------------------------------
  // What the user does

  private void callback(String where, List<Op> ops) {
    inCallback(where);
    if (ops != null) {
      runOps(ops, where);
    }
  }

  /** Every callback runs on the socket's loop, after a state change: the books balance there. */
  private void inCallback(String where) {
    note(where);
    if (Thread.currentThread() != loop) {
      violation(where + " ran on " + Thread.currentThread().getName() + ", not on the socket's event loop");
      return;
    }
    try {
      ts.checkInvariant();
    } catch (Throwable t) {
      violation(where + " ran with the books out of balance: " + t.getMessage());
    }
    Context current = Vertx.currentContext();
    if (current == null || ((ContextInternal) current).unwrap() != ((ContextInternal) ts.context()).unwrap()) {
      violation(where + " ran with " + (current == null ? "no" : "another") + " Vert.x context current, not the socket's");
    }
    callbacks.merge(where.replaceAll(" ?[#(].*", ""), 1, Integer::sum);
  }

  private void note(String what) {
    if (log.size() < 400) {
      TrackedSocket t = ts;
      String books = "";
      if (t != null && Thread.currentThread() == loop) {
        LedgerSnapshot l = t.ledger();
        books = " [a=" + l.accepted() + " f=" + l.flushed() + " p=" + l.pending() + " u=" + l.unsent() + "]";
      }
      log.add(what + books);
    }
  }

  private void runOps(List<Op> ops, String where) {
    for (Op op : ops) {
      if (op instanceof Write w) {
        write(w, where);
      } else if (op instanceof Close) {
        userClosed = true;
        closeFutures.add(ts.close());
      } else if (op instanceof Throw) {
        throw new AdversarialUserProperties.Adversary("thrown by " + where);
      } else if (op instanceof SetMark m) {
        ts.setWriteQueueMaxSize(m.bytes());
      } else if (op instanceof AskFull) {
        ts.writeQueueFull();
      } else if (op instanceof Report) {
        ts.reportFailure(FailureKind.PROTOCOL_ERROR, new AdversarialUserProperties.Adversary("reported by " + where));
      }
    }
  }

  private byte[] payload(int index, int size) {
    byte[] b = new byte[size];
    if (size == 0) {
      return b;
    }
    b[0] = (byte) (0x80 | (index & 0x7F));
    SplittableRandom r = new SplittableRandom(s.seed * 0x9E3779B97F4A7C15L + index);
    for (int i = 1; i < size; i++) {
      b[i] = (byte) r.nextInt(0x80);
    }
    return b;
  }

  /** A write on the loop: where it landed is read from the ledger around the call. */
  private void write(Write w, String where) {
    int index = nextCall.getAndIncrement();
    Call c = new Call(index, w.method(), payload(index, w.size()), true, where);
    boolean closedBefore = userClosed;
    calls.add(c);
    long saved = innerAccepted;
    innerAccepted = 0;
    long before = ts.ledger().accepted();
    // odd calls write lent memory (the zero-copy path), even ones heap buffers
    Future<?> f = index % 2 == 1 ? lender.lend(c.payload, 0, c.payload.length, buf -> write(w, buf))
      : write(w, Buffer.buffer(c.payload));
    long after = ts.ledger().accepted();
    note("  called " + c.method + "(" + c.size() + ") as #" + index);
    // callbacks may have run at the end of the call and written too: their bytes come after ours
    long mine = after - before - innerAccepted;
    innerAccepted = saved + (after - before);
    if (c.size() == 0) {
      c.accepted = 0; // never in the stream: its future is checked on its own
      if (mine != 0) {
        violation(c + ": the ledger grew by " + mine + " bytes for it");
      }
    } else if (mine == c.size()) {
      c.start = before;
      c.accepted = 1;
      if (closedBefore) {
        violation(c + " was accepted after the user called close()");
      }
    } else if (mine == 0) {
      c.accepted = 0;
    } else {
      violation(c + ": the ledger grew by " + mine + " bytes for it");
    }
    if (f != null) {
      c.future = f;
      f.onComplete(ar -> completed(c, w, ar));
    }
  }

  private Future<?> write(Write w, Buffer buf) {
    return switch (w.method()) {
      case WRITE -> ts.write(buf);
      case TRACKED -> ts.writeTracked(buf);
      case SEND -> {
        ts.send(buf);
        yield null;
      }
    };
  }

  /** Lends the memory of the odd writes; every reference a write took must come back exactly once. */
  final dev.tether.support.Lender lender = new dev.tether.support.Lender();

  private void runOffLoop(List<Op> ops, String where) {
    TrackedSocket t = ts;
    for (Op op : ops) {
      if (op instanceof Write w) {
        int index = nextCall.getAndIncrement();
        Call c = new Call(index, Method.TRACKED, payload(index, w.size()), false, where);
        calls.add(c);
        Future<WriteReceipt> f = index % 2 == 1 ? lender.lend(c.payload, 0, c.payload.length, t::writeTracked)
          : t.writeTracked(Buffer.buffer(c.payload));
        c.future = f;
        f.onComplete(ar -> completed(c, w, ar));
      } else if (op instanceof Close) {
        closeFutures.add(t.close());
      } else if (op instanceof SetMark m) {
        t.setWriteQueueMaxSize(m.bytes());
      } else if (op instanceof AskFull) {
        try {
          t.writeQueueFull();
          violation("writeQueueFull() off the event loop did not throw");
        } catch (IllegalStateException expected) {
          // the contract: reading the books off the loop throws
        }
      } else if (op instanceof Report) {
        t.reportFailure(FailureKind.PROTOCOL_ERROR, new AdversarialUserProperties.Adversary("reported by " + where));
      }
    }
  }

  private void completed(Call c, Write w, AsyncResult<?> ar) {
    String where = "completion of #" + c.index;
    inCallback(where);
    if (ar.succeeded() && Thread.currentThread() == loop) {
      long start = ar.result() instanceof WriteReceipt r ? r.start() : c.start;
      if (start >= 0 && c.size() > 0) {
        LedgerSnapshot l = ts.ledger();
        if (l.flushed() + l.unsent() < start + c.size()) {
          violation("the receipt of " + c + " ran before its bytes were counted: " + l);
        }
        if (c.onLoop) {
          if (start < lastReceiptStart) {
            violation("the receipt of " + c + " ran after the receipt of a later write (at " + lastReceiptStart + ")");
          }
          lastReceiptStart = start;
        }
      }
    }
    runOps(w.then(), where);
  }

  private void onClosed() {
    inCallback("close handler");
    if (++closeHandlerRuns > 1) {
      violation("the close handler ran " + closeHandlerRuns + " times");
    }
    if (!ts.isClosed()) {
      violation("the close handler ran before isClosed()");
    }
    for (Call c : calls) {
      if (c.onLoop && c.accepted == 1 && c.future != null && !c.future.isComplete()) {
        violation("the close handler ran before the future of " + c + " completed");
      }
    }
    for (Future<Void> f : closeFutures) {
      if (!f.isComplete()) {
        violation("the close handler ran before a close() future completed");
      }
    }
    runOps(s.onClose, "close handler");
  }

  // ---------------------------------------------------------------------------------------------
  // The checks, once the connection has closed

  private void checkBooks(byte[] received) {
    LedgerSnapshot l = onLoop(t -> {
      try {
        t.checkInvariant();
      } catch (Throwable e) {
        violation("checkInvariant after close: " + e.getMessage());
      }
      if (closeHandlerRuns != 1) {
        violation("the close handler ran " + closeHandlerRuns + " times");
      }
      return t.ledger();
    });
    if (l.pending() != 0 || l.accepted() != l.flushed() + l.unsent()) {
      violation("books after close: " + l);
    }
    for (Future<Void> f : closeFutures) {
      if (!f.isComplete()) {
        violation("a close() future is still pending after close");
      }
    }

    // every future completed, and says where its write landed
    for (Call c : calls) {
      classify(c);
    }
    List<Call> accepted = new ArrayList<>(calls.stream().filter(c -> c.accepted == 1).toList());
    accepted.sort(Comparator.comparingLong(c -> c.start));
    long at = 0;
    for (Call c : accepted) {
      if (c.start != at) {
        violation("the accepted writes do not tile the stream: " + c + " where " + at + " was expected");
        break;
      }
      at += c.size();
    }
    if (at != l.accepted()) {
      violation("the accepted writes add up to " + at + " bytes, the ledger accepted " + l.accepted());
    }
    long byFutures = 0;
    for (Call c : accepted) {
      byFutures += c.size(); // a success, a failed range [start, end), or a send that was accepted
    }
    if (byFutures != l.accepted()) {
      violation("succeeded lengths + failed ranges = " + byFutures + " != accepted " + l.accepted());
    }
    long lastOff = -1;
    for (Call c : calls) {
      if (!c.onLoop && c.accepted == 1) {
        if (c.start < lastOff) {
          violation("off-loop writes landed out of call order: " + c + " before offset " + lastOff);
        }
        lastOff = c.start;
      }
    }

    // the peer got, for each accepted write in stream order, a prefix of it: nothing else
    int pos = 0;
    long sum = 0;
    for (Call c : accepted) {
      int k = c.sent;
      if (k < 0) {
        k = commonPrefix(c.payload, received, pos);
        c.sent = k;
      } else if (pos + k > received.length || !regionEquals(c.payload, received, pos, k)) {
        violation("the peer's stream differs from the written one in " + c + ": " + where(received, pos, c, k));
        break;
      }
      pos += k;
      sum += k;
    }
    if (violations.isEmpty() && pos != received.length) {
      violation("the peer received " + received.length + " bytes; the accepted writes explain only " + pos
        + " (" + where(received, pos, null, 0) + ")");
    }
    if (received.length != l.flushed()) {
      violation("the peer received " + received.length + " bytes, the ledger says " + l.flushed() + " were flushed");
    }
    if (violations.isEmpty() && sum != l.flushed()) {
      violation("the writes' sent parts add up to " + sum + ", flushed is " + l.flushed());
    }
    if (s.prefixOnly() && violations.isEmpty()) {
      byte[] expected = new byte[(int) l.accepted()];
      for (Call c : accepted) {
        System.arraycopy(c.payload, 0, expected, (int) c.start, c.size());
      }
      try {
        Bytes.assertPrefix(expected, (int) l.flushed(), received);
      } catch (AssertionError e) {
        violation("with close/resend policies the peer must get an exact prefix: " + e.getMessage());
      }
    }

    // the meters agree with the books
    double written = h.counter("tether.written.bytes", "server", server);
    double unsent = h.counter("tether.unsent.bytes", "server", server);
    double pending = h.gauge("tether.pending.bytes", "server", server);
    if (written != l.flushed() || unsent != l.unsent() || pending != 0) {
      violation("meters written=" + written + " unsent=" + unsent + " pending=" + pending + " vs books " + l);
    }
    if (violations.isEmpty()) {
      long ok = accepted.stream().filter(c -> c.sent == c.size()).count();
      long given = accepted.size() - ok;
      // an empty write is rejected like any other once the socket is closed or closing
      long rejected = calls.stream().filter(c -> c.accepted == 0 && (c.size() > 0
        || (c.future != null && c.future.failed() && c.future.cause() instanceof IllegalStateException))).count();
      double okM = h.counter("tether.writes", "server", server, "outcome", "ok");
      double unsentM = h.counter("tether.writes", "server", server, "outcome", "unsent");
      double rejectedM = h.counter("tether.writes", "server", server, "outcome", "rejected");
      if (okM != ok || unsentM != given || rejectedM != rejected) {
        violation("tether.writes ok/unsent/rejected = " + okM + "/" + unsentM + "/" + rejectedM + ", the calls say "
          + ok + "/" + given + "/" + rejected);
      }
    }

    // events balance; a policy that threw counts as an escalated close
    for (FailureEvent e : failures) {
      if (e.requested() != e.flushed() + e.unsent() || e.offset() > l.accepted() || e.unsent() < 0) {
        violation("failure event does not balance: " + e);
      }
    }
    awaitTrue(SHORT, () -> failures.stream().allMatch(e -> outcomes.stream().anyMatch(o -> o.failure().equals(e.id()))));
    for (FailureEvent e : failures) {
      if (outcomes.stream().noneMatch(o -> o.failure().equals(e.id()))) {
        violation("no recovery outcome for " + e.kind() + (e.soft() ? " (soft)" : " (hard)") + " event at offset "
          + e.offset() + " unsent " + e.unsent());
      }
    }
    for (String id : policyLog.refused) {
      for (RecoveryOutcome o : outcomes) {
        if (o.failure().equals(id) && (o.action() != Action.CLOSE || !RecoveryOutcome.FAILED.equals(o.result())
          || !ThrowingPolicy.NAME.equals(o.policy()))) {
          violation("a throwing policy must count as an escalated close, got " + o.action() + " " + o.result()
            + " by " + o.policy() + " (" + o.message() + ")");
        }
      }
    }
  }

  /** Sets {@code accepted}, {@code start} and {@code sent} from the call's future; checks it is consistent. */
  private void classify(Call c) {
    Future<?> f = c.future;
    if (f == null) {
      return; // a send: accepted or not from the ledger, its sent part from the peer's bytes
    }
    if (!f.isComplete()) {
      return; // reported above
    }
    if (c.size() == 0) {
      // empty: succeeds with an empty receipt while the socket is open, fails as rejected after
      if (f.succeeded() && f.result() instanceof WriteReceipt r && r.length() != 0) {
        violation("the receipt of empty " + c + " covers " + r.length() + " bytes");
      } else if (f.failed() && !(f.cause() instanceof IllegalStateException)) {
        violation("empty " + c + " failed with " + f.cause());
      }
      c.accepted = 0;
      return;
    }
    if (f.succeeded()) {
      long start = f.result() instanceof WriteReceipt r ? r.start() : c.start;
      if (f.result() instanceof WriteReceipt r && (r.end() - r.start() != c.size())) {
        violation("receipt of " + c + " covers " + r.length() + " bytes");
      }
      if (c.onLoop && (c.accepted != 1 || start != c.start)) {
        violation(c + " succeeded with a receipt at " + start);
      }
      c.start = start;
      c.accepted = 1;
      c.sent = c.size();
    } else if (f.cause() instanceof WriteFailedException e) {
      if (e.end() - e.start() != c.size() || e.unsentFrom() < e.start() || e.unsentFrom() >= e.end()
        || (c.onLoop && (c.accepted != 1 || e.start() != c.start))) {
        violation(c + " failed with an inconsistent range: " + e.getMessage());
      }
      c.start = e.start();
      c.accepted = 1;
      c.sent = (int) (e.unsentFrom() - e.start());
    } else if (f.cause() instanceof IllegalStateException) {
      if (c.accepted == 1) {
        violation(c + " was accepted, yet its future failed as rejected");
      }
      c.accepted = 0;
    } else {
      violation(c + " failed with an unexpected " + f.cause());
    }
  }

  private static int commonPrefix(byte[] payload, byte[] received, int pos) {
    int n = Math.min(payload.length, received.length - pos);
    int k = 0;
    while (k < n && payload[k] == received[pos + k]) {
      k++;
    }
    return k;
  }

  private static boolean regionEquals(byte[] payload, byte[] received, int pos, int k) {
    return java.util.Arrays.equals(payload, 0, k, received, pos, pos + k);
  }

  /** Where the streams part, named by the write whose marker comes last before that point. */
  private static String where(byte[] received, int pos, Call c, int k) {
    int i = 0;
    if (c != null) {
      while (i < k && pos + i < received.length && c.payload[i] == received[pos + i]) {
        i++;
      }
    }
    int at = pos + i;
    if (at >= received.length) {
      return "the peer's bytes end at " + received.length + " (expected " + k + " of it from received offset " + pos + ")";
    }
    int m = at;
    while (m >= 0 && (received[m] & 0x80) == 0) {
      m--;
    }
    return "received offset " + at + " holds byte " + (i == 0 && c != null ? "0x" + Integer.toHexString(received[at] & 0xFF)
      : (received[at] & 0xFF)) + (m >= 0 ? ", inside the payload of call #" + (received[m] & 0x7F) + " (mod 128) at +" + (at - m)
      : "") + (c != null ? ", expected byte " + i + " of #" + c.index : "");
  }

  /** The server's slot came back: no connection open, and a second connection is served. */
  private void checkSlot(Harness.Served served) throws Exception {
    if (served.openConnections() != 0) {
      violation("the server still counts " + served.openConnections() + " open connection(s) after close");
    }
    try (Socket again = new Socket()) {
      again.connect(new InetSocketAddress("127.0.0.1", served.port()), 5_000);
      TrackedSocket t2;
      try {
        t2 = second.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        violation("a second connection was not served (maxConnections 1): the first one's slot leaked");
        return;
      }
      Harness.await(t2.close());
    } catch (IOException e) {
      violation("a second connection failed: " + e);
      return;
    }
    if (served.openConnections() != 0) {
      violation("the server counts " + served.openConnections() + " open connection(s) after the second closed");
    }
    double gauge = h.gauge("tether.connections", "server", server);
    if (gauge != 0) {
      violation("tether.connections gauge is " + gauge + " after both connections closed");
    }
  }

  // ---------------------------------------------------------------------------------------------

  private <T> T onLoop(Function<TrackedSocket, T> fn) {
    TrackedSocket t = ts;
    CompletableFuture<T> f = new CompletableFuture<>();
    t.context().runOnContext(v -> {
      try {
        f.complete(fn.apply(t));
      } catch (Throwable e) {
        f.completeExceptionally(e);
      }
    });
    try {
      return f.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("event-loop call failed", e);
    }
  }

  private static boolean awaitTrue(Duration atMost, Supplier<Boolean> condition) {
    try {
      await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2)).atMost(atMost).until(condition::get);
      return true;
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      return false;
    }
  }

  /** A trace of what happened, for a failure report. */
  String trace() {
    StringBuilder b = new StringBuilder();
    b.append("  calls:\n");
    for (Call c : calls) {
      b.append("    ").append(c).append('\n');
    }
    b.append("  callbacks, in the order they ran:\n");
    for (String l : log) {
      b.append("    ").append(l).append('\n');
    }
    b.append("  failure events:\n");
    for (FailureEvent e : failures) {
      b.append("    ").append(e.kind()).append(e.soft() ? " soft" : " hard").append(" requested=").append(e.requested())
        .append(" flushed=").append(e.flushed()).append(" offset=").append(e.offset()).append(" attempt=")
        .append(e.attempt()).append(" id=").append(e.id(), 0, 8).append(policyLog.refused.contains(e.id()) ? " (policy threw)" : "")
        .append(" cause=").append(e.message()).append('\n');
    }
    b.append("  outcomes:\n");
    for (RecoveryOutcome o : outcomes) {
      b.append("    ").append(o.kind()).append(' ').append(o.action()).append(' ').append(o.result()).append(" bytes=")
        .append(o.bytes()).append(" by ").append(o.policy()).append(" for ").append(o.failure(), 0, 8).append(" (")
        .append(o.message()).append(")\n");
    }
    return b.toString();
  }
}
