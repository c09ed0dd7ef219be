package dev.tether.net.impl;

import dev.tether.internal.LentBuffer;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.buffer.Buffer;

import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * The zero-copy read path of a tracked connection (issue 10): a Netty handler just before Vert.x's
 * own ({@code "handler"}) that takes the bytes the transport read, lends them to the user's handler
 * as a {@link LentBuffer} over Netty's pooled memory, and releases them when the handler returns.
 * They never reach Vert.x, which would copy each one to the heap ({@code VertxHandler.safeBuffer}).
 *
 * <p>Ownership: each {@code ByteBuf} read here is released exactly once by this class: after its
 * callback, or, when it waits in {@link #queue} (reads that arrive while paused or while a callback
 * runs), when the connection closes or this handler is removed. A write of the lent buffer takes a
 * reference of its own ({@link TrackedWrite}).
 *
 * <p>Flushes: Vert.x flushes a write at once unless it is inside one of its own reads; these reads
 * are not Vert.x's, so this handler holds back the flushes that pass it during a read (and during
 * the delivery of queued reads) and flushes once at the end of the read ({@code channelReadComplete}),
 * as Vert.x would have: one system call per read, not per write.
 *
 * <p>Back-pressure: {@link #pause()} turns the channel's auto-read off; what the transport had
 * already read waits in {@link #queue}. Vert.x's own pause is not used here: it would keep the
 * pooled buffers in Vert.x's queue, which nothing releases when the connection closes.
 *
 * <p>Threading: everything here runs on the channel's event loop.
 */
public final class LentReader extends ChannelDuplexHandler {

  /** Pipeline name of the reader. */
  public static final String NAME = "tether-lent";

  // State accessed exclusively from the channel's event loop
  private Consumer<Buffer> sink;
  private ChannelHandlerContext ctx;
  private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>(4);
  private boolean paused;
  private boolean delivering;
  private boolean reading;
  private boolean flushWanted;
  private boolean closed;

  /** @param sink called with each read, lent for the duration of the call; must not throw */
  public LentReader(Consumer<Buffer> sink) {
    this.sink = sink;
  }

  /** Replaces the consumer of reads. */
  public void sink(Consumer<Buffer> sink) {
    this.sink = sink;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (closed) {
      buf.release();
      return;
    }
    reading = true;
    queue.addLast(buf);
    drain();
  }

  /** Delivers what waits, in order, unless paused or already delivering (a reentrant read). */
  private void drain() {
    if (delivering) {
      return;
    }
    delivering = true;
    try {
      ByteBuf b;
      while (!paused && !closed && (b = queue.pollFirst()) != null) {
        try {
          sink.accept(new LentBuffer(b.readerIndex() == 0 ? b : b.slice()));
        } finally {
          b.release();
        }
      }
    } finally {
      delivering = false;
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    reading = false;
    flushIfWanted();
    ctx.fireChannelReadComplete();
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    if (reading || delivering) {
      flushWanted = true; // at the end of the read
      return;
    }
    ctx.flush();
  }

  private void flushIfWanted() {
    if (flushWanted && !reading && !delivering) {
      flushWanted = false;
      ctx.flush();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    close();
    ctx.fireChannelInactive();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    close();
    if (flushWanted) {
      flushWanted = false;
      ctx.flush();
    }
  }

  private void close() {
    closed = true;
    reading = false;
    ByteBuf b;
    while ((b = queue.pollFirst()) != null) {
      b.release();
    }
  }

  /** Stops reading: the channel's auto-read goes off; reads already made wait here. */
  public void pause() {
    if (!paused) {
      paused = true;
      if (ctx != null) {
        ctx.channel().config().setAutoRead(false);
      }
    }
  }

  /** Delivers what waited, then reads again. */
  public void resume() {
    if (paused) {
      paused = false;
      drain();
      flushIfWanted();
      if (!paused && ctx != null && !closed) {
        ctx.channel().config().setAutoRead(true);
      }
    }
  }

  public boolean paused() {
    return paused;
  }

  /** Reads waiting for a resume. */
  public int queued() {
    return queue.size();
  }
}
