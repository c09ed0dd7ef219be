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
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code close()} while a refused write is held: the held bytes are given up, never resent behind
 * the close. A resend decided after {@code close()} used to replay them behind Vert.x's close marker;
 * when the marker's flush completed, Vert.x closed the channel and Netty failed the replayed writes
 * although their bytes were already in the kernel (one gathering write): the peer received bytes the
 * ledger counted unsent, and their futures said "not sent". Found by {@code AdversarialUserProperties}.
 */
class CloseWhileHeldTest {

  @Test
  void heldBytesAreGivenUpNotResentAfterClose() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("close-held").setWriteTimeoutMs(0)
      .setPolicies(new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(1, 1, 3), Map.of()))
      // write #2 is refused; flushes reach the transport 50 ms late, so the resend comes before the close's flush
      .setFaults(FaultPlan.seeded(1).withFailWrite(2).withFlushDelayMs(50));
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      Future<Void> first = c.call(ts -> ts.write(Buffer.buffer("first-")));
      await().atMost(Duration.ofSeconds(10)).until(first::succeeded);
      Future<Void> second = c.call(ts -> {
        Future<Void> f = ts.write(Buffer.buffer("second")); // refused: held, its resend decided a turn later
        ts.close();
        return f;
      });
      byte[] got = peer.awaitEof(Duration.ofSeconds(10));
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed) && second.isComplete());
      LedgerSnapshot l = c.call(TrackedSocket::ledger);
      assertThat(got.length).as("bytes the peer received vs the ledger's flushed").isEqualTo(l.flushed());
      assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo("first-");
      assertThat(second.failed()).isTrue();
      assertThat(second.cause()).isInstanceOf(WriteFailedException.class);
      assertThat(l.unsent()).isEqualTo(6);
    }
  }
}
