package dev.tether.net;

import dev.tether.Tether;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.internal.NettyAccess;
import dev.tether.metrics.TetherRecorder;
import dev.tether.recovery.FailureReporter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.ZonedDateTime;
import java.util.TimeZone;
import java.util.concurrent.TimeUnit;

/**
 * Accept failures of one listening socket as Tether failures instead of Netty stack traces.
 *
 * <p>Netty fires a failed {@code accept(2)} (EMFILE, ENFILE, ENOBUFS, ENOMEM) on the <em>server</em>
 * channel's pipeline; its {@code ServerBootstrapAcceptor} stops reading for one second and passes it on,
 * and the pipeline's tail logs it at WARN with a stack trace. Two handlers go onto that pipeline (through
 * {@link NettyAccess#serverChannel}): an observer first (it sees every accepted child and every failure, and
 * passes both on, so Netty's one-second back-off stays) and a sink last (it consumes the failures the
 * observer handled, so nothing reaches the tail). Other exceptions pass through untouched.
 *
 * <p>A failure is {@code RESOURCE_EXHAUSTED}, direction {@code ACCEPT}, published on {@code tether.failure}
 * at most once a second per listening socket; {@code requested} (= {@code unsent}) is the number of
 * connections refused since the previous event (failed accepts plus backlog connections shed). One WARN
 * opens an episode; the first successful accept after it closes it with one INFO (count and duration).
 *
 * <p>Backlog: with the NIO transport a reserve descriptor ({@code /dev/null}) is held from start-up; on a
 * failure it is closed, the connections waiting in the kernel backlog are accepted and closed at once (the
 * clients see end-of-stream instead of waiting unserved), and the reserve is reopened. Native transports
 * (epoll, io_uring) accept in native code with no Java handle on the listening socket: there, backlog
 * clients wait until descriptors free up, as before.
 *
 * <p>Threading: everything runs on the server channel's (acceptor) event loop.
 */
final class AcceptFailures {

  private static final Logger log = LoggerFactory.getLogger(AcceptFailures.class);
  static final String OBSERVER = "tether-accept-observer";
  static final String SINK = "tether-accept-sink";
  /** At most one event per listening socket this often. */
  static final long EVENT_INTERVAL_MS = 1000;
  /** Bound on the backlog connections shed per failure. */
  static final int MAX_SHED = 4096;
  private static final Path RESERVE = Path.of("/dev/null");

  private final FailureReporter reporter;
  private final TetherRecorder recorder;
  private final String server;
  private final Channel channel;
  private final String address;
  private final ServerSocketChannel javaChannel;
  private final long maxDescriptors;

  // State accessed exclusively from the acceptor event loop
  private FileChannel reserve;
  private long episodeStart;
  private long episodeFailed;
  private long episodeShed;
  private long pending;
  private long lastEventAt;
  private boolean flushScheduled;
  private Throwable lastCause;

  private AcceptFailures(Vertx vertx, String server, String protocol, Channel channel) {
    this.reporter = new FailureReporter(vertx, server, protocol, null, 0);
    this.recorder = Tether.of(vertx).recorder();
    this.server = server;
    this.channel = channel;
    this.address = String.valueOf(channel.localAddress()).replaceFirst("^/", "");
    this.javaChannel = NettyAccess.javaServerChannel(channel);
    this.maxDescriptors = maxDescriptors();
    preload();
  }

  /**
   * Puts the handlers on the listening socket of {@code netServer} (once, however many verticle instances
   * share it); logs why not when that socket cannot be reached.
   */
  static void install(Vertx vertx, NetServer netServer, String server, String protocol) {
    Channel ch = NettyAccess.serverChannel(netServer);
    if (ch == null) {
      log.warn("{}: cannot reach the listening socket; accept failures stay Netty's log lines", server);
      return;
    }
    ch.eventLoop().execute(() -> {
      ChannelPipeline p = ch.pipeline();
      if (!ch.isOpen() || p.get(OBSERVER) != null) {
        return;
      }
      AcceptFailures f = new AcceptFailures(vertx, server, protocol, ch);
      f.openReserve();
      p.addFirst(OBSERVER, f.new Observer());
      p.addLast(SINK, f.new Sink());
      ch.closeFuture().addListener(v -> f.closeReserve());
    });
  }

  /** Whether {@code cause} is an accept that failed for lack of descriptors or kernel memory. */
  static boolean exhausted(Throwable cause) {
    if (!(cause instanceof IOException) || cause.getMessage() == null) {
      return false;
    }
    String m = cause.getMessage();
    // EMFILE, ENFILE ("... in system"), ENOBUFS, ENOMEM; Netty's native transports prefix "accept(..) failed: "
    return m.contains("Too many open files") || m.contains("No buffer space available")
      || m.contains("Cannot allocate memory");
  }

  private final class Observer extends ChannelInboundHandlerAdapter {
    AcceptFailures owner() {
      return AcceptFailures.this;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (reserve == null && javaChannel != null && msg instanceof Channel child && !restoreReserve(child)) {
        return;
      }
      if (episodeStart != 0) {
        try {
          endEpisode();
        } catch (Throwable t) {
          // never in the way of an accepted connection
        }
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (exhausted(cause)) {
        try {
          failed(ctx, cause);
        } catch (Throwable t) {
          // no descriptor, no memory: nothing here may throw into Netty's accept loop
        }
      }
      // on to ServerBootstrapAcceptor: it pauses accepting for a second, then the sink consumes it
      ctx.fireExceptionCaught(cause);
    }
  }

  private final class Sink extends ChannelInboundHandlerAdapter {
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (!exhausted(cause)) {
        ctx.fireExceptionCaught(cause);
      }
    }
  }

  private void failed(ChannelHandlerContext ctx, Throwable cause) {
    long now = System.currentTimeMillis();
    lastCause = cause;
    long shed = shedBacklog();
    long refused = 1 + shed;
    recorder.acceptRefused(server, "failed", 1);
    if (shed > 0) {
      recorder.acceptRefused(server, "shed", shed);
    }
    if (episodeStart == 0) {
      episodeStart = now;
      log.warn("{}: cannot accept connections on {}: {} (descriptor limit {}); {}", server, address,
        cause.getMessage(), maxDescriptors < 0 ? "unknown" : maxDescriptors,
        javaChannel != null ? "connections waiting in the backlog are closed at once until descriptors free up"
          : "connections wait in the backlog until descriptors free up");
    }
    episodeFailed++;
    episodeShed += shed;
    pending += refused;
    scheduleFlush(ctx.executor(), now);
  }

  /** Publishes the pending count now, or once the interval since the last event has passed. */
  private void scheduleFlush(java.util.concurrent.ScheduledExecutorService executor, long now) {
    if (now - lastEventAt >= EVENT_INTERVAL_MS) {
      publish(now);
    } else if (!flushScheduled) {
      flushScheduled = true;
      executor.schedule(() -> {
        flushScheduled = false;
        if (pending > 0) {
          publish(System.currentTimeMillis());
        }
      }, lastEventAt + EVENT_INTERVAL_MS - now, TimeUnit.MILLISECONDS);
    }
  }

  private void publish(long now) {
    Throwable cause = lastCause;
    FailureEvent e = reporter.event(null, null, FailureKind.RESOURCE_EXHAUSTED, Direction.ACCEPT, pending, 0, 0,
      cause, false);
    e = new FailureEvent(e.id(), e.time(), e.node(), e.server(), e.protocol(), e.connection(), address, e.kind(),
      e.direction(), e.requested(), e.flushed(), e.unsent(), e.offset(), e.cause(),
      "accept on " + address + ": " + (cause == null ? "failed" : cause.getMessage()) + " (" + pending
        + " connections refused since the last event)", e.attempt(), e.soft());
    pending = 0;
    lastEventAt = now;
    reporter.announce(e);
  }

  private void endEpisode() {
    long ms = System.currentTimeMillis() - episodeStart;
    log.info("{}: accepting connections again on {} after {} ms: {} refused ({} failed accepts, {} closed at once "
      + "from the backlog)", server, address, ms, episodeFailed + episodeShed, episodeFailed, episodeShed);
    episodeStart = 0;
    episodeFailed = 0;
    episodeShed = 0;
    // a pending count is published by the scheduled flush
  }

  /**
   * Frees the reserve descriptor, accepts and closes what waits in the backlog, takes the reserve back.
   *
   * @return connections closed
   */
  private long shedBacklog() {
    if (javaChannel == null || reserve == null) {
      if (javaChannel != null) {
        openReserve();
      }
      return 0;
    }
    closeReserve();
    long shed = 0;
    try {
      for (int i = 0; i < MAX_SHED; i++) {
        SocketChannel c = javaChannel.accept();
        if (c == null) {
          break;
        }
        shed++;
        try {
          c.close();
        } catch (IOException ignored) {
          // closed anyway
        }
      }
    } catch (IOException stillExhausted) {
      // another thread took the freed descriptor: nothing more to shed now; the reserve is taken back at the
      // next accept (restoreReserve)
    }
    if (openReserve() != null) {
      log.debug("{}: lost the reserve descriptor to another thread; taken back at the next accept", server);
    }
    return shed;
  }

  /**
   * The reserve was lost: another thread of the process took the descriptor it freed while the backlog was
   * shed. Without it every later client would wait in the backlog unserved until the episode ends, so it is
   * taken back now: from a free descriptor if there is one, otherwise from the connection just accepted,
   * which is closed at once (its client learns as a shed one does).
   *
   * @return whether {@code child} may be served
   */
  private boolean restoreReserve(Channel child) {
    IOException failure = openReserve();
    if (failure == null || !exhausted(failure)) {
      return true; // restored, or the reserve cannot be had at all (no /dev/null): serve as usual
    }
    child.unsafe().closeForcibly();
    if (openReserve() != null) {
      log.debug("{}: reserve descriptor still unavailable after closing a connection", server);
    }
    recorder.acceptRefused(server, "shed", 1);
    episodeShed++;
    pending++;
    lastCause = failure;
    scheduleFlush(channel.eventLoop(), System.currentTimeMillis());
    return false;
  }

  /** @return null when the reserve is held, else why it could not be opened */
  IOException openReserve() {
    if (javaChannel == null || reserve != null) {
      return null;
    }
    try {
      reserve = reserveOpener.open();
      return null;
    } catch (IOException e) {
      reserve = null; // retried at the next failure or accept
      return e;
    } catch (RuntimeException e) {
      reserve = null;
      return new IOException(e);
    }
  }

  /** Opens the reserve descriptor; replaced by tests to stand for an exhausted process. */
  interface ReserveOpener {
    FileChannel open() throws IOException;
  }

  ReserveOpener reserveOpener = () -> FileChannel.open(RESERVE, StandardOpenOption.READ);

  /** The handlers' state on {@code ch}, or null when none are installed (tests). */
  static AcceptFailures of(Channel ch) {
    return ch.pipeline().get(OBSERVER) instanceof Observer o ? o.owner() : null;
  }

  boolean holdsReserve() {
    return reserve != null;
  }

  void closeReserve() {
    FileChannel r = reserve;
    reserve = null;
    if (r != null) {
      try {
        r.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }

  private static long maxDescriptors() {
    try {
      return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean u
        ? u.getMaxFileDescriptorCount() : -1;
    } catch (Throwable t) {
      return -1;
    }
  }

  /**
   * Loads now what a failure needs later, when no descriptor is left to load classes or data with: time-zone
   * data (an acceptor thread was seen to die of a NoClassDefFoundError loading it under EMFILE), the random
   * source of event ids, the event's JSON.
   */
  private void preload() {
    ZonedDateTime.now().toString();
    TimeZone.getDefault().getDisplayName();
    FailureEvent e = reporter.event(null, null, FailureKind.RESOURCE_EXHAUSTED, Direction.ACCEPT, 1, 0, 0,
      new IOException("preload"), false);
    e.toJson().encode();
    exhausted(new IOException("preload"));
  }
}
