package dev.tether.net;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.fault.FaultPlan;
import dev.tether.metrics.TetherRecorder;
import dev.tether.recovery.PolicySet;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A write refused while an earlier write of the same read batch is still waiting for its flush: the
 * soft failure must be reported (and resent) once that earlier write completes successfully.
 * Found by the monitoring work: an echo connection stalled for ever with bytes held and no event.
 */
class SoftFailureBehindFlushTest {

  private Vertx vertx;

  @AfterEach
  void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void aRefusedWriteBehindAnUnflushedOneIsReportedAndResent() throws Exception {
    vertx = Vertx.vertx();
    Tether.install(vertx, "behind", TetherRecorder.NOOP);
    List<JsonObject> failures = new CopyOnWriteArrayList<>();
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()))
      .completion().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    TrackingOptions options = new TrackingOptions().setServer("behind")
      .setFaults(FaultPlan.seeded(1).withFailWrite(2))
      .setPolicies(PolicySet.fromJson(new JsonObject().put("default", "close")
        .put("soft", new JsonObject().put("policy", "resend-remainder").put("initialDelayMs", 1).put("maxDelayMs", 5)
          .put("maxAttempts", 3)), "policies"))
      .setDecisionTimeoutMs(50);
    TrackedServer server = TrackedServer.create(vertx, new TrackedServerOptions().setPort(0).setTracking(options))
      .connectHandler(tracked -> tracked.handler(buf -> {
        // two writes inside one read: Vert.x flushes after the read, so #1 is still unflushed when #2 is refused
        tracked.send(Buffer.buffer("first-"));
        tracked.send(Buffer.buffer("second"));
      })).listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    try (Socket s = new Socket("127.0.0.1", server.actualPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write('x');
      byte[] in = new byte[12];
      new DataInputStream(s.getInputStream()).readFully(in);
      assertThat(new String(in, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("first-second");
    }
    assertThat(failures).hasSize(1);
    assertThat(failures.get(0).getString("kind")).isEqualTo("WRITE_FAILED");
    assertThat(failures.get(0).getLong("offset")).isEqualTo(6);
    assertThat(failures.get(0).getLong("unsent")).isEqualTo(6);
  }
}
