package dev.tether.net;

import ch.qos.logback.classic.Level;
import dev.tether.event.FailureKind;
import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.LogCapture;
import dev.tether.support.Peer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.tether.support.Harness.kind;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Soft failures: a write refused before the transport while the connection stays usable (injected
 * refusal, partial write, allocation failure). The outbound path latches, later writes are held,
 * and the policy resends the remainder after a backoff or gives it up.
 */
class SoftFailureTest {

  static PolicySet resend(long initialDelayMs, int maxAttempts) {
    return new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(initialDelayMs, 10 * initialDelayMs, maxAttempts), Map.of());
  }

  static byte[] randomBytes(int n, long seed) {
    return Bytes.random(n, seed);
  }

  static List<Future<WriteReceipt>> writeChunks(TrackedSocket ts, byte[] stream, int chunk) {
    List<Future<WriteReceipt>> fs = new ArrayList<>();
    for (int off = 0; off < stream.length; off += chunk) {
      int len = Math.min(chunk, stream.length - off);
      fs.add(ts.writeTracked(Buffer.buffer().appendBytes(stream, off, len)));
    }
    return fs;
  }

  static void assertBalancedAndSettled(Harness.Conn c, long accepted, long flushed, long unsent) {
    LedgerSnapshot s = c.call(ts -> {
      ts.checkInvariant();
      return ts.ledger();
    });
    assertThat(s.balanced()).isTrue();
    assertThat(s.accepted()).isEqualTo(accepted);
    assertThat(s.flushed()).isEqualTo(flushed);
    assertThat(s.unsent()).isEqualTo(unsent);
    assertThat(s.pending()).isZero();
  }

  @Test
  void refusedWriteIsResentAfterBackoffAndThePeerGetsTheExactStream() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("soft")
      .setFaults(FaultPlan.seeded(1).withFailWrite(3))
      .setPolicies(resend(60, 3));
    byte[] stream = randomBytes(10_000, 1);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port());
         LogCapture log = new LogCapture(dev.tether.recovery.FailureReporter.class, Level.WARN)) {
      Harness.Conn c = h.accept();
      List<Future<WriteReceipt>> fs = c.call(ts -> writeChunks(ts, stream, 1000));

      peer.awaitReceived(stream.length, Duration.ofSeconds(10));
      await().atMost(Duration.ofSeconds(5)).until(() -> fs.stream().allMatch(Future::isComplete));
      Bytes.assertSameStream(stream, peer.received());
      assertThat(fs).allMatch(Future::succeeded);
      assertThat(fs.get(9).result().resent()).isTrue();
      assertThat(fs.get(0).result().resent()).isFalse();

      JsonObject e = h.awaitFailure(kind("WRITE_FAILED"));
      // write #3 failed inside the third write() call: the event covers it; #4..#10 were then held
      // behind it, and the resend replays the whole contiguous suffix of 8000 bytes
      assertThat(e.getBoolean("soft")).isTrue();
      assertThat(e.getString("direction")).isEqualTo("WRITE");
      assertThat(e.getLong("requested")).isEqualTo(1000);
      assertThat(e.getLong("flushed")).isZero();
      assertThat(e.getLong("unsent")).isEqualTo(1000);
      assertThat(e.getLong("offset")).isEqualTo(2000);
      assertThat(e.getInteger("attempt")).isEqualTo(1);
      assertThat(e.getString("cause")).isEqualTo("dev.tether.fault.InjectedWriteFault");
      assertThat(e.getString("server")).isEqualTo("soft");
      assertThat(e.getString("node")).isEqualTo("test-node");
      assertThat(e.getString("connection")).isEqualTo(c.socket().id());
      assertThat(e.getString("remote")).endsWith(":" + peer.localPort());
      assertThat(e.getString("id")).isNotBlank();
      assertThat(e.getLong("time")).isPositive();

      JsonObject out = h.awaitOutcome(x -> "RESEND".equals(x.getString("action")));
      assertThat(out.getString("result")).isEqualTo("OK");
      assertThat(out.getString("failure")).isEqualTo(e.getString("id"));
      assertThat(out.getString("policy")).isEqualTo("resend-remainder");
      assertThat(out.getLong("bytes")).isEqualTo(8000);
      // never immediate: equal jitter keeps the delay within [initial/2, initial]
      assertThat(out.getLong("delayMs")).isBetween(30L, 60L);
      assertThat(out.getLong("time") - e.getLong("time")).isGreaterThanOrEqualTo(out.getLong("delayMs") - 1);

      assertBalancedAndSettled(c, 10_000, 10_000, 0);
      assertThat(c.call(TrackedSocket::ledger).resent()).isEqualTo(8000);
      assertThat(h.counter("tether.written.bytes", "server", "soft")).isEqualTo(10_000);
      assertThat(h.counter("tether.resent.bytes", "server", "soft")).isEqualTo(8000);
      assertThat(h.counter("tether.failures", "server", "soft", "kind", "WRITE_FAILED", "direction", "WRITE")).isEqualTo(1);
      assertThat(h.counter("tether.unsent.bytes")).isZero();
      assertThat(h.counter("tether.writes", "outcome", "ok")).isEqualTo(10);
      assertThat(h.counter("tether.recovery.actions", "policy", "resend-remainder", "action", "RESEND", "result", "OK")).isEqualTo(1);
      assertThat(h.gauge("tether.pending.bytes", "server", "soft")).isZero();

      List<String> warns = log.lines(Level.WARN);
      assertThat(warns).hasSize(1);
      assertThat(warns.get(0)).contains("WRITE_FAILED", c.socket().id(), "requested=1000", "flushed=0", "unsent=1000",
        "remote=" + e.getString("remote"));
    }
  }

  @Test
  void partialWriteIsCompletedWhileLaterWritesKeepComing() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("partial")
      .setFaults(FaultPlan.seeded(2).withPartialWrite(2, 100).withPartialWrite(7, 1))
      .setPolicies(resend(20, 5));
    byte[] stream = randomBytes(40 * 700, 2);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      // one write every 2 ms from a timer on the connection's loop: writes keep arriving while latched
      c.run(ts -> {
        int[] next = {0};
        h.vertx.setPeriodic(2, id -> {
          int off = next[0] * 700;
          ts.send(Buffer.buffer().appendBytes(stream, off, 700));
          if (++next[0] == 40) {
            h.vertx.cancelTimer(id);
          }
        });
      });
      peer.awaitReceived(stream.length, Duration.ofSeconds(10));
      Bytes.assertSameStream(stream, peer.received());

      JsonObject first = h.awaitFailure(e -> e.getLong("offset") == 800);
      assertThat(first.getString("kind")).isEqualTo(FailureKind.WRITE_INCOMPLETE.name());
      assertThat(first.getLong("flushed")).isEqualTo(100);
      assertThat(first.getLong("requested")).isEqualTo(first.getLong("flushed") + first.getLong("unsent"));
      await().atMost(Duration.ofSeconds(5)).until(() -> h.outcomes.size() == 2 && h.failures.size() == 2);
      assertThat(h.failures).allMatch(e -> e.getLong("requested") == e.getLong("flushed") + e.getLong("unsent"));
      // the second fault may hit the replay itself (that resend then FAILS and the next one succeeds)
      // or a later write (two clean episodes): either way every decision was a resend, the last one OK
      assertThat(h.outcomes).allMatch(x -> "RESEND".equals(x.getString("action")));
      assertThat(h.outcomes.get(1).getString("result")).isEqualTo("OK");
      await().atMost(Duration.ofSeconds(5)).until(() -> c.call(ts -> ts.ledger().pending()) == 0);
      assertBalancedAndSettled(c, stream.length, stream.length, 0);
      assertThat(h.counter("tether.written.bytes", "server", "partial")).isEqualTo(stream.length);
    }
  }

  @Test
  void allocationFailureIsResourceExhaustedAndResent() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("alloc")
      .setFaults(FaultPlan.seeded(3).withAllocationFailure(1))
      .setPolicies(resend(10, 3));
    byte[] stream = randomBytes(5 * 512, 3);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      c.call(ts -> writeChunks(ts, stream, 512));
      peer.awaitReceived(stream.length, Duration.ofSeconds(10));
      Bytes.assertSameStream(stream, peer.received());
      JsonObject e = h.awaitFailure(kind("RESOURCE_EXHAUSTED"));
      assertThat(e.getLong("offset")).isZero();
      assertThat(e.getLong("unsent")).isEqualTo(512);
      assertThat(e.getString("cause")).isEqualTo(OutOfMemoryError.class.getName());
      h.awaitOutcome(x -> "RESEND".equals(x.getString("action")) && "OK".equals(x.getString("result")));
      assertBalancedAndSettled(c, stream.length, stream.length, 0);
      assertThat(h.counter("tether.failures", "kind", "RESOURCE_EXHAUSTED")).isEqualTo(1);
    }
  }

  @Test
  void closePolicyGivesTheHeldSuffixUpAndThePeerSeesAPrefix() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("closer")
      .setFaults(FaultPlan.seeded(4).withFailWrite(4))
      .setPolicies(PolicySet.closeAll());
    byte[] stream = randomBytes(8 * 1000, 4);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<Future<WriteReceipt>> fs = c.call(ts -> writeChunks(ts, stream, 1000));
      byte[] got = peer.awaitEof(Duration.ofSeconds(10));
      Bytes.assertPrefix(stream, 3000, got);
      JsonObject out = h.awaitOutcome(x -> "CLOSE".equals(x.getString("action")));
      assertThat(out.getLong("bytes")).isEqualTo(5000);
      assertThat(out.getString("result")).isEqualTo("OK");
      await().atMost(Duration.ofSeconds(5)).until(() -> fs.stream().allMatch(Future::isComplete));
      assertThat(fs.subList(0, 3)).allMatch(Future::succeeded);
      assertThat(fs.subList(3, 8)).allMatch(Future::failed);
      WriteFailedException wfe = (WriteFailedException) fs.get(3).cause();
      assertThat(wfe.kind()).isEqualTo(FailureKind.WRITE_FAILED);
      assertThat(wfe.unsentFrom()).isEqualTo(3000);
      assertBalancedAndSettled(c, 8000, 3000, 5000);
      assertThat(h.counter("tether.unsent.bytes", "server", "closer", "kind", "WRITE_FAILED")).isEqualTo(5000);
      assertThat(h.failures).hasSize(1);
      assertThat(h.gauge("tether.connections", "server", "closer")).isZero();
    }
  }

  @Test
  void exhaustedBudgetEscalatesToCloseWithAFailedOutcome() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("budget")
      .setFaults(FaultPlan.seeded(5).withFailWrite(1).withFailWrite(2).withFailWrite(3))
      .setPolicies(resend(5, 2));
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      c.run(ts -> ts.send(Buffer.buffer(randomBytes(300, 5))));
      peer.awaitEof(Duration.ofSeconds(10));
      JsonObject out = h.awaitOutcome(x -> "CLOSE".equals(x.getString("action")));
      assertThat(out.getString("result")).isEqualTo("FAILED");
      assertThat(out.getString("message")).contains("budget exhausted");
      assertThat(out.getLong("bytes")).isEqualTo(300);
      assertThat(h.failures).extracting(e -> e.getInteger("attempt")).containsExactly(1, 2, 3);
      assertThat(h.outcomes).filteredOn(x -> "RESEND".equals(x.getString("action")))
        .extracting(x -> x.getString("result")).containsExactly("FAILED", "FAILED");
      assertBalancedAndSettled(c, 300, 0, 300);
      assertThat(h.counter("tether.recovery.actions", "action", "CLOSE", "result", "FAILED")).isEqualTo(1);
    }
  }
}
