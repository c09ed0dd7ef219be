package dev.tether.session;

import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class SessionEchoTest {

  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() throws Exception {
    SessionTestSupport.await(vertx.close());
  }

  @Test
  void echoesMessagesInOrderAndAcknowledgesThem() throws Exception {
    List<String> kinds = new CopyOnWriteArrayList<>();
    vertx.eventBus().<io.vertx.core.json.JsonObject>consumer(dev.tether.event.Addresses.FAILURE,
      m -> kinds.add(m.body().getString("kind")));
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), true);
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.actualPort()).setSeed(1));
    List<String> got = new CopyOnWriteArrayList<>();
    client.handler(b -> got.add(b.toString()));
    await(client.connect());
    assertThat(client.sessionId()).hasSize(32);
    for (int i = 0; i < 500; i++) {
      client.send(Buffer.buffer("m" + i));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> got.size() >= 500 && client.acknowledged() == 500);
    for (int i = 0; i < 500; i++) {
      assertThat(got.get(i)).isEqualTo("m" + i);
    }
    assertThat(client.sent()).isEqualTo(500);
    assertThat(client.received()).isEqualTo(500);
    assertThat(client.duplicatesDropped()).isZero();
    await(client.close());
    // BYE ended the session cleanly: nothing left unacknowledged on either side, nothing reported
    await().atMost(Duration.ofSeconds(10)).until(() -> server.server().sessionCount() == 0);
    assertThat(client.closed().succeeded()).isTrue();
    assertThat(kinds).isEmpty();
  }

  @Test
  void serverAcknowledgesEverythingItReceivedBeforeItsBye() throws Exception {
    SessionVerticle server = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), true);
    RawPeer peer = await(RawPeer.connect(vertx, server.actualPort()));
    // DATA and BYE in one read: the BYE comes before the ACK the server would send after the batch
    peer.write(Frames.hello(new byte[16], 0).appendBuffer(Frames.data(1, Buffer.buffer("a")))
      .appendBuffer(Frames.data(2, Buffer.buffer("b"))).appendBuffer(Frames.bye()));
    await(peer.closed());
    List<Byte> types = peer.frames().stream().map(Frame::type).toList();
    assertThat(types).last().isEqualTo(Frames.BYE);
    assertThat(peer.frames().stream().filter(f -> f.type() == Frames.ACK).mapToLong(Frame::number).max())
      .as("a BYE tells the peer its messages arrived: ACK first").hasValue(2);
    assertThat(types.indexOf(Frames.ACK)).isLessThan(types.indexOf(Frames.BYE));
  }
}
