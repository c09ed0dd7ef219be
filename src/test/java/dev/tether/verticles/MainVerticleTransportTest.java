package dev.tether.verticles;

import ch.qos.logback.classic.Level;
import dev.tether.internal.TransportAccess;
import dev.tether.support.Harness;
import dev.tether.support.LogCapture;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The node says at start-up which transport it runs: nio by default, the native one when
 * {@code preferNativeTransport} is on (conf/vertx.json), and why not when a native one was asked for
 * and could not be had.
 */
class MainVerticleTransportTest {

  private Vertx vertx;

  @AfterEach
  void close() {
    if (vertx != null) {
      Harness.await(vertx.close());
    }
  }

  /** MainVerticle with nothing to deploy but itself (no server, no observability). */
  private String transportLine() {
    JsonObject conf = new JsonObject().put("node", "transport-test")
      .put("metrics", new JsonObject().put("enabled", false))
      .put("http", new JsonObject().put("enabled", false))
      .put("monitor", new JsonObject().put("enabled", false))
      .put("bridge", new JsonObject().put("enabled", false))
      .put("recovery", new JsonObject().put("enabled", false));
    try (LogCapture log = new LogCapture(MainVerticle.class, Level.INFO)) {
      Harness.await(vertx.deployVerticle(MainVerticle.class.getName(), new DeploymentOptions().setConfig(conf)));
      assertThat(log.lines(Level.INFO)).filteredOn(l -> l.startsWith("transport: ")).hasSize(1);
      return log.lines(Level.INFO).stream().filter(l -> l.startsWith("transport: ")).findFirst().orElseThrow();
    }
  }

  @Test
  void byDefaultTheNodeRunsNioAndSaysWhy() {
    vertx = Vertx.vertx();
    assertThat(TransportAccess.name(vertx)).isEqualTo("nio");
    assertThat(transportLine()).isEqualTo("transport: nio (preferNativeTransport is false)");
  }

  @Test
  void preferNativeTransportRunsEpollWhereItLoadsOrSaysWhyNot() {
    vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    Transport expected = Transport.nativeTransport();
    String line = transportLine();
    if (expected != null && expected.available()) {
      assertThat(vertx.isNativeTransportEnabled()).isTrue();
      assertThat(TransportAccess.name(vertx)).isEqualTo(expected.name());
      assertThat(line).isEqualTo("transport: " + expected.name() + " (native)");
    } else {
      assertThat(line).startsWith("transport: nio (native transport unavailable: ");
    }
  }

  @Test
  void aTransportAskedForByNameIsTheOneThatRuns() {
    for (String name : new String[] {"nio", "epoll", "io_uring"}) {
      Transport t = TransportAccess.byName(name);
      if (!t.available()) {
        continue;
      }
      Vertx v = Vertx.builder().withTransport(t).build();
      try {
        assertThat(TransportAccess.name(v)).isEqualTo(name);
        assertThat(TransportAccess.describe(v)).startsWith(name);
        assertThat(v.isNativeTransportEnabled()).isEqualTo(!name.equals("nio"));
      } finally {
        Harness.await(v.close());
      }
    }
    assertThatThrownBy(() -> TransportAccess.byName("carrier-pigeon"))
      .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown transport carrier-pigeon");
  }
}
