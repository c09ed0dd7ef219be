package dev.tether.session;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The cluster-wide session store on Hazelcast (loaded only when Vert.x runs clustered with
 * vertx-hazelcast): the IMap {@code tether.session.<server>.owners} (session id -> owner record)
 * and, with replication, {@code tether.session.<server>.state} (session id -> serialised
 * {@link SessionState}); both with one synchronous backup (conf/cluster.xml, {@code tether.session.*}),
 * so a write completes only once it is on the primary and on its backup, and survives the death of
 * either. Asynchronous calls use Hazelcast's {@code *Async} operations and complete on the session
 * server's context ({@link Future#fromCompletionStage(CompletionStage, Context)}): no event loop
 * waits on Hazelcast.
 */
final class HazelcastSessionStore extends SessionStore {

  private static final Logger log = LoggerFactory.getLogger(HazelcastSessionStore.class);
  /** How long a "lost" directory entry is kept (a late resume is told the session was lost). */
  private static final long LOST_TTL_MINUTES = 30;

  private final HazelcastInstance hazelcast;
  private final Context context;
  private final boolean replicating;
  private final IMap<String, String> owners;
  private final IMap<String, byte[]> states;
  private final String member;

  private HazelcastSessionStore(HazelcastInstance hazelcast, Context context, String server, boolean replicating) {
    this.hazelcast = hazelcast;
    this.context = context;
    this.replicating = replicating;
    this.owners = hazelcast.getMap("tether.session." + server + ".owners");
    this.states = hazelcast.getMap("tether.session." + server + ".state");
    this.member = hazelcast.getCluster().getLocalMember().getUuid().toString();
  }

  static SessionStore create(ClusterManager cm, Context context, String server, boolean replicating) {
    return new HazelcastSessionStore(((HazelcastClusterManager) cm).getHazelcastInstance(), context, server, replicating);
  }

  @Override
  boolean clustered() {
    return true;
  }

  @Override
  boolean replicating() {
    return replicating;
  }

  @Override
  String member() {
    return member;
  }

  @Override
  boolean alive(String m) {
    try {
      for (Member x : hazelcast.getCluster().getMembers()) {
        if (x.getUuid().toString().equals(m)) {
          return true;
        }
      }
    } catch (RuntimeException notRunning) {
      return false;
    }
    return false;
  }

  @Override
  Future<Void> claim(String id, String record) {
    return async(() -> owners.setAsync(id, record));
  }

  @Override
  Future<Boolean> claimFrom(String id, String expected, String record) {
    return async(() -> owners.submitToKey(id, new ReplaceOwner(expected, record)));
  }

  /** Compare-and-set of an owner record, run by Hazelcast on the entry's partition (and its backup). */
  static final class ReplaceOwner implements EntryProcessor<String, String, Boolean> {
    private static final long serialVersionUID = 1L;
    private final String expected;
    private final String now;

    ReplaceOwner(String expected, String now) {
      this.expected = expected;
      this.now = now;
    }

    @Override
    public Boolean process(Map.Entry<String, String> entry) {
      if (!expected.equals(entry.getValue())) {
        return false;
      }
      entry.setValue(now);
      return true;
    }
  }

  @Override
  Future<Void> save(String id, Buffer state) {
    byte[] bytes = state.getBytes();
    return async(() -> states.setAsync(id, bytes));
  }

  @Override
  void forget(String id) {
    try {
      owners.removeAsync(id);
      if (replicating) {
        states.removeAsync(id);
      }
    } catch (RuntimeException e) {
      log.debug("forgetting session {}: {}", id, e.toString()); // a terminated member: nothing to forget
    }
  }

  @Override
  Future<String> owner(String id) {
    return async(() -> owners.getAsync(id));
  }

  @Override
  Future<Buffer> replica(String id) {
    return this.<byte[]>async(() -> states.getAsync(id)).map(b -> b == null ? null : Buffer.buffer(b));
  }

  @Override
  Map<String, String> ownedByBlocking(String m) {
    Map<String, String> mine = new HashMap<>();
    String prefix = m + "|";
    for (Map.Entry<String, String> e : owners.entrySet()) {
      if (e.getValue().startsWith(prefix)) {
        mine.put(e.getKey(), e.getValue());
      }
    }
    return mine;
  }

  @Override
  Buffer replicaBlocking(String id) {
    byte[] b = states.get(id);
    return b == null ? null : Buffer.buffer(b);
  }

  @Override
  boolean replaceBlocking(String id, String expected, String now) {
    return owners.replace(id, expected, now);
  }

  @Override
  void lostBlocking(String id) {
    owners.setTtl(id, LOST_TTL_MINUTES, TimeUnit.MINUTES);
    states.delete(id);
  }

  private <T> Future<T> async(Supplier<CompletionStage<T>> op) {
    try {
      return Future.fromCompletionStage(op.get(), context);
    } catch (RuntimeException e) {
      return Future.failedFuture(e); // e.g. HazelcastInstanceNotActiveException on a terminated member
    }
  }
}
