package dev.tether.net;

import dev.tether.fault.FaultPlan;
import dev.tether.internal.LentBuffer;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.LeakDetection;
import dev.tether.support.Peer;
import io.netty.util.IllegalReferenceCountException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The zero-copy path ({@link TrackedSocket#zeroCopyHandler}) on real sockets: reads lent from
 * Netty's pool and written back as they are, under refused and partial writes with resends, a reset
 * while writes are held, reads paused at the close, back-pressure. Every test ends by collecting
 * garbage and asserting Netty's leak detector (paranoid in the suite) found nothing, and that no
 * buffer was released twice ({@link LeakDetection}).
 */
class ZeroCopyEchoTest {

  private int leaksBefore;

  @BeforeEach
  void mark() {
    leaksBefore = LeakDetection.count();
  }

  @AfterEach
  void noLeaks() {
    LeakDetection.collect();
    assertThat(LeakDetection.since(leaksBefore)).as("leaks and failed releases").isEmpty();
  }

  static PolicySet resend(long initialDelayMs, int maxAttempts) {
    return new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(initialDelayMs, 10 * initialDelayMs, maxAttempts), Map.of());
  }

  /** A zero-copy echo with back-pressure, as EchoVerticle's; counts the reads that were lent. */
  static Consumer<TrackedSocket> echo(AtomicInteger lentReads) {
    return socket -> {
      socket.zeroCopyHandler(buf -> {
        if (buf instanceof LentBuffer) {
          lentReads.incrementAndGet();
        }
        socket.send(buf);
        if (socket.writeQueueFull()) {
          socket.pause();
        }
      });
      socket.drainHandler(v -> socket.resume());
    };
  }

  static void sendAll(Peer peer, byte[] stream, int chunk) throws Exception {
    for (int off = 0; off < stream.length; off += chunk) {
      int n = Math.min(chunk, stream.length - off);
      byte[] part = new byte[n];
      System.arraycopy(stream, off, part, 0, n);
      peer.send(part);
    }
  }

  @Test
  void echoesTheExactStreamUnderRefusedAndPartialWritesWithResends() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("zc-faults")
      // reads are large (the transport reads what arrived, up to 64 KiB): few writes, so high rates
      .setFaults(FaultPlan.seeded(10).withFailWrite(2).withPartialWrite(4, 100).withAllocationFailure(6)
        .withRates(0.2, 0.2, 0.05))
      .setPolicies(resend(2, 50));
    AtomicInteger lent = new AtomicInteger();
    byte[] stream = Bytes.random(400_000, 10);
    try (Harness h = Harness.start(o, new NetServerOptions(), echo(lent)); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      sendAll(peer, stream, 1500);
      peer.awaitReceived(stream.length, Duration.ofSeconds(30));
      Bytes.assertSameStream(stream, peer.received());
      assertThat(lent.get()).as("reads lent from the pool").isPositive();
      int faults = c.call(ts -> ts.injector().faults());
      assertThat(faults).as("faults injected").isGreaterThanOrEqualTo(3);
      assertThat(h.outcomes).anyMatch(x -> "RESEND".equals(x.getString("action")) && "OK".equals(x.getString("result")));
      c.run(TrackedSocket::close);
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed));
      LedgerSnapshot s = c.call(ts -> {
        ts.checkInvariant();
        return ts.ledger();
      });
      assertThat(s.accepted()).isEqualTo(stream.length);
      assertThat(s.flushed()).isEqualTo(stream.length);
      assertThat(s.unsent()).isZero();
      assertThat(s.resent()).isPositive();
    }
  }

  @Test
  void aResetWhileWritesAreHeldGivesThemUpAndReleasesThem() throws Exception {
    // every write from the 3rd on is refused, and the resend waits 60 s: the echoes stay held
    FaultPlan plan = FaultPlan.seeded(11);
    for (int i = 3; i < 400; i++) {
      plan = plan.withFailWrite(i);
    }
    TrackingOptions o = new TrackingOptions().setServer("zc-reset").setFaults(plan).setPolicies(resend(60_000, 3));
    AtomicInteger lent = new AtomicInteger();
    byte[] stream = Bytes.random(64_000, 11);
    try (Harness h = Harness.start(o, new NetServerOptions(), echo(lent)); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      sendAll(peer, stream, 1000);
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(ts -> ts.ledger().accepted()) == stream.length);
      assertThat(c.<Long>call(ts -> ts.ledger().pending())).as("held echoes").isPositive();
      peer.reset();
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed));
      LedgerSnapshot s = c.call(ts -> {
        ts.checkInvariant();
        return ts.ledger();
      });
      assertThat(s.pending()).isZero();
      assertThat(s.unsent()).isPositive();
      assertThat(s.accepted()).isEqualTo(s.flushed() + s.unsent());
      assertThat(lent.get()).isPositive();
    }
  }

  @Test
  void readsWaitingBehindAPauseAreReleasedWhenTheConnectionCloses() throws Exception {
    AtomicInteger reads = new AtomicInteger();
    Consumer<TrackedSocket> pauseAtOnce = socket -> socket.zeroCopyHandler(buf -> {
      reads.incrementAndGet();
      socket.pause(); // and never resumes
    });
    try (Harness h = Harness.start(new TrackingOptions().setServer("zc-paused"), new NetServerOptions(), pauseAtOnce);
         Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      byte[] chunk = Bytes.random(8192, 12);
      for (int i = 0; i < 64; i++) {
        peer.send(chunk);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> reads.get() >= 1);
      c.run(TrackedSocket::close);
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed));
      assertThat(reads.get()).as("reads delivered while paused").isEqualTo(1);
    }
  }

  @Test
  void pausedReadsAreDeliveredInOrderAfterAResume() throws Exception {
    // a small high-water mark and a peer that does not read for a while: the echo pauses and resumes
    TrackingOptions o = new TrackingOptions().setServer("zc-pause").setHighWaterMark(16 * 1024);
    AtomicInteger lent = new AtomicInteger();
    byte[] stream = Bytes.random(2_000_000, 13);
    try (Harness h = Harness.start(o, new NetServerOptions().setSendBufferSize(8192), echo(lent));
         Peer peer = Peer.stalledThenReading(h.port(), 8192, 300)) {
      h.accept();
      Thread sender = new Thread(() -> {
        try {
          sendAll(peer, stream, 4096);
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      sender.start();
      peer.awaitReceived(stream.length, Duration.ofSeconds(60));
      sender.join();
      Bytes.assertSameStream(stream, peer.received());
    }
  }

  @Test
  void aLentBufferIsValidOnlyDuringItsCallbackAndACopyIsKept() throws Exception {
    AtomicReference<Buffer> kept = new AtomicReference<>();
    AtomicReference<Buffer> copy = new AtomicReference<>();
    List<Buffer> slices = new CopyOnWriteArrayList<>();
    Consumer<TrackedSocket> keep = socket -> socket.zeroCopyHandler(buf -> {
      kept.set(buf);
      copy.set(buf.copy());
      slices.add(buf.slice(0, 1));
    });
    try (Harness h = Harness.start(new TrackingOptions().setServer("zc-rules"), new NetServerOptions(), keep);
         Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      peer.send("hello".getBytes());
      await().atMost(Duration.ofSeconds(10)).until(() -> copy.get() != null);
      assertThat(copy.get().toString()).isEqualTo("hello");
      assertThat(copy.get()).isNotInstanceOf(LentBuffer.class);
      assertThat(slices.get(0)).isInstanceOf(LentBuffer.class);
      // after the callback the memory is back in the pool
      Throwable t = c.call(ts -> {
        try {
          kept.get().getByte(0);
          return null;
        } catch (Throwable e) {
          return e;
        }
      });
      assertThat(t).isInstanceOf(IllegalReferenceCountException.class);
      Throwable w = c.call(ts -> {
        try {
          ts.send(kept.get());
          return null;
        } catch (Throwable e) {
          return e;
        }
      });
      assertThat(w).as("writing a lent buffer after its callback").isInstanceOf(IllegalReferenceCountException.class);
      assertThat(c.<Long>call(ts -> ts.ledger().accepted())).isZero();
    }
  }
}
