package dev.tether.net;

import dev.tether.Tether;
import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.metrics.TetherRecorder;
import dev.tether.support.Bytes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Outbound tracked connections: a TrackedClient's sockets keep the same books as accepted ones. */
class TrackedClientTest {

  private Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    Tether.install(vertx, "client-node", TetherRecorder.NOOP);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void aClientSocketIsTrackedAndResendsASoftFailureInOrder() throws Exception {
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    NetServer plain = vertx.createNetServer(new NetServerOptions().setHost("127.0.0.1").setPort(0))
      .connectHandler(s -> s.handler(b -> {
        synchronized (received) {
          received.writeBytes(b.getBytes());
        }
      }));
    int port = plain.listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    TrackedClient client = TrackedClient.create(vertx, new TrackedClientOptions().setName("up")
      .setFaults(FaultPlan.seeded(2).withFailWrite(3))
      .setPolicies(new io.vertx.core.json.JsonObject().put("soft", new io.vertx.core.json.JsonObject()
        .put("policy", "resend-remainder").put("initialDelayMs", 1).put("maxDelayMs", 5))));
    byte[] stream = Bytes.random(10_000, 2);
    TrackedSocket ts = client.connect(port, "127.0.0.1").toCompletionStage().toCompletableFuture()
      .get(10, TimeUnit.SECONDS);
    assertThat(ts.id()).startsWith("up-");
    List<Future<Void>> fs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      fs.add(ts.write(Buffer.buffer().appendBytes(stream, i * 1000, 1000)));
    }
    await().atMost(Duration.ofSeconds(15)).until(() -> fs.stream().allMatch(Future::isComplete));
    assertThat(fs).allMatch(Future::succeeded);
    await().atMost(Duration.ofSeconds(15)).until(() -> {
      synchronized (received) {
        return received.size() == stream.length;
      }
    });
    synchronized (received) {
      Bytes.assertSameStream(stream, received.toByteArray());
    }
    LedgerSnapshot s = Future.<LedgerSnapshot>future(p -> ts.context().runOnContext(v -> p.complete(ts.ledger())))
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(s.flushed()).isEqualTo(stream.length);
    assertThat(s.resent()).isPositive();
    ts.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(ts.isClosed()).isTrue();
  }

  @Test
  void aSocketConnectedByPlainVertxCanBeWrappedFromAnyThread() throws Exception {
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    TrackedServer server = TrackedServer.create(vertx, new TrackedServerOptions().setName("sink"))
      .connectHandler(s -> s.handler(b -> {
        synchronized (received) {
          received.writeBytes(b.getBytes());
        }
      }));
    int port = server.listen(0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    // keep the client referenced: Vert.x closes an unreachable client (and its sockets) when it is collected
    io.vertx.core.net.NetClient plainClient = vertx.createNetClient();
    io.vertx.core.net.NetSocket raw = plainClient.connect(port, "127.0.0.1")
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    // the test thread is not the socket's event loop: wrap hops onto it
    TrackedSocket ts = TrackedSocket.wrap(vertx, raw, new TrackingOptions().setServer("wrapped"))
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    ts.write(Buffer.buffer("wrapped")).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      synchronized (received) {
        return received.toString().equals("wrapped");
      }
    });
    assertThat(ts.id()).startsWith("wrapped-");
    plainClient.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }
}
