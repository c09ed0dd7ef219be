package dev.tether.net;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandles;
import java.lang.reflect.Field;

/**
 * Descriptor exhaustion on listening sockets that are not {@link TrackedServer}s (the node's HTTP server,
 * the event-bus bridge): the same treatment as a tracked server gets ({@link AcceptFailures}): a failed
 * accept is a {@code RESOURCE_EXHAUSTED}/{@code ACCEPT} event, one WARN and one INFO per episode, backlog
 * clients closed at once; no Netty stack trace.
 *
 * <p>Call {@link #install} once the server listens, from any thread.
 */
public final class AcceptGuard {

  private static final Logger log = LoggerFactory.getLogger(AcceptGuard.class);

  private AcceptGuard() {
  }

  /**
   * Installs the accept-failure handlers on the listening socket behind {@code server}: a Vert.x
   * {@link NetServer}, or an object that holds one in a field (Vert.x's {@code HttpServerImpl},
   * the TCP event-bus bridge). Logs a WARN and does nothing when no listening socket can be found.
   *
   * @param name the server's name in events and metrics ({@code http}, {@code bridge})
   */
  public static void install(Vertx vertx, Object server, String name, String protocol) {
    NetServer net = netServerOf(server, 2);
    if (net == null) {
      log.warn("{}: no listening socket found behind {}; accept failures stay Netty's log lines", name,
        server == null ? null : server.getClass().getName());
      return;
    }
    AcceptFailures.install(vertx, net, name, protocol);
  }

  /**
   * The Vert.x {@link NetServer} behind {@code server} (itself, or one held in a field of it or of an
   * object it holds: Vert.x's HTTP server, the TCP event-bus bridge), or null.
   */
  public static NetServer netServerOf(Object server) {
    return netServerOf(server, 2);
  }

  /**
   * {@code o} itself when a NetServer, else a NetServer held in one of its own fields, else (to {@code depth}) one
   * held by an io.vertx object in its fields. Own fields come first: the bridge also holds the event bus, whose
   * clustered implementation has a listening NetServer of its own.
   */
  static NetServer netServerOf(Object o, int depth) {
    if (o instanceof NetServer n) {
      return n;
    }
    if (o == null || depth == 0) {
      return null;
    }
    for (boolean descend : new boolean[] {false, true}) {
      for (Class<?> c = o.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
        for (Field f : c.getDeclaredFields()) {
          if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
            continue;
          }
          boolean direct = NetServer.class.isAssignableFrom(f.getType());
          if (direct == descend || (descend && (depth < 2 || !f.getType().getName().startsWith("io.vertx")))) {
            continue;
          }
          try {
            Object v = MethodHandles.privateLookupIn(c, MethodHandles.lookup()).unreflectGetter(f).invoke(o);
            NetServer n = direct ? (NetServer) v : netServerOf(v, depth - 1);
            if (n != null) {
              return n;
            }
          } catch (Throwable t) {
            // not readable: try the next field
          }
        }
      }
    }
    return null;
  }
}
