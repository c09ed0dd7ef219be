package dev.tether.session;

import dev.tether.event.Addresses;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every kind of malformed input gets an ERROR frame with its code, a close and a PROTOCOL_ERROR
 * event, while a good session on the same server carries on without reconnecting.
 */
class SessionProtocolErrorTest {

  private static final int MAX_FRAME = 64 * 1024;

  private Vertx vertx;
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  static Buffer helloNew() {
    return Frames.hello(new byte[16], 0);
  }

  static Stream<Arguments> malformed() {
    byte[] garbage = new byte[300];
    new SplittableRandom(11).nextBytes(garbage);
    garbage[0] = 0x7f; // a huge positive length
    return Stream.of(
      Arguments.of("oversized frame", Buffer.buffer().appendInt(MAX_FRAME + 1).appendByte(Frames.DATA), Frames.E_TOO_LARGE, "exceeds maxFrameBytes"),
      Arguments.of("zero length", Buffer.buffer().appendInt(0).appendByte(Frames.DATA), Frames.E_MALFORMED, "zero frame length"),
      Arguments.of("unknown type", Buffer.buffer().appendInt(9).appendByte((byte) 0x42).appendLong(1), Frames.E_UNKNOWN_TYPE, "unknown frame type"),
      Arguments.of("DATA before HELLO", Frames.data(1, Buffer.buffer("x")), Frames.E_UNEXPECTED, "DATA before HELLO"),
      Arguments.of("sequence gap", helloNew().appendBuffer(Frames.data(1, Buffer.buffer("a"))).appendBuffer(Frames.data(3, Buffer.buffer("c"))), Frames.E_BAD_SEQ, "sequence gap"),
      Arguments.of("truncated frame", Buffer.buffer().appendInt(5).appendByte(Frames.HELLO).appendInt(7), Frames.E_MALFORMED, "HELLO frame of 5 bytes"),
      Arguments.of("ACK of unsent seq", helloNew().appendBuffer(Frames.ack(5)), Frames.E_BAD_SEQ, "ACK of seq 5"),
      Arguments.of("second HELLO", helloNew().appendBuffer(helloNew()), Frames.E_UNEXPECTED, "second HELLO"),
      Arguments.of("garbage", Buffer.buffer(garbage), Frames.E_TOO_LARGE, "exceeds maxFrameBytes"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void malformedInputGetsErrorCloseAndEvent(String name, Buffer input, int code, String hint) throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx,
      SessionTestSupport.serverConfig("session").put("maxFrameBytes", MAX_FRAME), true);
    SessionClient good = SessionClient.create(vertx, new SessionClientOptions().setPort(server.actualPort()).setSeed(5));
    List<String> echoes = new CopyOnWriteArrayList<>();
    good.handler(b -> echoes.add(b.toString()));
    await(good.connect());
    for (int i = 0; i < 50; i++) {
      good.send(Buffer.buffer("before-" + i));
    }

    RawPeer bad = await(RawPeer.connect(vertx, server.actualPort()));
    bad.write(input);
    await(bad.closed());

    List<Frame> frames = bad.frames();
    assertThat(frames).as(bad.receivedHex()).isNotEmpty();
    Frame last = frames.get(frames.size() - 1);
    assertThat(last.type()).isEqualTo(Frames.ERROR);
    assertThat(last.errorCode()).isEqualTo(code);
    assertThat(last.errorMessage()).contains(hint);

    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream().anyMatch(e -> isOurs(e, bad)));
    JsonObject event = failures.stream().filter(e -> isOurs(e, bad)).findFirst().orElseThrow();
    assertThat(event.getString("server")).isEqualTo("session");
    assertThat(event.getString("protocol")).isEqualTo("session");
    assertThat(event.getString("direction")).isEqualTo("READ");
    assertThat(event.getString("cause")).isEqualTo(ProtocolException.class.getName());
    assertThat(event.getString("message")).contains(hint);
    assertThat(failures.stream().filter(e -> "PROTOCOL_ERROR".equals(e.getString("kind")))).hasSize(1);

    for (int i = 0; i < 50; i++) {
      good.send(Buffer.buffer("after-" + i));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> echoes.size() == 100 && good.acknowledged() == 100);
    assertThat(echoes.get(0)).isEqualTo("before-0");
    assertThat(echoes.get(99)).isEqualTo("after-49");
    assertThat(good.connections()).as("the good session never lost its connection").isEqualTo(1);
    assertThat(good.resumes()).isZero();
    await(good.close());
  }

  @org.junit.jupiter.api.Test
  void connectionEndingInsideAFrameIsReportedAsTruncated() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx,
      SessionTestSupport.serverConfig("session").put("maxFrameBytes", MAX_FRAME), true);
    RawPeer bad = await(RawPeer.connect(vertx, server.actualPort()));
    Buffer data = Frames.data(1, Buffer.buffer("0123456789"));
    bad.write(helloNew().appendBuffer(data.getBuffer(0, 12)));
    await().atMost(Duration.ofSeconds(10)).until(() -> !bad.frames().isEmpty());
    assertThat(bad.frames().get(0).type()).isEqualTo(Frames.WELCOME);
    String local = bad.local();
    await(bad.socket.close());
    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream()
      .anyMatch(e -> "PROTOCOL_ERROR".equals(e.getString("kind")) && local.equals(e.getString("remote"))));
    JsonObject event = failures.stream().filter(e -> "PROTOCOL_ERROR".equals(e.getString("kind"))).findFirst().orElseThrow();
    assertThat(event.getString("message")).contains("truncated frame").contains("12 bytes");
  }

  private static boolean isOurs(JsonObject e, RawPeer peer) {
    return "PROTOCOL_ERROR".equals(e.getString("kind")) && peer.local().equals(e.getString("remote"));
  }
}
