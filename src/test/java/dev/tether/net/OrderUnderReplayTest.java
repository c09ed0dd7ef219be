package dev.tether.net;

import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Finding 1 of issue 7: a resend let a write issued from a receipt or a drain handler jump the held
 * suffix while the ledger still balanced. Whatever a receipt, drain, failure or outcome handler
 * writes, whenever it writes it, the peer must receive the stream in ledger-offset order, which is
 * the order of the write calls. Each test records the calls as they are made (on the event loop)
 * and compares the peer's bytes with them, byte for byte.
 */
class OrderUnderReplayTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  static TrackingOptions resendOnSoft(FaultPlan faults) {
    return new TrackingOptions().setServer("order").setWriteTimeoutMs(0).setDecisionTimeoutMs(50).setFaults(faults)
      .setPolicies(new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(2, 10, 5), Map.of()));
  }

  /** Writes on the event loop and remembers the order of the calls: the stream the peer must see. */
  static final class Calls {
    final StringBuffer stream = new StringBuffer();
    final List<Future<Void>> futures = new CopyOnWriteArrayList<>();

    Future<Void> write(TrackedSocket ts, String s) {
      stream.append(s);
      Future<Void> f = ts.write(Buffer.buffer(s, "US-ASCII"));
      futures.add(f);
      return f;
    }

    void awaitAllComplete() {
      await().atMost(WAIT).until(() -> futures.stream().allMatch(Future::isComplete));
    }
  }

  private static String received(Peer peer, int n) {
    peer.awaitReceived(n, WAIT);
    return new String(peer.received(), StandardCharsets.US_ASCII);
  }

  @Test
  void aWriteFromAReceiptDuringTheReplayGoesAfterTheHeldSuffix() throws Exception {
    try (Harness h = Harness.start(resendOnSoft(FaultPlan.seeded(1).withFailWrite(2)));
         Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      Calls calls = new Calls();
      c.run(ts -> {
        calls.write(ts, "[1]");
        calls.write(ts, "[2]").onSuccess(v -> calls.write(ts, "[X]"));
        calls.write(ts, "[3]");
        calls.write(ts, "[4]");
      });
      assertThat(received(peer, 15)).isEqualTo(calls.stream.toString()).isEqualTo("[1][2][3][4][X]");
      calls.awaitAllComplete();
      assertThat(calls.futures).allMatch(Future::succeeded);
      LedgerSnapshot s = c.call(TrackedSocket::ledger);
      assertThat(s.accepted()).isEqualTo(15);
      assertThat(s.flushed()).isEqualTo(15);
      assertThat(s.resent()).isEqualTo(9);
      h.awaitOutcome(o -> "RESEND".equals(o.getString("action")) && "OK".equals(o.getString("result")));
    }
  }

  @Test
  void aWriteFromTheDrainHandlerDuringTheReplayGoesAfterTheHeldSuffix() throws Exception {
    try (Harness h = Harness.start(resendOnSoft(FaultPlan.seeded(1).withFailWrite(2)));
         Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      Calls calls = new Calls();
      // a mark between the cost of one and of two pending writes: the drain runs half way through the replay
      int mark = 2 * (3 + TrackingOptions.WRITE_OVERHEAD_BYTES) + 10;
      boolean full = c.call(ts -> {
        ts.setWriteQueueMaxSize(mark);
        ts.drainHandler(v -> calls.write(ts, "[Y]"));
        calls.write(ts, "[1]");
        calls.write(ts, "[2]");
        calls.write(ts, "[3]");
        calls.write(ts, "[4]");
        return ts.writeQueueFull();
      });
      assertThat(full).as("three held writes are over the mark").isTrue();
      assertThat(received(peer, 15)).isEqualTo(calls.stream.toString()).isEqualTo("[1][2][3][4][Y]");
      calls.awaitAllComplete();
      assertThat(calls.futures).allMatch(Future::succeeded);
    }
  }

  @Test
  void writesFromFailureAndOutcomeHandlersKeepTheirPlace() throws Exception {
    try (Harness h = Harness.start(resendOnSoft(FaultPlan.seeded(1).withFailWrite(2).withFailWrite(6)));
         Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      Calls calls = new Calls();
      c.run(ts -> {
        ts.failureHandler(e -> calls.write(ts, "<F>"));
        ts.outcomeHandler(o -> calls.write(ts, "<O>"));
        for (int i = 1; i <= 4; i++) {
          calls.write(ts, "[" + i + "]");
        }
      });
      // two soft failures, each with a failure and an outcome write: 4 + 4 writes of 3 bytes
      await().atMost(WAIT).until(() -> calls.stream.length() == 24);
      assertThat(received(peer, 24)).isEqualTo(calls.stream.toString());
      calls.awaitAllComplete();
      assertThat(calls.futures).allMatch(Future::succeeded);
      assertThat(h.failures).hasSize(2);
    }
  }

  @Test
  void aRefusalThatArrivesAfterLaterWritesWerePassedOnClosesInsteadOfReordering() throws Exception {
    FaultPlan plan = FaultPlan.seeded(1).withFailWrite(2).withRefusalDelayMs(30);
    try (Harness h = Harness.start(resendOnSoft(plan)); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      Calls calls = new Calls();
      c.run(ts -> {
        for (int i = 1; i <= 4; i++) {
          calls.write(ts, "[" + i + "]");
        }
      });
      byte[] got = peer.awaitEof(WAIT);
      calls.awaitAllComplete();
      await().atMost(WAIT).until(() -> c.call(TrackedSocket::isClosed));
      LedgerSnapshot s = c.call(ts -> {
        ts.checkInvariant();
        return ts.ledger();
      });
      // the peer has the flushed prefix and nothing after the gap
      assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo("[1]");
      assertThat(s.flushed()).isEqualTo(3);
      assertThat(s.unsent()).isEqualTo(9);
      assertThat(s.pending()).isZero();
      assertThat(calls.futures.get(0).succeeded()).isTrue();
      assertThat(calls.futures.subList(1, 4)).allMatch(f -> f.cause() instanceof WriteFailedException);
      JsonObject e = h.awaitFailure(Harness.kind("WRITE_FAILED"));
      assertThat(e.getBoolean("soft")).isFalse();
      assertThat(e.getLong("offset")).isEqualTo(3);
      assertThat(e.getLong("unsent")).isEqualTo(9);
      assertThat(e.getString("message")).contains("reorder");
      assertThat(h.counter("tether.unsent.bytes", "server", "order")).isEqualTo(9);
    }
  }

  @Test
  void aLateRefusalWithNothingBehindItIsResentInOrder() throws Exception {
    FaultPlan plan = FaultPlan.seeded(1).withFailWrite(2).withRefusalDelayMs(20);
    try (Harness h = Harness.start(resendOnSoft(plan)); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      Calls calls = new Calls();
      c.run(ts -> {
        calls.write(ts, "[1]");
        calls.write(ts, "[2]").onSuccess(v -> {
          calls.write(ts, "[3]");
          calls.write(ts, "[4]");
        });
      });
      assertThat(received(peer, 12)).isEqualTo("[1][2][3][4]");
      calls.awaitAllComplete();
      assertThat(calls.futures).allMatch(Future::succeeded);
      assertThat(h.failures).singleElement().satisfies(e -> assertThat(e.getBoolean("soft")).isTrue());
    }
  }
}
