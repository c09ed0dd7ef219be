package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Decision;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ResendRemainderPolicyTest {

  private static FailureEvent event(int attempt, boolean soft) {
    return new FailureEvent("e", 0, "n", "s", "raw", "c", "r", FailureKind.WRITE_FAILED, Direction.WRITE,
      10, 0, 10, 0, null, null, attempt, soft);
  }

  @Test
  void backoffIsNeverImmediateAndStaysWithinItsBounds() {
    ResendRemainderPolicy p = new ResendRemainderPolicy(10, 200, 6);
    // every attempt, many times: the jitter is random
    for (int i = 0; i < 200; i++) {
      int attempt = 1 + i % 6;
      Decision d = p.decide(event(attempt, true));
      long nominal = Math.min(200, 10L << (attempt - 1));
      assertThat(d.action()).isEqualTo(Action.RESEND);
      assertThat(d.delayMs()).isBetween(Math.max(1, nominal / 2), nominal);
    }
  }

  @Test
  void spentBudgetAndHardFailuresEscalateToClose() {
    ResendRemainderPolicy p = new ResendRemainderPolicy(10, 200, 3);
    Decision spent = p.decide(event(4, true));
    assertThat(spent.action()).isEqualTo(Action.CLOSE);
    assertThat(spent.escalated()).isTrue();
    Decision hard = p.decide(event(1, false));
    assertThat(hard.action()).isEqualTo(Action.CLOSE);
    assertThat(hard.escalated()).isTrue();
  }
}
