package dev.tether.session;

import ch.qos.logback.classic.Level;
import dev.tether.FailureBudget;
import dev.tether.MemoryBudget;
import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.support.LogCapture;
import dev.tether.verticles.SessionVerticle;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
 * Retained session frames count against the node's memory budget (4 MiB here): sessions whose
 * clients never acknowledge fill it, and past the limit the largest session is shed with
 * SESSION_EXPIRED carrying its retained bytes, while the others keep every frame. And the
 * slow-loris deadline: a frame once begun must be complete within {@code frameDeadlineMs}.
 */
class SessionMemoryBudgetTest {

  private static final int KIB = 1024;
  private static final int MIB = 1024 * KIB;
  private static final int PAYLOAD = 16 * KIB;
  /** What one retained echo costs the budget: the encoded frame plus the per-frame overhead. */
  private static final long FRAME_COST = PAYLOAD + Frames.DATA_OVERHEAD + RetainedFrames.FRAME_OVERHEAD_BYTES;

  private Vertx vertx;
  private MemoryBudget budget;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    budget = new MemoryBudget(4 * MIB, 0.8, 0.6);
    Tether.install(vertx, "sess", new MicrometerRecorder(registry), FailureBudget.defaults(), budget);
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  /** A client that opens a session, sends {@code frames} DATA frames and never acknowledges. */
  private RawPeer session(int port, int conn, int frames) throws Exception {
    RawPeer p = await(RawPeer.connect(vertx, port));
    Buffer out = Frames.hello(new byte[16], 0);
    for (int i = 1; i <= frames; i++) {
      out.appendBuffer(Frames.data(i, payload(conn, i)));
    }
    p.write(out);
    return p;
  }

  static Buffer payload(int conn, int seq) {
    byte[] b = new byte[PAYLOAD];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) (conn * 31 + seq * 7 + i);
    }
    return Buffer.buffer(b);
  }

  private static List<Frame> data(RawPeer p) throws ProtocolException {
    return p.frames().stream().filter(f -> f.type() == Frames.DATA).toList();
  }

  /** Every echo came back, in order, byte for byte. */
  private static void assertEchoes(RawPeer p, int conn, int frames) throws ProtocolException {
    List<Frame> d = data(p);
    assertThat(d).hasSize(frames);
    for (int i = 0; i < frames; i++) {
      assertThat(d.get(i).number()).isEqualTo(i + 1);
      assertThat(d.get(i).payload()).isEqualTo(payload(conn, i + 1));
    }
  }

  @Test
  void pastTheLimitTheLargestSessionIsShedAndTheOthersKeepEveryFrame() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), false);
    int port = server.actualPort();
    RawPeer s1 = session(port, 1, 128);
    await().atMost(Duration.ofSeconds(20)).until(() -> data(s1).size() == 128);
    RawPeer s2 = session(port, 2, 64);
    await().atMost(Duration.ofSeconds(20)).until(() -> data(s2).size() == 64);
    // exactly the retained echoes (2 MiB + 1 MiB of payload): below the high mark, nobody paused
    await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == 192 * FRAME_COST);
    assertThat(budget.used()).isLessThan(budget.highMark());
    assertThat(budget.paused()).isZero();
    String hex1 = Frames.hex(s1.frames().get(0).id());

    try (LogCapture log = new LogCapture(MemoryBudget.class, Level.INFO)) {
      RawPeer s3 = session(port, 3, 64); // 1 MiB more: past the high mark, then past the limit
      await().atMost(Duration.ofSeconds(20)).until(() -> data(s3).size() == 64);
      await().atMost(Duration.ofSeconds(10)).until(() -> s1.closed().isComplete());
      await().atMost(Duration.ofSeconds(10)).until(() -> failures.size() == 1);
      JsonObject e = failures.get(0);
      assertThat(e.getString("kind")).isEqualTo("SESSION_EXPIRED");
      // the event carries the shed session's retained bytes: 128 encoded frames
      assertThat(e.getLong("requested")).isEqualTo(128L * (PAYLOAD + Frames.DATA_OVERHEAD));
      assertThat(e.getLong("unsent")).isEqualTo(128L * (PAYLOAD + Frames.DATA_OVERHEAD));
      assertThat(e.getString("message")).contains("session " + hex1).contains("shed by the node memory budget")
        .contains("128 frames unacknowledged").contains((128L * PAYLOAD) + " payload bytes");
      // s1's client is told, with ERROR 201, after all its echoes
      List<Frame> f1 = s1.frames();
      assertThat(f1.get(f1.size() - 1).type()).isEqualTo(Frames.ERROR);
      assertThat(f1.get(f1.size() - 1).errorCode()).isEqualTo(Frames.E_SESSION_EXPIRED);
      assertEchoes(s1, 1, 128);
      // back-pressure came first (s1, the heaviest, was paused), then one line for the shedding
      assertThat(log.lines(Level.INFO)).anyMatch(l -> l.contains("stop reading") && l.contains("session " + hex1));
      assertThat(log.lines(Level.WARN)).hasSize(1).first().asString().contains("shedding session " + hex1)
        .contains("past the limit");
      // the survivors: every echo, in order; their frames are what the budget holds now
      assertEchoes(s2, 2, 64);
      assertEchoes(s3, 3, 64);
      assertThat(s2.closed().isComplete()).isFalse();
      assertThat(s3.closed().isComplete()).isFalse();
      await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == 128 * FRAME_COST);
      assertThat(budget.paused()).isZero();
      assertThat(registry.get("tether.memory.shed").tag("kind", "session").counter().count()).isEqualTo(1);
      assertThat(registry.get("tether.memory.shed").tag("kind", "connection").counter().count()).isZero();

      // acknowledged, their frames are released and the budget is back to zero
      s2.write(Frames.ack(64));
      s3.write(Frames.ack(64));
      await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == 0);
      assertThat(failures).hasSize(1);
      assertThat(registry.get("tether.memory.used").gauge().value()).isZero();
    }
  }

  private static long lastAck(RawPeer p) throws ProtocolException {
    return p.frames().stream().filter(f -> f.type() == Frames.ACK).mapToLong(Frame::number).max().orElse(0);
  }

  @Test
  void aPausedSessionHoldsItsDataButReadsAcksAndDeliversInOrderOnResume() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), false);
    int port = server.actualPort();
    RawPeer s1 = session(port, 1, 128);
    await().atMost(Duration.ofSeconds(20)).until(() -> data(s1).size() == 128);
    RawPeer s2 = session(port, 2, 64);
    await().atMost(Duration.ofSeconds(20)).until(() -> data(s2).size() == 64);
    RawPeer s3 = session(port, 3, 12); // 204 frames: past the high mark, s1 (the heaviest) is paused
    await().atMost(Duration.ofSeconds(20)).until(() -> data(s3).size() == 12 && budget.paused() == 1);
    assertThat(lastAck(s1)).isEqualTo(128);

    // s1 sends more: held, neither delivered (no echo) nor acknowledged
    Buffer more = Buffer.buffer();
    for (int i = 129; i <= 138; i++) {
      more.appendBuffer(Frames.data(i, payload(1, i)));
    }
    s1.write(more);
    // s1's own ACK is still read while it is paused: it frees 8 of its frames
    s1.write(Frames.ack(8));
    await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == (128 - 8 + 64 + 12) * FRAME_COST + 10 * FRAME_COST);
    assertThat(data(s1)).hasSize(128);
    assertThat(lastAck(s1)).isEqualTo(128);
    assertThat(budget.paused()).isEqualTo(1);

    // s2 acknowledges everything: the total falls to the low mark, s1 resumes, its held DATA is
    // delivered in order, echoed and acknowledged
    s2.write(Frames.ack(64));
    await().atMost(Duration.ofSeconds(10)).until(() -> data(s1).size() == 138);
    assertEchoes(s1, 1, 138);
    await().atMost(Duration.ofSeconds(10)).until(() -> lastAck(s1) == 138);
    assertThat(budget.paused()).isZero();
    assertThat(failures).isEmpty();
    assertThat(s1.closed().isComplete()).isFalse();
    await().atMost(Duration.ofSeconds(10)).until(() -> budget.used() == (138 - 8 + 12) * FRAME_COST);
  }

  @Test
  void aFrameTrickledByteByByteIsCutOffByTheFrameDeadline() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session")
      .put("frameDeadlineMs", 300).put("idleTimeoutMs", 0), false);
    int port = server.actualPort();
    RawPeer loris = await(RawPeer.connect(vertx, port));
    loris.write(Frames.hello(new byte[16], 0));
    await().atMost(Duration.ofSeconds(10)).until(() -> !loris.frames().isEmpty());
    // a DATA frame of 1,000 bytes announced, then one byte every 50 ms
    loris.write(Buffer.buffer().appendInt(1000).appendByte(Frames.DATA));
    long trickle = vertx.setPeriodic(50, t -> loris.write(Buffer.buffer(new byte[] {1})));
    // a client sending complete frames slowly (a PING every 100 ms) is not affected
    RawPeer steady = await(RawPeer.connect(vertx, port));
    steady.write(Frames.hello(new byte[16], 0));
    long pings = vertx.setPeriodic(100, t -> steady.write(Frames.ping(t)));
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> loris.closed().isComplete());
      List<Frame> f = loris.frames();
      assertThat(f.get(f.size() - 1).type()).isEqualTo(Frames.ERROR);
      assertThat(f.get(f.size() - 1).errorCode()).isEqualTo(Frames.E_TIMEOUT);
      assertThat(f.get(f.size() - 1).errorMessage()).contains("frameDeadlineMs 300");
      await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream()
        .anyMatch(e -> e.getString("kind").equals("PROTOCOL_ERROR") && e.getString("message").contains("frameDeadlineMs")));
      // the steady client outlives several deadlines
      await().atMost(Duration.ofSeconds(10)).until(() -> steady.frames().stream().filter(x -> x.type() == Frames.PONG).count() >= 12);
      assertThat(steady.closed().isComplete()).isFalse();
    } finally {
      vertx.cancelTimer(trickle);
      vertx.cancelTimer(pings);
    }
    assertThat(failures).hasSize(1);
  }

  @Test
  void bytesThatNeverMakeAFrameAreNoActivityForTheIdleTimeout() throws Exception {
    // the frame deadline off: the idle timeout alone must see through the trickle
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session")
      .put("frameDeadlineMs", 0).put("idleTimeoutMs", 300), false);
    RawPeer loris = await(RawPeer.connect(vertx, server.actualPort()));
    loris.write(Frames.hello(new byte[16], 0));
    await().atMost(Duration.ofSeconds(10)).until(() -> !loris.frames().isEmpty());
    loris.write(Buffer.buffer().appendInt(100_000).appendByte(Frames.DATA));
    long trickle = vertx.setPeriodic(50, t -> loris.write(Buffer.buffer(new byte[] {1})));
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> loris.closed().isComplete());
    } finally {
      vertx.cancelTimer(trickle);
    }
  }
}
