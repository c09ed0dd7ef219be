package dev.tether.net;

import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.RecoveryPolicy;
import dev.tether.recovery.RecoveryPolicyFactory;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import dev.tether.verticles.RecoveryVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Finding 2 of issue 7: a throwing handler or policy wedged the connection for ever (no event, bytes
 * pending, futures never completed, no timeout), and a throw in the close path kept the server's
 * connection slot. Every user callback and every policy now runs guarded.
 */
class HostileCallbackTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  /** A policy that cannot decide. */
  static final class ThrowingPolicy implements RecoveryPolicy {
    @Override
    public String name() {
      return "throwing";
    }

    @Override
    public Decision decide(FailureEvent event) {
      throw new NullPointerException("boom in decide");
    }
  }

  /** The same, loaded by class name from configuration. */
  public static final class ThrowingPolicyFactory implements RecoveryPolicyFactory {
    @Override
    public String name() {
      return "throwing";
    }

    @Override
    public RecoveryPolicy create(JsonObject config) {
      return new ThrowingPolicy();
    }
  }

  @Test
  void aFailureHandlerThatThrowsDoesNotStopTheFailureBeingHandled() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("hostile").setDecisionTimeoutMs(50)
      .setFaults(FaultPlan.seeded(3).withFailWrite(2))
      .setPolicies(new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(2, 10, 5), Map.of()));
    byte[] stream = Bytes.random(2000, 3);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<Future<WriteReceipt>> fs = c.call(ts -> {
        ts.failureHandler(e -> {
          throw new IllegalStateException("user failure handler throws");
        });
        ts.outcomeHandler(x -> {
          throw new IllegalStateException("user outcome handler throws");
        });
        return SoftFailureTest.writeChunks(ts, stream, 667);
      });
      peer.awaitReceived(stream.length, WAIT);
      Bytes.assertSameStream(stream, peer.received());
      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
      assertThat(fs).allMatch(Future::succeeded);
      assertThat(h.awaitFailure(Harness.kind("WRITE_FAILED")).getBoolean("soft")).isTrue();
      h.awaitOutcome(x -> "RESEND".equals(x.getString("action")) && "OK".equals(x.getString("result")));
      assertThat(c.call(TrackedSocket::ledger).pending()).isZero();
    }
  }

  @Test
  void aLocalPolicyThatThrowsCountsAsCloseWithAFailedOutcome() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("hostile").setDecisionTimeoutMs(50)
      .setFaults(FaultPlan.seeded(3).withFailWrite(2))
      .setPolicies(new PolicySet(new ClosePolicy(), new ThrowingPolicy(), Map.of()));
    assertThrowingPolicyClosesAndSettles(Harness.start(o));
  }

  @Test
  void aRecoveryVerticlePolicyThatThrowsCountsAsCloseWithAFailedOutcome() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("hostile").setDecisionTimeoutMs(2000)
      .setFaults(FaultPlan.seeded(3).withFailWrite(2)).setPolicies(PolicySet.closeAll());
    Harness h = Harness.start(o);
    JsonObject conf = new JsonObject().put("servers", new JsonObject().put("hostile", new JsonObject()
      .put("verticle", "echo").put("port", 0)
      .put("policies", new JsonObject().put("soft", ThrowingPolicyFactory.class.getName()))));
    Harness.await(h.vertx.deployVerticle(new RecoveryVerticle(), new DeploymentOptions().setConfig(conf)));
    assertThrowingPolicyClosesAndSettles(h);
  }

  private static void assertThrowingPolicyClosesAndSettles(Harness harness) throws Exception {
    byte[] stream = Bytes.random(2000, 4);
    try (Harness h = harness; Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      List<Future<WriteReceipt>> fs = c.call(ts -> SoftFailureTest.writeChunks(ts, stream, 667));
      JsonObject outcome = h.awaitOutcome(x -> true);
      assertThat(outcome.getString("action")).isEqualTo("CLOSE");
      assertThat(outcome.getString("result")).isEqualTo("FAILED");
      assertThat(outcome.getString("policy")).isEqualTo("throwing");
      assertThat(outcome.getString("message")).contains("failed to decide", "boom in decide");
      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
      assertThat(fs.get(0).succeeded()).isTrue();
      assertThat(fs.subList(1, 3)).allMatch(f -> f.cause() instanceof WriteFailedException);
      await().atMost(WAIT).until(() -> c.call(TrackedSocket::isClosed));
      LedgerSnapshot s = c.call(ts -> {
        ts.checkInvariant();
        return ts.ledger();
      });
      assertThat(s.flushed()).isEqualTo(667);
      assertThat(s.unsent()).isEqualTo(2000 - 667);
      Bytes.assertPrefix(stream, 667, peer.awaitEof(WAIT));
      await().atMost(WAIT).until(() -> h.gauge("tether.connections", "server", "hostile") == 0);
      assertThat(h.gauge("tether.pending.bytes", "server", "hostile")).isZero();
    }
  }

  @Test
  void throwingCloseEndAndReadHandlersGiveTheConnectionSlotBack() throws Exception {
    TrackedServerOptions options = new TrackedServerOptions().setName("slots").setPort(0).setMaxConnections(1);
    try (Harness h = Harness.start(new TrackingOptions())) {
      CompletableFuture<TrackedServer> started = new CompletableFuture<>();
      AtomicInteger closes = new AtomicInteger();
      h.vertx.deployVerticle(new VerticleBase() {
        @Override
        public Future<?> start() {
          return TrackedServer.create(vertx, options).connectHandler(ts -> {
            ts.handler(buf -> {
              ts.write(buf).onComplete(ar -> {
                throw new IllegalStateException("receipt listener throws");
              });
              if (buf.toString().contains("boom")) {
                throw new IllegalStateException("read handler throws");
              }
            });
            ts.endHandler(v -> {
              throw new IllegalStateException("end handler throws");
            });
            ts.closeHandler(v -> {
              closes.incrementAndGet();
              throw new IllegalStateException("close handler throws");
            });
          }).listen().onSuccess(started::complete);
        }
      });
      int port = started.get(10, TimeUnit.SECONDS).actualPort();
      for (int round = 0; round < 3; round++) {
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
          s.setSoTimeout(10_000);
          s.getOutputStream().write("boom\n".getBytes(StandardCharsets.US_ASCII));
          byte[] echo = s.getInputStream().readNBytes(5);
          // served: the slot of the previous round was given back although every handler threw
          assertThat(new String(echo, StandardCharsets.US_ASCII)).isEqualTo("boom\n");
        }
        int expected = round + 1;
        await().atMost(WAIT).until(() -> closes.get() == expected);
      }
    }
  }
}
