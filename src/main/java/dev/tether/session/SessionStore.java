package dev.tether.session;

import dev.tether.internal.ContextAccess;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.spi.cluster.ClusterManager;

import java.util.Map;

/**
 * Where one session server instance records which sessions it owns (the <b>session directory</b>:
 * session id -> {@link Owner}) and, with replication on, each session's state and unacknowledged
 * frames (the <b>replica</b>). Two implementations:
 * <ul>
 *   <li>node-local ({@link LocalSessionStore}): a map shared by the instances of the same server on
 *       one Vert.x; no replica (a session dies with its node);</li>
 *   <li>Hazelcast ({@link HazelcastSessionStore}, when Vert.x runs clustered with vertx-hazelcast):
 *       two IMaps with a synchronous backup; the replica survives the death of its owner.</li>
 * </ul>
 *
 * <p>Threading: the asynchronous methods are called on the session server's event loop and
 * complete on it (never blocking it). The {@code ...Blocking} methods (used by the NODE_LOST sweep)
 * block and run on worker threads.
 */
abstract class SessionStore {

  /** The replication modes ({@code servers.<name>.replication}). */
  enum Replication { BACKUP, NONE }

  /** True when the directory is cluster-wide (sessions can move between nodes). */
  abstract boolean clustered();

  /** True when each session's state is written to a replica before it is exposed (output commit). */
  abstract boolean replicating();

  /** This member's id ("local" without a cluster). */
  abstract String member();

  /** Whether {@code member} is a live member of the cluster (local, no remote call). */
  abstract boolean alive(String member);

  /** Records {@code record} as the owner of session {@code id}. */
  abstract Future<Void> claim(String id, String record);

  /**
   * Atomically records {@code record} as the owner of session {@code id} if its owner is still
   * {@code expected} (a takeover: two instances can never both win); completes with whether it did.
   */
  abstract Future<Boolean> claimFrom(String id, String expected, String record);

  /** Writes the replica of session {@code id} (only when {@link #replicating()}). */
  abstract Future<Void> save(String id, Buffer state);

  /** Forgets session {@code id} (directory entry and replica); errors are logged, not reported. */
  abstract void forget(String id);

  /** The owner record of session {@code id}, or null. */
  abstract Future<String> owner(String id);

  /** The replica of session {@code id}, or null. */
  abstract Future<Buffer> replica(String id);

  /** Entries of the directory whose owner is {@code member}. Blocks. */
  abstract Map<String, String> ownedByBlocking(String member);

  /** The replica of {@code id}, or null. Blocks. */
  abstract Buffer replicaBlocking(String id);

  /** Atomically replaces the owner record of {@code id} when it is still {@code expected}. Blocks. */
  abstract boolean replaceBlocking(String id, String expected, String now);

  /** Removes the replica of {@code id} and lets its (lost) directory entry expire after a while. Blocks. */
  abstract void lostBlocking(String id);

  /**
   * The store of server {@code server} for an instance running on {@code context}: Hazelcast when
   * Vert.x is clustered with vertx-hazelcast, else node-local.
   *
   * @param replication null: BACKUP when clustered, NONE otherwise
   * @throws IllegalArgumentException when BACKUP is asked for without a Hazelcast cluster
   */
  static SessionStore create(Vertx vertx, Context context, String server, Replication replication) {
    ClusterManager cm = ContextAccess.clusterManager(vertx);
    boolean hazelcast = cm != null && cm.getClass().getName().equals("io.vertx.spi.cluster.hazelcast.HazelcastClusterManager");
    if (!hazelcast) {
      if (replication == Replication.BACKUP) {
        throw new IllegalArgumentException("servers." + server + ".replication: \"backup\" needs a clustered node"
          + " (-cluster, vertx-hazelcast); use \"none\"");
      }
      return LocalSessionStore.of(vertx, server);
    }
    return HazelcastSessionStore.create(cm, context, server, replication != Replication.NONE);
  }

  /**
   * An owner record: {@code member|address|node|b} (b: replicated) or {@code lost|node} once the
   * sweep found the owner dead without a replica.
   */
  record Owner(String member, String address, String node, boolean replicated, boolean lost) {

    String encode() {
      return lost ? "lost|" + node : member + "|" + address + "|" + node + "|" + (replicated ? "b" : "n");
    }

    static Owner lost(String node) {
      return new Owner(null, null, node, false, true);
    }

    static Owner parse(String s) {
      String[] p = s.split("\\|", -1);
      if (p.length == 2 && p[0].equals("lost")) {
        return lost(p[1]);
      }
      if (p.length != 4) {
        throw new IllegalArgumentException("bad session owner record " + s);
      }
      return new Owner(p[0], p[1], p[2], p[3].equals("b"), false);
    }
  }
}
