package dev.tether.net;

import dev.tether.event.FailureKind;
import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A write split by a partial refusal whose passed part is still under way (the peer stalls) when
 * the connection is closed hard: what of the passed part reached the kernel is flushed, not unsent.
 * The tracker used to count the whole passed part unsent, and the peer received bytes the ledger
 * had given up. Found by {@code AdversarialUserProperties}.
 */
class PartialWriteCloseTest {

  @Test
  void thePassedPartOfAWriteCountsWhatReachedTheKernelWhenTheConnectionFails() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("partial-close").setWriteTimeoutMs(0)
      .setFaults(FaultPlan.seeded(1).withPartialWrite(1, 60_000));
    try (Harness h = Harness.start(o, new NetServerOptions().setSendBufferSize(4096), null);
         Peer peer = Peer.stalledThenReading(h.port(), 8192, 300)) {
      Harness.Conn c = h.accept();
      c.run(ts -> ts.send(Buffer.buffer(new byte[64 * 1024]))); // 60,000 bytes passed, the kernel takes part of them
      c.run(ts -> ts.reportFailure(FailureKind.PROTOCOL_ERROR, new IllegalStateException("bad frame"))); // closes hard
      byte[] got = peer.awaitEof(Duration.ofSeconds(10));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed));
      LedgerSnapshot l = c.call(TrackedSocket::ledger);
      assertThat(got.length).isPositive().isLessThan(60_000);
      assertThat(l.flushed()).as("flushed vs what the peer received").isEqualTo(got.length);
      assertThat(l.unsent()).isEqualTo(64 * 1024 - got.length);
    }
  }
}
