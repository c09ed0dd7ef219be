package dev.tether.session;

import ch.qos.logback.classic.Level;
import dev.tether.event.Addresses;
import dev.tether.net.TrackingOptions;
import dev.tether.recovery.PolicySet;
import dev.tether.support.LogCapture;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The server acknowledges a message only after the application's handler returned normally. A
 * handler that throws gets the message again after the client resumes (at-least-once to a handler
 * that failed, exactly once to one that succeeded); the failure is logged and reported, and other
 * sessions are not touched.
 */
class SessionHandlerFailureTest {

  private static final int N = 20;
  private static final String POISON = "m3";

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

  @Test
  void handlerFailureIsNotAcknowledgedAndTheMessageIsRedeliveredAfterTheResume() throws Exception {
    Map<String, List<String>> handled = new ConcurrentHashMap<>(); // successful handler returns, per session
    List<String> poisonDeliveries = new CopyOnWriteArrayList<>();
    AtomicBoolean thrown = new AtomicBoolean();
    SessionApplication app = s -> s.handler(msg -> {
      String p = msg.toString();
      if (p.equals(POISON)) {
        poisonDeliveries.add(s.id());
        if (thrown.compareAndSet(false, true)) {
          throw new IllegalStateException("handler refuses " + POISON + " once");
        }
      }
      handled.computeIfAbsent(s.id(), k -> new CopyOnWriteArrayList<>()).add(p);
    });
    try (LogCapture log = new LogCapture(SessionServer.class, Level.WARN)) {
      SessionServer server = listen(app);
      SessionClient other = SessionClient.create(vertx, new SessionClientOptions().setPort(server.actualPort()).setSeed(1));
      SessionClient client = SessionClient.create(vertx, new SessionClientOptions().setPort(server.actualPort()).setSeed(2)
        .setInitialBackoffMs(5).setMaxBackoffMs(20));
      AtomicReference<Throwable> lost = new AtomicReference<>();
      client.failureHandler(lost::set);
      other.failureHandler(lost::set);
      await(other.connect());
      await(client.connect());
      for (int i = 0; i < N; i++) {
        other.send(Buffer.buffer("o" + i));
        client.send(Buffer.buffer("m" + i));
      }

      await().atMost(Duration.ofSeconds(10)).until(() -> client.acknowledged() == N && other.acknowledged() == N);
      assertThat(lost.get()).isNull();
      assertThat(poisonDeliveries).as("the failed message came again, on the same session")
        .containsExactly(client.sessionId(), client.sessionId());
      assertThat(handled.get(client.sessionId())).as("every message handled successfully once, in seq order")
        .containsExactlyElementsOf(IntStream.range(0, N).mapToObj(i -> "m" + i).toList());
      assertThat(client.resumes()).isEqualTo(1);
      assertThat(handled.get(other.sessionId())).containsExactlyElementsOf(IntStream.range(0, N).mapToObj(i -> "o" + i).toList());
      assertThat(other.connections()).as("the other session kept its connection").isEqualTo(1);
      assertThat(other.resumes()).isZero();

      await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream().anyMatch(e -> "READ_FAILED".equals(e.getString("kind"))));
      assertThat(failures).as("one failure event, the handler's").hasSize(1);
      JsonObject e = failures.get(0);
      assertThat(e.getString("cause")).isEqualTo(SessionHandlerException.class.getName());
      assertThat(e.getString("message")).contains(client.sessionId()).contains("DATA 4")
        .contains("IllegalStateException: handler refuses m3 once");
      assertThat(log.lines(Level.WARN)).as("logged once, naming connection, session and seq")
        .singleElement().asString()
        .contains(e.getString("connection")).contains(client.sessionId()).contains("DATA 4");

      await(client.close());
      await(other.close());
      assertThat(server.sessionCount()).isZero();
    }
  }

  /** A session server running {@code app} on its own event loop, 127.0.0.1, port 0, policy "resume". */
  private SessionServer listen(SessionApplication app) throws Exception {
    TrackingOptions tracking = new TrackingOptions().setServer("session").setProtocol("session").setDecisionTimeoutMs(200)
      .setPolicies(PolicySet.fromJson(new JsonObject().put("default", "resume").put("PROTOCOL_ERROR", "close"), "policies"));
    Context context = vertx.getOrCreateContext();
    return await(Future.<SessionServer>future(p -> context.runOnContext(v -> SessionServer.listen(vertx,
      new NetServerOptions().setHost("127.0.0.1").setPort(0), tracking, 100, new SessionOptions(), app).onComplete(p))));
  }
}
