package dev.tether.session;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.ConnectOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.SplittableRandom;

/**
 * The Java client of the session protocol. Messages sent are numbered, retained until the server
 * acknowledges them, and resent after a reconnect; messages received are delivered exactly once and
 * in order. A lost connection is re-established with exponential backoff and jitter and the session
 * resumed (HELLO with its id and the last seq received; WELCOME with the server's). When the session
 * cannot be resumed (the server does not know it or let it expire, or no resume succeeded within
 * {@code reconnectTimeoutMs}) the client fails loudly: the {@link #failureHandler} gets a
 * {@link SessionLostException} saying how many bytes were never acknowledged, and {@link #closed()}
 * fails with it.
 *
 * <h2>Threading</h2>
 * A client belongs to the Vert.x context it was created on (an event-loop context is created when
 * called from a non-Vert.x thread). All state is touched only there; public methods called from
 * another thread are dispatched to it. Handlers are called on it. The counters may be read from
 * any thread.
 */
public final class SessionClient {

  private static final Logger log = LoggerFactory.getLogger(SessionClient.class);

  private enum State { NEW, CONNECTING, HELLO_SENT, ESTABLISHED, CLOSING, CLOSED, FAILED }

  private final Vertx vertx;
  private final Context context;
  private final SessionClientOptions options;
  private final NetClient net;
  /** TLS settings of each connection, or null (plaintext). */
  private final ClientSSLOptions sslOptions;
  private final SplittableRandom random;
  /** {@link SessionClientOptions#servers()}; the client dials {@code servers.get(server)}. */
  private final java.util.List<String> servers;
  private int server;
  private final Promise<Void> connected = Promise.promise();
  private final Promise<Void> closedPromise = Promise.promise();

  // Context-confined state
  private State state = State.NEW;
  private byte[] id;
  private String hex = "(new)";
  private long lastSent;
  private long lastReceived;
  private long ackSent;
  private final RetainedFrames retained = new RetainedFrames();
  private NetSocket socket;
  private FrameDecoder decoder;
  private int attempt;
  /** nanoTime the current outage began, or 0 when connected. */
  private long lostAt;
  private boolean resumePending;
  private long lastInput;
  private long pingTimer = -1;
  private long closeTimer = -1;
  private boolean full;
  private Handler<Buffer> handler;
  private Handler<Throwable> failureHandler;
  private Handler<Void> drainHandler;
  private Handler<Long> resumeLatencyHandler;
  private Handler<ResumeTiming> resumeTimingHandler;
  /** The resume under way: when its last dial started, connected, was welcomed; dials since the loss. */
  private long dialAt;
  private long connectedAt;
  private long welcomeAt;
  private int dials;

  // Counters: written on the context, readable anywhere
  private volatile long sent;
  private volatile long acknowledged;
  private volatile long received;
  private volatile long resumes;
  private volatile long duplicates;
  private volatile long resentFrames;
  private volatile long connections;

  private SessionClient(Vertx vertx, SessionClientOptions options) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.options = options;
    this.random = new SplittableRandom(options.seed());
    this.servers = options.servers();
    this.net = vertx.createNetClient(new NetClientOptions()
      .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.connectTimeoutMs()))
      .setTcpNoDelay(true));
    this.sslOptions = options.ssl() ? options.sslOptions() : null;
  }

  public static SessionClient create(Vertx vertx, SessionClientOptions options) {
    return new SessionClient(vertx, options);
  }

  // ---------------------------------------------------------------------------------------------
  // API

  /** Connects and opens a new session; completes on the first WELCOME. Connection failures are retried. */
  public Future<Void> connect() {
    onContext(() -> {
      if (state == State.NEW) {
        state = State.CONNECTING;
        lostAt = System.nanoTime();
        pingTimer = vertx.setPeriodic(options.pingIntervalMs(), t -> tick());
        dial();
      }
    });
    return connected.future();
  }

  /**
   * Sends {@code payload} as the next message (transmitted now if connected, else after the
   * resume). Never refused while the client is open: respect {@link #writeQueueFull()}.
   *
   * @throws IllegalStateException (or, off the context, a logged error) when the client has closed or failed
   */
  public void send(Buffer payload) {
    if (!onContextNow()) {
      context.runOnContext(v -> send(payload));
      return;
    }
    if (state == State.CLOSED || state == State.FAILED || state == State.CLOSING) {
      throw new IllegalStateException("session client " + hex + " is " + state);
    }
    Buffer frame = Frames.data(++lastSent, payload);
    retained.add(frame);
    sent++;
    if (state == State.ESTABLISHED) {
      socket.write(frame);
    }
    if (writeQueueFull()) {
      full = true;
    }
  }

  /** True while unacknowledged bytes are at or over {@code maxUnackedBytes}: pause until {@link #drainHandler}. */
  public boolean writeQueueFull() {
    return retained.bytes() >= options.maxUnackedBytes();
  }

  public SessionClient drainHandler(Handler<Void> h) {
    this.drainHandler = h;
    return this;
  }

  /** Receives each message once, in order. */
  public SessionClient handler(Handler<Buffer> h) {
    this.handler = h;
    return this;
  }

  /** Called once when the session is lost for good (a {@link SessionLostException}) or the protocol broke. */
  public SessionClient failureHandler(Handler<Throwable> h) {
    this.failureHandler = h;
    return this;
  }

  /**
   * Where the time of one resume went (nanoseconds): from the loss to the last dial (backoff, all
   * dials before it included), from that dial to the connection, from the connection to the
   * WELCOME, from the WELCOME to the first message delivered; and how many dials it took.
   */
  public record ResumeTiming(long backoffNanos, long connectNanos, long welcomeNanos, long firstMessageNanos, int dials) {
    public long totalNanos() {
      return backoffNanos + connectNanos + welcomeNanos + firstMessageNanos;
    }
  }

  /** Called after each resume, at the first message delivered, with where its time went. */
  public SessionClient resumeTimingHandler(Handler<ResumeTiming> h) {
    this.resumeTimingHandler = h;
    return this;
  }

  /** Called after each resume, at the first message delivered, with nanoseconds since the connection was lost. */
  public SessionClient resumeLatencyHandler(Handler<Long> h) {
    this.resumeLatencyHandler = h;
    return this;
  }

  /**
   * Waits (up to {@code closeTimeoutMs}, resuming after connection losses) until the server
   * acknowledged every message, then ends the session with BYE and completes on the server's BYE.
   * Fails with {@link SessionLostException} (count, seq range and bytes of the unacknowledged
   * messages) when messages were still unacknowledged at the timeout or at a BYE from the server.
   */
  public Future<Void> close() {
    onContext(() -> {
      if (state == State.CLOSED || state == State.FAILED || state == State.CLOSING) {
        return;
      }
      state = State.CLOSING;
      closeTimer = vertx.setTimer(options.closeTimeoutMs(), t -> {
        closeTimer = -1;
        fail(retained.isEmpty()
          ? lost(0, "close: no BYE from the server within " + options.closeTimeoutMs() + " ms (every message was acknowledged)")
          : lost(0, "close: " + unacknowledged() + " within " + options.closeTimeoutMs() + " ms"));
      });
      maybeBye();
    });
    return closedPromise.future();
  }

  /**
   * Completes when the session ended cleanly: a BYE from the server with every message sent
   * acknowledged. Fails with the reason it was lost (a {@link SessionLostException} saying what was
   * not acknowledged).
   */
  public Future<Void> closed() {
    return closedPromise.future();
  }

  /** The session id (32 hex digits), or "(new)" before the first WELCOME. */
  public String sessionId() {
    return hex;
  }

  /** Messages handed to {@link #send}. */
  public long sent() {
    return sent;
  }

  /** Messages the server acknowledged. */
  public long acknowledged() {
    return acknowledged;
  }

  /** Messages delivered to the handler (each once). */
  public long received() {
    return received;
  }

  /** Successful resumes of the session on a new connection. */
  public long resumes() {
    return resumes;
  }

  /** Duplicate DATA frames dropped (seq already received). */
  public long duplicatesDropped() {
    return duplicates;
  }

  /** DATA frames sent again after resumes. */
  public long resentFrames() {
    return resentFrames;
  }

  /** Connections established (first one included). */
  public long connections() {
    return connections;
  }

  // ---------------------------------------------------------------------------------------------
  // Connection management

  /** Moves on to the next server of {@link SessionClientOptions#servers()} (no-op with one server). */
  private void nextServer() {
    if (servers.size() > 1) {
      server = (server + 1) % servers.size();
      log.debug("session {}: trying {} next", hex, servers.get(server));
    }
  }

  private void dial() {
    if (!onContextNow()) {
      // a failed connect may complete off the client's context: the next socket must belong to it
      context.runOnContext(v -> dial());
      return;
    }
    dialAt = System.nanoTime();
    dials++;
    String target = servers.get(server);
    int colon = target.lastIndexOf(':');
    String host = target.substring(0, colon);
    int port = Integer.parseInt(target.substring(colon + 1));
    Future<NetSocket> connecting = sslOptions == null ? net.connect(port, host)
      : net.connect(new ConnectOptions().setHost(host).setPort(port).setSsl(true)
        .setSslOptions(sslOptions));
    connecting.onComplete(ar -> {
      if (state != State.CONNECTING && state != State.CLOSING) {
        if (ar.succeeded()) {
          ar.result().close();
        }
        return;
      }
      if (ar.failed()) {
        log.debug("session {}: connect failed: {}", hex, ar.cause().toString());
        nextServer();
        retry();
        return;
      }
      NetSocket s = ar.result();
      connectedAt = System.nanoTime();
      socket = s;
      decoder = new FrameDecoder(options.maxFrameBytes());
      welcomed = false;
      lastInput = System.nanoTime();
      connections++;
      s.handler(buf -> onData(s, buf));
      s.closeHandler(v -> onLost(s, "connection closed"));
      s.exceptionHandler(e -> log.debug("session {}: {}", hex, e.toString()));
      if (state == State.CONNECTING) {
        state = State.HELLO_SENT;
      }
      s.write(Frames.hello(id == null ? new byte[Frames.ID_BYTES] : id, lastReceived));
    });
  }

  private void retry() {
    if (!onContextNow()) {
      context.runOnContext(v -> retry());
      return;
    }
    if (System.nanoTime() - lostAt > options.reconnectTimeoutMs() * 1_000_000L) {
      fail(lost(0, "could not " + (id == null ? "open" : "resume") + " the session within "
        + options.reconnectTimeoutMs() + " ms; " + retained.size() + " messages unacknowledged"));
      return;
    }
    if (attempt == 0) {
      // the first attempt after a loss goes at once (in the next turn of the loop): a reset
      // connection usually means a reachable server, and every millisecond here is resume latency;
      // the backoff starts with the second attempt
      attempt++;
      context.runOnContext(v -> {
        if (state == State.CONNECTING || (state == State.CLOSING && socket == null)) {
          dial();
        }
      });
      return;
    }
    long delay = Math.min(options.maxBackoffMs(), options.initialBackoffMs() << Math.min(attempt - 1, 20));
    attempt++;
    delay = Math.max(1, delay / 2 + random.nextLong(delay / 2 + 1));
    vertx.setTimer(delay, t -> {
      if (state == State.CONNECTING || (state == State.CLOSING && socket == null)) {
        dial();
      }
    });
  }

  private void onLost(NetSocket s, String why) {
    if (s != socket) {
      return;
    }
    socket = null;
    decoder = null;
    welcomed = false;
    if (state == State.CLOSED || state == State.FAILED) {
      return;
    }
    log.debug("session {}: {}, resuming", hex, why);
    lostAt = System.nanoTime();
    dials = 0;
    resumePending = false;
    if (state == State.HELLO_SENT || state == State.ESTABLISHED) {
      state = State.CONNECTING;
    }
    retry();
  }

  private void tick() {
    NetSocket s = socket;
    if (s == null) {
      return;
    }
    if (System.nanoTime() - lastInput > options.idleTimeoutMs() * 1_000_000L) {
      log.debug("session {}: nothing received for {} ms, dropping the connection", hex, options.idleTimeoutMs());
      s.close();
      nextServer();
      onLost(s, "idle");
      return;
    }
    if (state == State.ESTABLISHED || state == State.CLOSING) {
      s.write(Frames.ping(System.nanoTime()));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Frames

  private void onData(NetSocket s, Buffer buf) {
    assert onContextNow() : "session client used off its context";
    if (s != socket) {
      return;
    }
    lastInput = System.nanoTime();
    try {
      decoder.feed(buf, f -> onFrame(s, f));
    } catch (ProtocolException e) {
      protocolError(s, e);
      return;
    }
    if (s == socket && welcomed && lastReceived > ackSent) {
      ackSent = lastReceived;
      s.write(Frames.ack(ackSent));
    }
  }

  private void onFrame(NetSocket s, Frame f) {
    if (s != socket) {
      return;
    }
    try {
      switch (f.type()) {
        case Frames.WELCOME -> onWelcome(s, f);
        case Frames.DATA -> onDataFrame(f);
        case Frames.ACK -> onAck(f);
        case Frames.PING -> s.write(Frames.pong(f.number()));
        case Frames.PONG -> { }
        case Frames.ERROR -> onError(s, f);
        case Frames.BYE -> onBye();
        default -> throw new ProtocolException(Frames.E_UNEXPECTED, Frames.typeName(f.type()) + " is not sent by servers");
      }
    } catch (ProtocolException e) {
      protocolError(s, e);
    }
  }

  private void onWelcome(NetSocket s, Frame f) throws ProtocolException {
    if (welcomed || (state != State.HELLO_SENT && state != State.CLOSING)) {
      throw new ProtocolException(Frames.E_UNEXPECTED, "WELCOME without HELLO");
    }
    byte[] wid = f.id();
    if (id != null && !java.util.Arrays.equals(id, wid)) {
      throw new ProtocolException(Frames.E_UNEXPECTED, "WELCOME for another session " + Frames.hex(wid));
    }
    long serverLast = f.lastReceived();
    if (serverLast > lastSent) {
      throw new ProtocolException(Frames.E_BAD_SEQ, "server claims seq " + serverLast + " but only " + lastSent + " were sent");
    }
    boolean resumed = id != null;
    if (!resumed) {
      id = wid;
      hex = Frames.hex(wid);
    }
    release(serverLast);
    long[] n = {0};
    retained.forEachAfter(serverLast, frame -> {
      s.write(frame);
      n[0]++;
    });
    attempt = 0;
    ackSent = lastReceived;
    welcomed = true;
    if (state == State.HELLO_SENT) {
      state = State.ESTABLISHED;
    }
    if (resumed) {
      resumes++;
      resentFrames += n[0];
      resumePending = true;
      lostAtOfResume = lostAt;
      welcomeAt = System.nanoTime();
      log.debug("session {} resumed, resent {} frames", hex, n[0]);
    } else {
      connected.tryComplete();
    }
    lostAt = 0;
    maybeDrain();
    maybeBye();
  }

  /** A WELCOME arrived on the current connection. */
  private boolean welcomed;

  private void onDataFrame(Frame f) throws ProtocolException {
    if (!welcomed) {
      throw new ProtocolException(Frames.E_UNEXPECTED, "DATA before WELCOME");
    }
    long seq = f.number();
    if (seq <= lastReceived) {
      duplicates++;
      return;
    }
    if (seq != lastReceived + 1) {
      throw new ProtocolException(Frames.E_BAD_SEQ, "sequence gap: expected DATA " + (lastReceived + 1) + ", got " + seq);
    }
    lastReceived = seq;
    received++;
    if (resumePending) {
      resumePending = false;
      Handler<Long> h = resumeLatencyHandler;
      long now = System.nanoTime();
      if (h != null && lostAtOfResume > 0) {
        h.handle(now - lostAtOfResume);
      }
      Handler<ResumeTiming> th = resumeTimingHandler;
      if (th != null && lostAtOfResume > 0) {
        th.handle(new ResumeTiming(Math.max(0, dialAt - lostAtOfResume), connectedAt - dialAt, welcomeAt - connectedAt,
          now - welcomeAt, dials));
      }
    }
    Handler<Buffer> h = handler;
    if (h != null) {
      h.handle(f.payload());
    }
  }

  private long lostAtOfResume;

  private void onAck(Frame f) throws ProtocolException {
    long ack = f.number();
    if (ack > lastSent) {
      throw new ProtocolException(Frames.E_BAD_SEQ, "ACK of seq " + ack + " but only " + lastSent + " were sent");
    }
    release(ack);
    maybeDrain();
    maybeBye();
  }

  private void release(long ack) {
    acknowledged += retained.release(ack);
  }

  private void maybeDrain() {
    if (full && !writeQueueFull() && retained.bytes() <= options.maxUnackedBytes() / 2) {
      full = false;
      Handler<Void> h = drainHandler;
      if (h != null) {
        h.handle(null);
      }
    }
  }

  private void maybeBye() {
    if (state == State.CLOSING && welcomed && socket != null && retained.isEmpty()) {
      if (lastReceived > ackSent) {
        ackSent = lastReceived; // acknowledge what we have before saying goodbye
        socket.write(Frames.ack(ackSent));
      }
      socket.write(Frames.bye());
    }
  }

  private void onError(NetSocket s, Frame f) {
    int code = f.errorCode();
    String msg = Frames.printable(f.errorMessage(), 1000);
    switch (code) {
      case Frames.E_SUPERSEDED, Frames.E_SHUTDOWN, Frames.E_TIMEOUT, Frames.E_HANDLER_FAILED, Frames.E_RETRY -> {
        log.debug("session {}: server says {} {}, reconnecting", hex, code, msg);
        if (code == Frames.E_SHUTDOWN || code == Frames.E_RETRY) {
          nextServer();
        }
        s.close();
        onLost(s, "ERROR " + code);
      }
      default -> {
        s.close();
        fail(lost(code, "server refused session " + hex + ": ERROR " + code + " " + msg + "; "
          + retained.size() + " messages (" + retained.payloadBytes() + " bytes) never acknowledged"));
      }
    }
  }

  private void protocolError(NetSocket s, ProtocolException e) {
    s.write(Frames.error(e.code(), e.getMessage()));
    s.close();
    fail(lost(e.code(), "protocol error from the server: " + e.getMessage() + "; "
      + retained.size() + " messages never acknowledged"));
  }

  /**
   * The server ended the session. A clean end only when it acknowledged every message first: a
   * message still unacknowledged may never have reached the application, so that is a loss.
   */
  private void onBye() throws ProtocolException {
    if (!welcomed) {
      throw new ProtocolException(Frames.E_UNEXPECTED, "BYE before WELCOME");
    }
    if (!retained.isEmpty()) {
      fail(lost(0, "server ended session " + hex + " with BYE: " + unacknowledged()));
      return;
    }
    finish();
  }

  /** "3 messages (seq 4..6, 120 bytes) not acknowledged"; retained must not be empty. */
  private String unacknowledged() {
    return retained.size() + " messages (seq " + retained.firstSeq() + ".." + lastSent + ", " + retained.payloadBytes()
      + " bytes) not acknowledged";
  }

  /** A loss report with what is unacknowledged now: count, seq range (0 when none) and payload bytes. */
  private SessionLostException lost(int code, String message) {
    boolean none = retained.isEmpty();
    return new SessionLostException(hex, code, message, retained.payloadBytes(), retained.size(),
      none ? 0 : retained.firstSeq(), none ? 0 : lastSent);
  }

  private void finish() {
    if (state == State.CLOSED || state == State.FAILED) {
      return;
    }
    state = State.CLOSED;
    cleanup();
    closedPromise.tryComplete();
  }

  private void fail(Throwable cause) {
    if (state == State.CLOSED || state == State.FAILED) {
      return;
    }
    state = State.FAILED;
    log.warn("session {} lost: {}", hex, cause.getMessage());
    cleanup();
    connected.tryFail(cause);
    closedPromise.tryFail(cause);
    Handler<Throwable> h = failureHandler;
    if (h != null) {
      h.handle(cause);
    }
  }

  private void cleanup() {
    if (pingTimer != -1) {
      vertx.cancelTimer(pingTimer);
      pingTimer = -1;
    }
    if (closeTimer != -1) {
      vertx.cancelTimer(closeTimer);
      closeTimer = -1;
    }
    NetSocket s = socket;
    socket = null;
    if (s != null) {
      s.close();
    }
    net.close();
  }

  private boolean onContextNow() {
    return Vertx.currentContext() == context;
  }

  private void onContext(Runnable r) {
    if (onContextNow()) {
      r.run();
    } else {
      context.runOnContext(v -> r.run());
    }
  }
}
