package dev.tether.session;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * How a client's session ends: a BYE (from the server, or answering the client's own) is a clean
 * end only when every message the client sent was acknowledged; otherwise {@code closed()} fails
 * with the unacknowledged messages' count, seq range and bytes. The server here is a hand-driven
 * peer that acknowledges only what each test tells it to.
 */
class SessionClientByeTest {

  private static final int N = 5;

  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  /** "msg-1" .. "msg-5": 5 payload bytes each. */
  private static Buffer message(int i) {
    return Buffer.buffer("msg-" + i);
  }

  @ParameterizedTest(name = "server acknowledged {0} of 5, then BYE")
  @ValueSource(ints = {0, 2})
  void serverByeWithUnacknowledgedMessagesFailsTheClient(int acked) throws Exception {
    ScriptedServer server = ScriptedServer.start(vertx, N, acked);
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.port).setSeed(1));
    AtomicReference<Throwable> reported = new AtomicReference<>();
    client.failureHandler(reported::set);
    await(client.connect());
    for (int i = 1; i <= N; i++) {
      client.send(message(i));
    }

    Future<Void> closed = client.closed();
    await().atMost(Duration.ofSeconds(10)).until(closed::isComplete);
    assertThat(closed.failed()).as("a BYE with messages unacknowledged is no clean end").isTrue();
    int lost = N - acked;
    assertThat(closed.cause()).isInstanceOfSatisfying(SessionLostException.class, ex -> {
      assertThat(ex.sessionId()).isEqualTo(client.sessionId());
      assertThat(ex.unacknowledgedBytes()).isEqualTo(5L * lost);
      assertThat(ex.unacknowledgedMessages()).isEqualTo(lost);
      assertThat(ex.firstUnacknowledgedSeq()).isEqualTo(acked + 1);
      assertThat(ex.lastUnacknowledgedSeq()).isEqualTo(N);
      assertThat(ex.getMessage()).contains("BYE").contains(client.sessionId())
        .contains(lost + " messages (seq " + (acked + 1) + ".." + N + ", " + 5 * lost + " bytes) not acknowledged");
    });
    assertThat(reported.get()).as("the failure handler hears it too").isSameAs(closed.cause());
    assertThat(client.acknowledged()).isEqualTo(acked);
    assertThat(server.dataFrames()).isEqualTo(N);
  }

  @Test
  void serverByeAfterAcknowledgingEverythingIsACleanEnd() throws Exception {
    ScriptedServer server = ScriptedServer.start(vertx, N, N);
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.port).setSeed(2));
    AtomicReference<Throwable> reported = new AtomicReference<>();
    client.failureHandler(reported::set);
    await(client.connect());
    for (int i = 1; i <= N; i++) {
      client.send(message(i));
    }

    await(client.closed());
    assertThat(client.acknowledged()).isEqualTo(N);
    assertThat(reported.get()).isNull();
  }

  @Test
  void serverByeDuringTheClientsCloseWithMessagesUnacknowledgedFailsTheClose() throws Exception {
    ScriptedServer server = ScriptedServer.start(vertx, Integer.MAX_VALUE, 0);
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.port).setSeed(3));
    await(client.connect());
    for (int i = 1; i <= 3; i++) {
      client.send(message(i));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> server.dataFrames() == 3);
    Future<Void> close = client.close(); // waits for the ACKs: no BYE from the client yet
    server.write(Frames.ack(1).appendBuffer(Frames.bye()));

    await().atMost(Duration.ofSeconds(10)).until(close::isComplete);
    assertThat(close.failed()).isTrue();
    assertThat(close.cause()).isInstanceOfSatisfying(SessionLostException.class, ex -> {
      assertThat(ex.getMessage()).contains("BYE").contains("2 messages (seq 2..3, 10 bytes) not acknowledged");
      assertThat(ex.unacknowledgedMessages()).isEqualTo(2);
    });
    assertThat(server.types()).doesNotContain(Frames.BYE);
  }

  @Test
  void closeWithMessagesNeverAcknowledgedFailsWithTheCountsAfterCloseTimeout() throws Exception {
    ScriptedServer server = ScriptedServer.start(vertx, Integer.MAX_VALUE, 0);
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.port).setSeed(4)
      .setCloseTimeoutMs(300));
    await(client.connect());
    for (int i = 1; i <= 4; i++) {
      client.send(message(i));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> server.dataFrames() == 4);

    Future<Void> close = client.close();
    await().atMost(Duration.ofSeconds(10)).until(close::isComplete);
    assertThat(close.failed()).isTrue();
    assertThat(close.cause()).isInstanceOfSatisfying(SessionLostException.class, ex -> {
      assertThat(ex.unacknowledgedBytes()).isEqualTo(20);
      assertThat(ex.unacknowledgedMessages()).isEqualTo(4);
      assertThat(ex.firstUnacknowledgedSeq()).isEqualTo(1);
      assertThat(ex.lastUnacknowledgedSeq()).isEqualTo(4);
      assertThat(ex.getMessage()).contains("close").contains("300 ms")
        .contains("4 messages (seq 1..4, 20 bytes) not acknowledged");
    });
    assertThat(server.types()).as("no BYE while messages are unacknowledged").doesNotContain(Frames.BYE);
  }

  /**
   * A hand-driven session server for one client connection: answers HELLO with WELCOME of a new
   * session, reads DATA without acknowledging it, and after {@code byeAfter} DATA frames sends
   * ACK({@code ackUpTo}) (when > 0) and BYE. Everything is written on the connection's event loop.
   */
  private static final class ScriptedServer {
    final int port;
    private final List<Byte> types = new CopyOnWriteArrayList<>();
    private volatile int data;
    private volatile NetSocket socket;
    private volatile Context context;

    private ScriptedServer(int port) {
      this.port = port;
    }

    static ScriptedServer start(Vertx vertx, int byeAfter, long ackUpTo) throws Exception {
      byte[] id = new byte[Frames.ID_BYTES];
      id[15] = 42;
      ScriptedServer[] self = new ScriptedServer[1];
      int port = await(RawPeer.serve(vertx, (so, f) -> {
        ScriptedServer s = self[0];
        s.types.add(f.type());
        if (f.type() == Frames.HELLO) {
          s.context = Vertx.currentContext();
          s.socket = so;
          so.write(Frames.welcome(id, 0));
        } else if (f.type() == Frames.DATA && ++s.data == byeAfter) {
          Buffer out = Buffer.buffer();
          if (ackUpTo > 0) {
            out.appendBuffer(Frames.ack(ackUpTo));
          }
          so.write(out.appendBuffer(Frames.bye()));
        }
      })).actualPort();
      self[0] = new ScriptedServer(port);
      return self[0];
    }

    int dataFrames() {
      return data;
    }

    List<Byte> types() {
      return types;
    }

    /** Writes {@code b} to the client's connection, on its event loop. */
    void write(Buffer b) {
      context.runOnContext(v -> socket.write(b));
    }
  }
}
