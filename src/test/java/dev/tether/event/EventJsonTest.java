package dev.tether.event;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EventJsonTest {

  private static final Set<String> CONTRACT_FIELDS = Set.of("id", "time", "node", "server", "protocol", "connection",
    "remote", "kind", "direction", "requested", "flushed", "unsent", "offset", "cause", "message", "attempt");

  @Test
  void failureEventsCarryEveryContractFieldAndRoundTrip() {
    FailureEvent e = new FailureEvent("id-1", 1234, "n1", "echo", "raw", "echo-1", "127.0.0.1:5000",
      FailureKind.WRITE_INCOMPLETE, Direction.WRITE, 300, 100, 200, 1100, "java.io.IOException", "reset", 2, false);
    JsonObject json = e.toJson();
    assertThat(json.fieldNames()).containsAll(CONTRACT_FIELDS);
    assertThat(json.getString("kind")).isEqualTo("WRITE_INCOMPLETE");
    assertThat(FailureEvent.fromJson(new JsonObject(json.encode()))).isEqualTo(e);
  }

  @Test
  void anEventThatDoesNotBalanceCannotBeBuilt() {
    assertThatThrownBy(() -> new FailureEvent("x", 0, "n", "s", "p", "c", "r", FailureKind.WRITE_FAILED,
      Direction.WRITE, 10, 3, 6, 0, null, null, 1, true)).hasMessageContaining("requested == flushed + unsent");
  }

  @Test
  void outcomesAndDecisionsRoundTrip() {
    RecoveryOutcome o = new RecoveryOutcome("f", 5, "n", "s", "c", FailureKind.WRITE_FAILED, "close", Action.CLOSE, 0,
      42, RecoveryOutcome.OK, "m");
    assertThat(o.toJson().fieldNames()).containsAll(Set.of("failure", "node", "connection", "policy", "action",
      "delayMs", "bytes", "result", "message"));
    assertThat(RecoveryOutcome.fromJson(o.toJson())).isEqualTo(o);
    Decision d = new Decision(Action.RESEND, 25, "resend-remainder", false, "m");
    assertThat(Decision.fromJson(d.toJson())).isEqualTo(d);
  }

  @Test
  void aNodeLostEventIsAFailureEventWithItsClusterFields() {
    NodeLostEvent e = new NodeLostEvent("id-2", 99, "node-3", "5f1c-uuid", "127.0.0.1:5703", "node-1", 4, 0, false);
    JsonObject json = new JsonObject(e.toJson().encode());
    assertThat(json.fieldNames()).containsAll(CONTRACT_FIELDS);
    assertThat(json.getString("kind")).isEqualTo("NODE_LOST");
    assertThat(json.getString("node")).isEqualTo("node-3");
    assertThat(json.getString("reportedBy")).isEqualTo("node-1");
    assertThat(json.getInteger("sessionsHeld")).isEqualTo(4);
    assertThat(json.getInteger("sessionsTakenOver")).isZero();
    assertThat(json.getInteger("sessionsLost")).isEqualTo(4);
    assertThat(json.getString("message")).contains("node-3", "held 4 session(s), 0 taken over, 4 lost");
    assertThat(FailureEvent.fromJson(json)).isEqualTo(e.toFailureEvent());
    assertThat(NodeLostEvent.fromJson(json)).isEqualTo(e);
    assertThatThrownBy(() -> new NodeLostEvent("x", 0, "n", "m", "a", "r", 1, 2, false))
      .hasMessageContaining("takenOver <= held");
  }

  @Test
  void unknownKindsAreNamed() {
    assertThatThrownBy(() -> FailureKind.parse("WRITE_FAILD")).hasMessageContaining("WRITE_FAILD")
      .hasMessageContaining("WRITE_FAILED");
  }
}
