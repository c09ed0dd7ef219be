package dev.tether.internal;

import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.transport.Transport;

import java.util.Arrays;
import java.util.Objects;

/**
 * Which Netty transport a Vert.x instance runs (nio, epoll, io_uring, kqueue), read through Vert.x's
 * internal API ({@code VertxInternal.transport()}), isolated like {@link NettyAccess}. Vert.x
 * itself only says whether the transport is native ({@link Vertx#isNativeTransportEnabled()}) and, when
 * a native one was asked for and could not be had, why ({@link Vertx#unavailableNativeTransportCause()}).
 */
public final class TransportAccess {

  private TransportAccess() {
  }

  /**
   * The name of the transport {@code vertx} runs: {@code nio}, {@code epoll}, {@code io_uring},
   * {@code kqueue} (the names of {@link Transport}), or the implementation's class name if it is none of
   * those.
   */
  public static String name(Vertx vertx) {
    io.vertx.core.spi.transport.Transport running = ((VertxInternal) vertx).transport();
    for (Transport t : known()) {
      if (t.implementation() == running) {
        return t.name();
      }
    }
    return running.getClass().getName();
  }

  /**
   * One line for a start-up log: {@code "epoll (native)"}, or
   * {@code "nio (native transport unavailable: <cause>)"} when a native transport was asked for
   * ({@code preferNativeTransport}) and could not be loaded, or {@code "nio (preferNativeTransport is
   * false)"}, or {@code "nio (no native transport on the class path)"}.
   */
  public static String describe(Vertx vertx) {
    String name = name(vertx);
    if (vertx.isNativeTransportEnabled()) {
      return name + " (native)";
    }
    Throwable cause = vertx.unavailableNativeTransportCause();
    if (cause != null) {
      return name + " (native transport unavailable: " + cause + ")";
    }
    if (Transport.EPOLL == null && Transport.IO_URING == null && Transport.KQUEUE == null) {
      return name + " (no native transport on the class path)";
    }
    return name + " (preferNativeTransport is false)";
  }

  /**
   * The transport named {@code name} ({@code nio}, {@code epoll}, {@code io_uring}, {@code kqueue}).
   *
   * @throws IllegalArgumentException if the name is unknown or its classes are not on the class path
   */
  public static Transport byName(String name) {
    switch (name) {
      case "nio", "epoll", "io_uring", "kqueue" -> {
        for (Transport t : known()) {
          if (t.name().equals(name)) {
            return t;
          }
        }
        throw new IllegalArgumentException("transport " + name + ": its classes are not on the class path"
          + (name.equals("kqueue") ? "" : " (io.netty:netty-transport-native-" + name + ", classifier linux-x86_64)"));
      }
      default -> throw new IllegalArgumentException("unknown transport " + name + " (nio, epoll, io_uring, kqueue)");
    }
  }

  private static Transport[] known() {
    // EPOLL, IO_URING, KQUEUE are null when their classes are not on the class path
    return Arrays.stream(new Transport[] {Transport.NIO, Transport.EPOLL, Transport.IO_URING, Transport.KQUEUE})
      .filter(Objects::nonNull).toArray(Transport[]::new);
  }
}
