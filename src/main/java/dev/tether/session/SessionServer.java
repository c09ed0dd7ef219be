package dev.tether.session;

import dev.tether.MemoryBudget;
import dev.tether.MemoryShedException;
import dev.tether.Tether;
import dev.tether.event.Decision;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.net.TrackedServer;
import dev.tether.net.TrackedServerOptions;
import dev.tether.net.TrackedSocket;
import dev.tether.net.TrackingOptions;
import dev.tether.recovery.FailureReporter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServerOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A session-protocol server: accepts {@link TrackedSocket}s, runs the HELLO/WELCOME exchange, keeps
 * each session's unacknowledged DATA frames ({@link RetainedFrames}) across connections, and hands
 * messages to a {@link SessionApplication}.
 *
 * <p>Sessions can move: a resume of a session this instance does not hold is passed to
 * {@link SessionTakeover}, which brings it from its owner (another instance on this node, or another
 * node) or from its replica; the {@link SessionStore} records who owns what and, with replication,
 * holds each session's state. With replication every DATA frame goes out, and every inbound frame
 * is acknowledged, only after the state that implies it is on the replica (output commit, batched
 * per session and event-loop turn: {@code ServerSession.commit}).
 *
 * <h2>Threading</h2>
 * Created on a verticle's event loop; every session, every connection and the session store are
 * touched only on that loop (the connections are accepted there, timers and event-bus replies come
 * back there). Asserted where cheap with {@link #owner()}.
 */
public final class SessionServer {

  private static final Logger log = LoggerFactory.getLogger(SessionServer.class);
  private static final SecureRandom IDS = new SecureRandom();
  /** Expired session ids remembered so a late resume is told "expired" rather than "unknown". */
  private static final int TOMBSTONES = 10_000;

  private final Vertx vertx;
  private final Context context;
  private final SessionOptions options;
  private final TrackingOptions tracking;
  private final SessionApplication app;
  private final FailureReporter reporter;
  // Event-loop confined state
  private final Map<String, ServerSession> sessions = new HashMap<>();
  private final Map<String, Long> expired = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
      return size() > TOMBSTONES;
    }
  };
  /**
   * States this instance handed off in the last {@link #GIVEN_TTL_MS}: should the taker's reply get
   * lost (its request timed out), the next request for the session gets the same state again. Safe
   * because a taker installs a state only if its compare-and-set on the directory still finds this
   * instance as the owner: once one taker claimed it, a second copy is dropped unexposed.
   */
  private final Map<String, Buffer> given = new HashMap<>();
  private static final long GIVEN_TTL_MS = 30_000;
  /** Mirror of sessions.size() for other threads (and for {@link #sessionsHeld}). */
  private final AtomicInteger sessionCount = new AtomicInteger();
  private final java.util.concurrent.atomic.AtomicLong takeovers = new java.util.concurrent.atomic.AtomicLong();
  /** Session counts of the open session servers of each Vert.x instance (values never refer to Vert.x). */
  private static final Map<Vertx, Set<AtomicInteger>> COUNTS = new WeakHashMap<>();
  private TrackedServer server;
  /** Set in listen, before the first connection; then only read. */
  private SessionStore store;
  private SessionTakeover takeover;
  private boolean replicating;
  private Handler<FailureEvent> expiryHandler;
  private boolean closed;

  private SessionServer(Vertx vertx, SessionOptions options, TrackingOptions tracking, SessionApplication app) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.options = options;
    this.tracking = tracking;
    this.app = app;
    this.reporter = new FailureReporter(vertx, tracking.server(), tracking.protocol(), tracking.policies(),
      tracking.decisionTimeoutMs());
  }

  /** Starts a session server; call it on the event loop that will own it (a verticle's start). */
  public static Future<SessionServer> listen(Vertx vertx, NetServerOptions net, TrackingOptions tracking,
                                             int maxConnections, SessionOptions options, SessionApplication app) {
    SessionServer s = new SessionServer(vertx, options, tracking, app);
    try {
      s.store = SessionStore.create(vertx, s.context, tracking.server(), options.replicationMode());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    s.replicating = s.store.replicating();
    s.takeover = new SessionTakeover(vertx, s, s.store, tracking.server(), dev.tether.Tether.of(vertx).node());
    // the retained frames are the DATA a connection has pending: charged once, to the session (which the budget
    // can shed with ERROR 201), not again to the connection (whose shedding would free none of them)
    TrackedServerOptions o = new TrackedServerOptions(net).setTracking(new TrackingOptions(tracking).setChargeWrites(false))
      .setMaxConnections(maxConnections);
    return s.takeover.start().compose(v -> TrackedServer.create(vertx, o).connectHandler(s::accept).listen()).map(ts -> {
      s.server = ts;
      AtomicInteger c = s.sessionCount;
      count(vertx, c, true);
      // undeployed without close(): the count goes with the verticle's context
      SessionTakeover t = s.takeover;
      dev.tether.internal.ContextAccess.onClose(s.context, () -> {
        count(vertx, c, false);
        t.stop();
      });
      log.debug("session server {} ({}): {}", tracking.server(), s.store.clustered() ? "clustered" : "node-local",
        s.replicating ? "replication backup (output commit)" : "no replication");
      return s;
    });
  }

  public int actualPort() {
    return server.actualPort();
  }

  public SessionOptions options() {
    return options;
  }

  /** The server's name ({@code servers.<name>}). */
  public String name() {
    return tracking.server();
  }

  /** True when sessions are replicated with output commit. */
  public boolean replicating() {
    return replicating;
  }

  /** Sessions this instance took over from another instance, node or replica (any thread). */
  public long takeovers() {
    return takeovers.get();
  }

  SessionTakeover takeover() {
    return takeover;
  }

  /** Whether this instance holds session {@code hex} now. Event loop only. */
  boolean holds(String hex) {
    return sessions.containsKey(hex);
  }

  /** Sessions held now (attached or waiting for a resume); readable from any thread. */
  public int sessionCount() {
    return sessionCount.get();
  }

  /**
   * Sessions held now by all open session servers of {@code vertx}: the node's figure in the
   * cluster's node registry (docs/cluster.md). Any thread.
   */
  public static int sessionsHeld(Vertx vertx) {
    synchronized (COUNTS) {
      Set<AtomicInteger> counts = COUNTS.get(vertx);
      int n = 0;
      if (counts != null) {
        for (AtomicInteger c : counts) {
          n += c.get();
        }
      }
      return n;
    }
  }

  private static void count(Vertx vertx, AtomicInteger c, boolean add) {
    synchronized (COUNTS) {
      if (add) {
        COUNTS.computeIfAbsent(vertx, v -> new HashSet<>()).add(c);
      } else {
        Set<AtomicInteger> counts = COUNTS.get(vertx);
        if (counts != null) {
          counts.remove(c);
        }
      }
    }
  }

  /**
   * Gives a session away (to another server or node): detaches it (an attached client gets
   * ERROR 203 and resumes wherever it is sent next), removes it from this store without reporting a
   * loss, and returns its serialised {@link SessionState}. Fails when the session is unknown here.
   */
  public Future<Buffer> handOff(String id) {
    return Future.future(p -> context.runOnContext(v -> {
      ServerSession s = sessions.get(id);
      if (s == null) {
        Buffer again = given.get(id);
        if (again != null) {
          log.debug("session {} handed off again (the previous taker did not claim it)", id);
          p.complete(again);
        } else {
          p.fail(new SessionLostException(id, Frames.E_UNKNOWN_SESSION, "unknown session " + id, 0));
        }
        return;
      }
      s.handOffPending = true; // no new commit starts; the next owner writes the replica
      s.whenNoCommitInFlight(() -> giveAway(s, p));
    }));
  }

  private void giveAway(ServerSession s, io.vertx.core.Promise<Buffer> p) {
    String id = s.hex;
    if (s.ended) {
      p.fail(new SessionLostException(id, Frames.E_UNKNOWN_SESSION, "session " + id + " ended", 0));
      return;
    }
    {
      Connection c = s.conn;
      if (c != null) {
        s.detached(c);
        c.session = null;
        c.fail(Frames.E_SUPERSEDED, "session moved", false);
      }
      Buffer state = s.state.toBuffer();
      int frames = s.state.retained.size();
      given.put(id, state);
      vertx.setTimer(GIVEN_TTL_MS, t -> given.remove(id, state));
      s.handedOff = true;
      s.end();
      log.debug("session {} handed off ({} frames retained)", id, frames);
      p.complete(state);
    }
  }

  /**
   * Takes over a session given away by {@link #handOff}: it waits here, detached, for the client's
   * resume (within {@code sessionTtlMs}); the application gets it as a new {@link Session}.
   */
  public Future<String> adopt(Buffer serialisedState) {
    return Future.future(p -> context.runOnContext(v -> {
      SessionState st;
      try {
        st = SessionState.fromBuffer(serialisedState);
      } catch (RuntimeException e) {
        p.fail(new IllegalArgumentException("unreadable session state: " + e.getMessage(), e));
        return;
      }
      ServerSession s = new ServerSession(st);
      if (sessions.containsKey(s.hex)) {
        s.memory.leave();
        p.fail(new IllegalStateException("session " + s.hex + " is already here"));
        return;
      }
      if (sessions.size() >= options.maxSessions()) {
        s.memory.leave();
        p.fail(new IllegalStateException("session limit " + options.maxSessions() + " reached"));
        return;
      }
      if (!s.memory.charge(s.cost(st.retained.bytes(), st.retained.size()))) {
        s.memory.leave();
        p.fail(new IllegalStateException("node memory budget: no room for session " + s.hex + " with "
          + st.retained.bytes() + " retained bytes"));
        return;
      }
      install(s, null, 0, false, null).onComplete(ar -> {
        if (ar.succeeded()) {
          p.complete(s.hex);
        } else {
          p.fail(ar.cause());
        }
      });
    }));
  }

  /**
   * Installs a session rebuilt from its replica by the NODE_LOST sweep (the directory already
   * names this instance): it waits, detached, for its client. False when it cannot be held here.
   */
  Future<Boolean> recover(Buffer replica) {
    return Future.future(p -> context.runOnContext(v -> {
      SessionState st;
      try {
        st = SessionState.fromBuffer(replica);
      } catch (RuntimeException e) {
        log.error("unreadable replica of a lost node's session: {}", e.toString());
        p.complete(false);
        return;
      }
      ServerSession s = new ServerSession(st);
      if (sessions.containsKey(s.hex) || sessions.size() >= options.maxSessions()
          || !s.memory.charge(s.cost(st.retained.bytes(), st.retained.size()))) {
        s.memory.leave();
        log.error("session {} of a lost node cannot be taken over here ({})", s.hex,
          sessions.containsKey(s.hex) ? "already here" : sessions.size() >= options.maxSessions()
            ? "session limit reached" : "node memory budget");
        store.claim(s.hex, SessionStore.Owner.lost(dev.tether.Tether.of(vertx).node()).encode());
        p.complete(false);
        return;
      }
      s.committedSent = st.lastSent;
      s.committedReceived = st.lastReceived;
      sessions.put(s.hex, s);
      sessionCount.set(sessions.size());
      expired.remove(s.hex);
      takeovers.incrementAndGet();
      app.onSession(s);
      s.detached(null);
      p.complete(true);
    }));
  }

  /**
   * Makes {@code s} this instance's: recorded in the directory as owned here and, with
   * replication, its state written to the replica; then (unless it has ended meanwhile) the
   * application gets it and {@code c} (when still waiting for its WELCOME) is attached, else it
   * waits detached. The session is in {@link #sessions} from the start (a second resume finds it).
   */
  private Future<Void> install(ServerSession s, Connection c, long peerLast, boolean isNew, String from) {
    given.remove(s.hex);
    sessions.put(s.hex, s);
    sessionCount.set(sessions.size());
    expired.remove(s.hex);
    Future<Void> stored = from == null ? store.claim(s.hex, takeover.record())
      : store.claimFrom(s.hex, from, takeover.record()).compose(won -> won ? Future.succeededFuture()
        : Future.failedFuture(new LostClaim()));
    if (replicating) {
      long sent = s.state.lastSent;
      long received = s.state.lastReceived;
      stored = stored.compose(v -> store.save(s.hex, s.state.toBuffer()).transform(saved -> {
        if (saved.succeeded()) {
          s.committedSent = Math.max(s.committedSent, sent);
          s.committedReceived = Math.max(s.committedReceived, received);
        } else if (from != null) {
          // claimed (the directory names this instance now) but the replica write failed: keep the
          // session, expose nothing beyond what the previous owner committed (committed marks 0:
          // WELCOME says 0, the client resends what it holds), and commit again
          log.warn("session {}: replica write after the takeover failed, retrying: {}", s.hex, saved.cause().toString());
          context.runOnContext(x -> s.changed());
        } else {
          return Future.failedFuture(saved.cause());
        }
        return Future.succeededFuture();
      }));
    }
    return stored.transform(ar -> {
      if (ar.failed() && from != null) {
        // a takeover whose claim lost (the directory changed since the fetch: the NODE_LOST sweep
        // rebuilt it elsewhere from its replica) or failed (e.g. the partition's primary died with
        // the old owner): this copy was never exposed and is not known to be the session's; drop
        // it without touching the directory or the replica, and look again
        log.info("session {}: taking it over failed ({}), looking it up again", s.hex,
          ar.cause() instanceof LostClaim ? "its owner changed meanwhile" : ar.cause().toString());
        s.handedOff = true;
        s.end();
        if (c != null && c.state == ConnState.RESOLVING) {
          takeover.fetch(s.hex).onComplete(again -> c.fetched(s.hex, peerLast, again));
        }
        return Future.failedFuture(ar.cause());
      }
      if (ar.failed()) {
        log.warn("session {}: could not record it in the session store: {}", s.hex, ar.cause().toString());
        s.end();
        if (c != null) {
          c.fail(Frames.E_RETRY, "session store unavailable: " + ar.cause().getMessage(), false);
        }
        return Future.failedFuture(ar.cause());
      }
      if (s.ended) {
        return Future.failedFuture(new IllegalStateException("session " + s.hex + " ended"));
      }
      if (!isNew) {
        app.onSession(s);
      }
      if (c != null && c.state == ConnState.RESOLVING) {
        c.state = ConnState.AWAIT_HELLO;
        try {
          c.resume(s, peerLast); // supersedes a connection that resumed it meanwhile
        } catch (ProtocolException e) {
          c.fail(e.code(), e.getMessage(), true);
        }
        if (isNew) {
          app.onSession(s);
          if (s.drainHandler != null && c.state == ConnState.ATTACHED) {
            s.drainHandler.handle(null);
          }
        }
      } else {
        if (isNew) {
          app.onSession(s);
        }
        if (s.conn == null) {
          s.detached(null);
        }
      }
      return Future.succeededFuture();
    });
  }

  /** Called (on the event loop) for each SESSION_EXPIRED event, before it is published. */
  public SessionServer expiryHandler(Handler<FailureEvent> handler) {
    this.expiryHandler = handler;
    return this;
  }

  /**
   * Serialised state of a session (id, seqs, retained frames) for a hand-off to another node, or
   * null when unknown. Event loop only.
   */
  public Buffer snapshot(String id) {
    assert owner();
    ServerSession s = sessions.get(id);
    return s == null ? null : s.state.toBuffer();
  }

  /**
   * How long a closing clustered server keeps its sessions for their clients to resume on another
   * node (each is then handed over as from a live owner); what is left after it is ended.
   */
  static final long DRAIN_MS = 5_000;

  /**
   * Stops the server. Clustered with other members alive, it first drains: every attached client is
   * told ERROR 206 (resume again, on another node) and each session waits, up to {@link #DRAIN_MS},
   * to be taken over by the node its client resumes on, exactly as from a live owner; so a rolling
   * restart loses nothing. Then (or at once, when there is nowhere to go) every session still here
   * ends: one that still held unacknowledged frames is reported as SESSION_EXPIRED, and an attached
   * client is told with an ERROR.
   */
  public Future<Void> close() {
    Promise<Void> drained = Promise.promise();
    context.runOnContext(v -> {
      closed = true;
      count(vertx, sessionCount, false);
      if (sessions.isEmpty() || !store.clustered() || !othersInCluster()) {
        endAll(drained);
        return;
      }
      int told = 0;
      for (ServerSession s : new java.util.ArrayList<>(sessions.values())) {
        Connection c = s.conn;
        if (c != null) {
          s.detached(c);
          c.session = null;
          c.fail(Frames.E_RETRY, "server shutting down: resume on another node", false);
          told++;
        }
      }
      log.info("session server {} shutting down: {} sessions wait up to {} ms to be taken over elsewhere ({} clients told "
        + "to resume there)", tracking.server(), sessions.size(), DRAIN_MS, told);
      drain(System.currentTimeMillis() + DRAIN_MS, drained);
    });
    return drained.future().compose(v -> server.close());
  }

  private void drain(long deadline, Promise<Void> drained) {
    if (sessions.isEmpty() || System.currentTimeMillis() >= deadline) {
      if (!sessions.isEmpty()) {
        log.warn("session server {}: {} sessions not taken over within {} ms of shutting down; ending them",
          tracking.server(), sessions.size(), DRAIN_MS);
      }
      endAll(drained);
    } else {
      vertx.setTimer(50, t -> drain(deadline, drained));
    }
  }

  private void endAll(Promise<Void> done) {
    for (ServerSession s : new java.util.ArrayList<>(sessions.values())) {
      s.expire("server shutting down");
    }
    done.complete();
  }

  /** Whether another member of the cluster is alive (somewhere for the sessions to go). */
  private boolean othersInCluster() {
    try {
      return vertx instanceof io.vertx.core.internal.VertxInternal vi && vi.clusterManager() != null
        && vi.clusterManager().getNodes().size() > 1;
    } catch (RuntimeException e) {
      return false;
    }
  }

  boolean owner() {
    return Vertx.currentContext() == context;
  }

  private void accept(TrackedSocket tracked) {
    new Connection(tracked);
  }

  // -----------------------------------------------------------------------------------------------

  /** A session as the server holds it; the application sees it as a {@link Session}. */
  private final class ServerSession implements Session {
    final SessionState state;
    final String hex;
    Connection conn;
    long ttlTimer = -1;
    boolean ended;
    /** Given to another server: ending it is no loss. */
    boolean handedOff;
    boolean paused;
    long sentCount;
    long ackedCount;
    long receivedCount;
    Handler<Buffer> handler;
    Handler<Void> drainHandler;
    Handler<Void> endHandler;
    /*
     * Output commit (replication on): the seqs on the replica. Only frames up to committedSent are
     * written to the peer and only committedReceived is acknowledged. Without replication they are
     * not used (sendable() and ackable() return lastSent and lastReceived).
     */
    long committedSent;
    long committedReceived;
    boolean commitQueued;
    boolean commitInFlight;
    /** Being handed over: no new commit (the next owner writes the replica). */
    boolean handOffPending;
    java.util.List<Runnable> afterCommit;
    /** Retained frames in the node's memory budget; reading paused by the budget (event loop). */
    final MemoryBudget.Account memory;
    boolean memoryPaused;
    /** Why the memory budget shed this session (set when it did). */
    MemoryShedException shedBy;

    ServerSession(SessionState state) {
      this.state = state;
      this.hex = Frames.hex(state.id());
      this.memory = Tether.of(vertx).memory().open("session", hex, new MemoryBudget.Holder() {
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
          context.runOnContext(v -> shedForMemory(reason, 0));
        }
      });
    }

    /** What retaining {@code frameBytes} of encoded frames costs the budget. */
    long cost(long frameBytes, int frames) {
      return frameBytes + (long) frames * RetainedFrames.FRAME_OVERHEAD_BYTES;
    }

    /**
     * The memory budget's back-pressure on a session: its connection keeps being read (the client's
     * ACKs, which free retained frames, travel behind its DATA), but DATA is held undelivered and
     * unacknowledged, so the application produces nothing new for it; a client that respects its
     * window stops sending. Held DATA is charged to the connection's account.
     */
    void memoryPause(boolean on) {
      if (on == memoryPaused || ended) {
        return;
      }
      memoryPaused = on;
      if (!on && conn != null) {
        conn.releaseHeld();
      }
    }

    /** Expires the session with SESSION_EXPIRED carrying its retained bytes (event loop). */
    void shedForMemory(String reason, int refused) {
      if (ended) {
        return;
      }
      shedBy = new MemoryShedException(reason, memory.bytes());
      expire("shed by the node memory budget" + (refused > 0 ? ", a frame of " + refused + " payload bytes refused" : "")
        + ": " + reason);
    }

    @Override
    public String id() {
      return hex;
    }

    /** Seq of the last DATA frame that may be written to the peer. */
    long sendable() {
      return replicating ? committedSent : state.lastSent;
    }

    /** Seq of the last DATA frame that may be acknowledged to the peer. */
    long ackable() {
      return replicating ? committedReceived : state.lastReceived;
    }

    /** Something to commit: one replica write per session at a time, batching what a turn changed. */
    void changed() {
      if (!commitQueued && !commitInFlight && !ended && !handOffPending) {
        commitQueued = true;
        context.runOnContext(v -> commit());
      }
    }

    void commit() {
      commitQueued = false;
      if (ended || commitInFlight || handOffPending) {
        return;
      }
      long sent = state.lastSent;
      long received = state.lastReceived;
      commitInFlight = true;
      store.save(hex, state.toBuffer()).onComplete(ar -> {
        commitInFlight = false;
        if (ar.succeeded()) {
          committedSent = Math.max(committedSent, sent);
          committedReceived = Math.max(committedReceived, received);
          if (conn != null) {
            conn.committed();
          }
        } else {
          log.warn("session {}: replica write failed, closing its connection (ERROR 206): {}", hex, ar.cause().toString());
          if (conn != null) {
            conn.fail(Frames.E_RETRY, "session store unavailable: " + ar.cause().getMessage(), false);
          }
        }
        if (ended && !handedOff) {
          store.forget(hex); // ended while the write was in flight: do not leave it behind
        }
        java.util.List<Runnable> waiting = afterCommit;
        afterCommit = null;
        if (waiting != null) {
          waiting.forEach(Runnable::run);
        }
        if (ar.succeeded() && (state.lastSent > committedSent || state.lastReceived > committedReceived)) {
          changed();
        }
      });
    }

    void whenNoCommitInFlight(Runnable r) {
      if (!commitInFlight) {
        r.run();
      } else {
        if (afterCommit == null) {
          afterCommit = new java.util.ArrayList<>(1);
        }
        afterCommit.add(r);
      }
    }

    @Override
    public Session handler(Handler<Buffer> handler) {
      this.handler = handler;
      return this;
    }

    @Override
    public void send(Buffer payload) {
      assert owner();
      if (ended) {
        throw new IllegalStateException("session " + hex + " has ended");
      }
      if (!memory.charge(cost(payload.length() + Frames.DATA_OVERHEAD, 1))) {
        // chosen by the node's memory budget: nothing more is retained, the session ends (reported)
        shedForMemory("refused a frame: " + memory, payload.length());
        return;
      }
      // on the heap, where the node's memory budget counts it (pooled direct memory would escape the
      // budget: see docs/performance.md); the payload may be lent, the frame is a copy
      Buffer frame = Frames.data(++state.lastSent, payload);
      state.retained.add(frame);
      sentCount++;
      if (replicating) {
        changed();
      }
      if (conn != null) {
        conn.pump();
      }
      if (state.retained.bytes() > options.maxRetainedBytes()) {
        expire("retained bytes passed maxRetainedBytes " + options.maxRetainedBytes());
      }
    }

    @Override
    public boolean writeQueueFull() {
      return conn != null && (conn.tracked.writeQueueFull() || conn.written < sendable());
    }

    @Override
    public Session drainHandler(Handler<Void> handler) {
      this.drainHandler = handler;
      return this;
    }

    @Override
    public void pause() {
      paused = true;
      if (conn != null) {
        conn.tracked.pause();
      }
    }

    @Override
    public void resume() {
      paused = false;
      if (conn != null && conn.state == ConnState.ATTACHED) {
        conn.tracked.resume();
      }
    }

    @Override
    public Session endHandler(Handler<Void> handler) {
      this.endHandler = handler;
      return this;
    }

    @Override
    public long received() {
      return receivedCount;
    }

    @Override
    public long sent() {
      return sentCount;
    }

    @Override
    public long acknowledged() {
      return ackedCount;
    }

    @Override
    public boolean attached() {
      return conn != null;
    }

    void attach(Connection c) {
      cancelTtl();
      conn = c;
      if (paused) {
        c.tracked.pause();
      }
    }

    /** The connection {@code c} left (null: the session arrived without one); the TTL starts. */
    void detached(Connection c) {
      if (conn != c) {
        return;
      }
      conn = null;
      if (!ended) {
        ttlTimer = vertx.setTimer(options.sessionTtlMs(), t -> {
          ttlTimer = -1;
          if (conn == null && !ended) {
            expire("not resumed within sessionTtlMs " + options.sessionTtlMs());
          }
        });
      }
    }

    void cancelTtl() {
      if (ttlTimer != -1) {
        vertx.cancelTimer(ttlTimer);
        ttlTimer = -1;
      }
    }

    /** Ends the session for good; reports SESSION_EXPIRED when frames were never acknowledged. */
    void expire(String reason) {
      if (ended) {
        return;
      }
      RetainedFrames r = state.retained;
      String connection = conn != null ? conn.tracked.id() : "session-" + hex;
      String remote = conn != null ? conn.tracked.remote() : "detached";
      // read before end()
      long bytes = r.bytes();
      boolean lost = !r.isEmpty();
      String message = lost ? "session " + hex + " expired (" + reason + ") with " + r.size() + " frames unacknowledged"
        + " (seq " + r.firstSeq() + ".." + state.lastSent + ", " + r.payloadBytes() + " payload bytes)" : null;
      end();
      expired.put(hex, bytes);
      if (conn != null) {
        conn.fail(Frames.E_SESSION_EXPIRED, "session " + hex + " expired: " + reason, false);
      }
      if (lost) {
        reportLoss(connection, remote, bytes, message);
      } else {
        log.debug("session {} ended ({}), nothing unacknowledged", hex, reason);
      }
    }

    void reportLoss(String connection, String remote, long bytes, String message) {
      SessionLostException cause = new SessionLostException(hex, Frames.E_SESSION_EXPIRED, message, bytes);
      if (shedBy != null) {
        cause.initCause(shedBy);
      }
      FailureEvent e = reporter.event(connection, remote, FailureKind.SESSION_EXPIRED, Direction.WRITE,
        bytes, 0, state.releasedBytes, cause, false);
      Handler<FailureEvent> h = expiryHandler;
      if (h != null) {
        h.handle(e);
      }
      reporter.report(e).onComplete(ar -> {
        Decision d = ar.result();
        reporter.publish(e, d, bytes, RecoveryOutcome.FAILED, "session gone: " + bytes + " bytes cannot be resent");
      });
    }

    /** Removes the session from the store; no more resumes. */
    void end() {
      if (ended) {
        return;
      }
      ended = true;
      cancelTtl();
      memory.leave();
      sessions.remove(hex, this);
      sessionCount.set(sessions.size());
      if (!handedOff) {
        store.forget(hex);
      }
      Handler<Void> h = endHandler;
      if (h != null) {
        h.handle(null);
      }
    }
  }

  /** RESOLVING: HELLO seen, reading paused while the session is brought here or recorded. */
  /** A takeover's claim lost to another (the directory no longer names the owner it came from). */
  private static final class LostClaim extends RuntimeException {
    LostClaim() {
      super("the session's owner changed during the takeover", null, false, false);
    }
  }

  private enum ConnState { AWAIT_HELLO, RESOLVING, ATTACHED, CLOSED }

  /** One accepted connection: decodes frames, runs HELLO/WELCOME, then carries a session. */
  private final class Connection {
    final TrackedSocket tracked;
    final FrameDecoder decoder = new FrameDecoder(options.maxFrameBytes());
    ConnState state = ConnState.AWAIT_HELLO;
    ServerSession session;
    /**
     * Seq of the last DATA written on this connection. Frames after it (a resend after a resume, or
     * new frames while the connection is over its high-water mark) are written by {@link #pump()} as
     * the connection drains, so a resume never pushes more than the high-water mark at once.
     */
    long written;
    long ackedIn;
    long helloTimer;
    long idleTimer = -1;
    /** The transport failed (reset, broken pipe): an incomplete last frame is then no protocol error. */
    boolean connectionFailed;
    /** Bytes of an incomplete frame when the peer's stream ended. */
    int partialAtEnd;
    /** A complete frame arrived since the idle timer last looked (bytes alone are no activity). */
    boolean activity;
    /** Decoder bytes charged to the connection's memory account. */
    int decoderCharged;
    /** Frames decoded so far; when the incomplete frame in the decoder began (nanoTime, -1: none). */
    long frames;
    long partialSince = -1;
    long frameTimer = -1;
    /** DATA held while the session is paused by the memory budget, in order, and their charge. */
    final java.util.ArrayDeque<Frame> held = new java.util.ArrayDeque<>();
    long heldCharged;

    Connection(TrackedSocket tracked) {
      assert owner() : "connection accepted off the session server's event loop";
      this.tracked = tracked;
      tracked.failureHandler(e -> {
        if (e.kind() == FailureKind.READ_FAILED || e.kind() == FailureKind.WRITE_FAILED) {
          connectionFailed = true;
        }
      });
      tracked.closeHandler(v -> onClosed());
      tracked.drainHandler(v -> {
        pump();
        if (session != null && session.drainHandler != null && !session.writeQueueFull()) {
          session.drainHandler.handle(null);
        }
      });
      tracked.endHandler(v -> onEnd());
      // the zero-copy read path: frames are decoded in place from the pooled memory read
      tracked.zeroCopyHandler(this::onData);
      helloTimer = vertx.setTimer(options.helloTimeoutMs(), t -> {
        helloTimer = -1;
        if (state == ConnState.AWAIT_HELLO) {
          fail(Frames.E_TIMEOUT, "no HELLO within " + options.helloTimeoutMs() + " ms", true);
        } else if (state == ConnState.RESOLVING) {
          fail(Frames.E_RETRY, "session not ready within helloTimeoutMs " + options.helloTimeoutMs(), false);
        }
      });
      if (closed) {
        fail(Frames.E_SHUTDOWN, "server shutting down", false);
      }
    }

    void onData(Buffer buf) {
      assert owner() : "session connection used off its event loop";
      if (state == ConnState.CLOSED) {
        return;
      }
      long framesBefore = frames;
      try {
        decoder.decode(buf, this::onFrame);
      } catch (ProtocolException e) {
        fail(e.code(), e.getMessage(), true);
        return;
      }
      if (state == ConnState.CLOSED) {
        return;
      }
      int partial = decoder.buffered();
      chargeDecoder(partial);
      if (partial == 0) {
        partialSince = -1;
      } else if (partialSince < 0 || frames != framesBefore) {
        // the incomplete frame's first byte came with this read
        partialSince = System.nanoTime();
        armFrameDeadline();
      }
      if (state == ConnState.ATTACHED) {
        if (replicating && session.state.lastReceived > session.committedReceived) {
          session.changed();
        }
        sendAck();
      }
    }

    void sendAck() {
      long ack = session.ackable();
      if (ack > ackedIn) {
        ackedIn = ack;
        sendPooled(Frames.pooledLongFrame(Frames.ACK, ack));
      }
    }

    /** A replica write of the attached session completed: what it covers may go out now. */
    void committed() {
      if (state == ConnState.ATTACHED) {
        pump();
        sendAck();
      }
    }

    /** Sends a frame made in pooled memory and gives our reference back (the write holds its own). */
    void sendPooled(dev.tether.internal.LentBuffer frame) {
      try {
        tracked.send(frame);
      } finally {
        frame.byteBuf().release();
      }
    }

    /**
     * A frame decoded in place ({@code buf[start, end)} is its body, valid during this call): the
     * frequent ones (DATA, ACK, PING) are handled without an object per frame; the others become a
     * {@link Frame} with a copy of the body.
     */
    void onFrame(byte type, Buffer buf, int start, int end) {
      if (state == ConnState.CLOSED) {
        return;
      }
      if (type != Frames.DATA && type != Frames.ACK && type != Frames.PING) {
        onFrame(new Frame(type, buf.getBuffer(start, end)));
        return;
      }
      frames++;
      activity = true;
      try {
        switch (type) {
          case Frames.DATA -> {
            if (session != null && (session.memoryPaused || !held.isEmpty())) {
              hold(new Frame(type, buf.getBuffer(start, end))); // a copy: the read is only lent
            } else {
              onDataFrame(buf.getLong(start), buf, start + 8, end);
            }
          }
          case Frames.ACK -> onAck(buf.getLong(start));
          default -> sendPooled(Frames.pooledLongFrame(Frames.PONG, buf.getLong(start)));
        }
      } catch (ProtocolException e) {
        fail(e.code(), e.getMessage(), true);
      }
    }

    void onFrame(Frame f) {
      if (state == ConnState.CLOSED) {
        return;
      }
      frames++;
      activity = true;
      try {
        switch (f.type()) {
          case Frames.HELLO -> onHello(f);
          case Frames.DATA -> {
            if (session != null && (session.memoryPaused || !held.isEmpty())) {
              hold(f);
            } else {
              onDataFrame(f.number(), f.body(), 8, f.body().length());
            }
          }
          case Frames.ACK -> onAck(f.number());
          case Frames.PING -> tracked.send(Frames.pong(f.number()));
          case Frames.PONG -> { }
          case Frames.BYE -> onBye();
          case Frames.ERROR -> {
            log.info("{}: peer sent ERROR {}: {}", tracked.id(), f.errorCode(), Frames.printable(f.errorMessage(), 200));
            close();
          }
          default -> throw new ProtocolException(Frames.E_UNEXPECTED,
            Frames.typeName(f.type()) + " is not sent by clients");
        }
      } catch (ProtocolException e) {
        fail(e.code(), e.getMessage(), true);
      }
    }

    void onHello(Frame f) throws ProtocolException {
      if (state != ConnState.AWAIT_HELLO) {
        throw new ProtocolException(Frames.E_UNEXPECTED, "second HELLO on a connection");
      }
      byte[] id = f.id();
      long peerLast = f.lastReceived();
      ServerSession s;
      if (Frames.isZero(id)) {
        if (peerLast != 0) {
          throw new ProtocolException(Frames.E_BAD_SEQ, "new session with last received seq " + peerLast);
        }
        if (sessions.size() >= options.maxSessions()) {
          fail(Frames.E_SESSION_LIMIT, "session limit " + options.maxSessions() + " reached", false);
          return;
        }
        byte[] nid = new byte[Frames.ID_BYTES];
        do {
          IDS.nextBytes(nid);
        } while (Frames.isZero(nid) || sessions.containsKey(Frames.hex(nid)));
        resolving();
        install(new ServerSession(new SessionState(nid)), this, 0, true, null);
        return;
      }
      String hex = Frames.hex(id);
      s = sessions.get(hex);
      if (s == null) {
        Long lost = expired.get(hex);
        if (lost != null) {
          fail(Frames.E_SESSION_EXPIRED, "session " + hex + " expired"
            + (lost > 0 ? " with " + lost + " bytes unacknowledged" : ""), false);
          return;
        }
        // held elsewhere (another instance or node), or a replica of a lost node's session, or unknown
        resolving();
        takeover.fetch(hex).onComplete(ar -> fetched(hex, peerLast, ar));
        return;
      }
      resume(s, peerLast);
    }

    void resolving() {
      state = ConnState.RESOLVING;
      tracked.pause(); // nothing is read until the session is here (the HELLO timer still runs)
    }

    /** The outcome of {@link SessionTakeover#fetch} for this connection's HELLO (on the event loop). */
    void fetched(String hex, long peerLast, io.vertx.core.AsyncResult<SessionTakeover.Fetched> ar) {
      if (ar.succeeded() && ar.result() != null) {
        ServerSession s;
        String from = ar.result().from();
        try {
          s = new ServerSession(SessionState.fromBuffer(ar.result().state()));
        } catch (RuntimeException e) {
          log.error("session {}: unreadable state from its previous owner: {}", hex, e.toString());
          fail(Frames.E_UNKNOWN_SESSION, "session " + hex + " could not be taken over", false);
          return;
        }
        ServerSession here = sessions.get(hex);
        if (here != null) {
          s.memory.leave();
          log.error("session {} taken over while already here; keeping the one here", hex);
        } else if (!s.memory.charge(s.cost(s.state.retained.bytes(), s.state.retained.size()))) {
          // not installed: its previous owner hands the same state out again to the next request
          s.memory.leave();
          fail(Frames.E_RETRY, "node memory budget: no room for session " + hex + "; resume elsewhere", false);
          return;
        } else {
          takeovers.incrementAndGet();
          if (state == ConnState.RESOLVING && peerLast > s.state.lastSent) {
            fail(Frames.E_BAD_SEQ, "peer claims seq " + peerLast + " but only " + s.state.lastSent + " were sent", true);
            install(s, null, 0, false, from);
          } else {
            install(s, this, peerLast, false, from); // kept (detached) even if this connection has gone
          }
          return;
        }
      }
      if (state != ConnState.RESOLVING) {
        return;
      }
      if (ar.succeeded()) {
        ServerSession s = sessions.get(hex); // the directory says it is here
        if (s != null) {
          state = ConnState.AWAIT_HELLO;
          try {
            resume(s, peerLast);
          } catch (ProtocolException e) {
            fail(e.code(), e.getMessage(), true);
          }
        } else {
          unknown(hex, "unknown session " + hex + " (never existed here, or expired and forgotten)");
        }
        return;
      }
      int code = ar.cause() instanceof ProtocolException pe ? pe.code() : Frames.E_RETRY;
      if (code == Frames.E_UNKNOWN_SESSION) {
        unknown(hex, ar.cause().getMessage());
      } else {
        fail(code, ar.cause().getMessage(), false);
      }
    }

    /** A resume of a session nobody holds: nobody here knows what the peer lost, so report it, never silent. */
    void unknown(String hex, String message) {
      FailureEvent e = reporter.event(tracked.id(), tracked.remote(), FailureKind.SESSION_EXPIRED, Direction.WRITE,
        0, 0, 0, new SessionLostException(hex, Frames.E_UNKNOWN_SESSION, "resume of unknown session " + hex, 0), false);
      Handler<FailureEvent> h = expiryHandler;
      if (h != null) {
        h.handle(e);
      }
      reporter.report(e).onComplete(ar -> reporter.publish(e, ar.result(), 0, RecoveryOutcome.FAILED,
        "unknown session: nothing to resume"));
      fail(Frames.E_UNKNOWN_SESSION, message, false);
    }

    /** A resume of session {@code s}, held by this instance. */
    void resume(ServerSession s, long peerLast) throws ProtocolException {
      if (peerLast > s.state.lastSent) {
        throw new ProtocolException(Frames.E_BAD_SEQ, "peer claims seq " + peerLast + " but only "
          + s.state.lastSent + " were sent");
      }
      if (s.conn != null) {
        Connection old = s.conn;
        s.detached(old);
        old.session = null;
        old.fail(Frames.E_SUPERSEDED, "session resumed on another connection", false);
      }
      attach(s, peerLast);
      if (s.drainHandler != null && state == ConnState.ATTACHED) {
        s.drainHandler.handle(null);
      }
    }

    void attach(ServerSession s, long peerLast) {
      cancelHelloTimer();
      ackFrames(s, peerLast);
      session = s;
      state = ConnState.ATTACHED;
      ackedIn = s.ackable(); // never more than is on the replica
      s.attach(this);
      if (!s.paused) {
        tracked.resume(); // paused while RESOLVING
      }
      tracked.send(Frames.welcome(s.state.id(), ackedIn));
      written = peerLast;
      pump();
      armIdle();
      log.debug("{}: session {} attached, peer had {}, resending {} frames", tracked.id(), s.hex, peerLast,
        s.state.lastSent - peerLast);
    }

    /** Writes retained frames after {@link #written} while the connection is below its high-water mark. */
    void pump() {
      if (state != ConnState.ATTACHED || session == null) {
        return;
      }
      RetainedFrames r = session.state.retained;
      long first = r.firstSeq();
      if (first > written + 1) {
        written = first - 1; // acknowledged meanwhile
      }
      long last = session.sendable();
      while (written < last && !tracked.writeQueueFull()) {
        Buffer f = r.get(written + 1);
        if (f == null) {
          break; // released by an ACK: the peer has it
        }
        tracked.send(f);
        written++;
      }
    }

    /** DATA {@code seq} whose payload is {@code buf[from, to)} (valid during this call). */
    void onDataFrame(long seq, Buffer buf, int from, int to) throws ProtocolException {
      if (state != ConnState.ATTACHED) {
        throw new ProtocolException(Frames.E_UNEXPECTED, state == ConnState.RESOLVING ? "DATA before WELCOME" : "DATA before HELLO");
      }
      ServerSession s = session;
      SessionState st = s.state;
      if (seq <= st.lastReceived) {
        st.duplicates++;
        return;
      }
      if (seq != st.lastReceived + 1) {
        throw new ProtocolException(Frames.E_BAD_SEQ, "sequence gap: expected DATA " + (st.lastReceived + 1) + ", got " + seq);
      }
      Handler<Buffer> h = s.handler;
      if (h != null) {
        try {
          // zero-copy applications get a view (lent: a slice of the pooled read), others a heap copy
          h.handle(app.zeroCopy() ? buf.slice(from, to) : buf.getBuffer(from, to));
        } catch (Exception e) {
          handlerFailed(s, seq, e);
          return;
        }
      }
      // only now does the frame count as received, and so become acknowledgeable
      st.lastReceived = seq;
      s.receivedCount++;
    }

    /**
     * The application's handler threw on DATA {@code seq}: that frame was not received as far as the
     * protocol goes (never acknowledged). Logged, reported as READ_FAILED, and this connection is
     * closed with ERROR 205 while the session is kept: the client resumes and resends the frame.
     */
    void handlerFailed(ServerSession s, long seq, Exception e) {
      log.warn("{}: session {}: application handler failed on DATA {}; not acknowledged, closing the connection so the"
        + " client resumes and resends it", tracked.id(), s.hex, seq, e);
      fail(Frames.E_HANDLER_FAILED, "application failed on DATA " + seq + "; resume to have it delivered again",
        FailureKind.READ_FAILED, new SessionHandlerException(s.hex, seq, e));
    }

    void onAck(long ack) throws ProtocolException {
      if (state != ConnState.ATTACHED) {
        throw new ProtocolException(Frames.E_UNEXPECTED, "ACK before HELLO");
      }
      if (ack > session.state.lastSent) {
        throw new ProtocolException(Frames.E_BAD_SEQ, "ACK of seq " + ack + " but only " + session.state.lastSent + " were sent");
      }
      ackFrames(session, ack);
    }

    void ackFrames(ServerSession s, long ack) {
      RetainedFrames r = s.state.retained;
      long before = r.bytes();
      int n = r.release(ack);
      s.state.releasedBytes += before - r.bytes();
      s.memory.credit(s.cost(before - r.bytes(), n));
      s.ackedCount += n;
    }

    void onBye() {
      if (session != null) {
        ServerSession s = session;
        sendAck(); // everything received (and, with replication, committed) is acknowledged before the BYE
        if (!s.state.retained.isEmpty()) {
          long bytes = s.state.retained.bytes();
          int frames = s.state.retained.size();
          s.end();
          s.reportLoss(tracked.id(), tracked.remote(), bytes, "session " + s.hex + " ended by BYE with "
            + frames + " frames unacknowledged");
        } else {
          s.end();
        }
        session = null;
      }
      tracked.send(Frames.bye());
      close();
    }

    /** Holds a DATA frame while the session is paused by the memory budget (charged to this connection). */
    void hold(Frame f) {
      held.add(f);
      long cost = f.payload().length() + Frames.DATA_OVERHEAD + RetainedFrames.FRAME_OVERHEAD_BYTES;
      if (tracked.memory().charge(cost)) {
        heldCharged += cost;
      }
    }

    /** Delivers the held DATA in order (the memory budget resumed the session), then acknowledges. */
    void releaseHeld() {
      while (!held.isEmpty() && state == ConnState.ATTACHED && session != null && !session.memoryPaused) {
        Frame f = held.poll();
        long cost = Math.min(heldCharged, f.payload().length() + Frames.DATA_OVERHEAD + RetainedFrames.FRAME_OVERHEAD_BYTES);
        heldCharged -= cost;
        tracked.memory().credit(cost);
        try {
          onDataFrame(f.number(), f.body(), 8, f.body().length());
        } catch (ProtocolException e) {
          fail(e.code(), e.getMessage(), true);
          return;
        }
      }
      if (state == ConnState.ATTACHED && session != null) {
        if (replicating && session.state.lastReceived > session.committedReceived) {
          session.changed();
        }
        sendAck();
      }
    }

    /** Charges (or credits) the decoder's buffer to the connection's memory account. */
    void chargeDecoder(int buffered) {
      int delta = buffered - decoderCharged;
      if (delta > 0) {
        // refused only when the budget chose this connection: its shedding closes it
        if (tracked.memory().charge(delta)) {
          decoderCharged = buffered;
        }
      } else if (delta < 0) {
        tracked.memory().credit(-delta);
        decoderCharged = buffered;
      }
    }

    /** Slow-loris: a frame once begun must be complete within frameDeadlineMs. */
    void armFrameDeadline() {
      long deadline = options.frameDeadlineMs();
      if (deadline > 0 && frameTimer == -1) {
        frameTimer = vertx.setTimer(deadline, t -> onFrameDeadline());
      }
    }

    void onFrameDeadline() {
      frameTimer = -1;
      if (state == ConnState.CLOSED || partialSince < 0) {
        return;
      }
      long deadline = options.frameDeadlineMs();
      long elapsedMs = (System.nanoTime() - partialSince) / 1_000_000;
      if (elapsedMs >= deadline) {
        log.info("{}: a frame begun {} ms ago is still incomplete ({} bytes of it received), frameDeadlineMs {}: closing",
          tracked.id(), elapsedMs, decoder.buffered(), deadline);
        fail(Frames.E_TIMEOUT, "frame not complete within frameDeadlineMs " + deadline + " ("
          + decoder.buffered() + " bytes of it received)", true);
      } else {
        frameTimer = vertx.setTimer(Math.max(1, deadline - elapsedMs), t -> onFrameDeadline());
      }
    }

    void armIdle() {
      if (options.idleTimeoutMs() > 0 && idleTimer == -1) {
        idleTimer = vertx.setPeriodic(options.idleTimeoutMs(), t -> {
          if (!activity && state == ConnState.ATTACHED) {
            log.info("{}: nothing received for {} ms, closing", tracked.id(), options.idleTimeoutMs());
            close();
          }
          activity = false;
        });
      }
    }

    /**
     * Sends an ERROR frame and closes; with {@code protocolError} also reports PROTOCOL_ERROR. The
     * session (if any) stays resumable until its TTL.
     */
    void fail(int code, String message, boolean protocolError) {
      fail(code, message, protocolError ? FailureKind.PROTOCOL_ERROR : null,
        protocolError ? new ProtocolException(code, message) : null);
    }

    /** Like {@link #fail(int, String, boolean)}, reporting {@code kind} with {@code cause} unless kind is null. */
    void fail(int code, String message, FailureKind kind, Throwable cause) {
      if (state == ConnState.CLOSED) {
        return;
      }
      log.debug("{}: ERROR {} {}", tracked.id(), code, message);
      if (!tracked.isClosed()) {
        tracked.send(Frames.error(code, message));
        if (kind != null) {
          tracked.reportFailure(kind, cause);
        }
      }
      close();
    }

    void close() {
      if (state == ConnState.CLOSED) {
        return;
      }
      state = ConnState.CLOSED;
      tracked.pause();
      detach();
      tracked.close();
    }

    void detach() {
      cancelHelloTimer();
      if (frameTimer != -1) {
        vertx.cancelTimer(frameTimer);
        frameTimer = -1;
      }
      if (idleTimer != -1) {
        vertx.cancelTimer(idleTimer);
        idleTimer = -1;
      }
      held.clear(); // never acknowledged: the client resends them after its resume
      if (session != null) {
        session.detached(this);
        session = null;
      }
    }

    void cancelHelloTimer() {
      if (helloTimer != -1) {
        vertx.cancelTimer(helloTimer);
        helloTimer = -1;
      }
    }

    void onEnd() {
      if (state != ConnState.CLOSED) {
        partialAtEnd = decoder.buffered();
      }
    }

    /**
     * Runs after the tracked socket reported its own failures (if any). A stream that ended inside
     * a frame without a transport failure is a truncated frame: reported as PROTOCOL_ERROR through
     * the shared reporter, since the connection is gone (no ERROR frame can be sent).
     */
    void onClosed() {
      boolean wasOpen = state != ConnState.CLOSED;
      state = ConnState.CLOSED;
      detach();
      if (wasOpen && partialAtEnd > 0 && !connectionFailed) {
        ProtocolException cause = new ProtocolException(Frames.E_MALFORMED,
          "truncated frame: connection ended with " + partialAtEnd + " bytes of an incomplete frame");
        FailureEvent e = reporter.event(tracked.id(), tracked.remote(), FailureKind.PROTOCOL_ERROR, Direction.READ,
          0, 0, 0, cause, false);
        reporter.report(e).onComplete(ar -> reporter.publish(e, ar.result(), 0, RecoveryOutcome.OK,
          "connection already closed"));
      }
    }
  }
}
