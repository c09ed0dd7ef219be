package dev.tether.tools;

import com.hazelcast.config.Config;
import com.hazelcast.config.XmlConfigBuilder;
import dev.tether.event.Addresses;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Cross-node event latency: two clustered Vert.x instances in this JVM (two Hazelcast members of a
 * private loopback cluster built from conf/cluster.xml, event buses on 127.0.0.1). Node A publishes
 * failure events (a real {@link FailureEvent}'s JSON, as nodes publish them) on
 * {@value Addresses#FAILURE} at a steady rate with {@code System.nanoTime()} in the body; a consumer
 * on node B and one on node A itself record publish-to-receive times (same JVM: one clock).
 *
 * <pre>
 * scripts/cluster-bench.sh [--events 20000] [--warmup 2000] [--rate 2000] [--cluster-xml conf/cluster.xml]
 * </pre>
 * Prints p50/p90/p99/p99.9/max for B (cross-node) and A (same node, the baseline).
 */
public final class ClusterLatency {

  private ClusterLatency() {
  }

  public static void main(String[] argv) throws Exception {
    Args a;
    String usage = "usage: cluster-bench [--events 20000] [--warmup 2000] [--rate 2000] [--cluster-xml conf/cluster.xml]";
    try {
      a = new Args(argv, Set.of("events", "warmup", "rate", "cluster-xml"), usage);
    } catch (Args.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    int events = (int) a.number("events", 20_000);
    int warmup = (int) a.number("warmup", 2_000);
    int rate = (int) a.number("rate", 2_000);
    String xml = a.string("cluster-xml", "conf/cluster.xml");
    String name = "tether-bench-" + UUID.randomUUID();
    int base = freeRange(10);

    long t0 = System.nanoTime();
    Vertx nodeA = start(xml, name, base);
    Vertx nodeB = start(xml, name, base);
    System.out.printf(Locale.ROOT, "cluster of 2 formed in %.1f s (Hazelcast ports %d.., cluster %s)%n",
      (System.nanoTime() - t0) / 1e9, base, name);
    try {
      run(nodeA, nodeB, events, warmup, rate);
    } finally {
      nodeB.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      nodeA.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    System.exit(0);
  }

  private static void run(Vertx nodeA, Vertx nodeB, int events, int warmup, int rate) throws Exception {
    int total = warmup + events;
    Recorder remote = new Recorder(total, warmup);
    Recorder local = new Recorder(total, warmup);
    await(nodeB.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> remote.record(m.body())).completion());
    await(nodeA.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> local.record(m.body())).completion());
    // B's registration is in the cluster's subscription map: A's first publish looks it up there
    FailureEvent template = new FailureEvent(UUID.randomUUID().toString(), System.currentTimeMillis(), "node-a",
      "echo", "raw", "echo-1", "127.0.0.1:50000", FailureKind.WRITE_FAILED, Direction.WRITE, 200, 0, 200, 100,
      "dev.tether.fault.InjectedWriteFault", "injected: write #2 of 200 bytes refused", 1, true);
    JsonObject body = template.toJson();
    Promise<Void> sent = Promise.promise();
    long start = System.nanoTime();
    long[] next = {0};
    // a 1 ms tick publishes what the rate allows by now: a steady rate, not a burst
    nodeA.setPeriodic(1, id -> {
      long due = Math.min(total, (System.nanoTime() - start) * rate / 1_000_000_000L + 1);
      while (next[0] < due) {
        JsonObject e = body.copy().put("seq", next[0]).put("sentNs", System.nanoTime());
        nodeA.eventBus().publish(Addresses.FAILURE, e);
        next[0]++;
      }
      if (next[0] >= total) {
        nodeA.cancelTimer(id);
        sent.complete();
      }
    });
    await(sent.future());
    double seconds = (System.nanoTime() - start) / 1e9;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while ((remote.count() < total || local.count() < total) && System.nanoTime() < deadline) {
      Thread.sleep(20); // the main thread waits (bounded) for the consumers to catch up
    }
    System.out.printf(Locale.ROOT, "published %d events (%d warm-up) at %.0f/s%n", total, warmup, total / seconds);
    remote.print("node B (other node)");
    local.print("node A (same node) ");
  }

  /** Publish-to-receive times of one consumer (its event loop only, then read after the run). */
  private static final class Recorder {
    private final long[] micros;
    private final int warmup;
    private volatile int received;

    Recorder(int total, int warmup) {
      this.micros = new long[total];
      this.warmup = warmup;
    }

    void record(JsonObject e) {
      long now = System.nanoTime();
      int seq = e.getInteger("seq");
      micros[seq] = (now - e.getLong("sentNs")) / 1000;
      received++;
    }

    int count() {
      return received;
    }

    void print(String label) {
      long[] m = Arrays.copyOfRange(micros, warmup, micros.length);
      Arrays.sort(m);
      int n = m.length;
      System.out.printf(Locale.ROOT,
        "%s received %d/%d: p50 %d us, p90 %d us, p99 %d us, p99.9 %d us, max %d us%n",
        label, received, micros.length, m[pct(n, 50)], m[pct(n, 90)], m[pct(n, 99)], m[pct(n, 99.9)], m[n - 1]);
    }

    private static int pct(int n, double p) {
      return Math.min(n - 1, (int) Math.ceil(p / 100 * n) - 1);
    }
  }

  private static Vertx start(String xml, String name, int base) throws Exception {
    Config c = new XmlConfigBuilder(xml).build();
    c.setClusterName(name);
    c.getNetworkConfig().setPort(base).setPortCount(10);
    List<String> members = new ArrayList<>();
    for (int p = base; p < base + 10; p++) {
      members.add("127.0.0.1:" + p);
    }
    c.getNetworkConfig().getJoin().getTcpIpConfig().setMembers(members);
    return await(Vertx.builder()
      .with(new VertxOptions().setEventBusOptions(new EventBusOptions().setHost("127.0.0.1").setClusterPublicHost("127.0.0.1")))
      .withClusterManager(new HazelcastClusterManager(c))
      .buildClustered());
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static int freeRange(int n) throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int base = ThreadLocalRandom.current().nextInt(40_000, 60_000);
      boolean free = true;
      for (int p = base; p < base + n && free; p++) {
        try (ServerSocket s = new ServerSocket()) {
          s.bind(new InetSocketAddress("127.0.0.1", p));
        } catch (IOException e) {
          free = false;
        }
      }
      if (free) {
        return base;
      }
    }
    throw new IOException("no " + n + " free ports");
  }
}
