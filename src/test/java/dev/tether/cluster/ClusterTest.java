package dev.tether.cluster;

import com.hazelcast.map.IMap;
import dev.tether.event.Addresses;
import dev.tether.event.FailureEvent;
import dev.tether.session.SessionClient;
import dev.tether.session.SessionClientOptions;
import dev.tether.verticles.ClusterVerticle;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static dev.tether.cluster.ClusterNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three clustered nodes in one JVM, each its own Hazelcast member on 127.0.0.1 (a private cluster:
 * {@link TestCluster}), deployed like MainVerticle deploys a node. One view (every {@code /health}
 * names the same members), every node's events everywhere (subscribers, {@code /events}, bridges),
 * a crash reported by exactly one NODE_LOST, a restart under the same name that rejoins without a
 * second one, and a clean stop reported as a graceful leave. The steps build on each other.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  /** How long an exact count must hold after it was reached (bounded: nothing more may arrive). */
  private static final Duration HOLDS = Duration.ofMillis(1500);

  private TestCluster cluster;
  private ClusterNode n1;
  private ClusterNode n2;
  private ClusterNode n3;

  @BeforeAll
  void startThreeNodes() throws Exception {
    cluster = new TestCluster();
    n1 = new ClusterNode(cluster, "node-1"); // the oldest member
    n2 = new ClusterNode(cluster, "node-2");
    n3 = new ClusterNode(cluster, "node-3");
  }

  @AfterAll
  void stop() {
    for (ClusterNode n : new ClusterNode[] {n3, n2, n1}) {
      if (n != null) {
        n.closeQuietly();
      }
    }
  }

  private List<ClusterNode> nodes() {
    return List.of(n1, n2, n3);
  }

  @Test
  @Order(1)
  void everyNodeShowsTheThreeMembersByNameOldestFirst() throws Exception {
    for (ClusterNode n : nodes()) {
      await().atMost(WAIT).untilAsserted(() -> assertThat(n.members()).containsExactly("node-1", "node-2", "node-3"));
      JsonObject health = n.getJson("/health");
      assertThat(health.getString("status")).isEqualTo("UP");
      assertThat(health.getString("node")).isEqualTo(n.name);
      assertThat(health.getJsonObject("cluster").getBoolean("enabled")).isTrue();
      assertThat(health.getJsonObject("cluster").getInteger("size")).isEqualTo(3);
    }
    // the registry: one entry per member, keyed by its Hazelcast UUID
    IMap<String, String> registry = n2.hazelcast().getMap(ClusterVerticle.REGISTRY);
    assertThat(registry.keySet()).containsExactlyInAnyOrder(uuid(n1), uuid(n2), uuid(n3));
    assertThat(new JsonObject(registry.get(uuid(n3))).getString("node")).isEqualTo("node-3");
  }

  @Test
  @Order(2)
  void eachNodesEventsReachTheSubscribersEventsAndBridgesOfEveryNode() throws Exception {
    List<BridgeClient> bridges = new ArrayList<>();
    try {
      for (ClusterNode n : nodes()) {
        bridges.add(new BridgeClient(n.bridgePort, Addresses.FAILURE, Addresses.RECOVERY));
      }
      // per node: the test's consumer, the monitor's and the bridge client's, known cluster-wide
      for (String address : List.of(Addresses.FAILURE, Addresses.RECOVERY)) {
        await().atMost(WAIT).until(() -> n1.registrations(address) == 9);
      }
      // an impostor on node-2 for node-1's recovery address: decisions are node-local, it hears nothing
      java.util.concurrent.atomic.AtomicInteger hijacked = new java.util.concurrent.atomic.AtomicInteger();
      await(n2.vertx.eventBus().<JsonObject>consumer(Addresses.recover("node-1"), m -> {
        hijacked.incrementAndGet();
        m.fail(500, "not yours");
      }).completion());
      await().atMost(WAIT).until(() -> n1.registrations(Addresses.recover("node-1")) == 1);
      n1.provokeFailures(3);
      n2.provokeFailures(2);
      n3.provokeFailures(1);
      Map<String, Long> expected = Map.of("node-1", 3L, "node-2", 2L, "node-3", 1L);

      for (ClusterNode n : nodes()) {
        await().atMost(WAIT).until(() -> n.failures.size() >= 6 && n.recoveries.size() >= 6);
      }
      await().during(HOLDS).atMost(HOLDS.plus(WAIT))
        .until(() -> nodes().stream().allMatch(n -> n.failures.size() == 6 && n.recoveries.size() == 6));
      assertThat(hijacked.get()).as("requests to node-1's recovery verticle that reached node-2").isZero();
      for (ClusterNode n : nodes()) {
        assertThat(byNode(n.failures)).as("failures reaching %s's subscriber", n.name).isEqualTo(expected);
        assertThat(byNode(n.recoveries)).as("recoveries reaching %s's subscriber", n.name).isEqualTo(expected);
        assertThat(n.failures).allSatisfy(e -> assertThat(e.getString("kind")).isEqualTo("WRITE_FAILED"));
        Set<String> ids = n.failures.stream().map(e -> e.getString("id")).collect(Collectors.toSet());
        assertThat(ids).hasSize(6);
        assertThat(n.recoveries).allSatisfy(r -> assertThat(ids).contains(r.getString("failure")));

        JsonObject counts = n.getJson("/events").getJsonObject("counts");
        assertThat(counts.getLong("failures")).as("/events on %s", n.name).isEqualTo(6);
        assertThat(counts.getLong("recoveries")).isEqualTo(6);
        assertThat(counts.getJsonObject("byNode")).isEqualTo(new JsonObject()
          .put("node-1", new JsonObject().put("WRITE_FAILED", 3))
          .put("node-2", new JsonObject().put("WRITE_FAILED", 2))
          .put("node-3", new JsonObject().put("WRITE_FAILED", 1)));
        assertThat(n.getJson("/events?node=node-1&type=failure").getJsonArray("events")).hasSize(3);
      }
      for (int i = 0; i < bridges.size(); i++) {
        List<JsonObject> frames = bridges.get(i).messages(12);
        List<JsonObject> failures = frames.stream().filter(f -> Addresses.FAILURE.equals(f.getString("address")))
          .map(f -> f.getJsonObject("body")).toList();
        List<JsonObject> recoveries = frames.stream().filter(f -> Addresses.RECOVERY.equals(f.getString("address")))
          .map(f -> f.getJsonObject("body")).toList();
        assertThat(byNode(failures)).as("failures through node-%d's bridge", i + 1).isEqualTo(expected);
        assertThat(byNode(recoveries)).as("recoveries through node-%d's bridge", i + 1).isEqualTo(expected);
        assertThat(bridges.get(i).sync()).as("nothing more through node-%d's bridge", i + 1).isEmpty();
      }
      // the per-node panel: three live nodes with their own counts
      JsonArray panel = n2.getJson("/nodes").getJsonArray("nodes");
      assertThat(panel.stream().map(o -> ((JsonObject) o).getString("node")).toList())
        .containsExactly("node-1", "node-2", "node-3");
      for (Object o : panel) {
        JsonObject row = (JsonObject) o;
        assertThat(row.getString("status")).isEqualTo("live");
        assertThat(row.getLong("failures")).isEqualTo(expected.get(row.getString("node")));
        assertThat(row.getBoolean("self")).isEqualTo(row.getString("node").equals("node-2"));
      }
    } finally {
      for (BridgeClient b : bridges) {
        b.close();
      }
    }
  }

  @Test
  @Order(3)
  void aCrashedMemberIsReportedByExactlyOneNodeLostOnEverySurvivor() throws Exception {
    // two sessions held by node-1, the oldest member: its crash hands the reporting to node-2
    Vertx clients = Vertx.vertx();
    try (BridgeClient bridge2 = new BridgeClient(n2.bridgePort, Addresses.FAILURE);
         BridgeClient bridge3 = new BridgeClient(n3.bridgePort, Addresses.FAILURE)) {
      for (int i = 0; i < 2; i++) {
        SessionClient c = SessionClient.create(clients, new SessionClientOptions().setPort(n1.sessionPort).setSeed(i));
        await(c.connect());
        c.send(Buffer.buffer("hello"));
        await().atMost(WAIT).until(() -> c.acknowledged() == 1);
      }
      await().atMost(WAIT).untilAsserted(() -> assertThat(panelRow(n3, "node-1").getInteger("sessions")).isEqualTo(2));
      String lostMember = uuid(n1);
      // backups in sync first (replication "backup", the default when clustered, keeps the two sessions)
      await().atMost(WAIT).until(() -> List.of(n1, n2, n3).stream()
        .allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));

      n1.crash();

      for (ClusterNode n : List.of(n2, n3)) {
        await().atMost(WAIT).until(() -> n.failuresOfKind("NODE_LOST") >= 1);
      }
      await().during(HOLDS).atMost(HOLDS.plus(WAIT))
        .until(() -> n2.failuresOfKind("NODE_LOST") == 1 && n3.failuresOfKind("NODE_LOST") == 1);
      JsonObject e = nodeLost(n2).get(0);
      assertThat(nodeLost(n3).get(0)).as("one event, delivered to both survivors").isEqualTo(e);
      assertThat(e.getString("node")).isEqualTo("node-1");
      assertThat(e.getString("member")).isEqualTo(lostMember);
      assertThat(e.getString("reportedBy")).as("the oldest survivor reports").isEqualTo("node-2");
      assertThat(e.getInteger("sessionsHeld")).isEqualTo(2);
      assertThat(e.getInteger("sessionsTakenOver")).as("rebuilt from their replicas on node-2").isEqualTo(2);
      assertThat(e.getInteger("sessionsLost")).isZero();
      assertThat(e.getBoolean("graceful")).isFalse();
      assertThat(e.getString("remote")).startsWith("127.0.0.1:");
      assertThat(FailureEvent.fromJson(e).kind().name()).isEqualTo("NODE_LOST");

      for (BridgeClient b : List.of(bridge2, bridge3)) {
        List<JsonObject> lost = new ArrayList<>();
        while (lost.isEmpty()) {
          JsonObject body = b.messages(1).get(0).getJsonObject("body");
          if ("NODE_LOST".equals(body.getString("kind"))) {
            lost.add(body);
          }
        }
        assertThat(lost.get(0).getString("id")).isEqualTo(e.getString("id"));
        assertThat(b.sync().stream().filter(f -> "NODE_LOST".equals(f.getJsonObject("body").getString("kind"))))
          .as("no second NODE_LOST through the bridge").isEmpty();
      }
      for (ClusterNode n : List.of(n2, n3)) {
        await().atMost(WAIT).untilAsserted(() -> assertThat(n.members()).containsExactly("node-2", "node-3"));
        assertThat(n.getJson("/events?kind=NODE_LOST").getJsonArray("events")).hasSize(1);
        JsonObject row = panelRow(n, "node-1");
        assertThat(row.getString("status")).isEqualTo("lost");
        assertThat(row.getJsonObject("lost").getInteger("sessionsTakenOver")).isEqualTo(2);
      }
      IMap<String, String> registry = n2.hazelcast().getMap(ClusterVerticle.REGISTRY);
      assertThat(registry.keySet()).containsExactlyInAnyOrder(uuid(n2), uuid(n3));
    } finally {
      clients.close().toCompletionStage().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  @Order(4)
  void theCrashedNodeRestartsUnderItsNameAndRejoinsWithoutASecondNodeLost() throws Exception {
    n1 = new ClusterNode(cluster, "node-1"); // a new member (new UUID), now the youngest
    for (ClusterNode n : nodes()) {
      await().atMost(WAIT).untilAsserted(() -> assertThat(n.members()).containsExactly("node-2", "node-3", "node-1"));
    }
    IMap<String, String> registry = n2.hazelcast().getMap(ClusterVerticle.REGISTRY);
    assertThat(registry.keySet()).containsExactlyInAnyOrder(uuid(n1), uuid(n2), uuid(n3));
    assertThat(registry.values().stream().map(v -> new JsonObject(v).getString("node")))
      .containsExactlyInAnyOrder("node-1", "node-2", "node-3");
    await().during(HOLDS).atMost(HOLDS.plus(WAIT))
      .until(() -> n2.failuresOfKind("NODE_LOST") == 1 && n3.failuresOfKind("NODE_LOST") == 1
        && n1.failuresOfKind("NODE_LOST") == 0);
    JsonObject row = panelRow(n3, "node-1");
    assertThat(row.getString("status")).isEqualTo("live");
    assertThat(row.getJsonObject("lost")).as("its earlier loss is still shown").isNotNull();
  }

  @Test
  @Order(5)
  void aNodeThatStopsIsReportedOnceAsHavingLeft() throws Exception {
    String member = uuid(n3);
    n3.close();
    for (ClusterNode n : List.of(n1, n2)) {
      await().atMost(WAIT).until(() -> nodeLost(n).stream().anyMatch(e -> "node-3".equals(e.getString("node"))));
    }
    await().during(HOLDS).atMost(HOLDS.plus(WAIT))
      .until(() -> n2.failuresOfKind("NODE_LOST") == 2 && n1.failuresOfKind("NODE_LOST") == 1);
    JsonObject e = nodeLost(n1).get(0);
    assertThat(e.getString("node")).isEqualTo("node-3");
    assertThat(e.getString("member")).isEqualTo(member);
    assertThat(e.getBoolean("graceful")).isTrue();
    assertThat(e.getString("reportedBy")).isEqualTo("node-2");
    for (ClusterNode n : List.of(n1, n2)) {
      await().atMost(WAIT).untilAsserted(() -> assertThat(n.members()).containsExactly("node-2", "node-1"));
    }
  }

  private static String uuid(ClusterNode n) {
    return n.hazelcast().getCluster().getLocalMember().getUuid().toString();
  }

  private static List<JsonObject> nodeLost(ClusterNode n) {
    return n.failures.stream().filter(e -> "NODE_LOST".equals(e.getString("kind"))).toList();
  }

  private static Map<String, Long> byNode(List<JsonObject> events) {
    return events.stream().collect(Collectors.groupingBy(e -> e.getString("node"), TreeMap::new, Collectors.counting()));
  }

  private static JsonObject panelRow(ClusterNode n, String node) throws Exception {
    for (Object o : n.getJson("/nodes").getJsonArray("nodes")) {
      if (node.equals(((JsonObject) o).getString("node"))) {
        return (JsonObject) o;
      }
    }
    throw new AssertionError(node + " not in " + n.name + "'s /nodes");
  }
}
