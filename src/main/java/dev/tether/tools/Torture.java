package dev.tether.tools;

import dev.tether.session.SessionClient;
import dev.tether.session.SessionClientOptions;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The torture test driver (scripts/torture.sh): for a bounded time it hits one running node with everything
 * hostile at once while good clients check that they are served exactly, then checks the node's books.
 *
 * <p>Load, all at once: descriptor exhaustion (idle connections beyond the node's {@code ulimit -n}, held a
 * few seconds, released, again), slow readers (echo clients that write and never read), resets (SO_LINGER 0
 * with bytes in flight), session-protocol fuzz inputs ({@link Fuzz}), plaintext sent to the TLS echo
 * server, garbage on the event-bus bridge. Meanwhile: good plain and TLS echo clients (every byte checked),
 * good {@link SessionClient}s (every message echoed once, in order, intact; closed cleanly at the end), good
 * bridge clients, and one keep-alive HTTP connection polling {@code /health} (slowest answer) and
 * {@code /metrics} (heap peak).
 *
 * <p>Afterwards every connection must be closed, and {@code /books} (every closed connection's ledger, per
 * server) must balance: {@code accepted == flushed + unsent}, nothing pending after a close, no connection
 * unbalanced, and the sums equal to {@code tether_written_bytes_total} and {@code tether_unsent_bytes_total}.
 * The verdict is a table; exit code 1 on any violation.
 *
 * <p>Threads: each load runs on its own platform threads with blocking sockets; session clients on a Vert.x
 * context of the tool; figures are atomic.
 */
public final class Torture {

  /** What to run against. */
  public record Config(String host, int echoPort, int tlsPort, int sessionPort, int httpPort, int bridgePort,
                       int seconds, long pid, Path nodeLog, Path trust, int idle, int slowReaders, int resetters,
                       int fuzzers, int goodEcho, int goodSessions, long seed, String inject) {
  }

  /** Everything measured; the verdict is a pure function of it ({@link #verdict}). */
  public static final class Facts {
    public final AtomicBoolean nodeUpAtEnd = new AtomicBoolean();
    public final LongAdder healthOk = new LongAdder();
    public final LongAdder healthFailed = new LongAdder();
    public final AtomicLong slowestHealthMs = new AtomicLong();
    public final AtomicLong longestHealthGapMs = new AtomicLong();
    public final AtomicLong heapPeak = new AtomicLong();
    public final LongAdder echoBytes = new LongAdder();
    public final LongAdder echoBad = new LongAdder();
    public final LongAdder tlsEchoBytes = new LongAdder();
    public final LongAdder tlsEchoBad = new LongAdder();
    public final LongAdder sessionsSent = new LongAdder();
    public final LongAdder sessionsReceived = new LongAdder();
    public final LongAdder sessionsBad = new LongAdder();
    public final LongAdder sessionsClosedCleanly = new LongAdder();
    public int sessionsExpected;
    public final LongAdder fuzzInputs = new LongAdder();
    public final LongAdder fuzzBad = new LongAdder();
    public final LongAdder fuzzUnderExhaustion = new LongAdder();
    public final LongAdder plainOnTlsClosed = new LongAdder();
    public final LongAdder plainOnTlsBad = new LongAdder();
    public final LongAdder bridgeGarbageClosed = new LongAdder();
    public final LongAdder bridgeGarbageBad = new LongAdder();
    public final LongAdder bridgeEvents = new LongAdder();
    public final LongAdder bridgeGoodBad = new LongAdder();
    public final LongAdder exhaustionEpisodes = new LongAdder();
    public final AtomicLong idleHeldMax = new AtomicLong();
    public final LongAdder slowReaderConnections = new LongAdder();
    public final LongAdder slowReaderBytes = new LongAdder();
    public final LongAdder resets = new LongAdder();
    public long acceptEvents = -1;
    public long openAtEnd = -1;
    public JsonObject books = new JsonObject();
    public final java.util.Map<String, Long> writtenMetric = new java.util.TreeMap<>();
    public final java.util.Map<String, Long> unsentMetric = new java.util.TreeMap<>();
    public final List<String> logEscapes = new ArrayList<>();
    public final List<String> notes = Collections.synchronizedList(new ArrayList<>());

    void note(String s) {
      if (notes.size() < 20) {
        notes.add(s);
      }
    }
  }

  /** One verdict row. */
  public record Row(String check, String figures, boolean pass) {
  }

  private Torture() {
  }

  // ---------------------------------------------------------------------------------------------
  // Verdict

  /** The verdict rows of {@code f}: every check that must pass, then figures for information (always pass). */
  public static List<Row> verdict(Facts f) {
    List<Row> rows = new ArrayList<>();
    rows.add(new Row("node up at the end", f.nodeUpAtEnd.get() ? "up" : "DOWN", f.nodeUpAtEnd.get()));
    rows.add(new Row("/health answered throughout", String.format("%d answers, %d failed, slowest %d ms, longest gap %d ms",
      f.healthOk.sum(), f.healthFailed.sum(), f.slowestHealthMs.get(), f.longestHealthGapMs.get()),
      f.healthOk.sum() > 0 && f.healthFailed.sum() == 0 && f.longestHealthGapMs.get() < 5000));
    rows.add(new Row("good echo clients exact", String.format("%,d bytes echoed, %d wrong or stalled", f.echoBytes.sum(),
      f.echoBad.sum()), f.echoBytes.sum() > 0 && f.echoBad.sum() == 0));
    rows.add(new Row("good TLS echo clients exact", String.format("%,d bytes echoed, %d wrong or stalled",
      f.tlsEchoBytes.sum(), f.tlsEchoBad.sum()), f.tlsEchoBytes.sum() > 0 && f.tlsEchoBad.sum() == 0));
    rows.add(new Row("every good session exact", String.format("%,d sent, %,d echoed, %d wrong, %d/%d closed cleanly",
      f.sessionsSent.sum(), f.sessionsReceived.sum(), f.sessionsBad.sum(), f.sessionsClosedCleanly.sum(),
      f.sessionsExpected), f.sessionsSent.sum() > 0 && f.sessionsBad.sum() == 0
      && f.sessionsReceived.sum() == f.sessionsSent.sum() && f.sessionsClosedCleanly.sum() == f.sessionsExpected));
    rows.add(new Row("fuzz inputs contained", String.format("%,d inputs, %d violations (%d during exhaustion, not counted)",
      f.fuzzInputs.sum(), f.fuzzBad.sum(), f.fuzzUnderExhaustion.sum()), f.fuzzInputs.sum() > 0 && f.fuzzBad.sum() == 0));
    rows.add(new Row("plaintext on TLS closed", String.format("%d closed, %d left open", f.plainOnTlsClosed.sum(),
      f.plainOnTlsBad.sum()), f.plainOnTlsBad.sum() == 0));
    rows.add(new Row("bridge: garbage closes that client only", String.format(
      "%d garbage clients closed, %d not; good clients got %,d events, %d problems", f.bridgeGarbageClosed.sum(),
      f.bridgeGarbageBad.sum(), f.bridgeEvents.sum(), f.bridgeGoodBad.sum()),
      f.bridgeGarbageBad.sum() == 0 && f.bridgeGoodBad.sum() == 0));
    rows.add(new Row("no connection left open", "tether_connections = " + f.openAtEnd, f.openAtEnd == 0));
    JsonObject servers = f.books.getJsonObject("servers", new JsonObject());
    if (servers.isEmpty()) {
      rows.add(new Row("books", "no /books figures", false));
    }
    for (String s : servers.fieldNames()) {
      JsonObject b = servers.getJsonObject(s);
      long accepted = b.getLong("accepted", -1L);
      long flushed = b.getLong("flushed", -1L);
      long unsent = b.getLong("unsent", -1L);
      long pendingAfter = b.getLong("pendingAfterClose", -1L);
      long unbalanced = b.getLong("unbalanced", -1L);
      Long written = f.writtenMetric.get(s);
      Long unsentTotal = f.unsentMetric.getOrDefault(s, 0L);
      boolean ok = accepted == flushed + unsent && pendingAfter == 0 && unbalanced == 0
        && written != null && written == flushed && unsentTotal == unsent;
      rows.add(new Row("books of " + s, String.format(
        "%,d connections: accepted %,d = flushed %,d + unsent %,d; pending after close %d; unbalanced %d;"
          + " metrics: written %s, unsent %,d", b.getLong("closedConnections", 0L), accepted, flushed, unsent,
        pendingAfter, unbalanced, written == null ? "missing" : String.format("%,d", written), unsentTotal), ok));
    }
    rows.add(new Row("no stack trace in the node's log", f.logEscapes.isEmpty() ? "none"
      : f.logEscapes.size() + ": " + f.logEscapes.get(0), f.logEscapes.isEmpty()));
    // information
    rows.add(new Row("(descriptor exhaustion)", String.format("%d episodes, up to %d idle connections held,"
      + " %d RESOURCE_EXHAUSTED/ACCEPT events", f.exhaustionEpisodes.sum(), f.idleHeldMax.get(), f.acceptEvents), true));
    rows.add(new Row("(slow readers)", String.format("%d connections, %,d bytes written unread", f.slowReaderConnections.sum(),
      f.slowReaderBytes.sum()), true));
    rows.add(new Row("(resets)", String.format("%,d connections reset with bytes in flight", f.resets.sum()), true));
    rows.add(new Row("(heap peak)", String.format("%,d bytes (%.1f MiB)", f.heapPeak.get(), f.heapPeak.get() / 1048576.0),
      true));
    return rows;
  }

  static String table(List<Row> rows) {
    int w = rows.stream().mapToInt(r -> r.check().length()).max().orElse(10);
    StringBuilder sb = new StringBuilder();
    for (Row r : rows) {
      boolean info = r.check().startsWith("(");
      sb.append(String.format("%-" + w + "s  %-4s  %s%n", r.check(), info ? "" : r.pass() ? "ok" : "FAIL", r.figures()));
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // The run

  /** Runs the load for {@code c.seconds()}, then gathers the facts. */
  public static Facts run(Config c) throws Exception {
    Facts f = new Facts();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(c.seconds());
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong exhaustedUntil = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    List<Socket> everything = Collections.synchronizedList(new ArrayList<>());

    Thread monitor = start(threads, "health", () -> monitor(c, f, stop));
    // good clients first, so their connections exist before the descriptors run out
    List<Socket> goodEcho = new ArrayList<>();
    for (int i = 0; i < c.goodEcho(); i++) {
      goodEcho.add(connect(c.host(), c.echoPort()));
    }
    SSLContext tls = c.trust() == null ? null : sslContext(c.trust());
    List<Socket> goodTls = new ArrayList<>();
    if (tls != null && c.tlsPort() > 0) {
      for (int i = 0; i < Math.max(1, c.goodEcho() / 2); i++) {
        SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket();
        s.connect(new InetSocketAddress(c.host(), c.tlsPort()), 5000);
        s.startHandshake();
        goodTls.add(s);
      }
    }
    for (int i = 0; i < goodEcho.size(); i++) {
      Socket s = goodEcho.get(i);
      boolean corrupt = i == 0 && "bad-echo".equals(c.inject());
      long seed = c.seed() * 31 + i;
      start(threads, "echo-" + i, () -> echoLoop(s, seed, f.echoBytes, f.echoBad, stop, corrupt, f));
    }
    for (int i = 0; i < goodTls.size(); i++) {
      Socket s = goodTls.get(i);
      long seed = c.seed() * 37 + i;
      start(threads, "tls-echo-" + i, () -> echoLoop(s, seed, f.tlsEchoBytes, f.tlsEchoBad, stop, false, f));
    }
    Vertx vertx = Vertx.vertx();
    List<Session> sessions = new ArrayList<>();
    for (int i = 0; i < c.goodSessions(); i++) {
      sessions.add(new Session(vertx, c, i, f));
    }
    f.sessionsExpected = sessions.size();
    for (Session s : sessions) {
      s.connected.get(30, TimeUnit.SECONDS);
    }
    List<BridgeReader> bridge = new ArrayList<>();
    if (c.bridgePort() > 0) {
      for (int i = 0; i < 2; i++) {
        BridgeReader b = new BridgeReader(c, f);
        bridge.add(b);
        start(threads, "bridge-" + i, b::run);
      }
    }

    // the hostile load
    start(threads, "exhaust", () -> exhaust(c, f, stop, exhaustedUntil, everything));
    for (int i = 0; i < c.slowReaders(); i++) {
      int k = i;
      start(threads, "slow-" + i, () -> slowReader(c, f, stop, everything, k));
    }
    for (int i = 0; i < c.resetters(); i++) {
      long seed = c.seed() * 41 + i;
      start(threads, "reset-" + i, () -> resetter(c, f, stop, seed));
    }
    for (int i = 0; i < c.fuzzers(); i++) {
      long first = i;
      start(threads, "fuzz-" + i, () -> fuzzer(c, f, stop, exhaustedUntil, first));
    }
    if (c.tlsPort() > 0) {
      start(threads, "plain-on-tls", () -> plainOnTls(c, f, stop, exhaustedUntil));
    }
    if (c.bridgePort() > 0) {
      start(threads, "bridge-garbage", () -> bridgeGarbage(c, f, stop, exhaustedUntil));
    }

    while (System.nanoTime() < end) {
      Thread.sleep(200); // the run's clock: the load threads work on their own
    }
    stop.set(true);
    for (Socket s : new ArrayList<>(everything)) {
      closeQuietly(s);
    }
    for (Thread t : threads) {
      if (t != monitor) {
        t.join(30_000);
      }
    }
    for (Socket s : goodEcho) {
      closeQuietly(s);
    }
    for (Socket s : goodTls) {
      closeQuietly(s);
    }
    for (Session s : sessions) {
      s.finish();
    }
    for (BridgeReader b : bridge) {
      b.finish();
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    monitor.join(10_000);
    gatherBooks(c, f);
    return f;
  }

  private static Thread start(List<Thread> threads, String name, Runnable r) {
    Thread t = new Thread(() -> {
      try {
        r.run();
      } catch (RuntimeException e) {
        System.err.println("torture: " + name + " failed: " + e);
      }
    }, "torture-" + name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
    return t;
  }

  // -- good echo --------------------------------------------------------------------------------

  static void echoLoop(Socket s, long seed, LongAdder bytes, LongAdder bad, AtomicBoolean stop, boolean corrupt, Facts f) {
    SplittableRandom r = new SplittableRandom(seed);
    try {
      s.setSoTimeout(15_000);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      boolean corrupted = false;
      while (!stop.get()) {
        byte[] chunk = new byte[1 + r.nextInt(16 * 1024)];
        r.nextBytes(chunk);
        out.write(chunk);
        out.flush();
        byte[] back = new byte[chunk.length];
        in.readFully(back);
        if (corrupt && !corrupted) {
          chunk[0] ^= 1; // --inject bad-echo: the check must see this
          corrupted = true;
        }
        if (!Arrays.equals(chunk, back)) {
          bad.increment();
          f.note("echo on " + s.getLocalPort() + ": " + chunk.length + " bytes came back different");
        }
        bytes.add(chunk.length);
      }
    } catch (IOException e) {
      if (!stop.get()) {
        bad.increment();
        f.note("echo on " + s.getLocalPort() + ": " + e);
      }
    }
  }

  // -- good sessions ----------------------------------------------------------------------------

  /** A good session client: numbered messages of seeded sizes, each echo checked; closed cleanly at the end. */
  static final class Session {
    final SessionClient client;
    final Vertx vertx;
    final Context context;
    final CompletableFuture<Void> connected = new CompletableFuture<>();
    final Facts f;
    final SplittableRandom sizes;
    long sent;
    long expected;
    long timer;

    Session(Vertx vertx, Config c, int i, Facts f) {
      this.f = f;
      this.sizes = new SplittableRandom(c.seed() * 43 + i);
      this.vertx = vertx;
      this.context = vertx.getOrCreateContext();
      CompletableFuture<SessionClient> made = new CompletableFuture<>();
      context.runOnContext(v -> made.complete(SessionClient.create(vertx, new SessionClientOptions().setHost(c.host())
        .setPort(c.sessionPort()).setSeed(c.seed() + i))));
      client = made.join();
      context.runOnContext(v -> {
        client.handler(this::onEcho);
        client.failureHandler(e -> {
          f.sessionsBad.increment();
          f.note("session " + i + ": " + e.getMessage());
        });
        client.connect().onComplete(ar -> {
          if (ar.failed()) {
            connected.completeExceptionally(ar.cause());
            return;
          }
          connected.complete(null);
          timer = vertx.setPeriodic(5, t -> pump());
        });
      });
    }

    void pump() {
      while (!client.writeQueueFull() && sent - expected < 256) {
        long n = ++sent;
        int size = 8 + sizes.nextInt(sizes.nextInt(10) == 0 ? 8192 : 256);
        Buffer b = Buffer.buffer(size).appendLong(n);
        for (int k = 8; k < size; k++) {
          b.appendByte((byte) (n * 31 + k));
        }
        client.send(b);
        f.sessionsSent.increment();
      }
    }

    void onEcho(Buffer b) {
      long n = b.getLong(0);
      boolean ok = n == expected + 1;
      for (int k = 8; ok && k < b.length(); k++) {
        ok = b.getByte(k) == (byte) (n * 31 + k);
      }
      if (!ok) {
        f.sessionsBad.increment();
        f.note("session echo " + n + " (expected " + (expected + 1) + ", " + b.length() + " bytes) wrong");
      }
      expected = n;
      f.sessionsReceived.increment();
    }

    /** Stops sending, waits for every echo, closes: clean only when every message was acknowledged. */
    void finish() {
      CompletableFuture<Void> done = new CompletableFuture<>();
      context.runOnContext(v -> {
        vertx.cancelTimer(timer);
        client.close().onComplete(ar -> {
          if (ar.succeeded()) {
            done.complete(null);
          } else {
            done.completeExceptionally(ar.cause());
          }
        });
      });
      try {
        done.get(30, TimeUnit.SECONDS);
        // every message was acknowledged; the echoes of the last ones may still be on their way
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (f.sessionsReceived.sum() < f.sessionsSent.sum() && System.nanoTime() < until) {
          Thread.sleep(20); // echoes arrive on the client's event loop; nothing to wait on from here
        }
        f.sessionsClosedCleanly.increment();
      } catch (Exception e) {
        f.note("session close: " + e);
      }
    }
  }

  // -- bridge -----------------------------------------------------------------------------------

  /** A good bridge client: registered to tether.failure, reads every event; must still answer a ping at the end. */
  static final class BridgeReader {
    final Config c;
    final Facts f;
    Socket socket;
    volatile boolean finishing;
    final CompletableFuture<Boolean> pong = new CompletableFuture<>();

    BridgeReader(Config c, Facts f) {
      this.c = c;
      this.f = f;
      try {
        socket = connect(c.host(), c.bridgePort());
        writeFrame(socket.getOutputStream(), new JsonObject().put("type", "register").put("address", "tether.failure"));
      } catch (IOException e) {
        f.bridgeGoodBad.increment();
        f.note("bridge reader: " + e);
      }
    }

    void run() {
      if (socket == null) {
        return;
      }
      try {
        DataInputStream in = new DataInputStream(socket.getInputStream());
        socket.setSoTimeout(0);
        while (true) {
          int len = in.readInt();
          byte[] b = new byte[len];
          in.readFully(b);
          JsonObject m = new JsonObject(new String(b, StandardCharsets.UTF_8));
          String type = m.getString("type");
          if ("message".equals(type)) {
            f.bridgeEvents.increment();
          } else if ("pong".equals(type) && finishing) {
            pong.complete(true);
            return;
          } else if (!"pong".equals(type)) {
            f.bridgeGoodBad.increment();
            f.note("good bridge client got " + m.encode());
          }
        }
      } catch (IOException | RuntimeException e) {
        if (!pong.isDone()) {
          pong.complete(false);
        }
      }
    }

    void finish() {
      if (socket == null) {
        return;
      }
      finishing = true;
      try {
        writeFrame(socket.getOutputStream(), new JsonObject().put("type", "ping"));
        if (!pong.get(15, TimeUnit.SECONDS)) {
          f.bridgeGoodBad.increment();
          f.note("a good bridge client was closed");
        }
      } catch (Exception e) {
        f.bridgeGoodBad.increment();
        f.note("good bridge client: no pong at the end: " + e);
      }
      closeQuietly(socket);
    }
  }

  static void writeFrame(OutputStream out, JsonObject m) throws IOException {
    byte[] b = m.encode().getBytes(StandardCharsets.UTF_8);
    out.write(ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).array());
    out.flush();
  }

  static void bridgeGarbage(Config c, Facts f, AtomicBoolean stop, AtomicLong exhaustedUntil) {
    byte[][] garbage = {
      {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'},
      {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, '{'},
      {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xfe, '{', '}'},
      ByteBuffer.allocate(4 + 12).putInt(12).put("{\"type\":42}".getBytes(StandardCharsets.UTF_8)).put((byte) ' ').array(),
    };
    int i = 0;
    while (!stop.get()) {
      long started = System.nanoTime();
      try (Socket s = connect(c.host(), c.bridgePort())) {
        s.getOutputStream().write(garbage[i++ % garbage.length]);
        s.getOutputStream().flush();
        s.setSoTimeout(10_000);
        if (closes(s.getInputStream())) {
          f.bridgeGarbageClosed.increment();
        } else if (started > exhaustedUntil.get()) {
          f.bridgeGarbageBad.increment();
          f.note("bridge garbage client not closed");
        }
      } catch (IOException e) {
        // refused while descriptors ran out: nothing to check
      }
      pause(100);
    }
  }

  /** Reads to the end: true when the peer closed (FIN or reset) within the socket's timeout. */
  static boolean closes(InputStream in) {
    byte[] b = new byte[8192];
    try {
      while (in.read(b) >= 0) {
        // what the server says before closing does not matter here
      }
      return true;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  // -- hostile load -----------------------------------------------------------------------------

  /** Idle connections until the node runs out of descriptors; held 2 s, released, 2 s pause, again. */
  static void exhaust(Config c, Facts f, AtomicBoolean stop, AtomicLong exhaustedUntil, List<Socket> everything) {
    while (!stop.get()) {
      List<Socket> held = new ArrayList<>();
      exhaustedUntil.set(Long.MAX_VALUE);
      f.exhaustionEpisodes.increment();
      try {
        for (int i = 0; i < c.idle() && !stop.get(); i++) {
          try {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(c.host(), c.echoPort()), 1000);
            held.add(s);
            everything.add(s);
          } catch (IOException e) {
            break; // the backlog is full: exhausted enough
          }
        }
        f.idleHeldMax.accumulateAndGet(held.size(), Math::max);
        // newcomers on the HTTP server and the bridge while no descriptor is left: their accept fails too, and
        // must be an event, not a Netty stack trace (checked in the node's log at the end)
        for (int port : new int[] {c.httpPort(), c.bridgePort()}) {
          if (port > 0) {
            try (Socket s = new Socket()) {
              s.connect(new InetSocketAddress(c.host(), port), 1000);
              s.setSoTimeout(1000);
              closes(s.getInputStream());
            } catch (IOException e) {
              // refused or reset: expected while exhausted
            }
          }
        }
        pause(2000);
      } finally {
        for (Socket s : held) {
          closeQuietly(s);
          everything.remove(s);
        }
        // the node needs a moment to notice the closes and accept again
        exhaustedUntil.set(System.nanoTime() + TimeUnit.SECONDS.toNanos(3));
      }
      pause(2000);
    }
  }

  /** Writes to the echo server and never reads: the node's pending bytes for it grow to its bounds. */
  static void slowReader(Config c, Facts f, AtomicBoolean stop, List<Socket> everything, int k) {
    byte[] chunk = new byte[64 * 1024];
    new SplittableRandom(k).nextBytes(chunk);
    while (!stop.get()) {
      Socket s = null;
      try {
        s = connect(c.host(), c.echoPort());
        s.setReceiveBufferSize(4096);
        everything.add(s);
        f.slowReaderConnections.increment();
        OutputStream out = s.getOutputStream();
        while (!stop.get()) {
          out.write(chunk); // blocks once the node stops reading; unblocked by the close at the end
          f.slowReaderBytes.add(chunk.length);
        }
      } catch (IOException e) {
        pause(200); // closed by the node (over its pending bound) or refused: again
      } finally {
        if (s != null) {
          everything.remove(s);
          closeQuietly(s);
        }
      }
    }
  }

  /** Connections reset (SO_LINGER 0) with bytes in flight, to the echo and the session server. */
  static void resetter(Config c, Facts f, AtomicBoolean stop, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    while (!stop.get()) {
      boolean session = r.nextBoolean();
      try (Socket s = connect(c.host(), session ? c.sessionPort() : c.echoPort())) {
        OutputStream out = s.getOutputStream();
        if (session) {
          Fuzz.Input in = Fuzz.generate(seed, r.nextLong(1 << 30), 1 << 20);
          out.write(in.bytes());
        } else {
          byte[] b = new byte[1 + r.nextInt(256 * 1024)];
          r.nextBytes(b);
          out.write(b);
        }
        out.flush();
        pause(r.nextInt(30));
        s.setSoLinger(true, 0);
        f.resets.increment();
      } catch (IOException e) {
        pause(50);
      }
    }
  }

  static void fuzzer(Config c, Facts f, AtomicBoolean stop, AtomicLong exhaustedUntil, long first) {
    long i = first;
    while (!stop.get()) {
      long started = System.nanoTime();
      Fuzz.Input in = Fuzz.generate(c.seed(), i, 1 << 20);
      i += c.fuzzers();
      Fuzz.Result res = Fuzz.send(c.host(), c.sessionPort(), in, in.holdOpen() ? 15_000 : 10_000);
      f.fuzzInputs.increment();
      if (res.outcome().violation()) {
        if (started > exhaustedUntil.get() || exhaustedUntil.get() == 0) {
          f.fuzzBad.increment();
          f.note("fuzz input " + in.index() + " (" + in.kind() + "): " + res.outcome() + " " + res.detail());
        } else {
          f.fuzzUnderExhaustion.increment();
        }
      }
    }
  }

  /** Plaintext to the TLS port: the node must close such a client, never leave it hanging. */
  static void plainOnTls(Config c, Facts f, AtomicBoolean stop, AtomicLong exhaustedUntil) {
    byte[][] inputs = {"GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII), new byte[2048],
      {0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0}};
    int i = 0;
    while (!stop.get()) {
      long started = System.nanoTime();
      try (Socket s = connect(c.host(), c.tlsPort())) {
        s.getOutputStream().write(inputs[i++ % inputs.length]);
        s.getOutputStream().flush();
        s.setSoTimeout(15_000);
        if (closes(s.getInputStream())) {
          f.plainOnTlsClosed.increment();
        } else if (started > exhaustedUntil.get()) {
          f.plainOnTlsBad.increment();
          f.note("plaintext on the TLS port left open for 15 s");
        }
      } catch (IOException e) {
        // refused while descriptors ran out
      }
      pause(50);
    }
  }

  // -- the node's side --------------------------------------------------------------------------

  /** One keep-alive HTTP connection: /health every 100 ms (slowest answer), /metrics every second (heap). */
  static void monitor(Config c, Facts f, AtomicBoolean stop) {
    Socket s = null;
    long lastAnswer = System.nanoTime();
    long lastMetrics = 0;
    while (!stop.get()) {
      try {
        if (s == null) {
          s = connect(c.host(), c.httpPort());
          s.setSoTimeout(10_000);
        }
        long t0 = System.nanoTime();
        String body = httpGet(s, "/health");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        f.slowestHealthMs.accumulateAndGet(ms, Math::max);
        if (body != null && body.contains("\"status\":\"UP\"")) {
          f.healthOk.increment();
        } else {
          f.healthFailed.increment();
          f.note("/health: " + body);
        }
        long now = System.nanoTime();
        f.longestHealthGapMs.accumulateAndGet(TimeUnit.NANOSECONDS.toMillis(now - lastAnswer), Math::max);
        lastAnswer = now;
        if (now - lastMetrics > TimeUnit.SECONDS.toNanos(1)) {
          lastMetrics = now;
          String m = httpGet(s, "/metrics");
          long heap = m == null ? -1 : Fuzz.metricSum(m, "jvm_memory_used_bytes", "area=\"heap\"");
          f.heapPeak.accumulateAndGet(heap, Math::max);
        }
      } catch (IOException e) {
        // the keep-alive connection broke: open another (it may have to wait for a descriptor)
        closeQuietly(s);
        s = null;
        pause(100);
        continue;
      }
      pause(100);
    }
    closeQuietly(s);
  }

  /** GET on a keep-alive connection; the body, or null for a status other than 200. */
  static String httpGet(Socket s, String path) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = s.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int state = 0;
    while (state < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed in the response head");
      }
      head.write(b);
      state = (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3)) ? state + 1
        : b == '\r' ? 1 : 0;
    }
    String h = head.toString(StandardCharsets.US_ASCII);
    int status = Integer.parseInt(h.substring(9, 12));
    byte[] body;
    String lower = h.toLowerCase();
    int cl = lower.indexOf("content-length:");
    if (cl >= 0) {
      int len = Integer.parseInt(lower.substring(cl + 15, lower.indexOf('\r', cl)).trim());
      body = new DataInputStream(in).readNBytes(len);
    } else if (lower.contains("transfer-encoding: chunked")) {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      while (true) {
        String line = readLine(in);
        int n = Integer.parseInt(line.split(";")[0].trim(), 16);
        if (n == 0) {
          readLine(in);
          break;
        }
        all.write(in.readNBytes(n));
        readLine(in);
      }
      body = all.toByteArray();
    } else {
      throw new IOException("response without a length");
    }
    return status == 200 ? new String(body, StandardCharsets.UTF_8) : null;
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int b;
    while ((b = in.read()) >= 0 && b != '\n') {
      if (b != '\r') {
        sb.append((char) b);
      }
    }
    return sb.toString();
  }

  /** After the load: every connection closed, then /books and the metric totals, the node's log. */
  static void gatherBooks(Config c, Facts f) throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String metrics = null;
    while (System.nanoTime() < until) {
      try (Socket s = connect(c.host(), c.httpPort())) {
        s.setSoTimeout(10_000);
        metrics = httpGet(s, "/metrics");
        f.openAtEnd = metrics == null ? -1 : Math.max(0, Fuzz.metricSum(metrics, "tether_connections", null));
        if (f.openAtEnd == 0) {
          String books = httpGet(s, "/books");
          // the figures must be of the same moment: read the metrics again after the books
          String again = httpGet(s, "/metrics");
          if (books != null && again != null) {
            f.books = new JsonObject(books);
            metrics = again;
          }
          String health = httpGet(s, "/health");
          f.nodeUpAtEnd.set(health != null && health.contains("\"status\":\"UP\"") && alive(c.pid()));
          String events = httpGet(s, "/events?kind=RESOURCE_EXHAUSTED&limit=10000");
          f.acceptEvents = events == null ? -1 : new JsonObject(events).getJsonArray("events").stream()
            .filter(e -> "ACCEPT".equals(((JsonObject) e).getString("direction"))).count();
          break;
        }
      } catch (IOException e) {
        f.note("after the run: " + e);
      }
      pause(200);
    }
    if (f.openAtEnd != 0 && !f.nodeUpAtEnd.get()) {
      f.nodeUpAtEnd.set(alive(c.pid()));
    }
    if (metrics != null) {
      for (String s : f.books.getJsonObject("servers", new JsonObject()).fieldNames()) {
        String label = "server=\"" + s + "\"";
        long w = Fuzz.metricSum(metrics, "tether_written_bytes_total", label);
        if (w >= 0) {
          f.writtenMetric.put(s, w);
        }
        f.unsentMetric.put(s, Math.max(0, Fuzz.metricSum(metrics, "tether_unsent_bytes_total", label)));
      }
    }
    f.logEscapes.addAll(Fuzz.escapes(c.nodeLog()));
  }

  static boolean alive(long pid) {
    return pid <= 0 || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  // -- helpers ----------------------------------------------------------------------------------

  static Socket connect(String host, int port) throws IOException {
    Socket s = new Socket();
    try {
      s.connect(new InetSocketAddress(host, port), 5000);
      s.setTcpNoDelay(true);
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  static void closeQuietly(Socket s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closed anyway
      }
    }
  }

  static void pause(long ms) {
    try {
      Thread.sleep(ms); // pacing of the load, not synchronisation
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static SSLContext sslContext(Path certPem) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    try (InputStream in = Files.newInputStream(certPem)) {
      int i = 0;
      for (var cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("c" + i++, cert);
      }
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  // ---------------------------------------------------------------------------------------------

  static final String USAGE = """
    usage: Torture --echo-port P --session-port P --http-port P [--tls-port P --trust CERT.pem] [--bridge-port P]
                   [--seconds 60] [--pid PID] [--node-log FILE] [--idle 600] [--slow-readers 4] [--resetters 2]
                   [--fuzzers 4] [--good-echo 4] [--good-sessions 4] [--seed 1] [--inject bad-echo]
    Hits a running node with descriptor exhaustion, slow readers, resets, fuzz inputs, plaintext on TLS and bridge
    garbage while good clients check exactness, then checks the node's books; exit 1 on any violation.""";

  public static void main(String[] argv) throws Exception {
    Config c;
    try {
      Args a = new Args(argv, Set.of("host", "echo-port", "tls-port", "session-port", "http-port", "bridge-port", "seconds",
        "pid", "node-log", "trust", "idle", "slow-readers", "resetters", "fuzzers", "good-echo", "good-sessions", "seed",
        "inject"), USAGE);
      if (a.number("echo-port", -1) < 0 || a.number("session-port", -1) < 0 || a.number("http-port", -1) < 0) {
        throw new Args.UsageException("--echo-port, --session-port and --http-port are required\n" + USAGE);
      }
      String log = a.string("node-log", null);
      String trust = a.string("trust", null);
      c = new Config(a.string("host", "127.0.0.1"), (int) a.number("echo-port", -1), (int) a.number("tls-port", -1),
        (int) a.number("session-port", -1), (int) a.number("http-port", -1), (int) a.number("bridge-port", -1),
        (int) a.number("seconds", 60), a.number("pid", -1), log == null ? null : Path.of(log),
        trust == null ? null : Path.of(trust), (int) a.number("idle", 600), (int) a.number("slow-readers", 4),
        (int) a.number("resetters", 2), (int) a.number("fuzzers", 4), (int) a.number("good-echo", 4),
        (int) a.number("good-sessions", 4), a.number("seed", 1), a.string("inject", null));
      if (c.seconds() < 1 || c.seconds() > 3600) {
        throw new Args.UsageException("--seconds: 1..3600");
      }
    } catch (Args.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    System.out.printf("torture: %d s against %s (echo %d, TLS echo %d, session %d, bridge %d, HTTP %d)%n", c.seconds(),
      c.host(), c.echoPort(), c.tlsPort(), c.sessionPort(), c.bridgePort(), c.httpPort());
    Facts f = run(c);
    List<Row> rows = verdict(f);
    System.out.println();
    System.out.print(table(rows));
    boolean pass = rows.stream().allMatch(Row::pass);
    if (!f.notes.isEmpty()) {
      System.out.println("notes:");
      for (String n : f.notes) {
        System.out.println("  " + n);
      }
    }
    System.out.println("verdict: " + (pass ? "PASS" : "FAIL"));
    System.exit(pass ? 0 : 1);
  }
}
