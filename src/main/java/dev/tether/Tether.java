package dev.tether;

import dev.tether.metrics.TetherRecorder;
import io.vertx.core.Vertx;

import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.WeakHashMap;

/**
 * What every tracked connection of one Vert.x instance shares: the node name used in events and in
 * the recovery address, and the metrics recorder. Installed once per Vert.x instance (MainVerticle
 * does it from configuration); {@link #of(Vertx)} gives defaults when nobody installed one.
 */
public final class Tether {

  private static final Map<Vertx, Tether> INSTANCES = new WeakHashMap<>();

  private final Vertx vertx;
  private final String node;
  private final TetherRecorder recorder;

  private Tether(Vertx vertx, String node, TetherRecorder recorder) {
    this.vertx = Objects.requireNonNull(vertx);
    this.node = Objects.requireNonNull(node);
    this.recorder = Objects.requireNonNull(recorder);
  }

  /** Installs (or replaces) the shared state of {@code vertx}. */
  public static Tether install(Vertx vertx, String node, TetherRecorder recorder) {
    Tether t = new Tether(vertx, node, recorder);
    synchronized (INSTANCES) {
      INSTANCES.put(vertx, t);
    }
    return t;
  }

  /** The shared state of {@code vertx}, created with a random node name and no metrics if absent. */
  public static Tether of(Vertx vertx) {
    synchronized (INSTANCES) {
      return INSTANCES.computeIfAbsent(vertx,
        v -> new Tether(v, "node-" + UUID.randomUUID().toString().substring(0, 8), TetherRecorder.NOOP));
    }
  }

  public Vertx vertx() {
    return vertx;
  }

  public String node() {
    return node;
  }

  public TetherRecorder recorder() {
    return recorder;
  }
}
