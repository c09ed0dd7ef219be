package dev.tether.net;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which tracked servers of one Vert.x instance are listening now, by server name. A
 * {@link TrackedServer} adds itself when its listen succeeds and removes itself when it is closed,
 * either explicitly or because its verticle was undeployed. Health checks read it; nothing here
 * touches a socket.
 *
 * <p>Threading: written from the event loops of the server verticles, read from any thread
 * (concurrent maps only).
 */
public final class ListeningServers {

  private static final Map<Vertx, ListeningServers> INSTANCES = new WeakHashMap<>();
  private static final AtomicLong IDS = new AtomicLong();

  /** Server name -> (registration id -> where that instance listens). */
  private final ConcurrentMap<String, ConcurrentMap<Long, JsonObject>> servers = new ConcurrentHashMap<>();
  /** Server name -> open tracked connections over all its instances (counted on connect and close). */
  private final ConcurrentMap<String, AtomicLong> connections = new ConcurrentHashMap<>();

  private ListeningServers() {
  }

  public static ListeningServers of(Vertx vertx) {
    Objects.requireNonNull(vertx);
    synchronized (INSTANCES) {
      return INSTANCES.computeIfAbsent(vertx, v -> new ListeningServers());
    }
  }

  /**
   * Records one listening instance of {@code server} until the returned handle runs or the current
   * context closes (the verticle that listens is undeployed). Call it from that verticle's context,
   * once its listen succeeded; servers that are not {@link TrackedServer}s may call it too.
   *
   * @return runs once to unregister (idempotent)
   */
  public static Runnable register(Vertx vertx, String server, String host, int port) {
    ListeningServers registry = of(vertx);
    long id = registry.add(server, host, port);
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    Runnable[] cancelHook = new Runnable[1];
    Runnable unregister = () -> {
      if (done.compareAndSet(false, true)) {
        registry.remove(server, id);
        if (cancelHook[0] != null) {
          cancelHook[0].run();
        }
      }
    };
    cancelHook[0] = dev.tether.internal.ContextAccess.onClose(vertx.getOrCreateContext(), () -> {
      if (done.compareAndSet(false, true)) {
        registry.remove(server, id);
      }
    });
    return unregister;
  }

  private long add(String server, String host, int port) {
    long id = IDS.incrementAndGet();
    servers.computeIfAbsent(server, s -> new ConcurrentHashMap<>())
      .put(id, new JsonObject().put("host", host).put("port", port));
    return id;
  }

  private void remove(String server, long id) {
    servers.computeIfPresent(server, (s, m) -> {
      m.remove(id);
      return m.isEmpty() ? null : m;
    });
  }

  /**
   * The open-connection count of {@code server}, shared by its instances: a {@link TrackedServer}
   * adds one per accepted connection and removes it when the connection ends. Fetch it once per server.
   */
  public AtomicLong connectionCounter(String server) {
    return connections.computeIfAbsent(server, s -> new AtomicLong());
  }

  /** Open tracked connections of {@code server} now (0 when unknown). */
  public long connections(String server) {
    AtomicLong c = connections.get(server);
    return c == null ? 0 : c.get();
  }

  /** Number of listening instances of {@code server} (0 when it is down or unknown). */
  public int instances(String server) {
    Map<Long, JsonObject> m = servers.get(server);
    return m == null ? 0 : m.size();
  }

  /** Where {@code server} listens (host and port of one of its instances), or null when it does not. */
  public JsonObject address(String server) {
    Map<Long, JsonObject> m = servers.get(server);
    if (m == null) {
      return null;
    }
    for (JsonObject a : m.values()) {
      return a.copy();
    }
    return null;
  }
}
