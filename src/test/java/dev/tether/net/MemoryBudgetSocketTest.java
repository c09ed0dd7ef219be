package dev.tether.net;

import ch.qos.logback.classic.Level;
import dev.tether.FailureBudget;
import dev.tether.MemoryBudget;
import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.event.FailureKind;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.support.LogCapture;
import dev.tether.support.Peer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The node-wide memory budget on real tracked connections of one node with a 4 MiB budget (high
 * mark 3.2 MiB, low mark 2.4 MiB): peers that never read fill it; past the high mark the heaviest
 * producer is no longer read, past the limit the largest is shed with a WRITE_QUEUE_OVERFLOW event
 * carrying its byte counts, a meter and one log line, and every other connection is exact.
 */
class MemoryBudgetSocketTest {

  private static final int KIB = 1024;
  private static final int MIB = 1024 * KIB;
  private static final int CHUNK = 64 * KIB;

  private Vertx vertx;
  private MemoryBudget budget;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  private final List<JsonObject> outcomes = new CopyOnWriteArrayList<>();
  private final List<TrackedSocket> sockets = new CopyOnWriteArrayList<>();
  private final Map<String, AtomicLong> received = new ConcurrentHashMap<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    budget = new MemoryBudget(4 * MIB, 0.8, 0.6);
    Tether.install(vertx, "mem", new MicrometerRecorder(registry), FailureBudget.defaults(), budget);
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
    vertx.eventBus().<JsonObject>consumer(Addresses.RECOVERY, m -> outcomes.add(m.body()));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private int listen(boolean echo) throws Exception {
    TrackedServerOptions o = new TrackedServerOptions().setName("mem").setMaxPendingBytes(64L * MIB)
      .setHighWaterMark(64L * MIB).setSendBufferSize(8 * KIB).setReceiveBufferSize(16 * KIB);
    TrackedServer server = TrackedServer.create(vertx, o).connectHandler(s -> {
      AtomicLong in = new AtomicLong();
      received.put(s.id(), in);
      s.handler(b -> {
        in.addAndGet(b.length());
        if (echo) {
          s.send(b);
        }
      });
      sockets.add(s);
    });
    return join(server.listen(0)).actualPort();
  }

  /** The bytes of connection {@code conn}'s stream: a pattern that differs by connection and offset. */
  static byte[] stream(int conn, int from, int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ((from + i) * 31 + conn * 7 + (from + i) / 251);
    }
    return b;
  }

  /** Writes {@code n} bytes of connection {@code conn}'s stream from offset {@code from}, on its loop, in 64 KiB writes. */
  private void write(TrackedSocket s, int conn, int from, int n) throws Exception {
    Promise<Void> done = Promise.promise();
    s.context().runOnContext(v -> {
      for (int off = 0; off < n; off += CHUNK) {
        s.send(Buffer.buffer(stream(conn, from + off, Math.min(CHUNK, n - off))));
      }
      done.complete();
    });
    join(done.future());
  }

  private LedgerSnapshot ledger(TrackedSocket s) throws Exception {
    Promise<LedgerSnapshot> p = Promise.promise();
    s.context().runOnContext(v -> p.complete(s.ledger()));
    return join(p.future());
  }

  @Test
  void pastTheLimitTheLargestConnectionIsShedAndTheOthersAreExact() throws Exception {
    int port = listen(false);
    Peer[] peers = new Peer[3];
    for (int i = 0; i < 3; i++) {
      peers[i] = Peer.stalled(port, 4 * KIB);
      int n = i + 1;
      await().atMost(Duration.ofSeconds(10)).until(() -> sockets.size() == n);
    }
    TrackedSocket a = sockets.get(0);
    TrackedSocket b = sockets.get(1);
    TrackedSocket c = sockets.get(2);
    try (LogCapture log = new LogCapture(MemoryBudget.class, Level.INFO)) {
      write(a, 0, 0, 5 * MIB / 2);
      write(b, 1, 0, MIB);
      write(c, 2, 0, MIB / 4);
      // 3.75 MiB, less what the kernel took: past the high mark, below the limit; a is read no more
      assertThat(budget.used()).isBetween(budget.highMark() + 1, budget.limit());
      await().atMost(Duration.ofSeconds(10)).until(() -> budget.paused() == 1);
      assertThat(failures).isEmpty();
      assertThat(a.isClosed()).isFalse();

      write(c, 2, MIB / 4, MIB); // past the limit: a, the largest, is shed; c's write stands
      await().atMost(Duration.ofSeconds(10)).until(a::isClosed);
      await().atMost(Duration.ofSeconds(10)).until(() -> failures.size() == 1);
      JsonObject e = failures.get(0);
      assertThat(e.getString("kind")).isEqualTo(FailureKind.WRITE_QUEUE_OVERFLOW.name());
      assertThat(e.getString("connection")).isEqualTo(a.id());
      assertThat(e.getString("cause")).isEqualTo(dev.tether.MemoryShedException.class.getName());
      assertThat(e.getString("message")).contains("node memory budget").contains(a.id());
      LedgerSnapshot la = ledger(a);
      // the event carries a's byte counts: what was pending (its flushed part, the rest unsent)
      assertThat(la.accepted()).isEqualTo(5L * MIB / 2);
      assertThat(la.pending()).isZero();
      // the event carries what was pending when a was shed (the kernel may take a little more
      // before the close: the outcome carries the exact bytes given up)
      assertThat(e.getLong("requested")).isEqualTo(la.accepted() - e.getLong("offset") + e.getLong("flushed"));
      assertThat(e.getLong("unsent")).isGreaterThanOrEqualTo(la.unsent()).isGreaterThan(2L * MIB);
      assertThat(la.flushed() + la.unsent()).isEqualTo(la.accepted());
      await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.size() == 1);
      JsonObject o = outcomes.get(0);
      assertThat(o.getString("failure")).isEqualTo(e.getString("id"));
      assertThat(o.getString("action")).isEqualTo("CLOSE");
      assertThat(o.getString("policy")).isEqualTo("memory-budget");
      assertThat(o.getLong("bytes")).isEqualTo(la.unsent());
      // one line for the shedding, naming a
      assertThat(log.lines(Level.WARN)).hasSize(1).first().asString()
        .contains("shedding connection " + a.id()).contains("past the limit");
    }
    assertThat(registry.get("tether.memory.shed").tag("kind", "connection").counter().count()).isEqualTo(1);
    assertThat(registry.get("tether.unsent.bytes").tag("server", "mem").tag("kind", "WRITE_QUEUE_OVERFLOW")
      .counter().count()).isEqualTo(ledger(a).unsent());

    // a's peer has exactly the flushed prefix of a's stream, then EOF
    byte[] gotA = readToEof(peers[0]);
    assertThat(gotA.length).isEqualTo(ledger(a).flushed());
    assertThat(Arrays.equals(gotA, stream(0, 0, gotA.length))).isTrue();

    // the survivors are exact: every byte, in order, and their books balance with nothing given up
    peers[1].readExactly(MIB, Duration.ofSeconds(30));
    peers[2].readExactly(MIB / 4 + MIB, Duration.ofSeconds(30));
    assertThat(Arrays.equals(peers[1].received(), stream(1, 0, MIB))).isTrue();
    assertThat(Arrays.equals(peers[2].received(), stream(2, 0, MIB / 4 + MIB))).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> ledger(b).pending() == 0 && ledger(c).pending() == 0);
    assertThat(ledger(b)).isEqualTo(new LedgerSnapshot(MIB, MIB, 0, 0, 0));
    assertThat(ledger(c)).isEqualTo(new LedgerSnapshot(MIB / 4 + MIB, MIB / 4 + MIB, 0, 0, 0));
    assertThat(b.isClosed()).isFalse();
    assertThat(c.isClosed()).isFalse();
    assertThat(failures).hasSize(1);
    assertThat(outcomes).hasSize(1);
    // everything flushed: the budget is back to zero, nobody paused
    await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == 0);
    assertThat(budget.paused()).isZero();
    assertThat(registry.get("tether.memory.used").gauge().value()).isZero();
    for (Peer p : peers) {
      p.close();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> budget.accounts() == 0);
  }

  @Test
  void pastTheHighMarkTheHeaviestProducerIsNotReadUntilTheLowMark() throws Exception {
    int port = listen(true);
    int total = 16 * MIB; // more than the kernel buffers on the way hold
    Peer p = Peer.stalled(port, 8 * KIB); // sends, reads nothing for now: its echoes pile up
    await().atMost(Duration.ofSeconds(10)).until(() -> sockets.size() == 1);
    TrackedSocket sp = sockets.get(0);
    CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
      try {
        for (int off = 0; off < total; off += CHUNK) {
          p.send(stream(0, off, CHUNK));
        }
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    await().atMost(Duration.ofSeconds(20)).until(() -> budget.paused() == 1);
    // not read any more: what the server took stops moving (the pause runs on the socket's loop a
    // moment after the decision) and stays put while the peer still has bytes to send
    AtomicLong last = new AtomicLong(-1);
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
      .until(() -> received.get(sp.id()).get() == last.getAndSet(received.get(sp.id()).get()));
    long taken = received.get(sp.id()).get();
    await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
      .until(() -> received.get(sp.id()).get() == taken);
    assertThat(taken).isLessThan(total);
    assertThat(sending).isNotDone();
    assertThat(budget.used()).isBetween(budget.highMark() + 1, budget.limit());

    // a small producer is not the heaviest: it is read and echoed as usual
    Peer q = Peer.reading(port);
    await().atMost(Duration.ofSeconds(10)).until(() -> sockets.size() == 2);
    q.send(stream(1, 0, CHUNK));
    q.awaitReceived(CHUNK, Duration.ofSeconds(10));
    assertThat(Arrays.equals(q.received(), stream(1, 0, CHUNK))).isTrue();
    assertThat(budget.paused()).isEqualTo(1);

    // the peer reads: the echoes drain, the total falls to the low mark, reading resumes, and the
    // whole stream comes back exactly
    p.readExactly(total, Duration.ofSeconds(60));
    assertThat(Arrays.equals(p.received(), stream(0, 0, total))).isTrue();
    sending.get(10, TimeUnit.SECONDS);
    assertThat(received.get(sp.id()).get()).isEqualTo(total);
    assertThat(budget.pauses()).isGreaterThanOrEqualTo(1);
    assertThat(registry.get("tether.memory.pauses").functionCounter().count()).isEqualTo(budget.pauses());
    await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == 0 && budget.paused() == 0);
    assertThat(ledger(sp)).isEqualTo(new LedgerSnapshot(total, total, 0, 0, 0));
    assertThat(failures).isEmpty();
    assertThat(registry.get("tether.memory.shed").tag("kind", "connection").counter().count()).isZero();
    p.close();
    q.close();
  }

  /** The stalled peer reads what reached its kernel buffers, up to the server's close. */
  private static byte[] readToEof(Peer p) {
    while (true) {
      try {
        p.readExactly(1, Duration.ofSeconds(10));
      } catch (IOException e) {
        return p.received();
      }
    }
  }

  private static <T> T join(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
