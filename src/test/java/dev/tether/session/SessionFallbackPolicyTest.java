package dev.tether.session;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No recovery verticle on the node: the session server still publishes every failure, and applies
 * its own configured policies (PROTOCOL_ERROR -> close, everything else -> resume).
 */
class SessionFallbackPolicyTest {

  private Vertx vertx;
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  private final List<JsonObject> outcomes = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
    vertx.eventBus().<JsonObject>consumer(Addresses.RECOVERY, m -> outcomes.add(m.body()));
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  @Test
  void protocolErrorIsPublishedAndClosedByTheServersOwnPolicy() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), false);
    RawPeer bad = await(RawPeer.connect(vertx, server.actualPort()));
    bad.write(Buffer.buffer().appendInt(9).appendByte((byte) 0x55).appendLong(0));
    await(bad.closed());
    assertThat(bad.frames().get(0).errorCode()).isEqualTo(Frames.E_UNKNOWN_TYPE);

    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream().anyMatch(e -> "PROTOCOL_ERROR".equals(e.getString("kind"))));
    JsonObject e = failures.stream().filter(x -> "PROTOCOL_ERROR".equals(x.getString("kind"))).findFirst().orElseThrow();
    await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.stream().anyMatch(o -> e.getString("id").equals(o.getString("failure"))));
    JsonObject o = outcomes.stream().filter(x -> e.getString("id").equals(x.getString("failure"))).findFirst().orElseThrow();
    assertThat(o.getString("policy")).isEqualTo("close");
    assertThat(o.getString("action")).isEqualTo("CLOSE");
    assertThat(o.getString("node")).isEqualTo(Tether.of(vertx).node());
  }

  @Test
  void sessionExpiryIsPublishedAndDecidedByTheServersOwnPolicy() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx,
      SessionTestSupport.serverConfig("session").put("sessionTtlMs", 200), false);
    RawPeer peer = await(RawPeer.connect(vertx, server.actualPort()));
    peer.write(Frames.hello(new byte[16], 0).appendBuffer(Frames.data(1, Buffer.buffer("lost-echo"))));
    await().atMost(Duration.ofSeconds(10)).until(() -> peer.frames().stream().anyMatch(f -> f.type() == Frames.DATA));
    await(peer.socket.close());

    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream().anyMatch(e -> "SESSION_EXPIRED".equals(e.getString("kind"))));
    JsonObject e = failures.stream().filter(x -> "SESSION_EXPIRED".equals(x.getString("kind"))).findFirst().orElseThrow();
    long frame = Frames.data(1, Buffer.buffer("lost-echo")).length();
    assertThat(e.getLong("unsent")).isEqualTo(frame);
    await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.stream().anyMatch(o -> e.getString("id").equals(o.getString("failure"))));
    JsonObject o = outcomes.stream().filter(x -> e.getString("id").equals(x.getString("failure"))).findFirst().orElseThrow();
    assertThat(o.getString("policy")).isEqualTo("resume");
    assertThat(o.getString("action")).isEqualTo("RESUME");
    assertThat(o.getString("result")).isEqualTo("FAILED");
    assertThat(o.getLong("bytes")).isEqualTo(frame);
  }
}
