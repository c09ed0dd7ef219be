package dev.tether.internal;

import io.vertx.core.Context;
import io.vertx.core.internal.ContextInternal;

/**
 * Vert.x internal API about contexts, isolated like {@link NettyAccess}: running a hook when a
 * context closes (its verticle is undeployed), which is when Vert.x closes the servers it started;
 * the cluster manager of a clustered instance.
 */
public final class ContextAccess {

  private ContextAccess() {
  }

  /** Runs {@code hook} when {@code context} closes; the returned handle cancels it. */
  public static Runnable onClose(Context context, Runnable hook) {
    ContextInternal ctx = (ContextInternal) context;
    io.vertx.core.Closeable closeable = completion -> {
      hook.run();
      completion.succeed();
    };
    ctx.addCloseHook(closeable);
    return () -> ctx.removeCloseHook(closeable);
  }

  /** Runs {@code hook} once when {@code vertx} closes. */
  public static void onVertxClose(io.vertx.core.Vertx vertx, Runnable hook) {
    ((io.vertx.core.internal.VertxInternal) vertx).addCloseHook(completion -> {
      hook.run();
      completion.succeed();
    });
  }

  /** The cluster manager of a clustered {@code vertx}, else null. */
  public static io.vertx.core.spi.cluster.ClusterManager clusterManager(io.vertx.core.Vertx vertx) {
    return vertx.isClustered() ? ((io.vertx.core.internal.VertxInternal) vertx).clusterManager() : null;
  }
}
