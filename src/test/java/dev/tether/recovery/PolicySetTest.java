package dev.tether.recovery;

import dev.tether.event.Action;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Which policy decides what, and that a policy cannot break the decision. */
class PolicySetTest {

  private static FailureEvent event(FailureKind kind, boolean soft) {
    return new FailureEvent("id", 0, "n", "s", "raw", "s-1", "r", kind, Direction.WRITE, 10, 0, 10, 0, null, null, 1, soft);
  }

  @Test
  void theSoftPolicyIsForHeldRefusalsNotForTimeoutsOrOverflow() {
    PolicySet set = PolicySet.fromJson(new JsonObject().put("default", "close").put("soft", "resend-remainder"), "p");
    assertThat(set.select(event(FailureKind.WRITE_FAILED, true)).name()).isEqualTo("resend-remainder");
    assertThat(set.select(event(FailureKind.WRITE_INCOMPLETE, true)).name()).isEqualTo("resend-remainder");
    assertThat(set.select(event(FailureKind.RESOURCE_EXHAUSTED, true)).name()).isEqualTo("resend-remainder");
    assertThat(set.select(event(FailureKind.WRITE_TIMEOUT, true)).name()).isEqualTo("close");
    assertThat(set.select(event(FailureKind.WRITE_QUEUE_OVERFLOW, true)).name()).isEqualTo("close");
    assertThat(set.select(event(FailureKind.WRITE_FAILED, false)).name()).isEqualTo("close");
    PolicySet byKind = PolicySet.fromJson(new JsonObject().put("soft", "resend-remainder").put("WRITE_TIMEOUT", "report"), "p");
    assertThat(byKind.select(event(FailureKind.WRITE_TIMEOUT, true)).name()).isEqualTo("report");
  }

  @Test
  void aPolicyThatThrowsOrAnswersNothingCountsAsAnEscalatedClose() {
    RecoveryPolicy throwing = new RecoveryPolicy() {
      @Override
      public String name() {
        return "bad";
      }

      @Override
      public dev.tether.event.Decision decide(FailureEvent e) {
        throw new IllegalStateException("no idea");
      }
    };
    RecoveryPolicy silent = new RecoveryPolicy() {
      @Override
      public String name() {
        return "silent";
      }

      @Override
      public dev.tether.event.Decision decide(FailureEvent e) {
        return null;
      }
    };
    for (RecoveryPolicy p : new RecoveryPolicy[] {throwing, silent}) {
      var d = new PolicySet(p, null, java.util.Map.of()).decide(event(FailureKind.WRITE_FAILED, false));
      assertThat(d.action()).isEqualTo(Action.CLOSE);
      assertThat(d.escalated()).isTrue();
      assertThat(d.policy()).isEqualTo(p.name());
      assertThat(d.message()).contains("failed to decide WRITE_FAILED");
    }
  }
}
