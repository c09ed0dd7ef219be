package dev.tether.session;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A load generator and checker for a session echo server: {@code clients} {@link SessionClient}s
 * each send numbered messages of random sizes (seeded), and check every echo: in order, exactly
 * once, byte for byte. Used by the stress tool, the benchmark and the tests.
 *
 * <p>Message format: 8-byte message number (from 1), then filler bytes that are a function of the
 * number and position, so corruption is detected as well as loss, duplication and reordering.
 *
 * <p>Threading: each client runs on its own event-loop context; its checker state is touched only
 * there. Counters are volatile (one writer) and summed by readers on any thread.
 */
public final class EchoLoad {

  /** The verdict of a run. */
  public record Result(int clients, long sent, long received, long lost, long duplicated, long outOfOrder,
                       long corrupted, long resumes, long failedSessions, long payloadBytes, double seconds,
                       List<Long> resumeLatenciesNanos) {

    public boolean clean() {
      return lost == 0 && duplicated == 0 && outOfOrder == 0 && corrupted == 0 && failedSessions == 0;
    }

    public double messagesPerSecond() {
      return seconds <= 0 ? 0 : received / seconds;
    }

    @Override
    public String toString() {
      return String.format("clients=%d sent=%d received=%d lost=%d duplicated=%d outOfOrder=%d corrupted=%d resumes=%d"
          + " failedSessions=%d seconds=%.1f throughput=%.0f msg/s %.1f MiB/s", clients, sent, received, lost,
        duplicated, outOfOrder, corrupted, resumes, failedSessions, seconds, messagesPerSecond(),
        seconds <= 0 ? 0 : payloadBytes / seconds / (1 << 20));
    }
  }

  private final Vertx vertx;
  private final SessionClientOptions template;
  private final int clientCount;
  private final int maxPayload;
  private final long seed;
  private final List<Checker> checkers = new ArrayList<>();
  private final List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
  private final List<SessionClient.ResumeTiming> timings = Collections.synchronizedList(new ArrayList<>());
  private volatile boolean sending;
  private long startNanos;
  private long stopNanos;

  /** Where the time of each resume so far went (see {@link SessionClient.ResumeTiming}). */
  public List<SessionClient.ResumeTiming> resumeTimings() {
    synchronized (timings) {
      return List.copyOf(timings);
    }
  }

  /**
   * @param template   client options (host, port, timeouts); each client gets its own seed
   * @param maxPayload largest message, at least 8 bytes
   */
  public EchoLoad(Vertx vertx, SessionClientOptions template, int clients, int maxPayload, long seed) {
    if (maxPayload < 8) {
      throw new IllegalArgumentException("maxPayload must be >= 8");
    }
    this.vertx = vertx;
    this.template = template;
    this.clientCount = clients;
    this.maxPayload = maxPayload;
    this.seed = seed;
  }

  /** Connects every client and starts sending; completes when all sessions are open. */
  public Future<Void> start() {
    List<Future<Void>> all = new ArrayList<>();
    sending = true;
    startNanos = System.nanoTime();
    for (int i = 0; i < clientCount; i++) {
      Checker c = new Checker(i);
      checkers.add(c);
      all.add(c.start());
    }
    return Future.all(all).mapEmpty();
  }

  /** Stops sending new messages (what was sent is still delivered and checked). */
  public void stopSending() {
    sending = false;
  }

  /**
   * Waits until every message sent was echoed (or {@code timeoutMs} passed, or a session failed),
   * closes the clients and returns the verdict. Call after {@link #stopSending()}.
   */
  public Future<Result> finish(long timeoutMs) {
    stopSending();
    Promise<Result> p = Promise.promise();
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    long[] timer = new long[1];
    timer[0] = vertx.setPeriodic(20, t -> {
      boolean done = checkers.stream().allMatch(c -> c.failed || c.unique >= c.client.sent());
      if (done || System.nanoTime() > deadline) {
        vertx.cancelTimer(timer[0]);
        stopNanos = System.nanoTime();
        Result r = result();
        List<Future<Void>> closes = new ArrayList<>();
        for (Checker c : checkers) {
          closes.add(c.client.close().otherwiseEmpty());
        }
        Future.join(closes).onComplete(x -> p.complete(r));
      }
    });
    return p.future();
  }

  /** Counts so far (not final until {@link #finish}). */
  public Result result() {
    long sent = 0;
    long received = 0;
    long dup = 0;
    long ooo = 0;
    long bad = 0;
    long resumes = 0;
    long failed = 0;
    long bytes = 0;
    for (Checker c : checkers) {
      sent += c.client.sent();
      received += c.unique;
      dup += c.duplicated;
      ooo += c.outOfOrder;
      bad += c.corrupted;
      resumes += c.client.resumes();
      failed += c.failed ? 1 : 0;
      bytes += c.bytes;
    }
    long end = stopNanos == 0 ? System.nanoTime() : stopNanos;
    List<Long> lat;
    synchronized (latencies) {
      lat = List.copyOf(latencies);
    }
    return new Result(clientCount, sent, received, Math.max(0, sent - received), dup, ooo, bad, resumes, failed,
      bytes, (end - startNanos) / 1e9, lat);
  }

  /** Messages delivered so far, all clients. */
  public long delivered() {
    long n = 0;
    for (Checker c : checkers) {
      n += c.unique;
    }
    return n;
  }

  public List<SessionClient> clients() {
    List<SessionClient> l = new ArrayList<>();
    checkers.forEach(c -> l.add(c.client));
    return l;
  }

  private static byte filler(long msg, int i) {
    return (byte) (msg * 31 + i * 7);
  }

  /** One client, its sender and its checker; confined to the client's context. */
  private final class Checker {
    final SessionClient client;
    final SplittableRandom random;
    long next = 1;
    long expected = 1;
    volatile long unique;
    volatile long duplicated;
    volatile long outOfOrder;
    volatile long corrupted;
    volatile long bytes;
    volatile boolean failed;
    boolean pumping;

    Checker(int index) {
      long s = seed * 1_000_003L + index;
      random = new SplittableRandom(s);
      SessionClientOptions o = copy(template).setSeed(s);
      client = SessionClient.create(vertx, o);
      client.handler(this::check);
      client.drainHandler(v -> pump());
      client.failureHandler(e -> failed = true);
      client.resumeLatencyHandler(latencies::add);
      client.resumeTimingHandler(timings::add);
    }

    Future<Void> start() {
      return client.connect().onSuccess(v -> vertx.runOnContext(x -> pump()));
    }

    int size() {
      int r = random.nextInt(100);
      int max;
      if (r < 70) {
        max = Math.min(512, maxPayload);
      } else if (r < 95) {
        max = Math.min(8192, maxPayload);
      } else {
        max = maxPayload;
      }
      return 8 + random.nextInt(max - 8 + 1);
    }

    void pump() {
      if (pumping) {
        return;
      }
      pumping = true;
      try {
        int n = 0;
        while (sending && !failed && !client.writeQueueFull() && n < 64) {
          long msg = next++;
          int size = size();
          Buffer b = Buffer.buffer(size).appendLong(msg);
          for (int i = 8; i < size; i++) {
            b.appendByte(filler(msg, i));
          }
          client.send(b);
          n++;
        }
        if (sending && !failed && !client.writeQueueFull()) {
          vertx.getOrCreateContext().runOnContext(v -> pump());
        }
      } finally {
        pumping = false;
      }
    }

    void check(Buffer b) {
      if (b.length() < 8) {
        corrupted++;
        return;
      }
      long msg = b.getLong(0);
      for (int i = 8; i < b.length(); i++) {
        if (b.getByte(i) != filler(msg, i)) {
          corrupted++;
          break;
        }
      }
      if (msg == expected) {
        expected++;
        unique++;
        bytes += b.length();
      } else if (msg < expected) {
        duplicated++;
      } else {
        outOfOrder++;
        unique++;
        bytes += b.length();
        expected = msg + 1;
      }
    }
  }

  private static SessionClientOptions copy(SessionClientOptions t) {
    return new SessionClientOptions(t);
  }
}
