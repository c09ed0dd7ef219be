package dev.tether.net;

import dev.tether.ledger.LedgerSnapshot;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Findings 3 and 4 of issue 7, and the Vert.x shape of the API: the raw NetSocket is no longer the
 * user's (its close handler could be overwritten, so a reset went unnoticed); a tracked socket is a
 * ReadStream and a WriteStream; calls off the event loop hop onto it or fail at once in every
 * build; handlers and futures run on the socket's context.
 */
class StreamApiTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  @Test
  void theRawSocketIsNotPartOfTheApi() {
    assertThat(ReadStream.class).isAssignableFrom(TrackedSocket.class);
    assertThat(WriteStream.class).isAssignableFrom(TrackedSocket.class);
    assertThat(Arrays.stream(TrackedSocket.class.getMethods()).map(Method::getReturnType))
      .doesNotContain(NetSocket.class);
  }

  @Test
  void userHandlersDoNotReplaceTethersOwnAndAResetIsStillAccountedFor() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("api").setWriteTimeoutMs(0);
    try (Harness h = Harness.start(o, new NetServerOptions().setSendBufferSize(4096), null);
         Peer peer = Peer.stalled(h.port(), 4096)) {
      Harness.Conn c = h.accept();
      AtomicInteger closes = new AtomicInteger();
      AtomicReference<LedgerSnapshot> atClose = new AtomicReference<>();
      List<String> seen = new CopyOnWriteArrayList<>();
      c.run(ts -> {
        ts.closeHandler(v -> {
          closes.incrementAndGet();
          atClose.set(ts.ledger());
        });
        ts.endHandler(v -> seen.add("end"));
        ts.exceptionHandler(t -> seen.add("exception"));
        for (int i = 0; i < 64; i++) {
          ts.send(Buffer.buffer(new byte[16 * 1024]));
        }
      });
      await().atMost(WAIT).until(() -> c.call(ts -> ts.ledger().pending() > 0 && ts.writesOnWire() > 0));
      peer.reset();
      await().atMost(WAIT).until(() -> closes.get() == 1);
      assertThat(c.call(TrackedSocket::isClosed)).isTrue();
      assertThat(atClose.get().pending()).isZero();
      assertThat(atClose.get().unsent()).isPositive();
      JsonObject e = h.awaitFailure(Harness.kind("WRITE_FAILED"));
      assertThat(e.getLong("unsent")).isEqualTo(atClose.get().unsent());
      await().atMost(WAIT).until(() -> h.gauge("tether.connections", "server", "api") == 0);
      assertThat(h.gauge("tether.pending.bytes", "server", "api")).isZero();
    }
  }

  @Test
  void writesFromAnotherThreadHopOntoTheLoopInOrderAndTheirFuturesRunOnTheSocketsContext() throws Exception {
    byte[] stream = Bytes.random(100 * 100, 5);
    try (Harness h = Harness.start(new TrackingOptions().setServer("api")); Peer peer = Peer.reading(h.port())) {
      TrackedSocket ts = h.accept().socket();
      Context owner = ts.context();
      List<Future<Void>> fs = new ArrayList<>();
      List<Boolean> onOwner = new CopyOnWriteArrayList<>();
      for (int i = 0; i < 100; i++) {
        // the test thread is not a Vert.x thread
        assertThat(Vertx.currentContext()).isNull();
        Future<Void> f = ts.write(Buffer.buffer().appendBytes(stream, i * 100, 100));
        f.onComplete(ar -> onOwner.add(Vertx.currentContext() == owner && owner.isEventLoopContext()));
        fs.add(f);
      }
      peer.awaitReceived(stream.length, WAIT);
      Bytes.assertSameStream(stream, peer.received());
      await().atMost(WAIT).until(() -> onOwner.size() == 100);
      assertThat(onOwner).containsOnly(true);
      assertThat(fs).allMatch(Future::succeeded);
    }
  }

  @Test
  void readingTheBooksOffTheLoopFailsAtOnceInEveryBuild() throws Exception {
    try (Harness h = Harness.start(new TrackingOptions().setServer("api")); Peer peer = Peer.reading(h.port())) {
      TrackedSocket ts = h.accept().socket();
      assertThatThrownBy(ts::ledger).isInstanceOf(IllegalStateException.class).hasMessageContaining("off its event loop");
      assertThatThrownBy(ts::writeQueueFull).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(ts::checkInvariant).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void pipeToATrackedSocketIsTracked() throws Exception {
    byte[] stream = Bytes.random(256 * 1024, 6);
    try (Harness h = Harness.start(new TrackingOptions().setServer("api").setHighWaterMark(16 * 1024));
         Peer source = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      // the peer's bytes are piped back to it through the tracked socket: an echo by pipeTo
      c.run(ts -> ts.pipeTo(ts));
      source.send(stream);
      source.awaitReceived(stream.length, WAIT);
      Bytes.assertSameStream(stream, source.received());
      LedgerSnapshot s = c.call(TrackedSocket::ledger);
      assertThat(s.accepted()).isEqualTo(stream.length);
      assertThat(s.flushed()).isEqualTo(stream.length);
    }
  }
}
