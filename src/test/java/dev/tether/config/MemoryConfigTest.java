package dev.tether.config;

import dev.tether.MemoryBudget;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The {@code memory} section: defaults from the heap, explicit limits, and errors that name the key. */
class MemoryConfigTest {

  @Test
  void defaultsAreHalfTheHeapWithMarksAtEightyAndSixtyPercent() {
    MemoryBudget b = TetherConfig.fromJson(new JsonObject()).memory().budget();
    long expected = (long) (Runtime.getRuntime().maxMemory() * 0.5);
    assertThat(b.limit()).isEqualTo(expected);
    assertThat(b.highMark()).isEqualTo((long) (expected * 0.8));
    assertThat(b.lowMark()).isEqualTo((long) (expected * 0.6));
  }

  @Test
  void anExplicitLimitWinsOverTheFraction() {
    JsonObject conf = new JsonObject().put("memory", new JsonObject()
      .put("limitBytes", 10_000_000).put("limitFraction", 0.9).put("highMark", 0.5).put("lowMark", 0.25));
    MemoryBudget b = TetherConfig.fromJson(conf).memory().budget();
    assertThat(b.limit()).isEqualTo(10_000_000);
    assertThat(b.highMark()).isEqualTo(5_000_000);
    assertThat(b.lowMark()).isEqualTo(2_500_000);
  }

  @Test
  void badValuesAreRefusedNamingTheKey() {
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("memory", new JsonObject().put("limit", 1))))
      .hasMessageStartingWith("memory.limit: unknown key");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("memory", new JsonObject().put("limitBytes", -1))))
      .hasMessageStartingWith("memory.limitBytes:");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("memory", new JsonObject().put("highMark", 1.5))))
      .hasMessageStartingWith("memory.highMark: must be a number within (0, 1]");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("memory", new JsonObject()
      .put("highMark", 0.5).put("lowMark", 0.7)))).hasMessageStartingWith("memory.lowMark: must be below");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("memory", 3)))
      .hasMessageStartingWith("memory: must be an object");
  }

  @Test
  void frameDeadlineIsASessionKey() {
    JsonObject conf = new JsonObject().put("servers", new JsonObject().put("s", new JsonObject()
      .put("verticle", "session").put("port", 0).put("frameDeadlineMs", 5000)));
    assertThat(TetherConfig.fromJson(conf).servers()).hasSize(1);
    assertThat(dev.tether.session.SessionOptions.fromJson(new JsonObject().put("frameDeadlineMs", 5000), "servers.s")
      .frameDeadlineMs()).isEqualTo(5000);
    assertThatThrownBy(() -> dev.tether.session.SessionOptions.fromJson(new JsonObject().put("frameDeadlineMs", -1), "servers.s"))
      .hasMessageStartingWith("servers.s.frameDeadlineMs:");
  }
}
