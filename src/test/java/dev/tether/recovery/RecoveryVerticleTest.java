package dev.tether.recovery;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.fault.FaultPlan;
import dev.tether.metrics.TetherRecorder;
import dev.tether.net.TrackingOptions;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import dev.tether.verticles.RecoveryVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The node's recovery verticle answers {@code tether.recover.<node>} with the policy configured for
 * the server; without it (or when it is slow) the connection applies its own policy. Either way the
 * failure is published.
 */
class RecoveryVerticleTest {

  private static JsonObject config(String serverPolicies) {
    return new JsonObject().put("servers", new JsonObject().put("rv", new JsonObject()
      .put("verticle", "echo").put("port", 0).put("policies", new JsonObject(serverPolicies))));
  }

  private static TrackingOptions localCloseOnly() {
    // the connection's own (fallback) policy: close on everything
    return new TrackingOptions().setServer("rv").setFaults(FaultPlan.seeded(11).withFailWrite(2))
      .setPolicies(PolicySet.closeAll());
  }

  @Test
  void theRecoveryVerticleDecidesWhenDeployed() throws Exception {
    byte[] stream = Bytes.random(4000, 11);
    try (Harness h = Harness.start(localCloseOnly())) {
      Harness.await(h.vertx.deployVerticle(new RecoveryVerticle(), new DeploymentOptions()
        .setConfig(config("{\"soft\": {\"policy\": \"resend-remainder\", \"initialDelayMs\": 5}}"))));
      try (Peer peer = Peer.reading(h.port())) {
        Harness.Conn c = h.accept();
        c.run(ts -> {
          for (int i = 0; i < 4; i++) {
            ts.send(Buffer.buffer().appendBytes(stream, i * 1000, 1000));
          }
        });
        peer.awaitReceived(stream.length, Duration.ofSeconds(10));
        Bytes.assertSameStream(stream, peer.received());
        assertThat(h.awaitOutcome(x -> true).getString("action")).isEqualTo("RESEND");
        assertThat(h.failures).hasSize(1);
      }
    }
  }

  @Test
  void withoutARecoveryVerticleTheLocalPolicyAppliesAndTheFailureIsPublished() throws Exception {
    byte[] stream = Bytes.random(4000, 12);
    try (Harness h = Harness.start(localCloseOnly()); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      c.run(ts -> {
        for (int i = 0; i < 4; i++) {
          ts.send(Buffer.buffer().appendBytes(stream, i * 1000, 1000));
        }
      });
      byte[] got = peer.awaitEof(Duration.ofSeconds(10));
      Bytes.assertPrefix(stream, 1000, got);
      assertThat(h.awaitFailure(Harness.kind("WRITE_FAILED")).getLong("offset")).isEqualTo(1000);
      JsonObject out = h.awaitOutcome(x -> true);
      assertThat(out.getString("action")).isEqualTo("CLOSE");
      assertThat(out.getString("policy")).isEqualTo("close");
      assertThat(out.getLong("bytes")).isEqualTo(3000);
    }
  }

  @Test
  void aSlowRecoveryVerticleTimesOutIntoTheLocalPolicy() throws Exception {
    TrackingOptions o = localCloseOnly().setDecisionTimeoutMs(100);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      // a consumer that never answers
      h.vertx.eventBus().consumer(Addresses.recover("test-node"), m -> { });
      Harness.Conn c = h.accept();
      c.run(ts -> {
        ts.send(Buffer.buffer("one"));
        ts.send(Buffer.buffer("two"));
      });
      peer.awaitEof(Duration.ofSeconds(10));
      JsonObject out = h.awaitOutcome(x -> true);
      assertThat(out.getString("action")).isEqualTo("CLOSE");
      assertThat(out.getLong("time") - h.failures.get(0).getLong("time")).isGreaterThanOrEqualTo(100);
    }
  }

  @Test
  void badPolicyConfigurationFailsStartUpNamingTheKey() {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      Tether.install(vertx, "n", TetherRecorder.NOOP);
      assertThatThrownBy(() -> Harness.await(vertx.deployVerticle(new RecoveryVerticle(), new DeploymentOptions()
        .setConfig(config("{\"soft\": {\"policy\": \"resend-remainder\", \"maxAtempts\": 3}}")))))
        .hasStackTraceContaining("servers.rv.policies.soft.maxAtempts");
      assertThatThrownBy(() -> Harness.await(vertx.deployVerticle(new RecoveryVerticle(), new DeploymentOptions()
        .setConfig(config("{\"default\": \"retry-forever\"}")))))
        .hasStackTraceContaining("servers.rv.policies.default.policy: unknown policy 'retry-forever'");
      assertThatThrownBy(() -> Harness.await(vertx.deployVerticle(new RecoveryVerticle(), new DeploymentOptions()
        .setConfig(config("{\"soft\": {\"policy\": \"resend-remainder\", \"initialDelayMs\": 0}}")))))
        .hasStackTraceContaining("servers.rv.policies.soft.initialDelayMs");
      assertThatThrownBy(() -> Harness.await(vertx.deployVerticle(new RecoveryVerticle(), new DeploymentOptions()
        .setConfig(config("{\"WRITE_FAILD\": \"close\"}")))))
        .hasStackTraceContaining("servers.rv.policies.WRITE_FAILD");
    } finally {
      Harness.await(vertx.close());
    }
  }

  @Test
  void customPoliciesAreFoundByClassName() {
    RecoveryPolicy p = Policies.create(new JsonObject().put("policy", CountingPolicyFactory.class.getName()), "x");
    assertThat(p.name()).isEqualTo("counting");
  }

  /** A custom policy factory, loaded by class name. */
  public static final class CountingPolicyFactory implements RecoveryPolicyFactory {
    @Override
    public String name() {
      return "counting";
    }

    @Override
    public RecoveryPolicy create(JsonObject config) {
      return new RecoveryPolicy() {
        @Override
        public String name() {
          return "counting";
        }

        @Override
        public dev.tether.event.Decision decide(dev.tether.event.FailureEvent event) {
          return dev.tether.event.Decision.of(dev.tether.event.Action.DROP, "counting", "counted");
        }
      };
    }
  }
}
