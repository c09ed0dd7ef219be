package dev.tether.net;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import dev.tether.event.RecoveryOutcome;
import dev.tether.fault.FaultPlan;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.RecoveryPolicy;
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
 * A policy that throws counts as an escalated close whose outcome is {@code FAILED}, also when the
 * connection is already closing for an earlier failure (the second outcome used to say {@code OK},
 * "already closing"). Found by {@code AdversarialUserProperties}.
 */
class EscalatedCloseTest {

  @Test
  void everyDecisionOfAThrowingPolicyEndsFailedEvenWhenAlreadyClosing() throws Exception {
    RecoveryPolicy throwing = new RecoveryPolicy() {
      @Override
      public String name() {
        return "throwing";
      }

      @Override
      public Decision decide(FailureEvent event) {
        throw new IllegalStateException("no idea");
      }
    };
    TrackingOptions o = new TrackingOptions().setServer("escalated").setWriteTimeoutMs(0).setMaxPendingBytes(4096)
      .setPolicies(new PolicySet(throwing, null, Map.of()))
      .setFaults(FaultPlan.seeded(1).withFailWrite(1));
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<RecoveryOutcome> outcomes = new CopyOnWriteArrayList<>();
      c.run(ts -> {
        ts.outcomeHandler(outcomes::add);
        ts.send(Buffer.buffer(new byte[100]));  // refused: a soft failure, held
        ts.send(Buffer.buffer(new byte[8192])); // over the cap: an overflow, decided right after
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.size() == 2 && c.call(TrackedSocket::isClosed));
      assertThat(outcomes).extracting(RecoveryOutcome::kind).containsExactlyInAnyOrder(
        dev.tether.event.FailureKind.WRITE_FAILED, dev.tether.event.FailureKind.WRITE_QUEUE_OVERFLOW);
      assertThat(outcomes).allSatisfy(out -> {
        assertThat(out.action()).isEqualTo(Action.CLOSE);
        assertThat(out.policy()).isEqualTo("throwing");
        assertThat(out.result()).as(out.message()).isEqualTo(RecoveryOutcome.FAILED);
      });
    }
  }
}
