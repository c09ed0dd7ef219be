package dev.tether.tools;

import dev.tether.Tether;
import dev.tether.fault.ChaosOptions;
import dev.tether.metrics.TetherRecorder;
import dev.tether.session.EchoLoad;
import dev.tether.session.SessionClientOptions;
import io.vertx.core.Vertx;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Session-protocol benchmark: echo messages delivered per second through the proxy with no faults
 * ("healthy") and through the proxy resetting every connection every {@code --reset-ms} ("chaos"),
 * alternated over {@code --pairs} pairs, each phase with fresh sessions; prints both rates, the
 * ratio per pair and the median ratio; then the resume latency (connection lost -> first message
 * delivered on the resumed session) p50/p99 over all chaos phases. Exit code 1 when a phase lost,
 * duplicated or reordered anything.
 */
public final class SessionBench {

  static final String USAGE = """
    usage: session-bench [--pairs 3] [--phase-s 6] [--clients 8] [--max-payload 1024] [--reset-ms 100] [--seed 1]
                       [--window 262144]   (each client's maxUnackedBytes)""";

  /** Each client's maxUnackedBytes. */
  private static long window;

  private SessionBench() {
  }

  public static void main(String[] argv) throws Exception {
    Args a;
    try {
      a = new Args(argv, Set.of("pairs", "phase-s", "clients", "max-payload", "reset-ms", "seed", "window"), USAGE);
    } catch (Args.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    int pairs = (int) a.number("pairs", 3);
    long phase = a.number("phase-s", 6);
    int clients = (int) a.number("clients", 8);
    int maxPayload = (int) a.number("max-payload", 1024);
    long reset = a.number("reset-ms", 100);
    long seed = a.number("seed", 1);
    window = a.number("window", 256 * 1024);
    if (pairs < 1 || pairs > 20 || phase < 1 || phase > 60 || clients < 1 || clients > 1000 || maxPayload < 8
      || reset < 1) {
      System.err.println("out of range: pairs 1..20, phase-s 1..60, clients 1..1000, max-payload >= 8, reset-ms >= 1");
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx();
    int code = 0;
    try {
      Tether.install(vertx, "bench", TetherRecorder.NOOP);
      int port = Stress.startServer(vertx);
      System.out.printf("session echo server on 127.0.0.1:%d; %d clients, payload 8..%d B, %d s phases, reset every %d ms%n",
        port, clients, maxPayload, phase, reset);
      runPhase(vertx, port, false, reset, clients, maxPayload, Math.min(phase, 5), seed); // warm-up (JIT), not counted
      runPhase(vertx, port, true, reset, clients, maxPayload, Math.min(phase, 3), seed); // warm-up, not counted
      List<Double> ratios = new ArrayList<>();
      List<Long> latencies = new ArrayList<>();
      List<dev.tether.session.SessionClient.ResumeTiming> timings = new ArrayList<>();
      for (int i = 1; i <= pairs; i++) {
        // alternate the order within pairs so a drift of the machine's load does not favour one side
        Phase healthy;
        Phase chaos;
        if (i % 2 == 1) {
          healthy = runPhase(vertx, port, false, reset, clients, maxPayload, phase, seed + i);
          chaos = runPhase(vertx, port, true, reset, clients, maxPayload, phase, seed + 100 + i);
        } else {
          chaos = runPhase(vertx, port, true, reset, clients, maxPayload, phase, seed + 100 + i);
          healthy = runPhase(vertx, port, false, reset, clients, maxPayload, phase, seed + i);
        }
        double ratio = chaos.rate / healthy.rate;
        ratios.add(ratio);
        latencies.addAll(chaos.result.resumeLatenciesNanos());
        timings.addAll(chaos.timings);
        System.out.printf("pair %d: healthy %.0f msg/s, chaos %.0f msg/s (%d resets, %d resumes), ratio %.2f%n", i,
          healthy.rate, chaos.rate, chaos.resets, chaos.result.resumes(), ratio);
        for (Phase p : List.of(healthy, chaos)) {
          if (!p.result.clean()) {
            System.out.println("  NOT CLEAN: " + p.result);
            code = 1;
          }
        }
      }
      ratios.sort(null);
      double median = ratios.get(ratios.size() / 2);
      if (ratios.size() % 2 == 0) {
        median = (ratios.get(ratios.size() / 2 - 1) + median) / 2;
      }
      System.out.printf("median ratio chaos/healthy: %.2f (target >= 0.5)%n", median);
      latencies.sort(null);
      if (latencies.isEmpty()) {
        System.out.println("resume latency: no resumes measured");
      } else {
        System.out.printf("resume latency (reset seen -> first message delivered after resume), n=%d: p50 %.1f ms, p99 %.1f ms%n",
          latencies.size(), pct(latencies, 50) / 1e6, pct(latencies, 99) / 1e6);
        // where the time went: each component's own percentiles (they need not add up)
        String[] names = {"loss -> last dial (backoff)", "dial -> connected", "connected -> WELCOME", "WELCOME -> first message", "total"};
        for (int k = 0; k < names.length; k++) {
          int kk = k;
          List<Long> c = new ArrayList<>(timings.stream().map(t -> switch (kk) {
            case 0 -> t.backoffNanos();
            case 1 -> t.connectNanos();
            case 2 -> t.welcomeNanos();
            case 3 -> t.firstMessageNanos();
            default -> t.totalNanos();
          }).toList());
          c.sort(null);
          if (!c.isEmpty()) {
            System.out.printf("  %-28s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms%n", names[k], pct(c, 50) / 1e6,
              pct(c, 99) / 1e6, c.get(c.size() - 1) / 1e6);
          }
        }
        List<Long> d = new ArrayList<>(timings.stream().map(t -> (long) t.dials()).toList());
        d.sort(null);
        if (!d.isEmpty()) {
          System.out.printf("  dials per resume: p50 %d, p99 %d, max %d%n", pct(d, 50), pct(d, 99), d.get(d.size() - 1));
        }
      }
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    System.exit(code);
  }

  private record Phase(double rate, long resets, EchoLoad.Result result,
                       List<dev.tether.session.SessionClient.ResumeTiming> timings) {
  }

  private static Phase runPhase(Vertx vertx, int port, boolean chaos, long resetMs, int clients, int maxPayload,
                                long seconds, long seed) throws Exception {
    ChaosOptions o = new ChaosOptions().setTargetPort(port).setSeed(seed).setDurationMs((seconds + 120) * 1000);
    if (chaos) {
      o.setResetMs(resetMs, resetMs);
    }
    dev.tether.fault.ChaosProxy proxy = Stress.get(dev.tether.fault.ChaosProxy.start(vertx, o));
    EchoLoad load = new EchoLoad(vertx, new SessionClientOptions().setPort(proxy.port()).setInitialBackoffMs(1)
      .setMaxBackoffMs(50).setPingIntervalMs(200).setIdleTimeoutMs(2_000).setMaxUnackedBytes(window),
      clients, maxPayload, seed);
    Stress.get(load.start());
    long d0 = load.delivered();
    long t0 = System.nanoTime();
    Thread.sleep(seconds * 1000);
    long d1 = load.delivered();
    long t1 = System.nanoTime();
    long resets = proxy.resets();
    proxy.chaos(false);
    EchoLoad.Result r = Stress.get(load.finish(60_000), 90);
    Stress.get(proxy.close());
    return new Phase((d1 - d0) / ((t1 - t0) / 1e9), resets, r, load.resumeTimings());
  }

  private static long pct(List<Long> sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }
}
