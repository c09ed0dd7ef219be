package dev.tether.ledger;

import dev.tether.fault.FaultPlan;
import dev.tether.net.TrackedSocket;
import dev.tether.net.TrackingOptions;
import dev.tether.net.WriteReceipt;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.DoubleRange;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The conservation invariant over random write sizes and random fault schedules on real loopback
 * connections: at the end {@code accepted == flushed + unsent} with nothing pending, the meters
 * agree with the ledger, and the peer received exactly the first {@code flushed} bytes of the
 * stream (the whole stream when every soft failure was resent).
 */
class LedgerConservationProperties {

  @Provide
  Arbitrary<List<Integer>> sizes() {
    return Arbitraries.oneOf(
        Arbitraries.integers().between(1, 64),
        Arbitraries.integers().between(1, 4096),
        Arbitraries.integers().between(4096, 256 * 1024))
      .list().ofMinSize(1).ofMaxSize(60);
  }

  @Property(tries = 30, seed = "20261128", shrinking = ShrinkingMode.OFF)
  void everyByteIsAccountedFor(@ForAll("sizes") List<Integer> sizes,
                               @ForAll long seed,
                               @ForAll @DoubleRange(min = 0, max = 0.15) double failRate,
                               @ForAll @DoubleRange(min = 0, max = 0.15) double partialRate,
                               @ForAll @DoubleRange(min = 0, max = 0.05) double allocRate,
                               @ForAll boolean resend) throws Exception {
    PolicySet policies = resend
      ? new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(1, 8, 6), Map.of())
      : PolicySet.closeAll();
    TrackingOptions o = new TrackingOptions().setServer("prop").setWriteTimeoutMs(0)
      .setMaxPendingBytes(64L << 20)
      .setFaults(FaultPlan.seeded(seed).withRates(failRate, partialRate, allocRate))
      .setPolicies(policies);
    int total = sizes.stream().mapToInt(Integer::intValue).sum();
    byte[] stream = Bytes.random(total, seed);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<Future<WriteReceipt>> fs = c.call(ts -> {
        List<Future<WriteReceipt>> l = new ArrayList<>();
        int off = 0;
        for (int n : sizes) {
          if (ts.isClosed()) {
            break;
          }
          l.add(ts.writeTracked(Buffer.buffer().appendBytes(stream, off, n)));
          off += n;
        }
        return l;
      });
      await().atMost(Duration.ofSeconds(30)).until(() -> fs.stream().allMatch(Future::isComplete));
      c.run(TrackedSocket::close);
      byte[] got = peer.awaitEof(Duration.ofSeconds(30));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed));

      LedgerSnapshot s = c.call(ts -> {
        ts.checkInvariant();
        return ts.ledger();
      });
      assertThat(s.pending()).isZero();
      assertThat(s.accepted()).isEqualTo(s.flushed() + s.unsent());
      long acceptedByFutures = fs.stream().filter(f -> f.succeeded() || f.cause() instanceof dev.tether.net.WriteFailedException)
        .mapToLong(f -> f.succeeded() ? f.result().length()
          : ((dev.tether.net.WriteFailedException) f.cause()).end() - ((dev.tether.net.WriteFailedException) f.cause()).start())
        .sum();
      assertThat(acceptedByFutures).isEqualTo(s.accepted());
      Bytes.assertPrefix(stream, (int) s.flushed(), got);
      if (resend && s.unsent() == 0) {
        Bytes.assertSameStream(stream, got);
      }
      // the failure events never claim more than was accepted, and each balances
      assertThat(h.failures).allMatch(e -> e.getLong("requested") == e.getLong("flushed") + e.getLong("unsent"));
      assertThat(h.counter("tether.written.bytes", "server", "prop")).isEqualTo(s.flushed());
      assertThat(h.counter("tether.unsent.bytes", "server", "prop")).isEqualTo(s.unsent());
      assertThat(h.gauge("tether.pending.bytes", "server", "prop")).isZero();
    }
  }
}
