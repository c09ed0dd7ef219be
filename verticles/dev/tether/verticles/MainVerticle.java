package dev.tether.verticles;

import dev.tether.Tether;
import dev.tether.config.TetherConfig;
import dev.tether.config.ObservabilityConfig;
import dev.tether.config.ServerConfig;
import dev.tether.internal.TransportAccess;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.metrics.TetherRecorder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.micrometer.backends.BackendRegistries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads {@code conf/tether.json} (the launcher's {@code -conf}), validates all of it before doing
 * anything, installs the node's shared state (node name, metrics recorder) and deploys the verticles
 * the configuration names. A bad configuration fails the deployment with a message naming the key,
 * and the launcher exits.
 */
public class MainVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(MainVerticle.class);

  @Override
  public Future<?> start() {
    TetherConfig cfg;
    try {
      cfg = TetherConfig.fromJson(config());
    } catch (IllegalArgumentException e) {
      log.error("invalid configuration: {}", e.getMessage());
      return Future.failedFuture(new IllegalArgumentException("invalid configuration: " + e.getMessage(), e));
    }
    ObservabilityConfig obs = cfg.observability();
    TetherRecorder recorder = TetherRecorder.NOOP;
    if (obs.metrics().enabled()) {
      try {
        recorder = Metrics.recorder();
      } catch (NoClassDefFoundError e) {
        log.error("metrics.enabled needs vertx-micrometer-metrics and micrometer-registry-prometheus on the class path"
          + " (missing {}); add them or set metrics.enabled to false", e.getMessage());
        return Future.failedFuture(new IllegalStateException("metrics.enabled: missing class " + e.getMessage(), e));
      }
    }
    dev.tether.MemoryBudget memory = cfg.memory().budget();
    Tether.install(vertx, cfg.node(), recorder, obs.storms().budget(), memory);
    log.info("memory budget: limit {} bytes ({}), back-pressure past {} bytes until {}, max heap {} bytes", memory.limit(),
      cfg.memory().limitBytes() > 0 ? "memory.limitBytes" : cfg.memory().limitFraction() + " of the max heap",
      memory.highMark(), memory.lowMark(), Runtime.getRuntime().maxMemory());
    log.info("Tether node {} starting {} server(s)", cfg.node(), cfg.servers().size());
    // nio unless conf/vertx.json says "preferNativeTransport": true (then epoll, or io_uring without epoll)
    log.info("transport: {}", TransportAccess.describe(vertx));
    List<Future<String>> deployments = new ArrayList<>();
    if (vertx.isClustered()) {
      // node registry, cluster view, NODE_LOST (docs/cluster.md); not HA-deployed (nothing is)
      deployments.add(vertx.deployVerticle(ClusterVerticle.class.getName(), new DeploymentOptions())
        .recover(e -> missingDependency(e, "clustering (-cluster)", "vertx-hazelcast", "run without -cluster")));
    }
    if (cfg.recoveryEnabled()) {
      // the recovery verticle gets the whole configuration: it needs every server's policies
      deployments.add(vertx.deployVerticle(RecoveryVerticle.class.getName(),
        new DeploymentOptions().setConfig(cfg.raw().copy())));
    }
    // (further node-wide verticles are deployed here)
    if (obs.http().enabled() || obs.monitor().enabled()) {
      // HTTP endpoints, event ring and dashboard; it needs the server names for /health
      deployments.add(vertx.deployVerticle(MonitorVerticle.class.getName(),
        new DeploymentOptions().setConfig(cfg.raw().copy()))
        .recover(e -> missingDependency(e, "http/monitor", "vertx-micrometer-metrics and micrometer-registry-prometheus",
          "set http.enabled and monitor.enabled to false")));
    }
    if (obs.bridge().enabled()) {
      deployments.add(vertx.deployVerticle(BridgeVerticle.class.getName(),
        new DeploymentOptions().setConfig(cfg.raw().copy()))
        .recover(e -> missingDependency(e, "bridge.enabled", "vertx-tcp-eventbus-bridge",
          "set bridge.enabled to false")));
    }
    for (ServerConfig server : cfg.servers()) {
      if (!server.enabled()) {
        continue;
      }
      DeploymentOptions options = new DeploymentOptions()
        .setConfig(server.raw().copy().put("name", server.name()))
        .setInstances(server.instances());
      deployments.add(vertx.deployVerticle(TetherConfig.verticleClass(server.verticle()), options)
        .onFailure(e -> log.error("server {} failed to start: {}", server.name(), e.getMessage())));
    }
    return Future.all(deployments).onSuccess(v -> log.info("Tether node {} ready", cfg.node()));
  }

  /**
   * A deployment that failed for want of a class: say which optional dependency of the library is
   * missing instead of a bare ClassNotFoundException.
   */
  private static Future<String> missingDependency(Throwable e, String what, String artifacts, String orElse) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ClassNotFoundException || t instanceof NoClassDefFoundError) {
        String message = what + " needs " + artifacts + " on the class path (missing " + t.getMessage()
          + "); add them or " + orElse;
        log.error(message);
        return Future.failedFuture(new IllegalStateException(message, e));
      }
    }
    return Future.failedFuture(e);
  }

  /** Loaded only when metrics are on: its classes come from optional dependencies of the library. */
  private static final class Metrics {
    /** Tether's meters go to Vert.x's Micrometer registry when metrics are on, else to a registry of our own. */
    static TetherRecorder recorder() {
      MeterRegistry registry = BackendRegistries.getDefaultNow();
      if (registry == null) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      }
      return new MicrometerRecorder(registry);
    }
  }
}
