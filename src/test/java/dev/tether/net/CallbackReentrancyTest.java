package dev.tether.net;

import dev.tether.fault.FaultPlan;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A user's call never runs the user's callbacks before it returns. A write made at top level on
 * the event loop (in a task, a timer, an off-loop write's hop) can flush at once over loopback, or
 * be refused at once by the transport; its receipt, the drain handler and the failure handler must
 * still run after the call returned, in order, not nested inside it. Found by
 * {@code AdversarialUserProperties}: the drain handler ran inside {@code write}, wrote more, and the
 * receipts of those later writes ran before the caller could even listen to its own.
 */
class CallbackReentrancyTest {

  @Test
  void aWriteThatFlushesAtOnceReturnsBeforeItsReceiptAndTheDrain() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("reentrant").setHighWaterMark(1024).setWriteTimeoutMs(0);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<String> order = new CopyOnWriteArrayList<>();
      c.run(ts -> {
        ts.drainHandler(v -> order.add("drain"));
        Future<WriteReceipt> f = ts.writeTracked(Buffer.buffer(new byte[64 * 1024]));
        order.add("returned");
        f.onComplete(ar -> order.add("receipt"));
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> order.size() == 3);
      assertThat(order).containsExactly("returned", "receipt", "drain");
      peer.awaitReceived(64 * 1024, Duration.ofSeconds(10));
    }
  }

  @Test
  void aWriteRefusedAtOnceReturnsBeforeTheFailureHandler() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("reentrant-refused").setWriteTimeoutMs(0)
      .setFaults(FaultPlan.seeded(1).withFailWrite(1));
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<String> order = new CopyOnWriteArrayList<>();
      c.run(ts -> {
        ts.failureHandler(e -> order.add("failure " + e.kind()));
        ts.write(Buffer.buffer("refused"));
        order.add("returned");
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> order.size() == 2);
      assertThat(order).containsExactly("returned", "failure WRITE_FAILED");
    }
  }

  @Test
  void aWriteFromAnotherThreadHopsAndStillReturnsFirst() throws Exception {
    // the hop runs the write as a task of its own: its callbacks wait for a later turn too
    TrackingOptions o = new TrackingOptions().setServer("reentrant-hop").setHighWaterMark(1024).setWriteTimeoutMs(0);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<String> order = new CopyOnWriteArrayList<>();
      c.run(ts -> ts.drainHandler(v -> order.add("drain " + ts.isClosed())));
      Future<WriteReceipt> f = c.socket().writeTracked(Buffer.buffer(new byte[64 * 1024]));
      f.onComplete(ar -> order.add("receipt"));
      await().atMost(Duration.ofSeconds(10)).until(() -> order.size() == 2);
      assertThat(order).containsExactly("receipt", "drain false");
    }
  }
}
