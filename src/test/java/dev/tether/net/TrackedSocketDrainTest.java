package dev.tether.net;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A caller that saw writeQueueFull() gets its drain even when a single flush completion takes the
 * pending bytes from above the high-water mark straight to zero (one large write to a peer that
 * was not reading yet). The peer is a plain blocking socket that starts reading only once the
 * server has written and registered its drain handler.
 */
@ExtendWith(VertxExtension.class)
class TrackedSocketDrainTest {

  private static final int SIZE = 16 << 20;

  @Test
  void drainFollowsAFullQueueEmptiedByOneFlush(Vertx vertx, VertxTestContext ctx) throws Exception {
    TrackingOptions options = new TrackingOptions().setServer("drain").setHighWaterMark(64 * 1024)
      .setMaxPendingBytes(64L << 20);
    CountDownLatch written = new CountDownLatch(1);
    CompletableFuture<Integer> port = new CompletableFuture<>();
    vertx.runOnContext(v -> TrackedServer.create(vertx, new TrackedServerOptions().setPort(0).setTracking(options))
      .connectHandler(tracked -> tracked.handler(go -> {
          if (written.getCount() == 0) {
            return;
          }
          tracked.send(Buffer.buffer(new byte[SIZE]));
          ctx.verify(() -> assertThat(tracked.writeQueueFull()).isTrue());
          tracked.drainHandler(x -> ctx.verify(() -> {
            assertThat(tracked.writeQueueFull()).isFalse();
            ctx.completeNow();
          }));
          written.countDown();
        }))
      .listen()
      .onSuccess(s -> port.complete(s.actualPort()))
      .onFailure(ctx::failNow));
    try (Socket peer = new Socket("127.0.0.1", port.get(10, TimeUnit.SECONDS))) {
      peer.getOutputStream().write("go".getBytes(StandardCharsets.US_ASCII));
      assertThat(written.await(10, TimeUnit.SECONDS)).isTrue();
      InputStream in = peer.getInputStream();
      byte[] buf = new byte[1 << 16];
      long read = 0;
      while (read < SIZE) {
        int n = in.read(buf);
        assertThat(n).isPositive();
        read += n;
      }
      assertThat(ctx.awaitCompletion(10, TimeUnit.SECONDS)).isTrue();
    }
  }
}
