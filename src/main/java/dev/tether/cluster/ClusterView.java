package dev.tether.cluster;

import dev.tether.Tether;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;

/**
 * What one node knows of its cluster, for {@code /health} and the dashboard: the live members, oldest
 * first, with their Tether node names and session counts. The cluster verticle
 * ({@code dev.tether.verticles.ClusterVerticle}) keeps it up to date from Hazelcast's member list
 * and Tether's node registry; everything else only reads it. Nothing here depends on Hazelcast.
 *
 * <p>A node that is not clustered is a cluster of one: {@code enabled} false, itself the only
 * member. A clustered node whose cluster verticle is not (yet) running knows no members.
 *
 * <p>Threading: {@link #update} from the cluster verticle's event loop, reads from any thread (one
 * volatile snapshot). Held per Vert.x instance, weakly, like {@link Tether}.
 */
public final class ClusterView {

  /**
   * One live cluster member.
   *
   * @param node     its Tether node name, or null while it has not registered yet (just joined)
   * @param member   its Hazelcast member UUID
   * @param address  its cluster address (host:port)
   * @param sessions sessions it holds, as it last published them (at most about a second old)
   * @param self     whether it is this node
   */
  public record Member(String node, String member, String address, int sessions, boolean self) {

    public JsonObject toJson() {
      return new JsonObject().put("node", node).put("member", member).put("address", address)
        .put("sessions", sessions).put("self", self);
    }
  }

  private static final Map<Vertx, ClusterView> INSTANCES = new WeakHashMap<>();

  private final boolean clustered;
  /** Null until the cluster verticle published a view. */
  private volatile List<Member> members;
  /** Hazelcast's cluster safety (every partition's backups in sync), as last checked; false until checked. */
  private volatile boolean safe;

  private ClusterView(boolean clustered) {
    this.clustered = clustered;
  }

  public static ClusterView of(Vertx vertx) {
    Objects.requireNonNull(vertx, "vertx");
    synchronized (INSTANCES) {
      return INSTANCES.computeIfAbsent(vertx, v -> new ClusterView(v.isClustered()));
    }
  }

  /** Replaces the view: the live members, oldest first (the cluster verticle calls it). */
  public void update(List<Member> live) {
    members = List.copyOf(live);
  }

  /** Records whether Hazelcast said the cluster is safe (the cluster verticle calls it about every second). */
  public void safe(boolean safe) {
    this.safe = safe;
  }

  /** Whether the node runs clustered. */
  public boolean enabled() {
    return clustered;
  }

  /**
   * The live members, oldest first: the registry's view when clustered (empty before the cluster
   * verticle ran), else this node alone (session count unknown: 0).
   */
  public List<Member> members(String self) {
    List<Member> m = members;
    if (m != null) {
      return m;
    }
    return clustered ? List.of() : List.of(new Member(self, null, null, 0, true));
  }

  /** The names of the live members that registered, oldest first. */
  public List<String> names(String self) {
    return members(self).stream().map(Member::node).filter(Objects::nonNull).toList();
  }

  /**
   * {@code /health}'s {@code cluster}: {@code {"enabled": bool, "members": [names], "size": n}}, and
   * when clustered {@code "safe"}: every partition's backup in sync (Hazelcast's isClusterSafe, checked
   * about every second): only then does a session replica survive the death of any one member.
   */
  public JsonObject health(String self) {
    List<Member> m = members(self);
    JsonObject o = new JsonObject()
      .put("enabled", clustered)
      .put("members", new JsonArray(m.stream().map(Member::node).filter(Objects::nonNull).toList()))
      .put("size", m.size());
    if (clustered) {
      o.put("safe", safe);
    }
    return o;
  }
}
