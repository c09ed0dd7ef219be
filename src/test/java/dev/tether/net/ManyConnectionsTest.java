package dev.tether.net;

import dev.tether.Tether;
import dev.tether.metrics.MicrometerRecorder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A few thousand concurrent tracked connections on one node, each served, each accounted for, and
 * every slot and gauge back to zero when they go (the 19,000-connection run is a benchmark).
 * (Heap per connection is not measured here: in-process figures were dominated by the closing of
 * the previous round's connections; {@code scripts/conns.sh} measures it from outside the process,
 * see docs/performance.md. {@code ConnectionsIT} holds 3,000 on a fat-jar node.)
 */
class ManyConnectionsTest {

  private static final int N = 2000;

  private Vertx vertx;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    Tether.install(vertx, "many", new MicrometerRecorder(registry));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void twoThousandConnectionsAreServedAndAccountedFor() throws Exception {
    TrackedServer tracked = TrackedServer.create(vertx, new TrackedServerOptions().setName("many"))
      .connectHandler(s -> s.handler(s::send));
    int port = join(tracked.listen(0)).actualPort();
    List<Socket> sockets = new ArrayList<>(N);
    try {
      for (int i = 0; i < N; i++) {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        s.setSoTimeout(10_000);
        sockets.add(s);
        s.getOutputStream().write('x');
      }
      // every one of them is served, all at once
      for (Socket s : sockets) {
        assertThat(s.getInputStream().read()).isEqualTo('x');
      }
      await().atMost(Duration.ofSeconds(10))
        .until(() -> registry.get("tether.connections").tag("server", "many").gauge().value() == N);
    } finally {
      for (Socket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
    }
    await().atMost(Duration.ofSeconds(30))
      .until(() -> registry.get("tether.connections").tag("server", "many").gauge().value() == 0);
    assertThat(registry.get("tether.pending.bytes").tag("server", "many").gauge().value()).isZero();
    assertThat(registry.get("tether.written.bytes").tag("server", "many").counter().count()).isEqualTo(N);
    assertThat(tracked.openConnections()).isZero();
  }

  private static <T> T join(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }
}
