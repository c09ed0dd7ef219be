package dev.tether;

import dev.tether.internal.ContextAccess;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.metrics.TetherRecorder;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Vertx;

import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every tracked connection of one Vert.x instance shares: the node name used in events and in
 * the recovery address, the metrics recorder, the {@link FailureBudget} that bounds storms and the
 * {@link MemoryBudget} that bounds what connections retain.
 *
 * <p>Nothing has to be installed: {@link #of(Vertx)} gives every Vert.x instance sane defaults the
 * first time it is asked, namely a node name made of the host name and the process id (plus a
 * number for the second and later instances of one JVM), and Micrometer meters in Vert.x's own
 * registry when Vert.x runs with vertx-micrometer-metrics, else no meters, and the default failure
 * budget ({@link FailureBudget#defaults()}).
 * {@link #install} replaces them (MainVerticle does it from configuration).
 *
 * <p>An instance is forgotten when its Vert.x closes; the registry holds Vert.x instances weakly and
 * never refers back to them, so a closed Vert.x is never kept alive by Tether.
 *
 * <p>Threading: any thread.
 */
public final class Tether {

  private static final Map<Vertx, Tether> INSTANCES = new WeakHashMap<>();
  private static final AtomicInteger DEFAULT_NODES = new AtomicInteger();
  private static final String PROCESS = processName();

  private final String node;
  private final TetherRecorder recorder;
  private final FailureBudget failureBudget;
  private final MemoryBudget memory;

  private Tether(String node, TetherRecorder recorder, FailureBudget failureBudget, MemoryBudget memory) {
    this.node = Objects.requireNonNull(node, "node");
    this.recorder = Objects.requireNonNull(recorder, "recorder");
    this.failureBudget = Objects.requireNonNull(failureBudget, "failureBudget");
    this.memory = Objects.requireNonNull(memory, "memory");
    memory.bind(recorder);
  }

  /** Installs (or replaces) the shared state of {@code vertx}, with the default failure budget. */
  public static Tether install(Vertx vertx, String node, TetherRecorder recorder) {
    return install(vertx, node, recorder, FailureBudget.defaults());
  }

  /** Installs (or replaces) the shared state of {@code vertx}. */
  public static Tether install(Vertx vertx, String node, TetherRecorder recorder, FailureBudget failureBudget) {
    return install(vertx, node, recorder, failureBudget, MemoryBudget.defaults());
  }

  /**
   * Installs (or replaces) the shared state of {@code vertx}, with a memory budget of its own.
   * Connections opened before keep the budget they were opened with.
   */
  public static Tether install(Vertx vertx, String node, TetherRecorder recorder, FailureBudget failureBudget,
                               MemoryBudget memory) {
    Tether t = new Tether(node, recorder, failureBudget, memory);
    synchronized (INSTANCES) {
      boolean fresh = !INSTANCES.containsKey(vertx);
      INSTANCES.put(vertx, t);
      if (fresh) {
        forgetOnClose(vertx);
      }
    }
    return t;
  }

  /** The shared state of {@code vertx}, with the defaults described above if nothing was installed. */
  public static Tether of(Vertx vertx) {
    Objects.requireNonNull(vertx, "vertx");
    synchronized (INSTANCES) {
      Tether t = INSTANCES.get(vertx);
      if (t == null) {
        int n = DEFAULT_NODES.incrementAndGet();
        t = new Tether(n == 1 ? PROCESS : PROCESS + "-" + n, defaultRecorder(), FailureBudget.defaults(), MemoryBudget.defaults());
        INSTANCES.put(vertx, t);
        forgetOnClose(vertx);
      }
      return t;
    }
  }

  /** Instances currently known (for tests of the life cycle). */
  static int known() {
    synchronized (INSTANCES) {
      return INSTANCES.size();
    }
  }

  private static void forgetOnClose(Vertx vertx) {
    // the hook holds the Vert.x instance, but Vert.x holds the hook: no path from Tether's map
    ContextAccess.onVertxClose(vertx, () -> {
      synchronized (INSTANCES) {
        INSTANCES.remove(vertx);
      }
    });
  }

  private static TetherRecorder defaultRecorder() {
    try {
      Class.forName("io.vertx.micrometer.backends.BackendRegistries", false, Tether.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return TetherRecorder.NOOP;
    }
    MeterRegistry registry = VertxMetrics.registry();
    return registry == null ? TetherRecorder.NOOP : new MicrometerRecorder(registry);
  }

  /** Loaded only when vertx-micrometer-metrics is on the class path (it is optional). */
  private static final class VertxMetrics {
    static MeterRegistry registry() {
      return io.vertx.micrometer.backends.BackendRegistries.getDefaultNow();
    }
  }

  private static String processName() {
    // no name lookup (it may block on DNS): the environment's host name, if any
    String host = System.getenv().getOrDefault("HOSTNAME", "node");
    return host.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + ManagementFactory.getRuntimeMXBean().getPid();
  }

  public String node() {
    return node;
  }

  public TetherRecorder recorder() {
    return recorder;
  }

  /** The node-wide budget on failure WARN lines and events, shared by every connection of this Vert.x. */
  public FailureBudget failureBudget() {
    return failureBudget;
  }

  /**
   * The node-wide memory budget (pending writes, retained session frames, decoder buffers), shared
   * by every connection and session of this Vert.x; by default {@link MemoryBudget#defaults()}.
   */
  public MemoryBudget memory() {
    return memory;
  }
}
