package dev.tether.session;

import dev.tether.event.Addresses;
import dev.tether.fault.ChaosOptions;
import dev.tether.fault.ChaosProxy;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Session expiry and resumes of expired or unknown sessions: events on the bus, ERROR frames, the client's report. */
class SessionExpiryTest {

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
  void sessionExpiringWithUnacknowledgedFramesRaisesSessionExpiredAndRefusesResume() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx,
      SessionTestSupport.serverConfig("session").put("sessionTtlMs", 300), true);
    RawPeer peer = await(RawPeer.connect(vertx, server.actualPort()));
    Buffer hello = Frames.hello(new byte[16], 0);
    for (int i = 1; i <= 5; i++) {
      hello.appendBuffer(Frames.data(i, Buffer.buffer("p" + i)));
    }
    peer.write(hello); // and never ACK the echoes
    await().atMost(Duration.ofSeconds(10))
      .until(() -> peer.frames().stream().filter(f -> f.type() == Frames.DATA).count() == 5);
    List<Frame> frames = peer.frames();
    assertThat(frames.get(0).type()).isEqualTo(Frames.WELCOME);
    byte[] id = frames.get(0).id();
    assertThat(frames.stream().filter(f -> f.type() == Frames.DATA).map(f -> f.payload().toString()))
      .containsExactly("p1", "p2", "p3", "p4", "p5");
    assertThat(frames.stream().filter(f -> f.type() == Frames.ACK).mapToLong(Frame::number).max()).hasValue(5);
    long echoedBytes = 5L * Frames.data(1, Buffer.buffer("p1")).length();
    await(peer.socket.close());

    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream().anyMatch(e -> "SESSION_EXPIRED".equals(e.getString("kind"))));
    JsonObject e = failures.stream().filter(x -> "SESSION_EXPIRED".equals(x.getString("kind"))).findFirst().orElseThrow();
    assertThat(e.getString("server")).isEqualTo("session");
    assertThat(e.getString("protocol")).isEqualTo("session");
    assertThat(e.getString("direction")).isEqualTo("WRITE");
    assertThat(e.getLong("requested")).isEqualTo(echoedBytes);
    assertThat(e.getLong("flushed")).isZero();
    assertThat(e.getLong("unsent")).isEqualTo(echoedBytes);
    assertThat(e.getString("message")).contains(Frames.hex(id)).contains("5 frames unacknowledged").contains("seq 1..5");
    await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.stream().anyMatch(o -> e.getString("id").equals(o.getString("failure"))));
    JsonObject o = outcomes.stream().filter(x -> e.getString("id").equals(x.getString("failure"))).findFirst().orElseThrow();
    assertThat(o.getString("result")).isEqualTo("FAILED");
    assertThat(o.getLong("bytes")).isEqualTo(echoedBytes);
    assertThat(server.server().sessionCount()).isZero();

    RawPeer late = await(RawPeer.connect(vertx, server.actualPort()));
    late.write(Frames.hello(id, 0));
    await(late.closed());
    Frame err = late.frames().get(0);
    assertThat(err.type()).isEqualTo(Frames.ERROR);
    assertThat(err.errorCode()).isEqualTo(Frames.E_SESSION_EXPIRED);
    assertThat(err.errorMessage()).contains("expired").contains(echoedBytes + " bytes unacknowledged");
    assertThat(failures.stream().filter(x -> "SESSION_EXPIRED".equals(x.getString("kind")))).hasSize(1);
  }

  @Test
  void clientReportsAnExpiredSessionWithItsUnacknowledgedBytes() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx,
      SessionTestSupport.serverConfig("session").put("sessionTtlMs", 300), true);
    ChaosProxy proxy = await(ChaosProxy.start(vertx, new ChaosOptions().setTargetPort(server.actualPort()).setSeed(3)));
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(proxy.port())
      .setInitialBackoffMs(5).setMaxBackoffMs(50).setSeed(9));
    AtomicReference<Throwable> reported = new AtomicReference<>();
    client.failureHandler(reported::set);
    await(client.connect());
    for (int i = 0; i < 10; i++) {
      client.send(Buffer.buffer("m" + i));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> client.received() == 10 && client.acknowledged() == 10);

    int dead = deadPort();
    proxy.target(dead);
    await(proxy.resetAll());
    for (int i = 0; i < 3; i++) {
      client.send(Buffer.buffer("late-" + i)); // 6 payload bytes each, never acknowledged
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> server.server().sessionCount() == 0);
    proxy.target(server.actualPort());

    await().atMost(Duration.ofSeconds(10)).until(() -> reported.get() != null);
    assertThat(reported.get()).isInstanceOfSatisfying(SessionLostException.class, ex -> {
      assertThat(ex.code()).isEqualTo(Frames.E_SESSION_EXPIRED);
      assertThat(ex.sessionId()).isEqualTo(client.sessionId());
      assertThat(ex.unacknowledgedBytes()).isEqualTo(18);
      assertThat(ex.getMessage()).contains("3 messages (18 bytes) never acknowledged");
    });
    assertThat(client.closed().failed()).isTrue();
    assertThat(client.sent()).isEqualTo(13);
    assertThat(client.acknowledged()).isEqualTo(10);
    await(proxy.close());
  }

  @Test
  void resumingAnUnknownSessionIsRefusedReportedAndTheClientFailsLoudly() throws Exception {
    SessionVerticle a = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), true);
    SessionVerticle b = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session-b"), false);
    ChaosProxy proxy = await(ChaosProxy.start(vertx, new ChaosOptions().setTargetPort(a.actualPort()).setSeed(4)));
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(proxy.port())
      .setInitialBackoffMs(5).setMaxBackoffMs(50).setSeed(10));
    AtomicReference<Throwable> reported = new AtomicReference<>();
    client.failureHandler(reported::set);
    await(client.connect());
    client.send(Buffer.buffer("hello"));
    await().atMost(Duration.ofSeconds(10)).until(() -> client.received() == 1 && client.acknowledged() == 1);

    proxy.target(b.actualPort()); // the session lives on a; b never heard of it
    await(proxy.resetAll());

    await().atMost(Duration.ofSeconds(10)).until(() -> reported.get() != null);
    assertThat(reported.get()).isInstanceOfSatisfying(SessionLostException.class, ex -> {
      assertThat(ex.code()).isEqualTo(Frames.E_UNKNOWN_SESSION);
      assertThat(ex.getMessage()).contains("unknown session " + client.sessionId());
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream()
      .anyMatch(e -> "SESSION_EXPIRED".equals(e.getString("kind")) && "session-b".equals(e.getString("server"))));
    JsonObject e = failures.stream().filter(x -> "session-b".equals(x.getString("server"))).findFirst().orElseThrow();
    assertThat(e.getString("message")).contains("resume of unknown session " + client.sessionId());
    assertThat(a.server().sessionCount()).as("the session is still held by a until its TTL").isEqualTo(1);
    await(proxy.close());
  }

  private int deadPort() throws Exception {
    NetServer s = vertx.createNetServer().connectHandler(so -> so.close());
    await(s.listen(0, "127.0.0.1"));
    int port = s.actualPort();
    await(s.close());
    return port;
  }
}
