package dev.tether.monitor;

import dev.tether.event.Addresses;
import dev.tether.tools.Watch;
import dev.tether.verticles.BridgeVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The TCP event-bus bridge, spoken to with a plain socket: 4-byte big-endian length + UTF-8 JSON.
 * Outbound {@code tether.failure}/{@code tether.recovery} only; everything inbound is refused.
 */
class MonitorBridgeTest {

  private MonitorNode node;
  private int bridgePort;

  @BeforeEach
  void start() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("failWrites", new JsonArray().add(2))), new JsonObject());
    bridgePort = freePort();
    await(node.vertx.deployVerticle(new BridgeVerticle(), new DeploymentOptions().setConfig(
      new JsonObject().put("bridge", new JsonObject().put("port", bridgePort)))));
  }

  @AfterEach
  void close() throws Exception {
    node.close();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      return s.getLocalPort();
    }
  }

  /** A raw bridge client: nothing but a socket and the frame format. */
  static final class RawClient implements AutoCloseable {
    final Socket socket = new Socket();
    final DataOutputStream out;
    final DataInputStream in;

    RawClient(int port) throws IOException {
      socket.setSoTimeout(15_000);
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      out = new DataOutputStream(socket.getOutputStream());
      in = new DataInputStream(socket.getInputStream());
    }

    void send(JsonObject frame) throws IOException {
      byte[] b = frame.encode().getBytes(StandardCharsets.UTF_8);
      out.writeInt(b.length);
      out.write(b);
      out.flush();
    }

    JsonObject receive() throws IOException {
      int len = in.readInt();
      assertThat(len).isBetween(2, 1 << 20);
      byte[] b = new byte[len];
      in.readFully(b);
      return new JsonObject(new String(b, StandardCharsets.UTF_8));
    }

    /** Sends a ping and reads frames up to its pong: everything sent before it has been handled. */
    List<JsonObject> sync() throws IOException {
      send(new JsonObject().put("type", "ping"));
      List<JsonObject> before = new java.util.ArrayList<>();
      for (JsonObject f = receive(); !"pong".equals(f.getString("type")); f = receive()) {
        before.add(f);
      }
      return before;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @Test
  void aRegisteredClientReceivesAProvokedFailureWithEveryField() throws Exception {
    try (RawClient client = new RawClient(bridgePort)) {
      client.send(new JsonObject().put("type", "register").put("address", Addresses.FAILURE));
      client.send(new JsonObject().put("type", "register").put("address", Addresses.RECOVERY));
      assertThat(client.sync()).isEmpty();
      try (Peer peer = new Peer(node.echoPort)) {
        peer.exchange(40, 1);
        peer.exchange(60, 2); // write #2 refused: WRITE_FAILED, then resent
      }
      JsonObject failure = client.receive();
      assertThat(failure.getString("type")).isEqualTo("message");
      assertThat(failure.getString("address")).isEqualTo(Addresses.FAILURE);
      JsonObject e = failure.getJsonObject("body");
      assertThat(e.fieldNames()).containsAll(MonitorHttpTest.FAILURE_FIELDS);
      assertThat(e.getString("kind")).isEqualTo("WRITE_FAILED");
      assertThat(e.getString("node")).isEqualTo(MonitorNode.NODE);
      assertThat(e.getString("server")).isEqualTo("echo");
      assertThat(e.getString("protocol")).isEqualTo("raw");
      assertThat(e.getString("direction")).isEqualTo("WRITE");
      assertThat(e.getString("connection")).startsWith("echo-");
      assertThat(e.getString("remote")).startsWith("127.0.0.1:");
      assertThat(e.getLong("requested")).isEqualTo(60);
      assertThat(e.getLong("flushed")).isZero();
      assertThat(e.getLong("unsent")).isEqualTo(60);
      assertThat(e.getLong("offset")).isEqualTo(40);
      assertThat(e.getInteger("attempt")).isEqualTo(1);
      assertThat(e.getString("cause")).isNotBlank();
      assertThat(e.getLong("time")).isPositive();
      JsonObject recovery = client.receive();
      assertThat(recovery.getString("address")).isEqualTo(Addresses.RECOVERY);
      assertThat(recovery.getJsonObject("body").getString("failure")).isEqualTo(e.getString("id"));
      assertThat(recovery.getJsonObject("body").getString("action")).isEqualTo("RESEND");
    }
  }

  @Test
  void inboundSendPublishAndOtherAddressesAreRefused() throws Exception {
    AtomicInteger delivered = new AtomicInteger();
    String recover = Addresses.recover(MonitorNode.NODE);
    await(node.vertx.eventBus().consumer(Addresses.FAILURE, m -> delivered.incrementAndGet()).completion());
    await(node.vertx.eventBus().consumer("tether.other", m -> delivered.incrementAndGet()).completion());
    try (RawClient client = new RawClient(bridgePort)) {
      JsonObject fake = new JsonObject().put("kind", "WRITE_FAILED").put("id", "forged");
      client.send(new JsonObject().put("type", "publish").put("address", Addresses.FAILURE).put("body", fake));
      client.send(new JsonObject().put("type", "send").put("address", Addresses.FAILURE).put("body", fake));
      client.send(new JsonObject().put("type", "send").put("address", recover).put("body", fake)
        .put("replyAddress", "r1"));
      client.send(new JsonObject().put("type", "publish").put("address", "tether.other").put("body", fake));
      client.send(new JsonObject().put("type", "register").put("address", recover));
      client.send(new JsonObject().put("type", "register").put("address", "tether.other"));
      List<JsonObject> answers = client.sync();
      assertThat(answers).hasSize(6).allSatisfy(f -> {
        assertThat(f.getString("type")).isEqualTo("err");
        assertThat(f.getString("message")).isEqualTo("access_denied");
      });
      // a refused registration receives nothing: publish there and prove the next frame is the pong
      node.vertx.eventBus().publish("tether.other", new JsonObject().put("x", 1));
      await(node.vertx.eventBus().request(recover, new JsonObject().put("id", "t").put("kind", "WRITE_FAILED")
        .put("direction", "WRITE").put("server", "echo").put("protocol", "raw")));
      assertThat(client.sync()).isEmpty();
    }
    assertThat(delivered.get()).isEqualTo(1); // only the test's own publish to tether.other
  }

  @Test
  void theWatchToolPrintsEventsFromTheBridge() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    CompletableFuture<Void> watching = CompletableFuture.runAsync(() -> {
      try {
        Watch.watch("127.0.0.1", bridgePort, List.of(Addresses.FAILURE, Addresses.RECOVERY), false, out);
      } catch (IOException closed) {
        // the bridge went away when the test closed Vert.x
      }
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> bytes.toString(StandardCharsets.UTF_8).contains("# watching"));
    // registration frames are sent before the banner; one ping round trip on another client orders nothing,
    // so wait until the bridge has the registrations by publishing until the watcher prints one
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> {
      node.vertx.eventBus().publish(Addresses.RECOVERY, new JsonObject().put("failure", "probe").put("action", "NONE")
        .put("kind", "WRITE_FAILED").put("node", "n").put("connection", "c").put("result", "OK").put("bytes", 0));
      return bytes.toString(StandardCharsets.UTF_8).contains("RECOVERY");
    });
    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(40, 1);
      peer.exchange(60, 2);
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(bytes.toString(StandardCharsets.UTF_8))
      .contains("FAILURE  WRITE_FAILED", "requested=60 flushed=0 unsent=60 offset=40"));
    node.close();
    watching.get(10, TimeUnit.SECONDS);
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject()); // for @AfterEach
  }
}
