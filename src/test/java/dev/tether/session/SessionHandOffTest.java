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

/**
 * A session's state (seqs and unacknowledged frames) travels as a Buffer over the event bus from one
 * server to another, and the client resumes on the second without losing or repeating a message.
 */
class SessionHandOffTest {

  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() throws Exception {
    await(vertx.close());
  }

  @Test
  void sessionMovesToAnotherServerOverTheEventBus() throws Exception {
    List<JsonObject> failures = new CopyOnWriteArrayList<>();
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
    SessionVerticle a = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("a"), true);
    SessionVerticle b = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("b"), false);
    vertx.eventBus().<Buffer>consumer("test.adopt", m -> b.server().adopt(m.body())
      .onComplete(ar -> m.reply(ar.succeeded() ? ar.result() : "failed: " + ar.cause())));
    ChaosProxy proxy = await(ChaosProxy.start(vertx, new ChaosOptions().setTargetPort(a.actualPort()).setSeed(8)));
    SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(proxy.port())
      .setInitialBackoffMs(5).setMaxBackoffMs(20).setSeed(12));
    List<String> got = new CopyOnWriteArrayList<>();
    AtomicReference<Throwable> lost = new AtomicReference<>();
    client.handler(m -> got.add(m.toString()));
    client.failureHandler(lost::set);
    await(client.connect());
    for (int i = 0; i < 50; i++) {
      client.send(Buffer.buffer("m" + i));
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> got.size() == 50);

    proxy.target(deadPort()); // the client cannot get back in while the session moves
    Buffer state = await(a.server().handOff(client.sessionId()));
    for (int i = 50; i < 100; i++) {
      client.send(Buffer.buffer("m" + i)); // retained by the client until the resume
    }
    String adopted = await(vertx.eventBus().<String>request("test.adopt", state)).body();
    assertThat(adopted).isEqualTo(client.sessionId());
    assertThat(a.server().sessionCount()).isZero();
    assertThat(b.server().sessionCount()).isEqualTo(1);
    proxy.target(b.actualPort());

    await().atMost(Duration.ofSeconds(10)).until(() -> got.size() == 100 && client.acknowledged() == 100);
    for (int i = 0; i < 100; i++) {
      assertThat(got.get(i)).isEqualTo("m" + i);
    }
    assertThat(lost.get()).isNull();
    assertThat(client.resumes()).isGreaterThanOrEqualTo(1);
    assertThat(client.duplicatesDropped()).isZero();
    assertThat(failures).noneMatch(e -> "SESSION_EXPIRED".equals(e.getString("kind")));
    await(client.close());
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
