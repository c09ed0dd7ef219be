package dev.tether.verticles;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import dev.tether.Tether;
import dev.tether.cluster.ClusterView;
import dev.tether.event.Addresses;
import dev.tether.event.Direction;
import dev.tether.event.FailureKind;
import dev.tether.event.NodeLostEvent;
import dev.tether.internal.ContextAccess;
import dev.tether.session.SessionServer;
import dev.tether.session.SessionTakeover;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A clustered node's view of its cluster (docs/cluster.md), on Hazelcast's own structures:
 *
 * <ul>
 *   <li><b>Node registry</b>: the IMap {@value #REGISTRY} (backup count 1, conf/cluster.xml) maps
 *       each member's Hazelcast UUID to its Tether node name and session count, as JSON text. A node
 *       puts its entry when it starts and rewrites it when its session count changes (checked every
 *       {@value #PUBLISH_INTERVAL_MS} ms); a restarted node is a new member with a new entry.</li>
 *   <li><b>View</b>: Hazelcast's member list (oldest first) joined with the registry, kept in
 *       {@link ClusterView} for {@code /health} and the dashboard; refreshed on every membership and
 *       registry event, read without any remote call.</li>
 *   <li><b>NODE_LOST, exactly once</b>: when a member leaves, the oldest surviving member removes the
 *       lost member's entry with {@link IMap#remove(Object)}, which is atomic and returns the entry
 *       to exactly one caller; that caller publishes one {@link NodeLostEvent} on
 *       {@value Addresses#FAILURE}. Should the oldest die too before it got there, the next oldest
 *       sweeps every departure it has seen whose entry is still there; and should two members both
 *       think they are the oldest, the atomic remove still lets only one of them publish.</li>
 * </ul>
 *
 * <p>Threading: Hazelcast calls the listeners on its event threads; they only hop onto this
 * verticle's context (vertx-hazelcast#215: never block or call Hazelcast back from there). Every
 * field below marked confined is touched only on that context; Hazelcast calls that may block
 * (map operations) run through {@code executeBlocking} (ordered on this context).
 *
 * <p>No configuration: MainVerticle deploys it when Vert.x runs clustered (with vertx-hazelcast).
 * It is not HA-deployed, and nothing here uses Vert.x's HA (docs/cluster.md).
 */
public class ClusterVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(ClusterVerticle.class);

  /** The Hazelcast IMap of the node registry: member UUID -> {@code {"node", "sessions", "leaving"}}. */
  public static final String REGISTRY = "tether.nodes";
  /** How often the session count is compared with the one in the registry. */
  public static final long PUBLISH_INTERVAL_MS = 1000;
  /** Departed members remembered until their entry is gone. */
  private static final int DEPARTED_MEMORY = 1024;
  /** Bound on the goodbye (registry write, listener removal) when the verticle stops. */
  private static final long STOP_TIMEOUT_MS = 3000;

  /** A registry entry. */
  record Entry(String node, int sessions, boolean leaving) {
    String encode() {
      return new JsonObject().put("node", node).put("sessions", sessions).put("leaving", leaving).encode();
    }

    static Entry decode(String json) {
      JsonObject o = new JsonObject(json);
      return new Entry(o.getString("node"), o.getInteger("sessions", 0), o.getBoolean("leaving", false));
    }
  }

  /** A member whose entry this node removed: the NODE_LOST to publish. */
  private record Lost(String member, String address, Entry entry) { }

  // Set in start (before or with the first registry write), then only read
  private HazelcastInstance hazelcast;
  private volatile IMap<String, String> registry;
  private volatile String self;
  private String node;
  private Context context;
  private ClusterView view;
  private volatile UUID membershipListener;
  private volatile UUID entryListener;

  // Confined to this verticle's context
  private final Map<String, Entry> entries = new HashMap<>();
  /** Member UUID -> address of members seen leaving whose entry may still be in the registry. */
  private final Map<String, String> departed = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
      return size() > DEPARTED_MEMORY;
    }
  };
  /** Listener events that arrived before start finished: replayed after the first snapshot. */
  private final List<Runnable> early = new ArrayList<>();
  private boolean started;
  private boolean stopped;
  private boolean sweeping;
  private boolean sweepAgain;
  private boolean writing;
  private boolean checkingSafe;
  private int published;
  private long timer = -1;

  @Override
  public Future<?> start() {
    ClusterManager cm = ContextAccess.clusterManager(vertx);
    if (cm == null) {
      return Future.failedFuture(new IllegalStateException("ClusterVerticle needs a clustered Vert.x (-cluster)"));
    }
    if (!(cm instanceof HazelcastClusterManager hcm)) {
      return Future.failedFuture(new IllegalStateException("ClusterVerticle needs vertx-hazelcast's cluster manager, got "
        + cm.getClass().getName()));
    }
    hazelcast = hcm.getHazelcastInstance();
    node = Tether.of(vertx).node();
    context = vertx.getOrCreateContext();
    view = ClusterView.of(vertx);
    int sessions = SessionServer.sessionsHeld(vertx);
    return vertx.executeBlocking(() -> {
      IMap<String, String> map = hazelcast.getMap(REGISTRY);
      registry = map;
      self = hazelcast.getCluster().getLocalMember().getUuid().toString();
      Listener listener = new Listener();
      entryListener = map.addEntryListener(listener, true);
      membershipListener = hazelcast.getCluster().addMembershipListener(listener);
      map.set(self, new Entry(node, sessions, false).encode());
      return new HashMap<>(map);
    }).onSuccess(all -> {
      published = sessions;
      all.forEach((member, json) -> entries.put(member, Entry.decode(json)));
      started = true;
      early.forEach(Runnable::run);
      early.clear();
      refresh();
      warnAboutNamesakes();
      checkSafe();
      timer = vertx.setPeriodic(PUBLISH_INTERVAL_MS, t -> publishSessions());
      log.info("node {} is cluster member {} of {}: {}", node, self, hazelcast.getConfig().getClusterName(),
        view.names(node));
    });
  }

  @Override
  public Future<?> stop() {
    if (timer != -1) {
      vertx.cancelTimer(timer);
    }
    IMap<String, String> map = registry;
    if (map == null || !hazelcast.getLifecycleService().isRunning()) {
      stopped = true;
      return Future.succeededFuture();
    }
    Entry goodbye = new Entry(node, published, true);
    return vertx.executeBlocking(() -> {
        // the survivors' NODE_LOST says the node left on purpose
        map.set(self, goodbye.encode());
        map.removeEntryListener(entryListener);
        hazelcast.getCluster().removeMembershipListener(membershipListener);
        return null;
      })
      .timeout(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS)
      .recover(e -> {
        log.warn("leaving the node registry: {}", e.toString());
        return Future.succeededFuture();
      })
      .onComplete(ar -> stopped = true);
  }

  // ---------------------------------------------------------------------------------------------
  // On this verticle's context

  private void memberLeft(String member, String address, List<String> survivors) {
    entries.remove(member);
    departed.put(member, address);
    refresh();
    if (!survivors.isEmpty() && survivors.get(0).equals(self)) {
      sweep();
    }
  }

  private void entryChanged(String member, String json) {
    if (departed.containsKey(member)) {
      return; // a departed member's last word; its entry is swept
    }
    try {
      entries.put(member, Entry.decode(json));
    } catch (RuntimeException e) {
      log.warn("unreadable node registry entry {} -> {}: {}", member, json, e.getMessage());
      return;
    }
    refresh();
  }

  private void entryGone(String member) {
    entries.remove(member);
    departed.remove(member); // swept (by this node or another)
    refresh();
  }

  /**
   * Removes the entries of the departed members this node knows of; the atomic remove hands each
   * entry to exactly one member of the cluster, which publishes its NODE_LOST.
   */
  private void sweep() {
    if (sweeping) {
      sweepAgain = true;
      return;
    }
    if (departed.isEmpty()) {
      return;
    }
    sweeping = true;
    Map<String, String> candidates = new LinkedHashMap<>(departed);
    IMap<String, String> map = registry;
    vertx.executeBlocking(() -> {
      List<Lost> lost = new ArrayList<>();
      for (Map.Entry<String, String> c : candidates.entrySet()) {
        String json = map.remove(c.getKey());
        if (json != null) {
          lost.add(new Lost(c.getKey(), c.getValue(), Entry.decode(json)));
        }
      }
      return lost;
    }).onComplete(ar -> {
      sweeping = false;
      if (ar.succeeded()) {
        candidates.keySet().forEach(departed::remove);
        ar.result().forEach(this::publishLost);
      } else {
        log.warn("could not sweep the node registry (retried at the next departure): {}", ar.cause().toString());
      }
      if (sweepAgain && !stopped) {
        sweepAgain = false;
        sweep();
      }
    });
  }

  /**
   * Takes the lost member's sessions over (those with a replica are rebuilt on this node's session
   * servers, the others marked lost: SessionTakeover.takeOverFrom), then publishes NODE_LOST with
   * the counts. Sessions held = the lost member's entries in the session directory when this node
   * runs a session server (else the registry's count, about a second old); for a graceful leave,
   * whose sessions were reported SESSION_EXPIRED as it closed, at least the registry's count.
   */
  private void publishLost(Lost lost) {
    Entry entry = lost.entry();
    SessionTakeover.takeOverFrom(vertx, lost.member(), entry.node(), !entry.leaving())
      .recover(err -> {
        log.warn("taking over the sessions of lost node {} failed: {}", entry.node(), err.toString());
        return Future.succeededFuture(new SessionTakeover.Outcome(0, 0, false));
      })
      .onSuccess(o -> {
        int held = !o.known() ? entry.sessions() : entry.leaving() ? Math.max(o.held(), entry.sessions()) : o.held();
        int taken = o.known() ? Math.min(o.takenOver(), held) : 0;
        NodeLostEvent e = new NodeLostEvent(UUID.randomUUID().toString(), System.currentTimeMillis(), entry.node(),
          lost.member(), lost.address(), node, held, taken, entry.leaving());
        Tether.of(vertx).recorder().failure(NodeLostEvent.SERVER, FailureKind.NODE_LOST, Direction.READ);
        log.warn("NODE_LOST: {}; reported by {}", e.summary(), node);
        vertx.eventBus().publish(Addresses.FAILURE, e.toJson());
      });
  }

  /** Hazelcast's member list (local, no remote call) joined with the registry entries. */
  private void refresh() {
    Set<Member> members;
    try {
      members = hazelcast.getCluster().getMembers();
    } catch (RuntimeException notRunning) {
      return;
    }
    List<ClusterView.Member> live = new ArrayList<>(members.size());
    for (Member m : members) {
      String id = m.getUuid().toString();
      Entry e = entries.get(id);
      live.add(new ClusterView.Member(e == null ? null : e.node(), id, address(m), e == null ? 0 : e.sessions(),
        id.equals(self)));
    }
    view.update(live);
  }

  private void warnAboutNamesakes() {
    for (ClusterView.Member m : view.members(node)) {
      if (!m.self() && node.equals(m.node())) {
        log.warn("node name {} is also used by live member {} at {}: a previous run of this node not yet declared"
          + " dead (it will be, and reported as NODE_LOST), or two nodes configured with the same name", node,
          m.member(), m.address());
      }
    }
  }

  /** Asks Hazelcast whether every partition's backup is in sync (may call other members: not ordered, not on the loop). */
  private void checkSafe() {
    if (checkingSafe || stopped) {
      return;
    }
    checkingSafe = true;
    vertx.executeBlocking(() -> hazelcast.getPartitionService().isClusterSafe(), false).onComplete(ar -> {
      checkingSafe = false;
      view.safe(ar.succeeded() && ar.result());
    });
  }

  private void publishSessions() {
    checkSafe();
    int n = SessionServer.sessionsHeld(vertx);
    if (n == published || writing || stopped) {
      return;
    }
    writing = true;
    IMap<String, String> map = registry;
    String json = new Entry(node, n, false).encode();
    vertx.executeBlocking(() -> {
      map.set(self, json);
      return null;
    }).onComplete(ar -> {
      writing = false;
      if (ar.succeeded()) {
        published = n;
      } else {
        log.debug("could not publish the session count: {}", ar.cause().toString());
      }
    });
  }

  private static String address(Member m) {
    return m.getAddress().getHost() + ":" + m.getAddress().getPort();
  }

  /** Hands a listener call over to this verticle's context (held until start has its snapshot). */
  private void onContext(Runnable r) {
    context.runOnContext(v -> {
      if (stopped) {
        return;
      }
      if (started) {
        r.run();
      } else {
        early.add(r);
      }
    });
  }

  /** Called on Hazelcast's event threads: copies what it needs and hops, nothing else. */
  private final class Listener implements MembershipListener, EntryAddedListener<String, String>,
    EntryUpdatedListener<String, String>, EntryRemovedListener<String, String> {

    @Override
    public void memberAdded(MembershipEvent event) {
      onContext(ClusterVerticle.this::refresh);
    }

    @Override
    public void memberRemoved(MembershipEvent event) {
      String member = event.getMember().getUuid().toString();
      String address = address(event.getMember());
      List<String> survivors = event.getMembers().stream().map(m -> m.getUuid().toString()).toList();
      onContext(() -> memberLeft(member, address, survivors));
    }

    @Override
    public void entryAdded(EntryEvent<String, String> event) {
      String member = event.getKey();
      String json = event.getValue();
      onContext(() -> entryChanged(member, json));
    }

    @Override
    public void entryUpdated(EntryEvent<String, String> event) {
      entryAdded(event);
    }

    @Override
    public void entryRemoved(EntryEvent<String, String> event) {
      String member = event.getKey();
      onContext(() -> entryGone(member));
    }
  }
}
