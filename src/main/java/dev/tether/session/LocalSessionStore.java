package dev.tether.session;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;

import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node-local session directory: one concurrent map per Vert.x instance and server name,
 * shared by the server's instances (event loops). No replica. Every call completes at once.
 */
final class LocalSessionStore extends SessionStore {

  /** Vert.x -> server name -> directory. Values never refer to their Vert.x. */
  private static final Map<Vertx, Map<String, LocalSessionStore>> STORES = new WeakHashMap<>();

  private final Map<String, String> owners = new ConcurrentHashMap<>();

  static LocalSessionStore of(Vertx vertx, String server) {
    synchronized (STORES) {
      return STORES.computeIfAbsent(vertx, v -> new HashMap<>()).computeIfAbsent(server, s -> new LocalSessionStore());
    }
  }

  @Override
  boolean clustered() {
    return false;
  }

  @Override
  boolean replicating() {
    return false;
  }

  @Override
  String member() {
    return "local";
  }

  @Override
  boolean alive(String member) {
    return true;
  }

  @Override
  Future<Void> claim(String id, String record) {
    owners.put(id, record);
    return Future.succeededFuture();
  }

  @Override
  Future<Boolean> claimFrom(String id, String expected, String record) {
    return Future.succeededFuture(owners.replace(id, expected, record));
  }

  @Override
  Future<Void> save(String id, Buffer state) {
    return Future.succeededFuture();
  }

  @Override
  void forget(String id) {
    owners.remove(id);
  }

  @Override
  Future<String> owner(String id) {
    return Future.succeededFuture(owners.get(id));
  }

  @Override
  Future<Buffer> replica(String id) {
    return Future.succeededFuture();
  }

  @Override
  Map<String, String> ownedByBlocking(String member) {
    return Map.of();
  }

  @Override
  Buffer replicaBlocking(String id) {
    return null;
  }

  @Override
  boolean replaceBlocking(String id, String expected, String now) {
    return owners.replace(id, expected, now);
  }

  @Override
  void lostBlocking(String id) {
    owners.remove(id);
  }
}
