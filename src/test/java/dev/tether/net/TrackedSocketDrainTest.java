package dev.tether.net;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A caller that saw writeQueueFull() gets its drain even when a single flush completion takes the
 * pending bytes from above the high-water mark straight to zero (one large write to a peer that
 * was not reading).
 */
@ExtendWith(VertxExtension.class)
class TrackedSocketDrainTest {

  @Test
  void drainFollowsAFullQueueEmptiedByOneFlush(Vertx vertx, VertxTestContext ctx) throws Exception {
    TrackingOptions options = new TrackingOptions().setServer("drain").setHighWaterMark(64 * 1024)
      .setMaxPendingBytes(64L << 20);
    AtomicReference<NetSocket> client = new AtomicReference<>();
    vertx.runOnContext(v -> TrackedServer.listen(vertx, new NetServerOptions().setHost("127.0.0.1").setPort(0), options, 10,
        tracked -> tracked.socket().handler(go -> {
          tracked.send(Buffer.buffer(new byte[16 << 20]));
          ctx.verify(() -> assertThat(tracked.writeQueueFull()).isTrue());
          tracked.drainHandler(x -> ctx.verify(() -> {
            assertThat(tracked.writeQueueFull()).isFalse();
            ctx.completeNow();
          }));
          client.get().resume(); // now let the peer read
        }))
      .compose(server -> vertx.createNetClient().connect(server.actualPort(), "127.0.0.1"))
      .onSuccess(socket -> {
        socket.pause();
        client.set(socket);
        socket.write("go");
      })
      .onFailure(ctx::failNow));
    assertThat(ctx.awaitCompletion(20, TimeUnit.SECONDS)).isTrue();
  }
}
