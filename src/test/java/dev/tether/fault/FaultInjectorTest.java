package dev.tether.fault;

import dev.tether.event.FailureKind;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.net.TrackedSocket;
import dev.tether.net.TrackingOptions;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ReportPolicy;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class FaultInjectorTest {

  @Test
  void delayedFlushesRaiseATimeoutAndTheBytesStillArrive() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("slow").setWriteTimeoutMs(100)
      .setFaults(FaultPlan.seeded(1).withFlushDelayMs(400))
      .setPolicies(new PolicySet(new ClosePolicy(), null, Map.of(FailureKind.WRITE_TIMEOUT, new ReportPolicy())));
    byte[] stream = Bytes.random(2000, 1);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      c.run(ts -> ts.send(Buffer.buffer(stream)));
      JsonObject e = h.awaitFailure(Harness.kind("WRITE_TIMEOUT"));
      assertThat(e.getLong("requested")).isEqualTo(2000);
      assertThat(e.getLong("unsent")).isEqualTo(2000);
      peer.awaitReceived(2000, Duration.ofSeconds(10));
      Bytes.assertSameStream(stream, peer.received());
      await().atMost(Duration.ofSeconds(5)).until(() -> c.call(ts -> ts.ledger().pending()) == 0);
      LedgerSnapshot s = c.call(TrackedSocket::ledger);
      assertThat(s.flushed()).isEqualTo(2000);
      assertThat(s.unsent()).isZero();
      assertThat(h.outcomes).singleElement().satisfies(x -> assertThat(x.getString("action")).isEqualTo("NONE"));
    }
  }

  @Test
  void theSameSeedGivesTheSameFaults() throws Exception {
    FaultPlan plan = FaultPlan.seeded(42).withRates(0.3, 0.0, 0.0).withMaxFaults(3);
    byte[] stream = Bytes.random(40 * 100, 2);
    long[] firstOffsets = new long[2];
    for (int run = 0; run < 2; run++) {
      TrackingOptions o = new TrackingOptions().setServer("seeded").setFaults(plan).setPolicies(PolicySet.closeAll());
      try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
        Harness.Conn c = h.accept();
        c.run(ts -> {
          for (int i = 0; i < 40; i++) {
            ts.send(Buffer.buffer().appendBytes(stream, i * 100, 100));
          }
        });
        firstOffsets[run] = h.awaitFailure(Harness.kind("WRITE_FAILED")).getLong("offset");
        // the connection number seeds the faults too: same server, first connection, same plan
      }
    }
    assertThat(firstOffsets[0]).isEqualTo(firstOffsets[1]);
  }

  @Test
  void configurationIsValidatedWithTheKeyInTheMessage() {
    assertThat(FaultPlan.fromJson(null, "f")).isSameAs(FaultPlan.NONE);
    assertThat(FaultPlan.fromJson(new JsonObject().put("enabled", false).put("writeFailureRate", 0.5), "f").enabled()).isFalse();
    FaultPlan p = FaultPlan.fromJson(new JsonObject().put("enabled", true).put("seed", 3)
      .put("failWrites", new io.vertx.core.json.JsonArray().add(2)).put("partialWrites", new JsonObject().put("5", 10)), "f");
    assertThat(p.failWrites()).containsExactly(2L);
    assertThat(p.partialWrites()).containsEntry(5L, 10);
    assertThatThrownBy(() -> FaultPlan.fromJson(new JsonObject().put("enabled", true).put("writeFailRate", 0.1), "servers.echo.faults"))
      .hasMessageContaining("servers.echo.faults.writeFailRate");
    assertThatThrownBy(() -> FaultPlan.fromJson(new JsonObject().put("enabled", true).put("writeFailureRate", 1.5), "servers.echo.faults"))
      .hasMessageContaining("writeFailureRate");
  }
}
