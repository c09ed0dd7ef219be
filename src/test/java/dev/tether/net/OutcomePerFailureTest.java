package dev.tether.net;

import dev.tether.event.Action;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.fault.FaultPlan;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every failure event gets its recovery outcome. A soft failure whose resend was pending when the
 * connection closed for another failure (an overflow, which cannot be resent) used to get none: a
 * monitor following {@code tether.recovery} would wait for it for ever. Found by
 * {@code AdversarialUserProperties}.
 */
class OutcomePerFailureTest {

  @Test
  void aResendSupersededByACloseForAnotherFailureEndsFailed() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("superseded").setWriteTimeoutMs(0).setMaxPendingBytes(4096)
      .setPolicies(new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(5000, 5000, 3), Map.of()))
      .setFaults(FaultPlan.seeded(1).withFailWrite(1));
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<FailureEvent> failures = new CopyOnWriteArrayList<>();
      List<RecoveryOutcome> outcomes = new CopyOnWriteArrayList<>();
      c.run(ts -> {
        ts.failureHandler(failures::add);
        ts.outcomeHandler(outcomes::add);
        ts.send(Buffer.buffer(new byte[100])); // refused: held, resent in 2.5-5 s (long after the overflow below)
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> !failures.isEmpty());
      c.run(ts -> ts.send(Buffer.buffer(new byte[8192]))); // over the cap: resend cannot help, so it closes
      await().atMost(Duration.ofSeconds(10)).until(() -> c.call(TrackedSocket::isClosed));
      await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.size() >= failures.size());
      assertThat(failures).extracting(FailureEvent::kind)
        .containsExactly(FailureKind.WRITE_FAILED, FailureKind.WRITE_QUEUE_OVERFLOW);
      RecoveryOutcome soft = outcomes.stream().filter(x -> x.failure().equals(failures.get(0).id())).findFirst().orElseThrow();
      assertThat(soft.action()).isEqualTo(Action.RESEND);
      assertThat(soft.result()).isEqualTo(RecoveryOutcome.FAILED);
      RecoveryOutcome overflow = outcomes.stream().filter(x -> x.failure().equals(failures.get(1).id())).findFirst().orElseThrow();
      assertThat(overflow.action()).isEqualTo(Action.CLOSE);
      assertThat(outcomes).hasSize(2);
    }
  }
}
