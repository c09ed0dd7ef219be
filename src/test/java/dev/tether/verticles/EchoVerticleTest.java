package dev.tether.verticles;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The tracked echo server: byte-exact echo, and back-pressure that bounds what it buffers. */
class EchoVerticleTest {

  private Vertx vertx;
  private SimpleMeterRegistry registry;
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    registry = new SimpleMeterRegistry();
    Tether.install(vertx, "echo-test", new MicrometerRecorder(registry));
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
  }

  @AfterEach
  void stop() {
    Harness.await(vertx.close());
  }

  private int deploy(JsonObject config) {
    EchoVerticle v = new EchoVerticle();
    Harness.await(vertx.deployVerticle(v, new DeploymentOptions().setConfig(config)));
    return v.actualPort();
  }

  @Test
  void aPeerThatStopsReadingIsPausedNotBuffered() throws Exception {
    int hwm = 64 * 1024;
    int port = deploy(new JsonObject().put("name", "bp").put("port", 0).put("highWaterMark", hwm)
      .put("maxPendingBytes", 1 << 20).put("sendBufferSize", 32 * 1024).put("receiveBufferSize", 32 * 1024));
    byte[] stream = Bytes.random(32 << 20, 21);
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setReceiveBufferSize(32 * 1024);
      AtomicLong sent = new AtomicLong();
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          OutputStream out = s.getOutputStream();
          for (int off = 0; off < stream.length; off += 8192) {
            out.write(stream, off, 8192);
            sent.addAndGet(8192);
          }
          out.flush();
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      // we do not read: the server must stop reading too, with its pending bytes bounded
      await().atMost(Duration.ofSeconds(10)).until(() -> sent.get() > 0 && gauge("bp") > 0);
      // the writer is stuck once its count stops moving between two polls 300 ms apart
      AtomicLong last = new AtomicLong(-1);
      await().pollInterval(Duration.ofMillis(300)).atMost(Duration.ofSeconds(20))
        .until(() -> sent.get() == last.getAndSet(sent.get()) || writer.isDone());
      assertThat(writer).isNotDone();
      // one read buffer may land on top of the mark before reading pauses
      assertThat(gauge("bp")).isLessThanOrEqualTo(hwm + 64 * 1024);

      byte[] back;
      try (InputStream in = s.getInputStream()) {
        back = in.readNBytes(stream.length);
      }
      writer.get();
      Bytes.assertSameStream(stream, back);
    }
    assertThat(failures).isEmpty();
  }

  private double gauge(String server) {
    var g = registry.find("tether.pending.bytes").tag("server", server).gauge();
    return g == null ? 0 : g.value();
  }
}
