package dev.tether.session;

import dev.tether.support.ExactlyOnce;
import dev.tether.fault.ChaosOptions;
import dev.tether.fault.ChaosProxy;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Exactly-once, in-order delivery both ways through a proxy that resets connections every 30–120 ms,
 * cuts some after a random byte count and stalls others: 12 sessions, messages up to 64 KiB.
 */
class SessionChaosTest {

  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void noLossNoDuplicateThroughResetsCutsAndStalls() throws Exception {
    java.util.Map<String, java.util.concurrent.atomic.AtomicLong> kinds = new java.util.concurrent.ConcurrentHashMap<>();
    vertx.eventBus().<io.vertx.core.json.JsonObject>consumer(dev.tether.event.Addresses.FAILURE, m -> kinds
      .computeIfAbsent(m.body().getString("kind"), k -> new java.util.concurrent.atomic.AtomicLong()).incrementAndGet());
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), true);
    ChaosProxy proxy = await(ChaosProxy.start(vertx, new ChaosOptions()
      .setTargetPort(server.actualPort())
      .setSeed(42)
      .setResetMs(30, 120)
      .setCut(0.3, 1, 256 * 1024)
      .setStall(0.05, 50, 300)
      .setDurationMs(120_000)));
    SessionClientOptions client = new SessionClientOptions()
      .setPort(proxy.port())
      .setInitialBackoffMs(5)
      .setMaxBackoffMs(100)
      .setPingIntervalMs(100)
      .setIdleTimeoutMs(1_000)
      .setMaxUnackedBytes(256 * 1024);
    EchoLoad load = new EchoLoad(vertx, client, 12, 64 * 1024, 7);
    await(load.start());

    await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(100))
      .until(() -> proxy.resets() >= 250 && load.delivered() >= 5_000);
    proxy.chaos(false);
    EchoLoad.Result r = await(load.finish(30_000));

    assertThat(proxy.resets()).isGreaterThanOrEqualTo(200);
    assertThat(r.sent()).isGreaterThanOrEqualTo(5_000);
    assertThat(r.resumes()).isGreaterThan(0);
    ExactlyOnce.assertExactlyOnce(r);
    assertThat(load.clients()).allSatisfy(c -> assertThat(c.acknowledged()).isEqualTo(c.sent()));
    // resets are connection failures, reported as such; never as protocol errors or lost sessions
    assertThat(kinds).doesNotContainKeys("PROTOCOL_ERROR", "SESSION_EXPIRED");
    assertThat(kinds.keySet()).containsAnyOf("READ_FAILED", "WRITE_FAILED");
    await(proxy.close());
  }
}
