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

  /**
   * Runs {@code action} now, on the calling thread, with {@code context} as Vert.x's current
   * context (what {@code Vertx.currentContext()} returns inside it): code entered from a Netty
   * callback otherwise runs with no current context, and a handler that sets a timer there would
   * get one on another context. Call it on the context's event loop.
   */
  public static void dispatch(Context context, Runnable action) {
    ContextInternal ctx = (ContextInternal) context;
    if (ctx.isRunningOnContext()) {
      action.run();
      return;
    }
    ContextInternal prev = ctx.beginDispatch();
    try {
      action.run();
    } finally {
      ctx.endDispatch(prev);
    }
  }

  /** Runs {@code hook} once when {@code vertx} closes. */
  public static void onVertxClose(io.vertx.core.Vertx vertx, Runnable hook) {
    ((io.vertx.core.internal.VertxInternal) vertx).addCloseHook(completion -> {
      hook.run();
      completion.succeed();
    });
  }

  /** A new event-loop context of {@code vertx} that belongs to no deployment (its timers outlive undeploys). */
  public static Context detachedContext(io.vertx.core.Vertx vertx) {
    return ((io.vertx.core.internal.VertxInternal) vertx).createEventLoopContext();
  }

  /** The cluster manager of a clustered {@code vertx}, else null. */
  public static io.vertx.core.spi.cluster.ClusterManager clusterManager(io.vertx.core.Vertx vertx) {
    return vertx.isClustered() ? ((io.vertx.core.internal.VertxInternal) vertx).clusterManager() : null;
  }
}
