package dev.tether.tools;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.fault.ChaosOptions;
import dev.tether.metrics.TetherRecorder;
import dev.tether.session.EchoLoad;
import dev.tether.session.SessionClientOptions;
import dev.tether.verticles.RecoveryVerticle;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The session stress tool: N session clients through a chaos proxy for T seconds against a session
 * echo server (started in-process unless {@code --server-port} names a running one), then a
 * verdict. Exit code 0 when nothing was lost, duplicated, reordered or corrupted and no session
 * failed; 1 otherwise; 2 on a usage error.
 */
public final class Stress {

  static final String USAGE = """
    usage: stress [--clients 10] [--seconds 20] [--seed 1] [--max-payload 65536] [--server-port 0]
                  [--reset-ms 30-150] [--cut 0.3:1-262144] [--stall 0.05:50-300] [--drain-s 60] [--trust PEM]
      --server-port P   use a running session server on 127.0.0.1:P (0 = start one in-process)
      --trust PEM       the server speaks TLS (servers.<name>.tls): trust this certificate (with --server-port)
      --seconds T       send for T seconds (1..3600), then stop the chaos and wait up to --drain-s
                        for every message to come back""";

  private Stress() {
  }

  public static void main(String[] argv) throws Exception {
    Args a;
    int clients;
    long seconds;
    long drain;
    int maxPayload;
    ChaosOptions chaos;
    int serverPort;
    try {
      a = new Args(argv, Set.of("clients", "seconds", "seed", "max-payload", "server-port", "reset-ms", "cut", "stall",
        "drain-s", "trust"), USAGE);
      clients = (int) a.number("clients", 10);
      seconds = a.number("seconds", 20);
      drain = a.number("drain-s", 60);
      maxPayload = (int) a.number("max-payload", 65536);
      serverPort = (int) a.number("server-port", 0);
      if (clients < 1 || clients > 10_000 || seconds < 1 || seconds > 3600 || drain < 1 || drain > 600
        || maxPayload < 8 || maxPayload > 1_000_000) {
        throw new Args.UsageException("out of range: clients 1..10000, seconds 1..3600, drain-s 1..600, max-payload 8..1000000\n" + USAGE);
      }
      if (a.string("trust", null) != null && serverPort == 0) {
        throw new Args.UsageException("--trust needs --server-port (the in-process server is plaintext)\n" + USAGE);
      }
      long[] reset = a.range("reset-ms", "30-150");
      double[] cut = a.chance("cut", "0.3:1-262144");
      double[] stall = a.chance("stall", "0.05:50-300");
      chaos = new ChaosOptions().setSeed(a.number("seed", 1)).setResetMs(reset[0], reset[1])
        .setCut(cut[0], (long) cut[1], (long) cut[2]).setStall(stall[0], (long) stall[1], (long) stall[2])
        .setDurationMs((seconds + drain + 30) * 1000);
    } catch (Args.UsageException | IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    long seed = a.number("seed", 1);
    Vertx vertx = Vertx.vertx();
    int code;
    try {
      Tether.install(vertx, "stress", TetherRecorder.NOOP);
      Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
      vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE,
        m -> failures.computeIfAbsent(m.body().getString("kind"), k -> new AtomicLong()).incrementAndGet());
      if (serverPort == 0) {
        serverPort = startServer(vertx);
        System.out.printf("session echo server (in-process) on 127.0.0.1:%d%n", serverPort);
      }
      chaos.setTargetPort(serverPort);
      dev.tether.fault.ChaosProxy proxy = get(dev.tether.fault.ChaosProxy.start(vertx, chaos));
      System.out.printf("chaos proxy on 127.0.0.1:%d: reset %d-%d ms, cut %.2f, stall %.2f, seed %d%n", proxy.port(),
        chaos.resetMinMs(), chaos.resetMaxMs(), chaos.cutProbability(), chaos.stallProbability(), seed);
      SessionClientOptions options = new SessionClientOptions().setPort(proxy.port()).setInitialBackoffMs(5)
        .setMaxBackoffMs(200).setPingIntervalMs(200).setIdleTimeoutMs(2_000).setMaxUnackedBytes(256 * 1024)
        .setReconnectTimeoutMs(30_000);
      String trust = a.string("trust", null);
      if (trust != null) {
        // TLS end to end through the proxy (it relays bytes): trust the server's certificate
        options.setSslOptions(new io.vertx.core.net.ClientSSLOptions()
          .setTrustOptions(new io.vertx.core.net.PemTrustOptions().addCertPath(trust)));
        System.out.printf("TLS to the server, trusting %s%n", trust);
      }
      EchoLoad load = new EchoLoad(vertx, options, clients, maxPayload, seed);
      get(load.start());
      long start = System.nanoTime();
      long end = start + seconds * 1_000_000_000L;
      while (System.nanoTime() < end) {
        Thread.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
        EchoLoad.Result r = load.result();
        System.out.printf("t=%.0fs sent=%d received=%d resumes=%d proxy resets=%d failedSessions=%d%n",
          (System.nanoTime() - start) / 1e9, r.sent(), r.received(), r.resumes(), proxy.resets(), r.failedSessions());
      }
      proxy.chaos(false);
      System.out.printf("stopping; chaos off; waiting up to %d s for every message to come back%n", drain);
      EchoLoad.Result r = get(load.finish(drain * 1000), drain + 30);
      System.out.println("--- verdict ---");
      System.out.printf("sent         %d%n", r.sent());
      System.out.printf("received     %d%n", r.received());
      System.out.printf("lost         %d%n", r.lost());
      System.out.printf("duplicated   %d%n", r.duplicated());
      System.out.printf("out of order %d%n", r.outOfOrder());
      System.out.printf("corrupted    %d%n", r.corrupted());
      System.out.printf("failed sessions %d%n", r.failedSessions());
      System.out.printf("resumes      %d (proxy: %s)%n", r.resumes(), proxy.stats());
      System.out.printf("throughput   %.0f msg/s, %.1f MiB/s echoed over %.1f s%n", r.messagesPerSecond(),
        r.payloadBytes() / r.seconds() / (1 << 20), r.seconds());
      System.out.printf("server failure events %s%n", new TreeMap<>(failures));
      code = r.clean() ? 0 : 1;
      System.out.println(code == 0 ? "PASS: nothing lost, duplicated or reordered" : "FAIL");
      proxy.close();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    System.exit(code);
  }

  /** Deploys the node's recovery verticle and a session echo server on a free port; returns the port. */
  static int startServer(Vertx vertx) throws Exception {
    JsonObject server = new JsonObject().put("verticle", "session").put("protocol", "session").put("port", 0)
      .put("policies", new JsonObject().put("default", "resume").put("PROTOCOL_ERROR", "close"));
    get(vertx.deployVerticle(RecoveryVerticle.class.getName(), new DeploymentOptions()
      .setConfig(new JsonObject().put("servers", new JsonObject().put("session", server)))));
    SessionVerticle v = new SessionVerticle();
    get(vertx.deployVerticle(v, new DeploymentOptions().setConfig(server.copy().put("name", "session"))));
    return v.actualPort();
  }

  static <T> T get(Future<T> f) throws Exception {
    return get(f, 30);
  }

  static <T> T get(Future<T> f, long seconds) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
  }
}
