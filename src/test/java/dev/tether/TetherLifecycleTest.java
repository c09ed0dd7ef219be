package dev.tether;

import dev.tether.metrics.TetherRecorder;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Finding 6 of issue 7: {@code Tether.of(vertx)} kept every Vert.x instance it ever saw alive (the
 * weak map's value held its key strongly). Also: sane defaults without an install call.
 */
class TetherLifecycleTest {

  @Test
  void aClosedVertxIsNotKeptAliveByTether() throws Exception {
    WeakReference<Vertx> ref = openUseAndClose();
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> {
      System.gc();
      return ref.get() == null;
    });
  }

  private static WeakReference<Vertx> openUseAndClose() throws Exception {
    Vertx vertx = Vertx.vertx();
    Tether t = Tether.of(vertx);
    assertThat(Tether.of(vertx)).isSameAs(t);
    vertx.close().toCompletionStage().toCompletableFuture().get();
    return new WeakReference<>(vertx);
  }

  @Test
  void defaultsNeedNoInstallAndAreStable() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Tether t = Tether.of(vertx);
      assertThat(t.node()).matches("[A-Za-z0-9_.-]+-\\d+(-\\d+)?").contains(String.valueOf(ProcessHandle.current().pid()));
      // no Micrometer metrics on this Vert.x: no meters, and no failure either
      assertThat(t.recorder()).isSameAs(TetherRecorder.NOOP);
      Tether installed = Tether.install(vertx, "n1", TetherRecorder.NOOP);
      assertThat(Tether.of(vertx)).isSameAs(installed);
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get();
    }
  }
}
