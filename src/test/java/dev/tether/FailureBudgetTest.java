package dev.tether;

import dev.tether.config.ObservabilityConfig;
import dev.tether.config.TetherConfig;
import dev.tether.event.Direction;
import dev.tether.event.FailureKind;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The budget itself: exact under contention, refilled per window, tallies never lost; its configuration. */
class FailureBudgetTest {

  @Test
  void eightThreadsShareOneWindowExactlyAndTheNextWindowRefills() throws Exception {
    AtomicLong clock = new AtomicLong(0);
    FailureBudget b = new FailureBudget(10, 100, clock::get);
    AtomicInteger logged = new AtomicInteger();
    AtomicInteger published = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      Thread th = new Thread(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = 0; i < 1000; i++) {
          int r = b.admit();
          if ((r & FailureBudget.LOG) != 0) {
            logged.incrementAndGet();
          }
          if ((r & FailureBudget.PUBLISH) != 0) {
            published.incrementAndGet();
          }
          b.suppressed("s", FailureKind.WRITE_FAILED, Direction.WRITE, (r & FailureBudget.LOG) == 0,
            (r & FailureBudget.PUBLISH) == 0);
        }
      });
      threads.add(th);
      th.start();
    }
    go.countDown();
    for (Thread th : threads) {
      th.join();
    }
    assertThat(logged.get()).isEqualTo(10);
    assertThat(published.get()).isEqualTo(100);
    List<FailureBudget.Suppressed> s = b.drain();
    assertThat(s).containsExactly(new FailureBudget.Suppressed("s", FailureKind.WRITE_FAILED, Direction.WRITE,
      8000 - 10, 8000 - 100));
    assertThat(b.drain()).isEmpty();
    // after a drain the next suppression asks for a summary again, only once
    assertThat(b.suppressed("s", FailureKind.WRITE_TIMEOUT, Direction.WRITE, true, false)).isTrue();
    assertThat(b.suppressed("s", FailureKind.WRITE_TIMEOUT, Direction.WRITE, true, false)).isFalse();

    clock.addAndGet(1_000_000_000L);
    assertThat(b.admit()).isEqualTo(FailureBudget.LOG | FailureBudget.PUBLISH);
  }

  @Test
  void stormsSectionIsValidatedWithTheKeyNamed() {
    ObservabilityConfig.Storms d = ObservabilityConfig.fromJson(new JsonObject()).storms();
    assertThat(d).isEqualTo(new ObservabilityConfig.Storms(100, 1000));
    ObservabilityConfig.Storms c = ObservabilityConfig.fromJson(new JsonObject()
      .put("storms", new JsonObject().put("warnPerSecond", 5).put("eventsPerSecond", 50))).storms();
    assertThat(c.budget().warnPerSecond()).isEqualTo(5);
    assertThat(c.budget().eventsPerSecond()).isEqualTo(50);
    assertThatThrownBy(() -> ObservabilityConfig.fromJson(new JsonObject()
      .put("storms", new JsonObject().put("warnsPerSecond", 5))))
      .hasMessageContaining("storms.warnsPerSecond: unknown key");
    assertThatThrownBy(() -> ObservabilityConfig.fromJson(new JsonObject()
      .put("storms", new JsonObject().put("eventsPerSecond", -1))))
      .hasMessageContaining("storms.eventsPerSecond: must be within 0..1000000");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("storms", "no")))
      .hasMessageContaining("storms: must be an object");
  }

  @Test
  void everyVertxHasTheDefaultBudgetWithoutInstall() {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      FailureBudget b = Tether.of(vertx).failureBudget();
      assertThat(b.warnPerSecond()).isEqualTo(FailureBudget.DEFAULT_WARN_PER_SECOND);
      assertThat(b.eventsPerSecond()).isEqualTo(FailureBudget.DEFAULT_EVENTS_PER_SECOND);
    } finally {
      vertx.close().await();
    }
  }
}
