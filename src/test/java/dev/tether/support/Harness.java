package dev.tether.support;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.net.TrackedServer;
import dev.tether.net.TrackedServerOptions;
import dev.tether.net.TrackedSocket;
import dev.tether.net.TrackingOptions;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;


/**
 * A real Vert.x instance running a {@link TrackedServer} on 127.0.0.1 port 0, with the connections
 * it accepts handed to the test, every failure event and recovery outcome collected from the event
 * bus, and Tether's meters in a {@link SimpleMeterRegistry}.
 */
public final class Harness implements AutoCloseable {

  public final Vertx vertx;
  public final MeterRegistry registry = new SimpleMeterRegistry();
  public final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  public final List<JsonObject> outcomes = new CopyOnWriteArrayList<>();
  private final BlockingQueue<Conn> accepted = new LinkedBlockingQueue<>();
  private TrackedServer server;

  /** A tracked connection and the context (event loop) that owns it. */
  public record Conn(TrackedSocket socket, Context context) {

    /** Runs {@code action} on the owning event loop and waits for it. */
    public void run(Consumer<TrackedSocket> action) {
      call(ts -> {
        action.accept(ts);
        return null;
      });
    }

    /** Evaluates {@code fn} on the owning event loop and waits for the result. */
    public <T> T call(Function<TrackedSocket, T> fn) {
      CompletableFuture<T> f = new CompletableFuture<>();
      context.runOnContext(v -> {
        try {
          f.complete(fn.apply(socket));
        } catch (Throwable t) {
          f.completeExceptionally(t);
        }
      });
      try {
        return f.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError("event-loop call failed", e);
      }
    }
  }

  private Harness(Vertx vertx) {
    this.vertx = vertx;
  }

  public static Harness start(TrackingOptions options) {
    return start(options, new NetServerOptions(), null);
  }

  /**
   * A Vert.x instance with Tether installed (meters in {@link #registry}) and no server yet: start
   * as many servers on it as needed with {@link #serve}, one after the other or side by side. The
   * event-bus collectors ({@link #failures}, {@link #outcomes}) are not subscribed: a long run would
   * only grow them.
   */
  public static Harness bare() {
    Harness h = new Harness(Vertx.vertx());
    Tether.install(h.vertx, "test-node", new MicrometerRecorder(h.registry));
    return h;
  }

  /** A tracked server deployed in a verticle of its own, and the context that accepts its connections. */
  public record Served(Vertx vertx, TrackedServer server, Context context, String deploymentId) {

    public int port() {
      return server.actualPort();
    }

    /** The server's open connection count, read on its accepting event loop. */
    public int openConnections() {
      CompletableFuture<Integer> f = new CompletableFuture<>();
      context.runOnContext(v -> f.complete(server.openConnections()));
      try {
        return f.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError("cannot read the open connection count", e);
      }
    }

    /** Undeploys the verticle: the server stops listening. */
    public void stop() {
      await(vertx.undeploy(deploymentId));
    }
  }

  /**
   * Deploys a verticle listening with a {@link TrackedServer} on 127.0.0.1 port 0.
   *
   * @param onConnect runs on the accepting event loop for each connection
   */
  public Served serve(TrackedServerOptions options, Consumer<TrackedSocket> onConnect) {
    CompletableFuture<Served> served = new CompletableFuture<>();
    options.setHost("127.0.0.1").setPort(0);
    String id = await(vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        return TrackedServer.create(vertx, options).connectHandler(onConnect::accept).listen()
          .onSuccess(s -> served.complete(new Served(vertx, s, context, null)));
      }
    }));
    try {
      Served s = served.get(10, TimeUnit.SECONDS);
      return new Served(s.vertx(), s.server(), s.context(), id);
    } catch (Exception e) {
      throw new AssertionError("server did not start", e);
    }
  }

  /** Removes the meters tagged with {@code server} from the registry (keeps searches fast in long runs). */
  public void forgetMeters(String server) {
    for (var m : Search.in(registry).tags("server", server).meters()) {
      registry.remove(m);
    }
  }

  /**
   * @param onConnect extra set-up run on the event loop for each connection (e.g. an echo), or null
   */
  public static Harness start(TrackingOptions options, NetServerOptions net, Consumer<TrackedSocket> onConnect) {
    Harness h = new Harness(Vertx.vertx());
    Tether.install(h.vertx, "test-node", new MicrometerRecorder(h.registry));
    h.vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> h.failures.add(m.body()));
    h.vertx.eventBus().<JsonObject>consumer(Addresses.RECOVERY, m -> h.outcomes.add(m.body()));
    net.setHost("127.0.0.1").setPort(0);
    await(h.vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        return TrackedServer.create(vertx, new TrackedServerOptions(net).setTracking(options).setMaxConnections(1000))
          .connectHandler(ts -> {
            if (onConnect != null) {
              onConnect.accept(ts);
            }
            h.accepted.add(new Conn(ts, context));
          }).listen().onSuccess(s -> h.server = s);
      }
    }));
    return h;
  }

  public int port() {
    return server.actualPort();
  }

  public Conn accept() {
    try {
      Conn c = accepted.poll(10, TimeUnit.SECONDS);
      if (c == null) {
        throw new AssertionError("no connection accepted within 10 s");
      }
      return c;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Waits for (and returns) the single failure event matching {@code p}. */
  public JsonObject awaitFailure(Predicate<JsonObject> p) {
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> failures.stream().anyMatch(p));
    return failures.stream().filter(p).findFirst().orElseThrow();
  }

  public JsonObject awaitOutcome(Predicate<JsonObject> p) {
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> outcomes.stream().anyMatch(p));
    return outcomes.stream().filter(p).findFirst().orElseThrow();
  }

  public static Predicate<JsonObject> kind(String kind) {
    return e -> kind.equals(e.getString("kind"));
  }

  /** Sum of a counter over all its tag combinations matching {@code tags} (k, v, k, v ...). */
  public double counter(String name, String... tags) {
    return Search.in(registry).name(name).tags(tags).counters().stream().mapToDouble(Counter::count).sum();
  }

  public double gauge(String name, String... tags) {
    var g = Search.in(registry).name(name).tags(tags).gauge();
    return g == null ? Double.NaN : g.value();
  }

  public static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("future did not complete", e);
    }
  }

  @Override
  public void close() {
    await(vertx.close());
  }
}
