package dev.tether.tools;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/** The torture verdict: passes on clean facts, and each kind of violation fails its own row (and so the run). */
class TortureVerdictTest {

  static Torture.Facts clean() {
    Torture.Facts f = new Torture.Facts();
    f.nodeUpAtEnd.set(true);
    f.healthOk.add(100);
    f.slowestHealthMs.set(40);
    f.longestHealthGapMs.set(300);
    f.echoBytes.add(1000);
    f.tlsEchoBytes.add(1000);
    f.sessionsSent.add(50);
    f.sessionsReceived.add(50);
    f.sessionsExpected = 2;
    f.sessionsClosedCleanly.add(2);
    f.fuzzInputs.add(10);
    f.openAtEnd = 0;
    f.books = new JsonObject().put("servers", new JsonObject().put("echo", new JsonObject()
      .put("closedConnections", 5).put("accepted", 100).put("flushed", 90).put("unsent", 10)
      .put("pendingAfterClose", 0).put("unbalanced", 0)));
    f.writtenMetric.put("echo", 90L);
    f.unsentMetric.put("echo", 10L);
    return f;
  }

  static boolean passes(Torture.Facts f) {
    return Torture.verdict(f).stream().allMatch(Torture.Row::pass);
  }

  static String failing(Torture.Facts f) {
    return Torture.verdict(f).stream().filter(r -> !r.pass()).map(Torture.Row::check).findFirst().orElse(null);
  }

  @Test
  void cleanFactsPass() {
    assertThat(passes(clean())).as(Torture.table(Torture.verdict(clean()))).isTrue();
  }

  @Test
  void everyViolationFailsItsRow() {
    List<Object[]> cases = List.of(
      new Object[] {"node up at the end", (Consumer<Torture.Facts>) f -> f.nodeUpAtEnd.set(false)},
      new Object[] {"/health answered throughout", (Consumer<Torture.Facts>) f -> f.healthFailed.increment()},
      new Object[] {"/health answered throughout", (Consumer<Torture.Facts>) f -> f.longestHealthGapMs.set(6000)},
      new Object[] {"good echo clients exact", (Consumer<Torture.Facts>) f -> f.echoBad.increment()},
      new Object[] {"good TLS echo clients exact", (Consumer<Torture.Facts>) f -> f.tlsEchoBad.increment()},
      new Object[] {"every good session exact", (Consumer<Torture.Facts>) f -> f.sessionsReceived.add(-1)},
      new Object[] {"every good session exact", (Consumer<Torture.Facts>) f -> f.sessionsClosedCleanly.add(-1)},
      new Object[] {"fuzz inputs contained", (Consumer<Torture.Facts>) f -> f.fuzzBad.increment()},
      new Object[] {"plaintext on TLS closed", (Consumer<Torture.Facts>) f -> f.plainOnTlsBad.increment()},
      new Object[] {"bridge: garbage closes that client only", (Consumer<Torture.Facts>) f -> f.bridgeGoodBad.increment()},
      new Object[] {"no connection left open", (Consumer<Torture.Facts>) f -> f.openAtEnd = 1},
      new Object[] {"books of echo", (Consumer<Torture.Facts>) f -> f.writtenMetric.put("echo", 91L)},
      new Object[] {"books of echo", (Consumer<Torture.Facts>) f -> f.unsentMetric.put("echo", 9L)},
      new Object[] {"books of echo", (Consumer<Torture.Facts>) f -> f.books.getJsonObject("servers")
        .getJsonObject("echo").put("pendingAfterClose", 3)},
      new Object[] {"books of echo", (Consumer<Torture.Facts>) f -> f.books.getJsonObject("servers")
        .getJsonObject("echo").put("accepted", 101)},
      new Object[] {"books of echo", (Consumer<Torture.Facts>) f -> f.books.getJsonObject("servers")
        .getJsonObject("echo").put("unbalanced", 1)},
      new Object[] {"books", (Consumer<Torture.Facts>) f -> f.books = new JsonObject()},
      new Object[] {"no stack trace in the node's log", (Consumer<Torture.Facts>) f -> f.logEscapes.add("\tat x")});
    for (Object[] c : cases) {
      Torture.Facts f = clean();
      @SuppressWarnings("unchecked")
      Consumer<Torture.Facts> spoil = (Consumer<Torture.Facts>) c[1];
      spoil.accept(f);
      assertThat(passes(f)).as("%s", c[0]).isFalse();
      assertThat(failing(f)).isEqualTo(c[0]);
    }
  }
}
