package dev.tether.monitor;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.tether.event.Addresses;
import dev.tether.verticles.BridgeVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Garbage on the event-bus bridge closes only the client that sent it: several well-behaved clients stay
 * registered and receive every event published before, during and after; each garbage client is
 * closed (after one {@code err} frame when it can still be told); a client that never reads is closed once
 * its unread events pass the bound; nothing is logged with a stack trace.
 */
class MonitorBridgeHostileTest {

  private MonitorNode node;
  private int bridgePort;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  @BeforeEach
  void start() throws Exception {
    logged.start();
    root.addAppender(logged);
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject());
    bridgePort = MonitorBridgeTest.freePort();
    await(node.vertx.deployVerticle(new BridgeVerticle(), new DeploymentOptions().setConfig(
      new JsonObject().put("bridge", new JsonObject().put("port", bridgePort)))));
  }

  @AfterEach
  void close() throws Exception {
    root.detachAppender(logged);
    node.close();
  }

  static byte[] frame(byte[] body) {
    byte[] out = new byte[4 + body.length];
    java.nio.ByteBuffer.wrap(out).putInt(body.length).put(body);
    return out;
  }

  static byte[] frame(String json) {
    return frame(json.getBytes(StandardCharsets.UTF_8));
  }

  static Map<String, byte[]> garbage() {
    Map<String, byte[]> g = new LinkedHashMap<>();
    g.put("not JSON", frame("hello bridge"));
    g.put("JSON array", frame("[1,2,3]"));
    g.put("JSON string", frame("\"register\""));
    g.put("truncated JSON", frame("{\"type\":\"register\",\"addr"));
    g.put("type is a number", frame("{\"type\":5,\"address\":\"tether.failure\"}"));
    g.put("no type", frame("{\"address\":\"tether.failure\"}"));
    g.put("unknown type", frame("{\"type\":\"subscribe-all\",\"address\":\"tether.failure\"}"));
    g.put("address is a number", frame("{\"type\":\"register\",\"address\":7}"));
    g.put("no address", frame("{\"type\":\"register\"}"));
    g.put("headers is a string", frame("{\"type\":\"send\",\"address\":\"x\",\"headers\":\"h\"}"));
    g.put("replyAddress is an object", frame("{\"type\":\"send\",\"address\":\"x\",\"replyAddress\":{}}"));
    g.put("invalid UTF-8", frame(new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'}));
    g.put("zero length", new byte[] {0, 0, 0, 0, '{', '}'});
    g.put("negative length", new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xfc, '{', '}'});
    g.put("huge length", new byte[] {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, '{'});
    g.put("over the frame limit", frame("{\"type\":\"ping\",\"pad\":\"" + "x".repeat(70_000) + "\"}"));
    byte[] random = new byte[512];
    new java.util.SplittableRandom(9).nextBytes(random);
    random[0] = 0x11;
    g.put("random bytes", random);
    g.put("a frame begun and never finished", new byte[] {0, 0, 1, 0, '{', '"'});
    return g;
  }

  @Test
  void garbageClosesOnlyThatClient() throws Exception {
    List<MonitorBridgeTest.RawClient> good = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        MonitorBridgeTest.RawClient c = new MonitorBridgeTest.RawClient(bridgePort);
        c.send(new JsonObject().put("type", "register").put("address", Addresses.FAILURE));
        assertThat(c.sync()).isEmpty();
        good.add(c);
      }
      int published = 0;
      for (Map.Entry<String, byte[]> g : garbage().entrySet()) {
        node.vertx.eventBus().publish(Addresses.FAILURE, new JsonObject().put("n", published++));
        try (MonitorBridgeTest.RawClient bad = new MonitorBridgeTest.RawClient(bridgePort)) {
          bad.out.write(g.getValue());
          bad.out.flush();
          String said;
          try {
            said = readToEnd(bad.in);
          } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError("garbage '" + g.getKey() + "' did not close its client", e);
          }
          // told why (when it could still be told), then closed
          assertThat(said).as(g.getKey()).satisfiesAnyOf(
            s -> assertThat(s).contains("\"type\":\"err\"").contains("closing: "),
            s -> assertThat(s).isEmpty());
        }
        node.vertx.eventBus().publish(Addresses.FAILURE, new JsonObject().put("n", published++));
      }
      // a refused (not permitted) frame is answered and the client kept, as documented
      MonitorBridgeTest.RawClient refused = new MonitorBridgeTest.RawClient(bridgePort);
      refused.send(new JsonObject().put("type", "publish").put("address", Addresses.FAILURE).put("body", 1));
      assertThat(refused.sync()).singleElement().satisfies(f -> assertThat(f.getString("message")).isEqualTo("access_denied"));
      refused.close();

      for (MonitorBridgeTest.RawClient c : good) {
        List<JsonObject> got = new ArrayList<>();
        for (int i = 0; i < published; i++) {
          JsonObject f = c.receive();
          assertThat(f.getString("type")).isEqualTo("message");
          got.add(f.getJsonObject("body"));
        }
        for (int i = 0; i < published; i++) {
          assertThat(got.get(i).getInteger("n")).isEqualTo(i);
        }
        assertThat(c.sync()).isEmpty();
      }
    } finally {
      for (MonitorBridgeTest.RawClient c : good) {
        c.close();
      }
    }
    assertThat(escaped()).isEmpty();
  }

  @Test
  void aClientThatNeverReadsIsClosedAndTheOthersKeepReceiving() throws Exception {
    try (MonitorBridgeTest.RawClient reader = new MonitorBridgeTest.RawClient(bridgePort);
         java.net.Socket sleeperSocket = new java.net.Socket()) {
      // a small fixed receive window (set before connecting: no autotuning up to tcp_rmem's 32 MiB)
      sleeperSocket.setReceiveBufferSize(4096);
      sleeperSocket.connect(new java.net.InetSocketAddress("127.0.0.1", bridgePort), 5000);
      DataOutputStream sleeperOut = new DataOutputStream(sleeperSocket.getOutputStream());
      byte[] register = new JsonObject().put("type", "register").put("address", Addresses.FAILURE).encode()
        .getBytes(StandardCharsets.UTF_8);
      sleeperOut.writeInt(register.length);
      sleeperOut.write(register);
      sleeperOut.flush();
      reader.send(new JsonObject().put("type", "register").put("address", Addresses.FAILURE));
      assertThat(reader.sync()).isEmpty();

      String pad = "p".repeat(64 * 1024);
      int n = 200; // ~13 MiB: far past the kernel's buffers and the bridge's 4 MiB bound
      for (int i = 0; i < n; i++) {
        node.vertx.eventBus().publish(Addresses.FAILURE, new JsonObject().put("n", i).put("pad", pad));
        if (i % 20 == 19) {
          // the reader keeps up; the sleeper never reads
          for (int k = i - 19; k <= i; k++) {
            assertThat(reader.receive().getJsonObject("body").getInteger("n")).isEqualTo(k);
          }
        }
      }
      assertThat(reader.sync()).isEmpty();
      // the sleeper was closed: after draining what the kernel holds it sees the end (or a reset)
      sleeperSocket.setSoTimeout(15_000);
      InputStream in = sleeperSocket.getInputStream();
      byte[] buf = new byte[65536];
      long read = 0;
      try {
        int k;
        while ((k = in.read(buf)) > 0 && read < (long) n * pad.length()) {
          read += k;
        }
      } catch (SocketException reset) {
        // closed with unread data: fine
      }
      assertThat(read).as("the sleeper got only part of the stream").isLessThan((long) n * pad.length());
    }
    assertThat(escaped()).isEmpty();
  }

  /** bridge.maxConnections is enforced (vertx-tcp-eventbus-bridge 5.0.7 never fires the event it used to be checked in). */
  @Test
  void connectionsBeyondTheLimitAreClosed() throws Exception {
    int port = MonitorBridgeTest.freePort();
    await(node.vertx.deployVerticle(new BridgeVerticle(), new DeploymentOptions().setConfig(
      new JsonObject().put("bridge", new JsonObject().put("port", port).put("maxConnections", 2)))));
    try (MonitorBridgeTest.RawClient a = new MonitorBridgeTest.RawClient(port);
         MonitorBridgeTest.RawClient b = new MonitorBridgeTest.RawClient(port)) {
      assertThat(a.sync()).isEmpty();
      assertThat(b.sync()).isEmpty();
      try (MonitorBridgeTest.RawClient third = new MonitorBridgeTest.RawClient(port)) {
        third.socket.getOutputStream().write(frame("{\"type\":\"ping\"}"));
        assertThat(readToEnd(third.in)).as("the third client is closed without an answer").isEmpty();
      }
      assertThat(a.sync()).isEmpty();
    }
    // a slot is free again once a client left
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> {
      try (MonitorBridgeTest.RawClient again = new MonitorBridgeTest.RawClient(port)) {
        assertThat(again.sync()).isEmpty();
      }
    });
  }

  private List<String> escaped() {
    List<String> out = new ArrayList<>();
    synchronized (logged.list) {
      for (ILoggingEvent e : logged.list) {
        if (e.getLevel().isGreaterOrEqual(Level.WARN) && (e.getThrowableProxy() != null
          || e.getLoggerName().startsWith("io.netty") || e.getLoggerName().startsWith("io.vertx"))) {
          out.add(e.getLoggerName() + ": " + e.getFormattedMessage());
        }
      }
    }
    return out;
  }

  static String readToEnd(java.io.DataInputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] b = new byte[8192];
    try {
      int n;
      while ((n = in.read(b)) > 0) {
        out.write(b, 0, n);
      }
    } catch (SocketException reset) {
      // closed with our bytes unread
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
