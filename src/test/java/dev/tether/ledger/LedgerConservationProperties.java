package dev.tether.ledger;

import dev.tether.fault.FaultPlan;
import dev.tether.net.TrackedSocket;
import dev.tether.net.TrackingOptions;
import dev.tether.net.WriteReceipt;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Lender;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The conservation invariant over random write sizes and random fault schedules on real loopback
 * connections: at the end {@code accepted == flushed + unsent} with nothing pending, the meters
 * agree with the ledger, and the peer received exactly the first {@code flushed} bytes of the
 * stream (the whole stream when every soft failure was resent).
 */
class LedgerConservationProperties {

  /** Write sizes: tiny, small or large, 1 to 60 of them (the three ranges the schedules mix). */
  private static List<Integer> sizes(SplittableRandom r) {
    int n = 1 + r.nextInt(60);
    List<Integer> sizes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      sizes.add(switch (r.nextInt(3)) {
        case 0 -> r.nextInt(1, 65);
        case 1 -> r.nextInt(1, 4097);
        default -> r.nextInt(4096, 256 * 1024 + 1);
      });
    }
    return sizes;
  }

  /** 30 schedules from a fixed seed ({@code -Dtether.ledger.seed} to change it), each a test of its own. */
  @TestFactory
  Stream<DynamicTest> everyByteIsAccountedFor() {
    long base = Long.getLong("tether.ledger.seed", 20261128L);
    int tries = Integer.getInteger("tether.ledger.tries", 30);
    return IntStream.range(0, tries).mapToObj(i -> {
      long seed = base * 31 + i;
      SplittableRandom r = new SplittableRandom(seed);
      List<Integer> sizes = sizes(r);
      double failRate = r.nextDouble(0, 0.15);
      double partialRate = r.nextDouble(0, 0.15);
      double allocRate = r.nextDouble(0, 0.05);
      boolean resend = r.nextBoolean();
      return DynamicTest.dynamicTest("seed " + seed + ": " + sizes.size() + " writes, resend=" + resend,
        () -> run(sizes, seed, failRate, partialRate, allocRate, resend));
    });
  }

  private void run(List<Integer> sizes, long seed, double failRate, double partialRate, double allocRate,
                   boolean resend) throws Exception {
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
      // every other write is of lent memory (the zero-copy path): it must be released exactly once
      Lender lender = new Lender();
      List<Future<WriteReceipt>> fs = c.call(ts -> {
        List<Future<WriteReceipt>> l = new ArrayList<>();
        int off = 0;
        int i = 0;
        for (int n : sizes) {
          if (ts.isClosed()) {
            break;
          }
          l.add(i++ % 2 == 1 ? lender.lend(stream, off, n, ts::writeTracked)
            : ts.writeTracked(Buffer.buffer().appendBytes(stream, off, n)));
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
      await().atMost(Duration.ofSeconds(10)).untilAsserted(lender::assertAllReleased);
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
