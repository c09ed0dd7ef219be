package dev.tether.session;

import dev.tether.support.ExactlyOnce;
import dev.tether.event.Addresses;
import dev.tether.fault.ChaosOptions;
import dev.tether.fault.ChaosProxy;
import dev.tether.verticles.RecoveryVerticle;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A session server with {@code instances: 2} on one (unclustered) Vert.x: a resume accepted by the
 * instance (event loop) that does not hold the session takes it over from the one that does; the old
 * connection gets ERROR 203; nothing is lost or repeated, in order, also under load.
 */
class SessionTakeoverTest {

  private Vertx vertx;
  private final List<SessionVerticle> instances = new CopyOnWriteArrayList<>();
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  private int port;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
    int free;
    try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      free = ss.getLocalPort(); // port 0 would give each instance a port of its own
    }
    JsonObject conf = SessionTestSupport.serverConfig("session").put("port", free);
    await(vertx.deployVerticle(RecoveryVerticle.class.getName(), new DeploymentOptions().setConfig(new JsonObject()
      .put("servers", new JsonObject().put("session", conf.copy().put("verticle", "session"))))));
    await(vertx.deployVerticle(() -> {
      SessionVerticle v = new SessionVerticle();
      instances.add(v);
      return v;
    }, new DeploymentOptions().setInstances(2).setConfig(conf.copy().put("instances", 2))));
    assertThat(instances).hasSize(2);
    port = instances.get(0).actualPort();
    assertThat(instances.get(1).actualPort()).isEqualTo(port);
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  private long takeovers() {
    return instances.stream().mapToLong(v -> v.server().takeovers()).sum();
  }

  private int held() {
    return instances.stream().mapToInt(v -> v.server().sessionCount()).sum();
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aResumeOnTheOtherEventLoopTakesTheSessionOverAndTheOldConnectionGets203() throws Exception {
    RawPeer first = await(RawPeer.connect(vertx, port));
    first.write(Frames.hello(new byte[Frames.ID_BYTES], 0));
    await().atMost(Duration.ofSeconds(10)).until(() -> !first.frames().isEmpty());
    Frame welcome = first.frames().get(0);
    assertThat(welcome.type()).isEqualTo(Frames.WELCOME);
    byte[] id = welcome.id();
    for (int i = 1; i <= 10; i++) {
      first.write(Frames.data(i, Buffer.buffer("a" + i)));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> dataSeqs(first).size() == 10 && lastAck(first) == 10);

    // new connections resume the session (acknowledging the 10 echoes) until one lands on the other event loop
    RawPeer current = first;
    List<RawPeer> superseded = new ArrayList<>();
    for (int attempt = 0; attempt < 8 && takeovers() == 0; attempt++) {
      RawPeer next = await(RawPeer.connect(vertx, port));
      next.write(Frames.hello(id, 10));
      await().atMost(Duration.ofSeconds(10)).until(() -> !next.frames().isEmpty());
      Frame w = next.frames().get(0);
      assertThat(w.type()).as("%s", w).isEqualTo(Frames.WELCOME);
      assertThat(w.lastReceived()).isEqualTo(10);
      RawPeer old = current;
      await(old.closed());
      Frame last = old.frames().get(old.frames().size() - 1);
      assertThat(last.type()).isEqualTo(Frames.ERROR);
      assertThat(last.errorCode()).isEqualTo(Frames.E_SUPERSEDED);
      superseded.add(old);
      current = next;
    }
    assertThat(takeovers()).as("a resume landed on the other instance").isEqualTo(1);
    assertThat(held()).isEqualTo(1);

    RawPeer now = current;
    for (int i = 11; i <= 20; i++) {
      now.write(Frames.data(i, Buffer.buffer("a" + i)));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> lastAck(now) == 20 && dataSeqs(now).size() == 10);
    // the echoes 11..20 continue the server's stream: nothing repeated, nothing skipped, payloads in order
    List<Frame> data = now.frames().stream().filter(f -> f.type() == Frames.DATA).toList();
    for (int i = 0; i < 10; i++) {
      assertThat(data.get(i).number()).isEqualTo(11 + i);
      assertThat(data.get(i).payload().toString()).isEqualTo("a" + (11 + i));
    }
    assertThat(failures).noneMatch(e -> "SESSION_EXPIRED".equals(e.getString("kind")));
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void sessionsMoveBetweenEventLoopsUnderLoadExactlyOnceInOrder() throws Exception {
    ChaosProxy proxy = await(ChaosProxy.start(vertx, new ChaosOptions().setTargetPort(port).setSeed(3)
      .setResetMs(40, 120).setDurationMs(120_000)));
    SessionClientOptions client = new SessionClientOptions().setPort(proxy.port()).setInitialBackoffMs(5)
      .setMaxBackoffMs(50).setPingIntervalMs(100).setIdleTimeoutMs(2_000);
    EchoLoad load = new EchoLoad(vertx, client, 6, 4096, 11);
    await(load.start());
    await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(100))
      .until(() -> takeovers() >= 30 && load.delivered() >= 5_000);
    proxy.chaos(false);
    EchoLoad.Result r = await(load.finish(30_000));

    ExactlyOnce.assertExactlyOnce(r);
    assertThat(takeovers()).isGreaterThanOrEqualTo(30);
    assertThat(failures).noneMatch(e -> "SESSION_EXPIRED".equals(e.getString("kind"))
      || "PROTOCOL_ERROR".equals(e.getString("kind")));
    await(proxy.close());
  }

  static List<Long> dataSeqs(RawPeer p) throws ProtocolException {
    return p.frames().stream().filter(f -> f.type() == Frames.DATA).map(Frame::number).toList();
  }

  static long lastAck(RawPeer p) throws ProtocolException {
    long ack = 0;
    for (Frame f : p.frames()) {
      if (f.type() == Frames.ACK) {
        ack = f.number();
      }
    }
    return ack;
  }
}
