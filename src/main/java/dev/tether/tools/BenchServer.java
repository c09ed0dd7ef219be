package dev.tether.tools;

import dev.tether.Tether;
import dev.tether.internal.TransportAccess;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.metrics.TetherRecorder;
import dev.tether.verticles.EchoVerticle;
import dev.tether.verticles.PlainEchoVerticle;
import dev.tether.verticles.SessionVerticle;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.transport.Transport;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.micrometer.backends.BackendRegistries;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The server side of {@code scripts/bench.sh}: one echo variant on a loopback port with exactly one
 * event loop (Vert.x with one event loop, or a raw Netty server with a one-thread group), plus a tiny
 * line-based control port that reports the event-loop thread's CPU time and allocated bytes and the
 * process CPU time, so that the load generator can take figures over its measured window only.
 *
 * <pre>
 * java ... [-Dbench.transport=nio|epoll|io_uring] [-Dbench.nettyAllocator=pooled|default]
 *     dev.tether.tools.BenchServer VARIANT [maxSeconds]
 *   VARIANT: plain | tracked | tracked-noop (= tracked) | tracked-metrics | session | netty | tracked-tls,
 *   optionally followed by @nio, @epoll or @io_uring: that transport for this server, whatever
 *   bench.transport says (the transports mode of scripts/bench.sh)
 *   (tracked-tls: the tracked echo over TLS, with the pair dev-cert.pem/dev-key.pem of the
 *   directory -Dbench.tlsDir, default target/bench-tls, as scripts/gen-dev-cert.sh makes it)
 *   (session: the session-protocol echo, SessionVerticle, with the tracked echo's options and
 *   the NOOP recorder, as tracked; netty: {@link NettyEcho}, no Vert.x instance at all)
 *   bench.transport (default nio): the Netty transport of every variant; Vert.x gets it with
 *   VertxBuilder.withTransport, the netty variant takes its IoHandler and server channel from the
 *   same Transport object. A transport that is not available here, or a Vert.x that fell back to
 *   another one, ends the server with exit code 2 and the reason: a run never measures a transport
 *   other than the one it names.
 *   bench.nettyAllocator (default pooled): the read allocator of the netty variant,
 *   PooledByteBufAllocator.DEFAULT, or ByteBufAllocator.DEFAULT (what Vert.x's servers read with:
 *   Netty 4.2's adaptive allocator)
 * prints: READY &lt;echoPort&gt; &lt;controlPort&gt; &lt;eventLoopThreadId&gt; &lt;variant&gt; transport=&lt;name&gt; [nettyAlloc=..]
 * control commands (one per line, answer one line): snap | quit
 * snap answer: SNAP elCpuNs=.. elAllocBytes=.. procCpuNs=.. wallNs=.. gcCount=.. gcMs=..
 * </pre>
 *
 * The process exits on {@code quit}, on end of stdin being irrelevant, and after {@code maxSeconds}
 * (default 300) whatever happens, so a forgotten server cannot outlive its run.
 */
public final class BenchServer {

  private BenchServer() {
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: BenchServer plain|tracked|tracked-noop|tracked-metrics|session|netty|tracked-tls [maxSeconds]");
      System.exit(2);
    }
    String variant = args[0];
    String transportName = System.getProperty("bench.transport", "nio");
    int at = variant.indexOf('@');
    if (at > 0) {
      // VARIANT@TRANSPORT (scripts/bench.sh transports): the transport of this trial only
      transportName = variant.substring(at + 1);
      variant = variant.substring(0, at);
    }
    long maxSeconds = args.length > 1 ? Long.parseLong(args[1]) : 300;
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(TimeUnit.SECONDS.toMillis(maxSeconds));
      } catch (InterruptedException e) {
        return;
      }
      System.err.println("BenchServer: " + maxSeconds + " s limit reached, exiting");
      Runtime.getRuntime().halt(3);
    }, "bench-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    Transport transport;
    try {
      transport = TransportAccess.byName(transportName);
    } catch (IllegalArgumentException e) {
      System.err.println("BenchServer: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (!transport.available()) {
      System.err.println("BenchServer: transport " + transportName + " is not available here: "
        + transport.unavailabilityCause());
      if (transport.unavailabilityCause() != null) {
        transport.unavailabilityCause().printStackTrace();
      }
      System.exit(2);
      return;
    }

    Vertx vertx = null;
    NettyEcho netty = null;
    int port;
    Thread loop;
    String ready;
    if (variant.equals("netty")) {
      String alloc = System.getProperty("bench.nettyAllocator", "pooled");
      ByteBufAllocator allocator = switch (alloc) {
        case "pooled" -> PooledByteBufAllocator.DEFAULT;
        case "default" -> ByteBufAllocator.DEFAULT;
        default -> {
          System.err.println("BenchServer: bench.nettyAllocator is pooled or default, got " + alloc);
          System.exit(2);
          yield null;
        }
      };
      netty = NettyEcho.start(transport, allocator, "127.0.0.1", 0);
      port = netty.port();
      loop = netty.eventLoopThread();
      System.err.println("BenchServer: raw Netty echo, transport " + transport.name() + ", server channel "
        + netty.serverChannelClass() + ", read allocator " + allocator.getClass().getName() + ", event loop "
        + loop.getName() + ", options " + netty.options());
      ready = " transport=" + transport.name() + " nettyAlloc=" + alloc;
    } else {
      VertxOptions vo = new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2)
        .setInternalBlockingPoolSize(2);
      boolean metrics = variant.equals("tracked-metrics");
      if (metrics) {
        vo.setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
          .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true)));
      }
      // Vertx.vertx(vo) is Vertx.builder().with(vo).build(): the same, with the transport named
      vertx = Vertx.builder().with(vo).withTransport(transport).build();
      String running = TransportAccess.name(vertx);
      System.err.println("BenchServer: Vert.x transport " + running + ", isNativeTransportEnabled="
        + vertx.isNativeTransportEnabled());
      if (!running.equals(transport.name())) {
        System.err.println("BenchServer: asked for transport " + transport.name() + ", Vert.x runs " + running
          + ": " + vertx.unavailableNativeTransportCause());
        System.exit(2);
        return;
      }
      port = deploy(vertx, variant, metrics);
      // with one event loop every event-loop context runs on the same thread: find it
      CompletableFuture<Thread> el = new CompletableFuture<>();
      vertx.getOrCreateContext().runOnContext(v -> el.complete(Thread.currentThread()));
      loop = await(el);
      ready = " transport=" + running;
    }

    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    threads.setThreadAllocatedMemoryEnabled(true);
    threads.setThreadCpuTimeEnabled(true);
    com.sun.management.OperatingSystemMXBean os =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    try (ServerSocket control = new ServerSocket()) {
      control.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      System.out.println("READY " + port + " " + control.getLocalPort() + " " + loop.getId() + " " + variant + ready);
      System.out.flush();
      control.setSoTimeout((int) TimeUnit.SECONDS.toMillis(maxSeconds));
      boolean quit = false;
      for (int conns = 0; !quit && conns < 100; conns++) {
        try (Socket s = control.accept()) {
          s.setSoTimeout((int) TimeUnit.SECONDS.toMillis(maxSeconds));
          BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
          Writer out = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.US_ASCII);
          String line;
          for (int cmds = 0; cmds < 1000 && (line = in.readLine()) != null; cmds++) {
            if (line.equals("snap")) {
              long gcCount = 0;
              long gcMs = 0;
              for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                gcCount += Math.max(0, gc.getCollectionCount());
                gcMs += Math.max(0, gc.getCollectionTime());
              }
              out.write("SNAP elCpuNs=" + threads.getThreadCpuTime(loop.getId())
                + " elAllocBytes=" + threads.getThreadAllocatedBytes(loop.getId())
                + " procCpuNs=" + os.getProcessCpuTime()
                + " wallNs=" + System.nanoTime()
                + " gcCount=" + gcCount + " gcMs=" + gcMs + "\n");
              out.flush();
            } else if (line.equals("quit")) {
              out.write("BYE\n");
              out.flush();
              quit = true;
              break;
            } else {
              out.write("ERR unknown command\n");
              out.flush();
            }
          }
        } catch (IOException e) {
          System.err.println("BenchServer: control connection: " + e);
          if (e instanceof java.net.SocketTimeoutException) {
            break;
          }
        }
      }
    }
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    if (netty != null) {
      netty.close();
    }
    System.exit(0);
  }

  /** Deploys the Vert.x variant {@code variant} on 127.0.0.1, any free port; returns the port. */
  private static int deploy(Vertx vertx, String variant, boolean metrics) throws Exception {
    MeterRegistry registry = null;
    if (metrics) {
      // as MainVerticle does: Tether's meters go to the registry Vert.x's own metrics use
      registry = BackendRegistries.getDefaultNow();
      if (registry == null) {
        System.err.println("BenchServer: Vert.x metrics are not on (no VertxServiceProvider?), using a registry of our own");
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      }
      System.err.println("BenchServer: metrics on, registry " + registry.getClass().getSimpleName());
    }
    JsonObject conf = new JsonObject().put("host", "127.0.0.1").put("port", 0);
    String extra = System.getProperty("bench.echoConf");
    if (extra != null && !extra.isBlank() && !variant.equals("plain")) {
      // e.g. -Dbench.echoConf='{"highWaterMark":1048576}': tracking options of the tracked echo
      conf.mergeIn(new JsonObject(extra));
    }
    switch (variant) {
      case "plain" -> {
        PlainEchoVerticle v = new PlainEchoVerticle();
        await(vertx.deployVerticle(v, new DeploymentOptions().setConfig(conf)).toCompletionStage().toCompletableFuture());
        return v.actualPort();
      }
      case "tracked", "tracked-noop", "tracked-metrics", "tracked-tls" -> {
        TetherRecorder recorder = registry == null ? TetherRecorder.NOOP : new MicrometerRecorder(registry);
        Tether.install(vertx, "bench", recorder);
        EchoVerticle v = new EchoVerticle();
        JsonObject echo = conf.copy().put("name", "echo");
        if (variant.equals("tracked-tls")) {
          String dir = System.getProperty("bench.tlsDir", "target/bench-tls");
          echo.put("tls", new JsonObject().put("certPath", dir + "/dev-cert.pem").put("keyPath", dir + "/dev-key.pem"));
        }
        await(vertx.deployVerticle(v, new DeploymentOptions().setConfig(echo)).toCompletionStage().toCompletableFuture());
        return v.actualPort();
      }
      case "session" -> {
        // same metrics setting as tracked: Tether installed with the NOOP recorder
        Tether.install(vertx, "bench", TetherRecorder.NOOP);
        SessionVerticle v = new SessionVerticle();
        await(vertx.deployVerticle(v, new DeploymentOptions().setConfig(conf.copy().put("name", "session")))
          .toCompletionStage().toCompletableFuture());
        return v.actualPort();
      }
      default -> {
        System.err.println("unknown variant " + variant);
        System.exit(2);
        return -1;
      }
    }
  }

  private static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(30, TimeUnit.SECONDS);
  }
}
