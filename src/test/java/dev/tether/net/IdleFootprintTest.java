package dev.tether.net;

import dev.tether.Tether;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.metrics.TetherRecorder;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What an idle tracked connection keeps (docs/performance.md, "Heap per idle connection"). The
 * per-class figures are measured out of process by {@code scripts/conns.sh}; these tests pin the two
 * behaviours behind the biggest savings, which a change could silently undo:
 * <ul>
 *   <li>once a write is flushed, nothing of the connection keeps it (nor its buffer) reachable;</li>
 *   <li>a write the kernel takes at once arms no write-timeout check, yet a write stuck behind a peer
 *       that does not read still times out.</li>
 * </ul>
 */
class IdleFootprintTest {

  private Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    Tether.install(vertx, "idle", TetherRecorder.NOOP);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void aFlushedWriteIsNotKeptByTheIdleConnection() throws Exception {
    CompletableFuture<TrackedSocket> accepted = new CompletableFuture<>();
    CompletableFuture<WeakReference<Buffer>> written = new CompletableFuture<>();
    TrackedServer server = TrackedServer.create(vertx, new TrackedServerOptions().setName("idle"))
      .connectHandler(s -> {
        accepted.complete(s);
        s.handler(in -> {
          // a buffer of the server's own, referenced from nowhere but the write
          Buffer out = Buffer.buffer().appendBuffer(in);
          written.complete(new WeakReference<>(out));
          s.write(out);
        });
      });
    int port = server.listen(0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    try (Socket client = new Socket()) {
      client.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      client.setSoTimeout(10_000);
      byte[] msg = "one echo, then idle".getBytes(StandardCharsets.US_ASCII);
      client.getOutputStream().write(msg);
      assertThat(client.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
      TrackedSocket socket = accepted.get(10, TimeUnit.SECONDS);
      WeakReference<Buffer> ref = written.get(10, TimeUnit.SECONDS);
      // the connection is open and idle, and its books say the write is done
      CompletableFuture<Long> pending = new CompletableFuture<>();
      socket.context().runOnContext(v -> pending.complete(socket.ledger().pending()));
      assertThat(pending.get(10, TimeUnit.SECONDS)).isZero();
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> {
        System.gc();
        return ref.get() == null;
      });
      assertThat(socket.isClosed()).isFalse();
      // and it still serves
      client.getOutputStream().write(msg);
      assertThat(client.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
    }
  }

  @Test
  void aWriteStuckBehindAPeerThatDoesNotReadStillTimesOut() throws Exception {
    List<FailureEvent> failures = new CopyOnWriteArrayList<>();
    CompletableFuture<TrackedSocket> accepted = new CompletableFuture<>();
    TrackedServerOptions options = new TrackedServerOptions().setName("stuck");
    options.setTracking(new TrackingOptions(options.tracking()).setWriteTimeoutMs(300)
      .setMaxPendingBytes(64L << 20).setHighWaterMark(64L << 20));
    TrackedServer server = TrackedServer.create(vertx, options)
      .connectHandler(s -> {
        s.failureHandler(failures::add);
        accepted.complete(s);
      });
    int port = server.listen(0).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    try (Socket client = new Socket()) {
      client.setReceiveBufferSize(4096);
      client.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      TrackedSocket socket = accepted.get(10, TimeUnit.SECONDS);
      // small writes the kernel takes at once, then far more than the socket buffers hold: the client never reads
      socket.context().runOnContext(v -> {
        for (int i = 0; i < 10; i++) {
          socket.send(Buffer.buffer("small"));
        }
        socket.send(Buffer.buffer(new byte[16 << 20]));
      });
      await().atMost(Duration.ofSeconds(20)).until(() -> !failures.isEmpty());
      FailureEvent e = failures.get(0);
      assertThat(e.kind()).isEqualTo(FailureKind.WRITE_TIMEOUT);
      // the small writes were flushed; the big one is the one overdue
      assertThat(e.offset()).isGreaterThanOrEqualTo(50);
      assertThat(e.unsent()).isPositive();
    }
  }
}
