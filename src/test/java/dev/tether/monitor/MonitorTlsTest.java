package dev.tether.monitor;

import ch.qos.logback.classic.Level;
import dev.tether.event.Addresses;
import dev.tether.net.TlsHandshakeLog;
import dev.tether.support.LogCapture;
import dev.tether.support.TestTls;
import dev.tether.verticles.BridgeVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TLS on the node's other ports: HTTPS for /health (JDK HttpClient trusting the test certificate),
 * and the event-bus bridge over TLS (a Vert.x NetClient) delivering a failure provoked on a TLS echo.
 */
class MonitorTlsTest {

  private final TestTls t = TestTls.get();
  private MonitorNode node;

  private JsonObject tls() {
    return new JsonObject().put("certPath", t.cert.toString()).put("keyPath", t.key.toString());
  }

  @AfterEach
  void close() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void healthOverHttps() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null).put("tls", tls()),
      new JsonObject().put("http", new JsonObject().put("port", 0).put("tls", tls())));
    HttpClient https = HttpClient.newBuilder().sslContext(t.clientContext(false))
      .connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + node.httpPort + "/health"))
      .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("echo");
    // the certificate really is checked: a client trusting only the JDK's CAs is refused
    HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    assertThatThrownBy(() -> untrusting.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + node.httpPort
      + "/health")).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString()))
      .isInstanceOf(IOException.class);
  }

  @Test
  void theBridgeOverTlsDeliversAFailureOfATlsEcho() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("failWrites", new JsonArray().add(2))).put("tls", tls()), new JsonObject());
    int bridgePort = MonitorBridgeTest.freePort();
    try (LogCapture log = new LogCapture(TlsHandshakeLog.class, Level.DEBUG)) {
      await(node.vertx.deployVerticle(new BridgeVerticle(), new DeploymentOptions().setConfig(
        new JsonObject().put("bridge", new JsonObject().put("port", bridgePort).put("tls", tls())))));

      BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
      NetSocket bridge = await(node.vertx.createNetClient(new NetClientOptions().setSsl(true)
          .setTrustOptions(t.trust()).setHostnameVerificationAlgorithm("HTTPS"))
        .connect(bridgePort, "127.0.0.1"));
      // the bridge's frames: a 4-byte big-endian length, then that many bytes of UTF-8 JSON
      RecordParser parser = RecordParser.newFixed(4);
      int[] size = {-1};
      parser.handler(b -> {
        if (size[0] < 0) {
          size[0] = b.getInt(0);
          parser.fixedSizeMode(size[0]);
        } else {
          frames.add(new JsonObject(b));
          size[0] = -1;
          parser.fixedSizeMode(4);
        }
      });
      bridge.handler(parser);
      send(bridge, new JsonObject().put("type", "register").put("address", Addresses.FAILURE));
      send(bridge, new JsonObject().put("type", "ping"));
      JsonObject pong = frames.poll(15, TimeUnit.SECONDS);
      assertThat(pong).isNotNull();
      assertThat(pong.getString("type")).isEqualTo("pong");

      try (dev.tether.support.Peer peer = dev.tether.support.Peer.tlsReading(node.echoPort)) {
        peer.send(new byte[40]);
        peer.awaitReceived(40, Duration.ofSeconds(10));
        peer.send(new byte[60]); // the echo's write #2 is refused: WRITE_FAILED (soft), then resent
        peer.awaitReceived(100, Duration.ofSeconds(10));
        assertThat(peer.received()).hasSize(100);
      }
      JsonObject failure = frames.poll(15, TimeUnit.SECONDS);
      assertThat(failure).isNotNull();
      assertThat(failure.getString("type")).isEqualTo("message");
      assertThat(failure.getString("address")).isEqualTo(Addresses.FAILURE);
      JsonObject e = failure.getJsonObject("body");
      assertThat(e.getString("kind")).isEqualTo("WRITE_FAILED");
      assertThat(e.getString("server")).isEqualTo("echo");
      assertThat(e.getLong("requested")).isEqualTo(60);
      assertThat(e.getLong("offset")).isEqualTo(40);
      bridge.close();
      assertThat(log.lines(Level.INFO)).isEmpty();
    }
  }

  private static void send(NetSocket s, JsonObject frame) {
    byte[] b = frame.encode().getBytes(StandardCharsets.UTF_8);
    s.write(Buffer.buffer().appendInt(b.length).appendBytes(b));
  }
}
