package dev.tether.net.impl;

import dev.tether.internal.NettyAccess;
import dev.tether.net.impl.TrackedWrite.Stage;
import dev.tether.net.spi.PartialWriteException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelPromise;
import io.netty.util.concurrent.PromiseNotifier;
import io.vertx.core.net.NetSocket;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The outbound path of one tracked connection: the first handler on Netty's outbound pipeline (just
 * before Vert.x's own), where tracked writes leave Vert.x's queue and enter the transport. It is
 * the single place where the order of the stream is decided, so it is where order is kept:
 *
 * <ul>
 *   <li>Writes arrive here in stream order (Vert.x's queue is FIFO) and are passed on as they come,
 *       with a progressive promise that reports partial progress.</li>
 *   <li>After a soft failure the path <em>latches</em>: the refused write and every write that
 *       arrives after it are held here, in stream order ({@link #held}).</li>
 *   <li>A resend {@linkplain #replay replays} the held writes from here, straight into the
 *       transport, in order. A write issued while the replay runs (by a receipt, say) arrives here
 *       behind the held ones and is held too, so it goes out after them: nothing can jump the held
 *       suffix.</li>
 *   <li>A refusal that arrives after a later write was already passed on cannot be resent without
 *       reordering the stream; it is reported as {@link Listener#unorderable} and the owner closes
 *       the connection at once.</li>
 * </ul>
 *
 * The tracker keeps the mechanics only (where each write is, what is held); the {@link Listener}
 * keeps the books and decides.
 *
 * <p>Threading: everything here runs on the channel's event loop.
 */
public final class WriteTracker extends ChannelOutboundHandlerAdapter implements TrackedWrite.Owner {

  /** Pipeline name of the tracker. */
  public static final String NAME = "tether-tracker";

  /** What the tracker tells its owner. */
  public interface Listener {
    /** {@code bytes} more of {@code w} reached the kernel. */
    void flushed(TrackedWrite w, int bytes);

    /** {@code w} was refused while the connection stays usable; it is held now and the path latched. */
    void softFailure(TrackedWrite w, Throwable cause);

    /** {@code w} failed and the connection is going (or gone). */
    void hardFailure(TrackedWrite w, Throwable cause);

    /** {@code w} was refused after later writes were passed on: it cannot be resent in order. */
    void unorderable(TrackedWrite w, Throwable cause);

    /**
     * A flush returned with writes still on their way (the kernel did not take them all, or the
     * transport completes writes later): time to watch for a write timeout.
     */
    default void unflushedAfterFlush() {
    }

    /** Nothing is on the wire any more (a held failure may now be reported with exact counts). */
    void wireIdle();

    /** Entering from Netty (a completion): callbacks wait until {@link #exit()}. */
    void enter();

    void exit();
  }

  private final NetSocket socket;
  private final Listener listener;
  // State accessed exclusively from the channel's event loop
  private ChannelHandlerContext ctx;
  /**
   * Writes held after a soft failure, in stream order; made at the first soft failure (most
   * connections never have one: see docs/performance.md, "Heap per idle connection").
   */
  private ArrayDeque<TrackedWrite> held;
  private boolean latched;
  private boolean replaying;
  /** Transmissions passed on towards the transport whose completion is pending (passed parts included). */
  private int onWire;
  /** Writes in Vert.x's queue, not yet seen here. */
  private int inQueue;
  /**
   * Stream offset of the write passed on most recently, or -1: its offset only, so that an idle
   * connection does not keep its last write (and that write's buffer) reachable.
   */
  private long lastPassedStart = -1;

  public WriteTracker(NetSocket socket, Listener listener) {
    this.socket = socket;
    this.listener = listener;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  // ---------------------------------------------------------------------------------------------
  // Into Vert.x's queue and out of it

  /** Sends {@code w} on its way through Vert.x's outbound queue (in order with every other write). */
  public void transmit(TrackedWrite w) {
    w.stage(Stage.QUEUED);
    inQueue++;
    NettyAccess.write(socket, w, w.transmission());
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof TrackedWrite w) {
      admit(w, promise);
    } else {
      ctx.write(msg, promise);
    }
  }

  private void admit(TrackedWrite w, ChannelPromise promise) {
    inQueue--;
    if (promise != w.onItsWay) {
      // Vert.x passed its own promise (the writeMessage fallback): follow ours, complete theirs
      w.onItsWay.addListener(new PromiseNotifier<>(promise));
    }
    if (w.settled()) {
      // given up while it waited in Vert.x's queue: it goes no further
      w.onItsWay = null;
      return;
    }
    if (latched || (held != null && !held.isEmpty())) {
      w.onItsWay = null; // that transmission ends here; a replay makes a new one
      hold(w);
      return;
    }
    pass(w);
  }

  /** Hands {@code w}'s unflushed bytes to the next handler with a promise this write follows. */
  private void pass(TrackedWrite w) {
    w.stage(Stage.WIRE);
    onWire++;
    lastPassedStart = w.start();
    ChannelPromise p = w.onItsWay != null ? w.onItsWay : w.transmission();
    ctx.write(w.wire(w.flushedBytes()), p);
  }

  private void hold(TrackedWrite w) {
    w.stage(Stage.HELD);
    ArrayDeque<TrackedWrite> held = this.held;
    if (held == null) {
      held = this.held = new ArrayDeque<>();
    }
    // in stream order: a write refused late may belong before writes already held
    if (held.isEmpty() || held.peekLast().start() < w.start()) {
      held.addLast(w);
      return;
    }
    ArrayDeque<TrackedWrite> tail = new ArrayDeque<>();
    while (!held.isEmpty() && held.peekLast().start() > w.start()) {
      tail.addFirst(held.pollLast());
    }
    held.addLast(w);
    held.addAll(tail);
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    ctx.flush();
    if (onWire > 0) {
      listener.unflushedAfterFlush();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Completions

  @Override
  public void completed(TrackedWrite w, ChannelProgressiveFuture f) {
    listener.enter();
    try {
      complete(w, f);
    } finally {
      listener.exit();
    }
  }

  private void complete(TrackedWrite w, ChannelProgressiveFuture f) {
    if (f != w.onItsWay) {
      return; // a transmission that ended at the tracker
    }
    w.onItsWay = null;
    if (w.stage() != Stage.WIRE) {
      // failed before it left Vert.x's queue (the connection closed): the owner gives it up on close
      inQueue--;
      return;
    }
    onWire--;
    if (f.isSuccess()) {
      if (!w.settled()) {
        listener.flushed(w, w.remaining());
      }
      idleCheck();
      return;
    }
    Throwable cause = f.cause();
    if (w.progress > 0 && !w.settled()) {
      listener.flushed(w, Math.min(w.progress, w.remaining()));
    }
    // a TLS engine that refused a write (closed, or failed to wrap) will refuse a resend too: hard
    boolean usable = ctx.channel().isActive() && !(cause instanceof javax.net.ssl.SSLException);
    if (cause instanceof PartialWriteException pwe && usable && !w.settled()) {
      // the first part is still on its way: follow it as a transmission of its own
      onWire++;
      new PassedPart(w, Math.min(pwe.passedBytes(), w.remaining()), pwe.passed());
    }
    if (w.settled()) {
      idleCheck();
      return;
    }
    if (!usable) {
      w.stage(Stage.HELD);
      listener.hardFailure(w, cause);
    } else if (lastPassedStart > w.start()) {
      w.stage(Stage.HELD);
      listener.unorderable(w, cause);
    } else {
      latched = true;
      replaying = false;
      hold(w);
      listener.softFailure(w, cause);
    }
    idleCheck();
  }

  /**
   * The part of a write that a handler passed on before refusing the rest, followed to its end. When
   * its future is progressive (as the fault injector's is), the bytes it reports written count as
   * flushed even if the part then fails: they reached the kernel, and the peer gets them.
   */
  private final class PassedPart implements ChannelFutureListener {
    private final TrackedWrite w;
    private final int bytes;
    private long progress;

    PassedPart(TrackedWrite w, int bytes, ChannelFuture f) {
      this.w = w;
      this.bytes = bytes;
      if (f instanceof ChannelProgressiveFuture pf) {
        pf.addListener(new ChannelProgressiveFutureListener() {
          @Override
          public void operationProgressed(ChannelProgressiveFuture future, long progress, long total) {
            PassedPart.this.progress = progress;
          }

          @Override
          public void operationComplete(ChannelProgressiveFuture future) {
          }
        });
      }
      f.addListener(this);
    }

    @Override
    public void operationComplete(ChannelFuture f) {
      passedComplete(w, bytes, f, progress);
    }
  }

  private void passedComplete(TrackedWrite w, int passed, ChannelFuture f, long progress) {
    listener.enter();
    try {
      onWire--;
      if (f.isSuccess() && !w.settled()) {
        listener.flushed(w, passed);
      } else if (!f.isSuccess()) {
        if (progress > 0 && !w.settled()) {
          listener.flushed(w, (int) Math.min(progress, Math.min(passed, w.remaining())));
        }
        listener.hardFailure(w, f.cause());
      }
      idleCheck();
    } finally {
      listener.exit();
    }
  }

  private void idleCheck() {
    if (onWire == 0) {
      listener.wireIdle();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Replay and giving up

  /**
   * Unlatches and passes the held writes on, in stream order, straight into the transport; writes
   * that arrive meanwhile queue up behind them. Stops if one of them is refused again (the path
   * latches anew and the rest stays held).
   *
   * @param resending told of each write before it is passed on again
   */
  public void replay(java.util.function.Consumer<TrackedWrite> resending) {
    latched = false;
    replaying = true;
    TrackedWrite w;
    ArrayDeque<TrackedWrite> held = this.held;
    while (held != null && !latched && (w = held.peekFirst()) != null) {
      held.pollFirst();
      if (w.settled()) {
        continue;
      }
      resending.accept(w);
      pass(w);
    }
    replaying = false;
    ctx.flush();
    if (onWire > 0) {
      listener.unflushedAfterFlush();
    }
  }

  /** Removes the held writes and hands them over (to be given up); unlatches. */
  public void releaseHeld(java.util.function.Consumer<TrackedWrite> action) {
    latched = false;
    TrackedWrite w;
    ArrayDeque<TrackedWrite> held = this.held;
    while (held != null && (w = held.pollFirst()) != null) {
      action.accept(w);
    }
  }

  /** Closes the channel from here: straight to the transport, failing whatever it still holds. */
  public void abort() {
    ChannelHandlerContext c = ctx;
    if (c != null) {
      // under TLS from below the SslHandler: no close_notify to wait for behind unread bytes
      TlsRecords.belowTls(c).close();
    } else {
      socket.close();
    }
  }

  public boolean latched() {
    return latched;
  }

  public boolean replaying() {
    return replaying;
  }

  public int onWire() {
    return onWire;
  }

  public int inQueue() {
    return inQueue;
  }

  public int heldCount() {
    return held == null ? 0 : held.size();
  }

  public Iterator<TrackedWrite> heldWrites() {
    return held == null ? java.util.Collections.emptyIterator() : held.iterator();
  }
}
