package dev.tether.cluster;

import com.hazelcast.core.HazelcastInstance;
import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.verticles.BridgeVerticle;
import dev.tether.verticles.ClusterVerticle;
import dev.tether.verticles.EchoVerticle;
import dev.tether.verticles.MonitorVerticle;
import dev.tether.verticles.RecoveryVerticle;
import dev.tether.verticles.SessionVerticle;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One clustered Tether node in the test JVM, deployed the way MainVerticle deploys a node: its own
 * clustered Vert.x (its own Hazelcast member of a {@link TestCluster}, event bus on 127.0.0.1), the
 * cluster, recovery, monitor and bridge verticles, a tracked echo server whose second write of
 * every connection is refused (a WRITE_FAILED, resent: one failure and one recovery per
 * connection) and a session echo server, all on free ports. The test's own subscribers (plain
 * consumers, visible cluster-wide) record what reaches this node on both addresses.
 */
final class ClusterNode implements AutoCloseable {

  final String name;
  final Vertx vertx;
  final HazelcastClusterManager clusterManager;
  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  final List<JsonObject> recoveries = new CopyOnWriteArrayList<>();
  final int httpPort;
  final int bridgePort;
  final int echoPort;
  final int sessionPort;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private boolean closed;
  final SessionVerticle session;
  private final String sessionDeployment;

  ClusterNode(TestCluster cluster, String name) throws Exception {
    this(cluster, name, null);
  }

  /** @param replication the session server's {@code replication} ("backup", "none"), or null for the default */
  ClusterNode(TestCluster cluster, String name, String replication) throws Exception {
    this.name = name;
    clusterManager = new HazelcastClusterManager(cluster.hazelcastConfig());
    vertx = await(Vertx.builder()
      .with(new VertxOptions().setEventBusOptions(new EventBusOptions().setHost("127.0.0.1").setClusterPublicHost("127.0.0.1")))
      .withClusterManager(clusterManager)
      .buildClustered());
    Tether.install(vertx, name, new MicrometerRecorder(registry));
    await(vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body())).completion());
    await(vertx.eventBus().<JsonObject>consumer(Addresses.RECOVERY, m -> recoveries.add(m.body())).completion());

    bridgePort = TestCluster.freePort(); // the bridge cannot tell which port 0 gave it
    JsonObject echo = new JsonObject().put("verticle", "echo").put("port", 0)
      .put("policies", new JsonObject().put("default", "close")
        .put("soft", new JsonObject().put("policy", "resend-remainder").put("initialDelayMs", 5).put("maxDelayMs", 50)))
      .put("faults", new JsonObject().put("enabled", true).put("seed", 1).put("failWrites", new JsonArray().add(2)));
    JsonObject session = new JsonObject().put("verticle", "session").put("protocol", "session").put("port", 0)
      .put("policies", new JsonObject().put("default", "resume").put("PROTOCOL_ERROR", "close"));
    if (replication != null) {
      session.put("replication", replication);
    }
    JsonObject conf = new JsonObject().put("node", name)
      .put("servers", new JsonObject().put("echo", echo).put("session", session))
      .put("http", new JsonObject().put("port", 0))
      .put("monitor", new JsonObject().put("pushIntervalMs", 50))
      .put("bridge", new JsonObject().put("port", bridgePort));

    await(vertx.deployVerticle(ClusterVerticle.class.getName()));
    await(vertx.deployVerticle(RecoveryVerticle.class.getName(), new DeploymentOptions().setConfig(conf.copy())));
    MonitorVerticle monitor = new MonitorVerticle();
    await(vertx.deployVerticle(monitor, new DeploymentOptions().setConfig(conf.copy())));
    httpPort = monitor.actualPort();
    await(vertx.deployVerticle(new BridgeVerticle(), new DeploymentOptions().setConfig(conf.copy())));
    EchoVerticle ev = new EchoVerticle();
    await(vertx.deployVerticle(ev, new DeploymentOptions().setConfig(server(echo, "echo"))));
    echoPort = ev.actualPort();
    SessionVerticle sv = new SessionVerticle();
    sessionDeployment = await(vertx.deployVerticle(sv, new DeploymentOptions().setConfig(server(session, "session"))));
    sessionPort = sv.actualPort();
    this.session = sv;
  }

  private static JsonObject server(JsonObject conf, String name) {
    JsonObject c = conf.copy().put("name", name);
    c.remove("verticle");
    return c;
  }

  HazelcastInstance hazelcast() {
    return clusterManager.getHazelcastInstance();
  }

  /** Provokes {@code n} WRITE_FAILED (each resent: one recovery) on this node's echo server. */
  void provokeFailures(int n) throws IOException {
    for (int i = 0; i < n; i++) {
      try (Socket s = new Socket()) {
        s.setSoTimeout(20_000);
        s.connect(new InetSocketAddress("127.0.0.1", echoPort), 5000);
        exchange(s, 40, 1);
        exchange(s, 60, 2); // write #2 refused by the fault injector, then resent
      }
    }
  }

  private static void exchange(Socket s, int n, int seed) throws IOException {
    byte[] out = new byte[n];
    for (int i = 0; i < n; i++) {
      out[i] = (byte) (seed + i);
    }
    s.getOutputStream().write(out);
    s.getOutputStream().flush();
    byte[] in = new byte[n];
    new DataInputStream(s.getInputStream()).readFully(in);
    if (!Arrays.equals(out, in)) {
      throw new AssertionError("echo differs from what was sent");
    }
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
      .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  JsonObject getJson(String path) throws IOException, InterruptedException {
    return new JsonObject(get(path).body());
  }

  /** /health's cluster.members. */
  List<Object> members() throws IOException, InterruptedException {
    return getJson("/health").getJsonObject("cluster").getJsonArray("members").getList();
  }

  /** Registrations the cluster holds for {@code address}: every node's plain consumers (local ones not counted). */
  int registrations(String address) throws Exception {
    Promise<List<RegistrationInfo>> p = Promise.promise();
    clusterManager.getRegistrations(address, p);
    return (int) await(p.future()).stream().filter(r -> !r.localOnly()).count();
  }

  long failuresOfKind(String kind) {
    return failures.stream().filter(e -> kind.equals(e.getString("kind"))).count();
  }

  /** Simulates a crash: the Hazelcast member stops dead (no goodbye), then the rest of the node goes. */
  void crash() {
    hazelcast().getLifecycleService().terminate();
    closeQuietly();
  }

  /**
   * A crash as abrupt as one JVM allows: the Hazelcast member stops dead (no goodbye, no partition
   * hand-over, no replica write after this), then the session server's sockets close (its sessions
   * die with it: nothing is handed over), then the rest of the node goes.
   */
  void crashWithSessions() {
    hazelcast().getLifecycleService().terminate();
    try {
      vertx.undeploy(sessionDeployment).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // the node is going anyway
    }
    closeQuietly();
  }

  /** Undeploys this node's session server (the node stays in the cluster). */
  void undeploySessionServer() throws Exception {
    await(vertx.undeploy(sessionDeployment));
  }

  void closeQuietly() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // a terminated member's Vert.x may fail to leave a cluster it is no longer in
    }
    registry.close();
  }

  @Override
  public void close() throws Exception {
    if (!closed) {
      closed = true;
      await(vertx.close());
      registry.close();
    }
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }
}
