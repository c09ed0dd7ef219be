package dev.tether.cluster;

import dev.tether.support.ExactlyOnce;
import dev.tether.fault.ChaosOptions;
import dev.tether.fault.ChaosProxy;
import dev.tether.session.EchoLoad;
import dev.tether.session.Frame;
import dev.tether.session.FrameDecoder;
import dev.tether.session.Frames;
import dev.tether.session.SessionClient;
import dev.tether.session.SessionClientOptions;
import dev.tether.session.SessionLostException;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static dev.tether.cluster.ClusterNode.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Sessions across a real Hazelcast cluster (clustered Vert.x instances in this JVM, 127.0.0.1):
 * taken over from a live owner on another node (ERROR 203 to the old connection), moved back and
 * forth between nodes under load, and rebuilt from their replicas after their node crashed, exactly
 * once and in order; without replication a resume of a dead node's session is refused as lost, and
 * NODE_LOST counts both.
 */
class SessionFailoverTest {

  private TestCluster cluster;
  private final List<ClusterNode> nodes = new ArrayList<>();
  private Vertx clients;

  @BeforeEach
  void setUp() throws Exception {
    cluster = new TestCluster();
    clients = Vertx.vertx(); // the clients and the proxy: not a cluster member
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ClusterNode n : nodes) {
      n.closeQuietly();
    }
    await(clients.close());
  }

  private ClusterNode node(String name, String replication) throws Exception {
    ClusterNode n = new ClusterNode(cluster, name, replication);
    nodes.add(n);
    return n;
  }

  /**
   * Waits until Hazelcast says every partition's backup is in sync: before that (migrations after a
   * join) a member's death can lose entries whatever the backup count (docs/cluster.md, "Limits").
   */
  private void awaitSafe() {
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
      .until(() -> nodes.stream().allMatch(n -> n.hazelcast().getPartitionService().isClusterSafe()));
  }

  private long takeovers() {
    return nodes.stream().mapToLong(n -> n.session.server() == null ? 0 : n.session.server().takeovers()).sum();
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aResumeOnAnotherNodeTakesTheSessionOverFromItsLiveOwner() throws Exception {
    ClusterNode a = node("node-a", null);
    ClusterNode b = node("node-b", null);
    assertThat(a.session.server().replicating()).isTrue(); // the default when clustered
    Peer first = Peer.connect(clients, a.sessionPort);
    first.write(Frames.hello(new byte[Frames.ID_BYTES], 0));
    await().atMost(Duration.ofSeconds(20)).until(() -> !first.frames().isEmpty());
    byte[] id = first.frames().get(0).id();
    for (int i = 1; i <= 10; i++) {
      first.write(Frames.data(i, Buffer.buffer("m" + i)));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> first.lastAck() == 10 && first.dataSeqs().size() == 10);

    Peer second = Peer.connect(clients, b.sessionPort);
    second.write(Frames.hello(id, 10));
    await().atMost(Duration.ofSeconds(20)).until(() -> !second.frames().isEmpty());
    Frame w = second.frames().get(0);
    assertThat(w.type()).as("%s", w).isEqualTo(Frames.WELCOME);
    assertThat(w.lastReceived()).isEqualTo(10);
    await().atMost(Duration.ofSeconds(20)).until(first.closed::get);
    Frame last = first.frames().get(first.frames().size() - 1);
    assertThat(last.type()).isEqualTo(Frames.ERROR);
    assertThat(last.errorCode()).isEqualTo(Frames.E_SUPERSEDED);
    assertThat(b.session.server().takeovers()).isEqualTo(1);
    assertThat(a.session.server().sessionCount()).isZero();
    assertThat(b.session.server().sessionCount()).isEqualTo(1);

    for (int i = 11; i <= 20; i++) {
      second.write(Frames.data(i, Buffer.buffer("m" + i)));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> second.lastAck() == 20 && second.dataSeqs().size() == 10);
    List<Frame> data = second.frames().stream().filter(f -> f.type() == Frames.DATA).toList();
    for (int i = 0; i < 10; i++) {
      assertThat(data.get(i).number()).isEqualTo(11 + i);
      assertThat(data.get(i).payload().toString()).isEqualTo("m" + (11 + i));
    }
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void outputCommitNothingReachesTheClientBeforeItIsOnTheReplica() throws Exception {
    ClusterNode a = node("node-a", "backup");
    ClusterNode b = node("node-b", "backup");
    Peer peer = Peer.connect(clients, a.sessionPort);
    peer.write(Frames.hello(new byte[Frames.ID_BYTES], 0));
    await().atMost(Duration.ofSeconds(20)).until(() -> !peer.frames().isEmpty());
    String id = Frames.hex(peer.frames().get(0).id());
    com.hazelcast.map.IMap<String, byte[]> replicas = b.hazelcast().getMap("tether.session.session.state");
    // the WELCOME of a new session comes after its replica exists
    assertThat(replicas.get(id)).isNotNull();
    for (int i = 1; i <= 40; i++) {
      peer.write(Frames.data(i, Buffer.buffer("x" + i)));
      int seq = i;
      // an echo and an ACK arrive only once the replica (read here from the other member) has them
      await().atMost(Duration.ofSeconds(20)).until(() -> peer.lastAck() >= seq && peer.dataSeqs().contains((long) seq));
      dev.tether.session.SessionState st = dev.tether.session.SessionState.fromBuffer(Buffer.buffer(replicas.get(id)));
      assertThat(st.lastReceived()).as("replica's last received when ACK %d arrived", seq).isGreaterThanOrEqualTo(seq);
      assertThat(st.lastSent()).as("replica's last sent when DATA %d arrived", seq).isGreaterThanOrEqualTo(seq);
    }
    // the echoes are retained (not acknowledged by this peer): all 40 are on the replica, in order
    dev.tether.session.SessionState st = dev.tether.session.SessionState.fromBuffer(Buffer.buffer(replicas.get(id)));
    assertThat(st.retained().size()).isEqualTo(40);
    assertThat(st.retained().firstSeq()).isEqualTo(1);
    // an ACK's release is written with the next change (not on its own): after DATA 41, only its echo is retained
    peer.write(Frames.ack(40));
    peer.write(Frames.data(41, Buffer.buffer("x41")));
    await().atMost(Duration.ofSeconds(20)).until(() -> peer.dataSeqs().contains(41L));
    st = dev.tether.session.SessionState.fromBuffer(Buffer.buffer(replicas.get(id)));
    assertThat(st.retained().size()).isEqualTo(1);
    assertThat(st.retained().firstSeq()).isEqualTo(41);
    assertThat(a.session.server().sessionCount()).isEqualTo(1);
  }

  /**
   * A graceful stop (rolling restart) loses nothing: the stopping server tells its clients ERROR 206,
   * they resume on the next node, which takes each session over from the still-alive owner; no
   * SESSION_EXPIRED anywhere, every message exactly once, in order.
   */
  @Test
  @Timeout(value = 150, unit = TimeUnit.SECONDS)
  void aGracefulStopHandsEverySessionToTheNodeItsClientResumesOn() throws Exception {
    ClusterNode a = node("node-a", null);
    ClusterNode b = node("node-b", null);
    awaitSafe();
    SessionClientOptions options = new SessionClientOptions().setPort(a.sessionPort)
      .addServer("127.0.0.1", b.sessionPort).setInitialBackoffMs(5).setMaxBackoffMs(50).setPingIntervalMs(200)
      .setIdleTimeoutMs(3_000);
    EchoLoad load = new EchoLoad(clients, options, 4, 2048, 23);
    await(load.start());
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> load.delivered() >= 1_000);
    assertThat(a.session.server().sessionCount()).isEqualTo(4);
    long before = takeovers();

    await(a.session.server().close());

    assertThat(a.session.server().sessionCount()).as("sessions left on the stopped server").isZero();
    // the last hand-offs were answered; node-b adopts them as their replies arrive
    await().atMost(Duration.ofSeconds(10)).until(() -> b.session.server().sessionCount() == 4);
    assertThat(takeovers() - before).isGreaterThanOrEqualTo(4);
    long delivered = load.delivered();
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50))
      .until(() -> load.delivered() >= delivered + 1_000);
    EchoLoad.Result r = await(load.finish(30_000));
    ExactlyOnce.assertExactlyOnce(r);
    assertThat(a.failuresOfKind("SESSION_EXPIRED") + b.failuresOfKind("SESSION_EXPIRED")).isZero();
  }

  @Test
  @Timeout(value = 150, unit = TimeUnit.SECONDS)
  void underLoadSessionsMoveBetweenNodesExactlyOnceInOrder() throws Exception {
    ClusterNode a = node("node-a", null);
    ClusterNode b = node("node-b", null);
    ChaosProxy proxy = await(ChaosProxy.start(clients, new ChaosOptions().setTargetPort(a.sessionPort).setSeed(5)));
    // every 150 ms the proxy points at the other node and resets every connection: each resume moves the sessions
    AtomicBoolean toB = new AtomicBoolean();
    long timer = clients.setPeriodic(150, t -> {
      proxy.target(toB.get() ? a.sessionPort : b.sessionPort);
      toB.set(!toB.get());
      proxy.resetAll();
    });
    SessionClientOptions options = new SessionClientOptions().setPort(proxy.port()).setInitialBackoffMs(5)
      .setMaxBackoffMs(50).setPingIntervalMs(200).setIdleTimeoutMs(3_000);
    EchoLoad load = new EchoLoad(clients, options, 4, 2048, 21);
    await(load.start());
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100))
      .until(() -> takeovers() >= 20 && load.delivered() >= 3_000);
    clients.cancelTimer(timer);
    EchoLoad.Result r = await(load.finish(30_000));
    ExactlyOnce.assertExactlyOnce(r);
    assertThat(a.failuresOfKind("SESSION_EXPIRED") + b.failuresOfKind("SESSION_EXPIRED")).isZero();
    await(proxy.close());
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void whenTheOwnerCrashesMidStreamTheClientsResumeOnSurvivorsExactlyOnceInOrder() throws Exception {
    ClusterNode a = node("node-a", "backup");
    ClusterNode b = node("node-b", "backup");
    ClusterNode c = node("node-c", "backup");
    awaitSafe();
    ChaosProxy proxy = await(ChaosProxy.start(clients, new ChaosOptions().setTargetPort(a.sessionPort).setSeed(9)));
    SessionClientOptions options = new SessionClientOptions().setPort(proxy.port())
      .addServer("127.0.0.1", b.sessionPort).addServer("127.0.0.1", c.sessionPort)
      .setInitialBackoffMs(5).setMaxBackoffMs(100).setPingIntervalMs(200).setIdleTimeoutMs(3_000)
      .setReconnectTimeoutMs(60_000);
    EchoLoad load = new EchoLoad(clients, options, 4, 1024, 33);
    await(load.start());
    await().atMost(Duration.ofSeconds(60)).until(() -> load.delivered() >= 2_000);
    assertThat(a.session.server().sessionCount()).isEqualTo(4);

    long before = load.delivered();
    crash(a, proxy);
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
      .until(() -> load.delivered() >= before + 4_000);
    EchoLoad.Result r = await(load.finish(30_000));

    ExactlyOnce.assertExactlyOnce(r);
    assertThat(r.sent()).isGreaterThanOrEqualTo(6_000);
    // exactly one NODE_LOST, seen on both survivors, with every session taken over
    for (ClusterNode n : List.of(b, c)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> n.failuresOfKind("NODE_LOST") == 1);
    }
    JsonObject lost = b.failures.stream().filter(e -> "NODE_LOST".equals(e.getString("kind"))).findFirst().orElseThrow();
    assertThat(lost.getString("node")).isEqualTo("node-a");
    assertThat(lost.getInteger("sessionsHeld")).isEqualTo(4);
    assertThat(lost.getInteger("sessionsTakenOver")).isEqualTo(4);
    assertThat(lost.getInteger("sessionsLost")).isZero();
    assertThat(b.session.server().takeovers() + c.session.server().takeovers()).isGreaterThanOrEqualTo(4);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void whenTheNodeLostReporterRunsNoSessionServerTheResumeTakesTheSessionFromItsReplica() throws Exception {
    ClusterNode a = node("node-a", "backup");
    ClusterNode b = node("node-b", "backup"); // the oldest survivor: it reports NODE_LOST but cannot take sessions over
    ClusterNode c = node("node-c", "backup");
    b.undeploySessionServer();
    awaitSafe();
    ChaosProxy proxy = await(ChaosProxy.start(clients, new ChaosOptions().setTargetPort(a.sessionPort).setSeed(4)));
    SessionClientOptions options = new SessionClientOptions().setPort(proxy.port())
      .addServer("127.0.0.1", c.sessionPort)
      .setInitialBackoffMs(5).setMaxBackoffMs(100).setPingIntervalMs(200).setIdleTimeoutMs(3_000)
      .setReconnectTimeoutMs(60_000);
    EchoLoad load = new EchoLoad(clients, options, 2, 1024, 44);
    await(load.start());
    await().atMost(Duration.ofSeconds(60)).until(() -> load.delivered() >= 1_000);
    long before = load.delivered();
    crash(a, proxy);
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
      .until(() -> load.delivered() >= before + 2_000);
    EchoLoad.Result r = await(load.finish(30_000));
    assertThat(r.failedSessions()).as("%s", r).isZero();
    assertThat(r.lost()).as("%s", r).isZero();
    assertThat(r.duplicated()).as("%s", r).isZero();
    assertThat(r.outOfOrder()).as("%s", r).isZero();
    assertThat(r.received()).isEqualTo(r.sent());
    assertThat(c.session.server().takeovers()).isEqualTo(2);
    await().atMost(Duration.ofSeconds(20)).until(() -> c.failuresOfKind("NODE_LOST") == 1);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void withoutReplicationAResumeOfADeadNodesSessionIsRefusedAsLostAndCounted() throws Exception {
    ClusterNode a = node("node-a", "none");
    ClusterNode b = node("node-b", "none");
    ClusterNode c = node("node-c", "none");
    awaitSafe();
    assertThat(a.session.server().replicating()).isFalse();
    ChaosProxy proxy = await(ChaosProxy.start(clients, new ChaosOptions().setTargetPort(a.sessionPort).setSeed(9)));
    SessionClientOptions options = new SessionClientOptions().setPort(proxy.port())
      .addServer("127.0.0.1", b.sessionPort).addServer("127.0.0.1", c.sessionPort)
      .setInitialBackoffMs(5).setMaxBackoffMs(100).setPingIntervalMs(200).setIdleTimeoutMs(3_000)
      .setReconnectTimeoutMs(60_000);
    List<AtomicReference<Throwable>> failures = new ArrayList<>();
    List<SessionClient> sessions = new ArrayList<>();
    List<String> echoed = new CopyOnWriteArrayList<>();
    for (int i = 0; i < 2; i++) {
      SessionClient client = SessionClient.create(clients, new SessionClientOptions(options).setSeed(i));
      AtomicReference<Throwable> failure = new AtomicReference<>();
      client.failureHandler(failure::set);
      client.handler(m -> echoed.add(m.toString()));
      await(client.connect());
      for (int k = 0; k < 10; k++) {
        client.send(Buffer.buffer("c" + i + "-" + k));
      }
      sessions.add(client);
      failures.add(failure);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> echoed.size() == 20);
    crash(a, proxy);

    for (int i = 0; i < 2; i++) {
      AtomicReference<Throwable> failure = failures.get(i);
      await().atMost(Duration.ofSeconds(60)).until(() -> failure.get() != null);
      assertThat(failure.get()).isInstanceOf(SessionLostException.class);
      SessionLostException e = (SessionLostException) failure.get();
      assertThat(e.code()).isEqualTo(Frames.E_SESSION_EXPIRED);
      assertThat(e.getMessage()).contains("was lost with node node-a", sessions.get(i).sessionId());
    }
    for (ClusterNode n : List.of(b, c)) {
      await().atMost(Duration.ofSeconds(20)).until(() -> n.failuresOfKind("NODE_LOST") == 1);
    }
    JsonObject lost = c.failures.stream().filter(e -> "NODE_LOST".equals(e.getString("kind"))).findFirst().orElseThrow();
    assertThat(lost.getInteger("sessionsHeld")).isEqualTo(2);
    assertThat(lost.getInteger("sessionsTakenOver")).isZero();
    assertThat(lost.getInteger("sessionsLost")).isEqualTo(2);
  }

  /**
   * Node {@code n} dies mid-stream: its Hazelcast member stops dead first (from then on it can
   * commit nothing, so it exposes nothing), then every client connection to it is reset (the proxy
   * in front of it closes), then its session server and the rest of the node go.
   */
  private static void crash(ClusterNode n, ChaosProxy proxy) throws Exception {
    n.hazelcast().getLifecycleService().terminate();
    await(proxy.close());
    n.crashWithSessions();
  }

  /** A hand-driven protocol peer on a real socket. */
  static final class Peer {
    final NetSocket socket;
    final Buffer received = Buffer.buffer();
    final AtomicBoolean closed = new AtomicBoolean();

    private Peer(NetSocket socket) {
      this.socket = socket;
      socket.handler(b -> {
        synchronized (received) {
          received.appendBuffer(b);
        }
      });
      socket.closeHandler(v -> closed.set(true));
    }

    static Peer connect(Vertx vertx, int port) throws Exception {
      return new Peer(await(vertx.createNetClient().connect(port, "127.0.0.1")));
    }

    void write(Buffer b) {
      socket.write(b);
    }

    List<Frame> frames() throws Exception {
      List<Frame> frames = new ArrayList<>();
      Buffer copy;
      synchronized (received) {
        copy = received.copy();
      }
      new FrameDecoder(1 << 20).feed(copy, frames::add);
      return frames;
    }

    List<Long> dataSeqs() throws Exception {
      return frames().stream().filter(f -> f.type() == Frames.DATA).map(Frame::number).toList();
    }

    long lastAck() throws Exception {
      long ack = 0;
      for (Frame f : frames()) {
        if (f.type() == Frames.ACK) {
          ack = f.number();
        }
      }
      return ack;
    }
  }
}
