package dev.tether.tools;

import dev.tether.fault.ChaosOptions;
import io.vertx.core.Vertx;

import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs a {@link dev.tether.fault.ChaosProxy} from the command line, printing its counters every
 * second, for {@code --duration-s} seconds (bounded: at most one hour).
 */
public final class ChaosProxy {

  static final String USAGE = """
    usage: chaos-proxy [--listen-port 7101] [--target-host 127.0.0.1] [--target-port 7001] [--seed 1]
                       [--reset-ms 50-500] [--cut 0.2:1-65536] [--stall 0.05:100-1000] [--duration-s 60]
      --reset-ms MIN-MAX     reset (RST) each connection after a random lifetime; 0 = never
      --cut P:MIN-MAX        with probability P cut a connection after MIN..MAX bytes one way
      --stall P:MIN-MAX      with probability P stop forwarding for MIN..MAX ms
      --duration-s S         stop after S seconds (1..3600)""";

  private ChaosProxy() {
  }

  public static void main(String[] argv) throws Exception {
    ChaosOptions o;
    long duration;
    try {
      Args a = new Args(argv, Set.of("listen-port", "target-host", "target-port", "seed", "reset-ms", "cut", "stall",
        "duration-s"), USAGE);
      long[] reset = a.range("reset-ms", "50-500");
      double[] cut = a.chance("cut", "0.2:1-65536");
      double[] stall = a.chance("stall", "0.05:100-1000");
      duration = a.number("duration-s", 60);
      if (duration < 1 || duration > 3600) {
        throw new Args.UsageException("--duration-s must be within 1..3600");
      }
      o = new ChaosOptions().setPort((int) a.number("listen-port", 7101))
        .setTargetHost(a.string("target-host", "127.0.0.1")).setTargetPort((int) a.number("target-port", 7001))
        .setSeed(a.number("seed", 1)).setResetMs(reset[0], reset[1])
        .setCut(cut[0], (long) cut[1], (long) cut[2]).setStall(stall[0], (long) stall[1], (long) stall[2])
        .setDurationMs(duration * 1000);
    } catch (Args.UsageException | IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx();
    try {
      dev.tether.fault.ChaosProxy proxy = dev.tether.fault.ChaosProxy.start(vertx, o)
        .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      System.out.printf("chaos proxy 127.0.0.1:%d -> %s:%d for %d s (seed %d)%n", proxy.port(), o.targetHost(),
        o.targetPort(), duration, o.seed());
      CountDownLatch done = new CountDownLatch(1);
      long start = System.nanoTime();
      vertx.setPeriodic(1000, t -> {
        long s = (System.nanoTime() - start) / 1_000_000_000L;
        System.out.printf("t=%ds %s%n", s, proxy.stats());
        if (s >= duration) {
          done.countDown();
        }
      });
      done.await(duration + 5, TimeUnit.SECONDS);
      proxy.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
