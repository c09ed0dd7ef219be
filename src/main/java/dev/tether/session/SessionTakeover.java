package dev.tether.session;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.WeakHashMap;

/**
 * Moves sessions to the server instance a client resumes on (docs/cluster.md, "Sessions that
 * move"). One per session server instance, on its event loop:
 *
 * <ul>
 *   <li>it answers hand-off requests on its own event-bus address ({@code tether.session.<server>.<uuid>},
 *       JSON {@code {"id"}} in, the serialised {@link SessionState} as a Buffer out, or a failure
 *       with code 200 when the session is not here);</li>
 *   <li>{@link #fetch} brings a session this instance does not hold: it looks the owner up in the
 *       {@link SessionStore} directory and, while the owner lives, asks it to hand the session
 *       over; when the owner's node is gone it waits (bounded) until the cluster's NODE_LOST sweep
 *       has given the session a new owner (then asks that one) or marked it lost;</li>
 *   <li>{@link #takeOverFrom} is that sweep: run by the node that reports NODE_LOST, it rebuilds
 *       every replicated session of the lost member from its replica on one of its own instances,
 *       and marks the others lost, returning the counts for the NODE_LOST event.</li>
 * </ul>
 */
public final class SessionTakeover {

  private static final Logger log = LoggerFactory.getLogger(SessionTakeover.class);
  /** How long a resume waits for a session's owner (or for the sweep) before ERROR 206. */
  static final long FETCH_DEADLINE_MS = 4_000;
  private static final long RETRY_MS = 50;
  /**
   * How long a resume waits for the NODE_LOST sweep after seeing the owner's member gone before it
   * takes a replicated session from its replica itself (the sweep normally takes milliseconds).
   */
  private static final long SWEEP_GRACE_MS = 2_000;
  /**
   * A hand-off takes milliseconds; a request unanswered this long is asked again (the owner hands the
   * same state out again if the first reply was lost: SessionServer's "given" states).
   */
  private static final long REQUEST_TIMEOUT_MS = 300;
  /** Open session servers of each Vert.x, for the NODE_LOST sweep (values never refer to Vert.x). */
  private static final Map<Vertx, List<SessionServer>> SERVERS = new WeakHashMap<>();

  private final SessionServer server;
  private final Vertx vertx;
  private final SessionStore store;
  private final String address;
  private final String record;
  private MessageConsumer<JsonObject> consumer;

  SessionTakeover(Vertx vertx, SessionServer server, SessionStore store, String serverName, String node) {
    this.vertx = vertx;
    this.server = server;
    this.store = store;
    this.address = "tether.session." + serverName + "." + UUID.randomUUID();
    this.record = new SessionStore.Owner(store.member(), address, node, store.replicating(), false).encode();
  }

  /** This instance's owner record in the directory. */
  String record() {
    return record;
  }

  /** Registers the hand-off consumer (cluster-wide when clustered); call on the server's event loop. */
  Future<Void> start() {
    consumer = vertx.eventBus().consumer(address, m -> {
      String id = m.body().getString("id");
      server.handOff(id).onComplete(ar -> {
        if (ar.succeeded()) {
          m.reply(ar.result());
        } else {
          m.fail(Frames.E_UNKNOWN_SESSION, ar.cause().getMessage());
        }
      });
    });
    synchronized (SERVERS) {
      SERVERS.computeIfAbsent(vertx, v -> new ArrayList<>()).add(server);
    }
    return consumer.completion();
  }

  void stop() {
    synchronized (SERVERS) {
      List<SessionServer> l = SERVERS.get(vertx);
      if (l != null) {
        l.remove(server);
      }
    }
    if (consumer != null) {
      consumer.unregister();
    }
  }

  /** A session brought from its owner: its state and the owner record it was fetched from. */
  record Fetched(Buffer state, String from) {
  }

  /**
   * Brings session {@code hex} here: completes with its serialised state (already removed from
   * its previous owner; it becomes this instance's only if the directory still names that owner
   * when this instance claims it, {@link SessionStore#claimFrom}), with null when the directory says this instance owns it (it arrived
   * meanwhile), or fails with a {@link ProtocolException} carrying the ERROR code to send: 200
   * unknown, 201 lost with its node, 206 not reachable in time (resume again).
   */
  Future<Fetched> fetch(String hex) {
    Promise<Fetched> p = Promise.promise();
    attempt(hex, p, System.currentTimeMillis() + FETCH_DEADLINE_MS, null, 0, new long[1]);
    return p.future();
  }

  /**
   * @param previous the owner record whose owner just said it does not hold the session, or null
   * @param notHereSince when an owner first said so (0: not yet)
   * @param deadSince {@code [0]}: when this fetch first found the owner's member gone (0: not yet)
   */
  private void attempt(String hex, Promise<Fetched> p, long deadline, String previous, long notHereSince,
                       long[] deadSince) {
    store.owner(hex).onComplete(ar -> {
      if (ar.failed()) {
        later(hex, p, deadline, "session directory unavailable: " + ar.cause(), deadSince);
        return;
      }
      String rec = ar.result();
      if (rec == null) {
        p.fail(new ProtocolException(Frames.E_UNKNOWN_SESSION, "unknown session " + hex
          + " (never existed here, or expired and forgotten)"));
        return;
      }
      SessionStore.Owner o;
      try {
        o = SessionStore.Owner.parse(rec);
      } catch (IllegalArgumentException e) {
        p.fail(new ProtocolException(Frames.E_UNKNOWN_SESSION, e.getMessage()));
        return;
      }
      if (o.lost()) {
        p.fail(new ProtocolException(Frames.E_SESSION_EXPIRED, "session " + hex + " was lost with node " + o.node()
          + " (its server ran without replication)"));
        return;
      }
      if (o.address().equals(address)) {
        if (server.holds(hex)) {
          p.complete(null);
        } else {
          // the directory still names this instance although it gave the session away: the new
          // owner's claim is on its way (or this copy ended and its removal is): ask again
          later(hex, p, deadline, "session " + hex + " is being moved from here; its new owner has not claimed it yet",
            deadSince);
        }
        return;
      }
      if (rec.equals(previous)) {
        // the owner said it does not hold it and the directory has not changed since: another
        // instance may be taking it over right now (its claim is on the way); after a while, unknown
        // (or the owner is closing or crashing: the cluster will take its sessions over): ask again
        // until the deadline, then ERROR 206
        if (System.currentTimeMillis() >= deadline) {
          p.fail(new ProtocolException(Frames.E_RETRY, "session " + hex + ": its owner " + o.node()
            + " does not hold it, and no other does yet; resume again"));
        } else {
          vertx.setTimer(RETRY_MS, t -> attempt(hex, p, deadline, null, notHereSince, deadSince));
        }
        return;
      }
      if (!store.alive(o.member())) {
        long now = System.currentTimeMillis();
        if (deadSince[0] == 0) {
          deadSince[0] = now;
        }
        if (o.replicated() && now - deadSince[0] >= SWEEP_GRACE_MS) {
          // the NODE_LOST sweep should have rebuilt it by now (its reporter runs no such server, or
          // died during the sweep): take it from the replica here; the compare-and-set claim on
          // the dead owner's record keeps this from racing a late sweep
          store.replica(hex).onComplete(rr -> {
            if (rr.succeeded() && rr.result() != null) {
              log.info("session {} of gone node {} taken from its replica here (no NODE_LOST sweep took it)", hex,
                o.node());
              p.complete(new Fetched(rr.result(), rec));
            } else {
              later(hex, p, deadline, "session " + hex + " belonged to node " + o.node()
                + ", which is gone, and its replica cannot be read", deadSince);
            }
          });
          return;
        }
        later(hex, p, deadline, "session " + hex + " belonged to node " + o.node()
          + ", which is gone; the cluster has not taken its sessions over yet", deadSince);
        return;
      }
      vertx.eventBus().<Buffer>request(o.address(), new JsonObject().put("id", hex),
          new DeliveryOptions().setSendTimeout(REQUEST_TIMEOUT_MS))
        .onComplete(r -> {
          if (r.succeeded()) {
            log.debug("session {} handed over by {} ({})", hex, o.node(), o.address());
            p.complete(new Fetched(r.result().body(), rec));
          } else if (r.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
            attempt(hex, p, deadline, rec, notHereSince == 0 ? System.currentTimeMillis() : notHereSince, deadSince);
          } else {
            later(hex, p, deadline, "owner " + o.node() + " of session " + hex + " did not answer: " + r.cause(),
              deadSince);
          }
        });
    });
  }

  private void later(String hex, Promise<Fetched> p, long deadline, String why, long[] deadSince) {
    if (System.currentTimeMillis() >= deadline) {
      p.fail(new ProtocolException(Frames.E_RETRY, why + "; resume again"));
      return;
    }
    vertx.setTimer(RETRY_MS, t -> attempt(hex, p, deadline, null, 0, deadSince));
  }

  // -----------------------------------------------------------------------------------------------
  // The NODE_LOST sweep

  /** What the sweep found of a lost member's sessions. */
  public record Outcome(int held, int takenOver, boolean known) {
  }

  /**
   * Takes over the sessions the lost cluster member {@code member} (node {@code node}) owned, in the
   * session servers of this node: a replicated one is rebuilt from its replica on one of this
   * node's instances of the same server (round robin) and waits there, detached, for its client;
   * one without a replica is marked lost in the directory, so a resume anywhere is refused with
   * ERROR 201 saying so. Called by the node that reports NODE_LOST; any thread.
   *
   * @return held = directory entries of {@code member}, takenOver = those rebuilt here;
   *     known = false when this node runs no session server (the counts are then unknown)
   */
  public static Future<Outcome> takeOverFrom(Vertx vertx, String member, String node) {
    return takeOverFrom(vertx, member, node, true);
  }

  /**
   * As {@link #takeOverFrom(Vertx, String, String)}; with {@code rebuild} false (a node that left on
   * purpose, whose sessions were ended and reported as it closed) any entry it left behind is only
   * marked lost.
   */
  public static Future<Outcome> takeOverFrom(Vertx vertx, String member, String node, boolean rebuild) {
    Map<String, List<SessionServer>> byName = new LinkedHashMap<>();
    synchronized (SERVERS) {
      for (SessionServer s : SERVERS.getOrDefault(vertx, List.of())) {
        if (s.takeover().store.clustered()) {
          byName.computeIfAbsent(s.name(), k -> new ArrayList<>()).add(s);
        }
      }
    }
    if (byName.isEmpty()) {
      return Future.succeededFuture(new Outcome(0, 0, false));
    }
    List<Future<int[]>> parts = new ArrayList<>();
    for (List<SessionServer> instances : byName.values()) {
      parts.add(takeOver(vertx, instances, member, node, rebuild));
    }
    return Future.all(parts).map(cf -> {
      int held = 0;
      int taken = 0;
      for (Future<int[]> f : parts) {
        held += f.result()[0];
        taken += f.result()[1];
      }
      return new Outcome(held, taken, true);
    });
  }

  private static Future<int[]> takeOver(Vertx vertx, List<SessionServer> instances, String member, String node,
                                        boolean rebuild) {
    SessionStore store = instances.get(0).takeover().store;
    return vertx.executeBlocking(() -> {
      Map<String, String> owned = store.ownedByBlocking(member);
      Map<String, Buffer> rebuilt = new LinkedHashMap<>();
      Map<String, SessionServer> to = new HashMap<>();
      int held = owned.size();
      int next = 0;
      for (Map.Entry<String, String> e : owned.entrySet()) {
        String id = e.getKey();
        SessionStore.Owner o = SessionStore.Owner.parse(e.getValue());
        Buffer replica = rebuild && o.replicated() ? store.replicaBlocking(id) : null;
        if (replica != null) {
          SessionServer s = instances.get(next++ % instances.size());
          if (store.replaceBlocking(id, e.getValue(), s.takeover().record())) {
            rebuilt.put(id, replica);
            to.put(id, s);
          } else {
            held--; // someone else changed it meanwhile: not ours to count
          }
        } else if (store.replaceBlocking(id, e.getValue(), SessionStore.Owner.lost(node).encode())) {
          store.lostBlocking(id);
        } else {
          held--;
        }
      }
      return new Object[] {held, rebuilt, to};
    }, false).compose(r -> {
      int held = (Integer) r[0];
      @SuppressWarnings("unchecked") Map<String, Buffer> rebuilt = (Map<String, Buffer>) r[1];
      @SuppressWarnings("unchecked") Map<String, SessionServer> to = (Map<String, SessionServer>) r[2];
      List<Future<Boolean>> adopted = new ArrayList<>();
      rebuilt.forEach((id, state) -> adopted.add(to.get(id).recover(state)));
      return Future.join(adopted).transform(x -> {
        int taken = 0;
        for (Future<Boolean> f : adopted) {
          if (f.succeeded() && f.result()) {
            taken++;
          }
        }
        log.info("sessions of lost node {}: {} held, {} taken over from replicas", node, held, taken);
        return Future.succeededFuture(new int[] {held, taken});
      });
    });
  }
}
