package dev.tether.fault;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy for fault injection on loopback: forwards each accepted connection to a target and,
 * as {@link ChaosOptions} says, resets it after a random lifetime, cuts it after K bytes, or stalls
 * it for a while. Resets are real RSTs (SO_LINGER 0 on both legs), so both ends see
 * "connection reset" and whatever was in flight is lost. Seeded: connection {@code n} draws its fate
 * from {@code seed} and {@code n}. Chaos can be switched off and on while running
 * ({@link #chaos(boolean)}); a {@code durationMs} bounds the proxy's life.
 *
 * <h2>Threading</h2>
 * Created on a context; every connection pair and timer runs on that context's event loop. The
 * counters may be read from any thread.
 */
public final class ChaosProxy {

  private static final Logger log = LoggerFactory.getLogger(ChaosProxy.class);

  private final Vertx vertx;
  private final Context context;
  private final ChaosOptions options;
  private final NetServer server;
  private final NetClient client;
  // Context-confined
  private final Set<Pair> pairs = new HashSet<>();
  private long connectionNumber;
  private long durationTimer = -1;
  private volatile boolean chaos = true;
  private volatile int targetPort;
  private boolean closed;

  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong resets = new AtomicLong();
  private final AtomicLong cuts = new AtomicLong();
  private final AtomicLong stalls = new AtomicLong();
  private final AtomicLong bytesUp = new AtomicLong();
  private final AtomicLong bytesDown = new AtomicLong();

  private ChaosProxy(Vertx vertx, ChaosOptions options) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.options = options;
    this.targetPort = options.targetPort();
    this.server = vertx.createNetServer(new NetServerOptions().setHost(options.host()).setPort(options.port())
      .setSoLinger(0).setTcpNoDelay(true));
    this.client = vertx.createNetClient(new NetClientOptions().setSoLinger(0).setTcpNoDelay(true)
      .setConnectTimeout(2_000));
  }

  /** Starts a proxy; its connections run on the caller's context (or a new event-loop context). */
  public static Future<ChaosProxy> start(Vertx vertx, ChaosOptions options) {
    ChaosProxy p = new ChaosProxy(vertx, options);
    p.server.connectHandler(p::accept);
    return p.server.listen().map(s -> {
      if (options.durationMs() > 0) {
        p.durationTimer = vertx.setTimer(options.durationMs(), t -> p.close());
      }
      log.info("chaos proxy on {}:{} -> {}:{} (seed {})", options.host(), s.actualPort(), options.targetHost(),
        options.targetPort(), options.seed());
      return p;
    });
  }

  public int port() {
    return server.actualPort();
  }

  /** Switches the faults on or off; connections accepted while off are never faulted. */
  public ChaosProxy chaos(boolean on) {
    this.chaos = on;
    return this;
  }

  /** Sends new connections to another port of the target host (a fail-over, or a dead port). */
  public ChaosProxy target(int port) {
    this.targetPort = port;
    return this;
  }

  /** Resets every connection now (an injected mass reset). */
  public Future<Void> resetAll() {
    return Future.future(p -> context.runOnContext(v -> {
      new HashSet<>(pairs).forEach(pair -> pair.reset("reset-all"));
      p.complete();
    }));
  }

  public long accepted() {
    return accepted.get();
  }

  /** Connections reset (by lifetime, cut or {@link #resetAll}). */
  public long resets() {
    return resets.get();
  }

  public long cuts() {
    return cuts.get();
  }

  public long stalls() {
    return stalls.get();
  }

  public long bytesUp() {
    return bytesUp.get();
  }

  public long bytesDown() {
    return bytesDown.get();
  }

  public String stats() {
    return "accepted=" + accepted() + " resets=" + resets() + " (cuts=" + cuts() + ") stalls=" + stalls()
      + " up=" + bytesUp() + "B down=" + bytesDown() + "B";
  }

  public Future<Void> close() {
    Future<Void> done = Future.future(p -> context.runOnContext(v -> {
      closed = true;
      if (durationTimer != -1) {
        vertx.cancelTimer(durationTimer);
      }
      new HashSet<>(pairs).forEach(Pair::close);
      p.complete();
    }));
    return done.compose(v -> server.close()).compose(v -> client.close());
  }

  private void accept(NetSocket in) {
    if (closed) {
      in.close();
      return;
    }
    in.pause();
    accepted.incrementAndGet();
    long n = ++connectionNumber;
    Pair pair = new Pair(in, new SplittableRandom(options.seed() * 1_000_003L + n), chaos);
    pairs.add(pair);
    client.connect(targetPort, options.targetHost()).onComplete(ar -> {
      if (ar.failed()) {
        log.debug("chaos proxy: target connect failed: {}", ar.cause().toString());
        pair.close();
        return;
      }
      pair.connected(ar.result());
    });
  }

  /** One proxied connection: inbound (from the client) and outbound (to the target). */
  private final class Pair {
    final NetSocket in;
    final SplittableRandom random;
    final boolean faulty;
    NetSocket out;
    long cutAfter = -1;
    boolean cutUp;
    long forwardedUp;
    long forwardedDown;
    boolean stalled;
    boolean inFull;
    boolean outFull;
    boolean done;
    long lifeTimer = -1;
    long stallTimer = -1;

    Pair(NetSocket in, SplittableRandom random, boolean faulty) {
      this.in = in;
      this.random = random;
      this.faulty = faulty;
    }

    void connected(NetSocket o) {
      if (done) {
        o.close();
        return;
      }
      out = o;
      in.handler(b -> forward(b, true));
      out.handler(b -> forward(b, false));
      in.closeHandler(v -> close());
      out.closeHandler(v -> close());
      in.exceptionHandler(e -> close());
      out.exceptionHandler(e -> close());
      in.drainHandler(v -> {
        inFull = false;
        flow();
      });
      out.drainHandler(v -> {
        outFull = false;
        flow();
      });
      if (faulty) {
        plan();
      }
      flow();
    }

    void plan() {
      long life = -1;
      if (options.resetMaxMs() > 0) {
        life = options.resetMinMs() + random.nextLong(options.resetMaxMs() - options.resetMinMs() + 1);
        lifeTimer = vertx.setTimer(Math.max(1, life), t -> {
          lifeTimer = -1;
          if (chaos) {
            reset("lifetime");
          }
        });
      }
      if (options.cutProbability() > 0 && random.nextDouble() < options.cutProbability()) {
        cutAfter = options.cutMinBytes() + random.nextLong(options.cutMaxBytes() - options.cutMinBytes() + 1);
        cutUp = random.nextBoolean();
      }
      if (options.stallProbability() > 0 && random.nextDouble() < options.stallProbability()) {
        long at = random.nextLong(Math.max(1, life > 0 ? life : 1_000));
        long length = options.stallMinMs() + random.nextLong(options.stallMaxMs() - options.stallMinMs() + 1);
        stallTimer = vertx.setTimer(Math.max(1, at), t -> {
          if (done || !chaos) {
            return;
          }
          stalls.incrementAndGet();
          stalled = true;
          flow();
          stallTimer = vertx.setTimer(Math.max(1, length), t2 -> {
            stallTimer = -1;
            stalled = false;
            flow();
          });
        });
      }
    }

    void forward(Buffer b, boolean up) {
      if (done) {
        return;
      }
      NetSocket to = up ? out : in;
      if (cutAfter >= 0 && up == cutUp && chaos) {
        long sofar = up ? forwardedUp : forwardedDown;
        if (sofar + b.length() >= cutAfter) {
          int keep = (int) (cutAfter - sofar);
          if (keep > 0) {
            to.write(b.slice(0, keep));
            count(up, keep);
          }
          cuts.incrementAndGet();
          reset("cut after " + cutAfter + " bytes " + (up ? "up" : "down"));
          return;
        }
      }
      to.write(b);
      count(up, b.length());
      if (to.writeQueueFull()) {
        if (up) {
          outFull = true;
        } else {
          inFull = true;
        }
        flow();
      }
    }

    void count(boolean up, long n) {
      if (up) {
        forwardedUp += n;
        bytesUp.addAndGet(n);
      } else {
        forwardedDown += n;
        bytesDown.addAndGet(n);
      }
    }

    /** Reads from a side only when not stalled and the other side can take more. */
    void flow() {
      if (done || out == null) {
        return;
      }
      if (stalled || outFull) {
        in.pause();
      } else {
        in.resume();
      }
      if (stalled || inFull) {
        out.pause();
      } else {
        out.resume();
      }
    }

    void reset(String why) {
      if (done) {
        return;
      }
      resets.incrementAndGet();
      log.debug("chaos proxy: reset ({})", why);
      close();
    }

    void close() {
      if (done) {
        return;
      }
      done = true;
      pairs.remove(this);
      if (lifeTimer != -1) {
        vertx.cancelTimer(lifeTimer);
      }
      if (stallTimer != -1) {
        vertx.cancelTimer(stallTimer);
      }
      // SO_LINGER 0 on both legs: closing sends RST
      in.close();
      if (out != null) {
        out.close();
      }
    }
  }
}
