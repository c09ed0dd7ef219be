package dev.tether.net;

import dev.tether.fault.FaultPlan;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The socket's handlers run on its context, not only on its thread: inside them
 * {@code Vertx.currentContext()} is {@link TrackedSocket#context()}, so a handler that sets a timer
 * or reads context data gets the socket's. Handlers that follow a transport completion (a flush
 * that ends a stall, a refusal that arrives late) used to run with no current context at all.
 * Found by {@code AdversarialUserProperties}.
 */
class CallbackContextTest {

  private static String where(TrackedSocket ts) {
    Context c = Vertx.currentContext();
    if (c == null) {
      return "no context";
    }
    return ((ContextInternal) c).unwrap() == ((ContextInternal) ts.context()).unwrap() ? "socket context" : "another context";
  }

  @Test
  void theDrainAfterAStallRunsOnTheSocketsContext() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("ctx-drain").setHighWaterMark(16 * 1024).setWriteTimeoutMs(0);
    try (Harness h = Harness.start(o, new NetServerOptions().setSendBufferSize(4096), null);
         Peer peer = Peer.stalledThenReading(h.port(), 4096, 100)) {
      Harness.Conn c = h.accept();
      List<String> seen = new CopyOnWriteArrayList<>();
      boolean full = c.call(ts -> {
        ts.drainHandler(v -> seen.add(where(ts)));
        ts.send(Buffer.buffer(new byte[1 << 20]));
        return ts.writeQueueFull();
      });
      assertThat(full).isTrue();
      await().atMost(Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
      assertThat(seen).containsExactly("socket context");
    }
  }

  @Test
  void theFailureHandlerOfALateRefusalRunsOnTheSocketsContext() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("ctx-refusal").setWriteTimeoutMs(0)
      .setFaults(FaultPlan.seeded(1).withFailWrite(1).withRefusalDelayMs(5));
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<String> seen = new CopyOnWriteArrayList<>();
      c.run(ts -> {
        ts.failureHandler(e -> seen.add(e.kind() + " on " + where(ts)));
        ts.send(Buffer.buffer("refused later"));
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
      assertThat(seen).containsExactly("WRITE_FAILED on socket context");
    }
  }
}
