package dev.tether.session;

import dev.tether.support.ExactlyOnce;
import dev.tether.fault.ChaosOptions;
import dev.tether.fault.ChaosProxy;
import dev.tether.support.TestTls;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.ClientSSLOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The session protocol over TLS ({@code servers.<name>.tls}, {@code SessionClientOptions.setSslOptions}):
 * soft failures resent as plaintext on the same connection, and resumes through a proxy that resets
 * the TLS connections (each resume is a new handshake).
 */
class SessionTlsTest {

  private final TestTls t = TestTls.get();
  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  private JsonObject tls() {
    return new JsonObject().put("certPath", t.cert.toString()).put("keyPath", t.key.toString());
  }

  private ClientSSLOptions trust() {
    return new ClientSSLOptions().setTrustOptions(t.trust()); // hostname verification defaults to HTTPS
  }

  @Test
  void softFailuresOverTlsAreResentWithoutAGap() throws Exception {
    JsonObject conf = SessionTestSupport.serverConfig("session-tls")
      .put("tls", tls())
      .put("highWaterMark", 8 * 1024)
      .put("faults", new JsonObject().put("enabled", true).put("seed", 7)
        .put("writeFailureRate", 0.03).put("partialWriteRate", 0.03).put("maxFaults", 100))
      .put("policies", new JsonObject().put("default", "resume").put("PROTOCOL_ERROR", "close")
        .put("soft", new JsonObject().put("policy", "resend-remainder").put("initialDelayMs", 1)
          .put("maxDelayMs", 5).put("maxAttempts", 20)));
    SessionVerticle server = SessionTestSupport.deploy(vertx, conf, true);
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.actualPort())
      .setSeed(3).setSslOptions(trust()));
    List<String> got = new CopyOnWriteArrayList<>();
    client.handler(b -> got.add(b.toString()));
    await(client.connect());
    int n = 1000;
    for (int i = 0; i < n; i++) {
      client.send(Buffer.buffer("m" + i + "-" + "x".repeat(i % 300)));
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> got.size() >= n && client.acknowledged() == n);
    for (int i = 0; i < n; i++) {
      assertThat(got.get(i)).startsWith("m" + i + "-");
    }
    assertThat(got).hasSize(n);
    assertThat(client.duplicatesDropped()).isZero();
    assertThat(client.resumes()).as("soft failures are resent on the same connection").isZero();
    await(client.close());
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void sessionsResumeOverNewTlsConnectionsWithNoLossAndNoDuplicate() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx,
      SessionTestSupport.serverConfig("session-tls").put("tls", tls()), true);
    ChaosProxy proxy = await(ChaosProxy.start(vertx, new ChaosOptions()
      .setTargetPort(server.actualPort())
      .setSeed(5)
      .setResetMs(100, 300)
      .setDurationMs(120_000)));
    SessionClientOptions client = new SessionClientOptions()
      .setPort(proxy.port())
      .setInitialBackoffMs(5)
      .setMaxBackoffMs(100)
      .setPingIntervalMs(100)
      .setIdleTimeoutMs(2_000)
      .setSslOptions(trust());
    EchoLoad load = new EchoLoad(vertx, client, 3, 16 * 1024, 9);
    await(load.start());
    await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(100))
      .until(() -> proxy.resets() >= 15 && load.delivered() >= 500);
    proxy.chaos(false);
    EchoLoad.Result r = await(load.finish(30_000));
    assertThat(r.resumes()).isGreaterThan(0);
    ExactlyOnce.assertExactlyOnce(r);
    await(proxy.close());
  }
}
