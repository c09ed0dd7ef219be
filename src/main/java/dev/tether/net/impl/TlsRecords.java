package dev.tether.net.impl;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelProgressivePromise;
import io.netty.channel.ChannelPromise;
import io.netty.handler.ssl.SslHandler;

/**
 * Keeps flushed counts exact under TLS: each plaintext buffer that reaches Netty's
 * {@link SslHandler} becomes TLS records of its own, and a write's progress is reported record by
 * record, in plaintext bytes.
 *
 * <p>Why it is needed (Netty 4.2 {@code SslHandler}): a plaintext write is queued with its promise
 * in a coalescing queue; on flush, {@code wrap} takes up to {@code wrapDataSize} (16 KiB) bytes from
 * the queue, across writes, encrypts them into one record and writes that with a new,
 * non-progressive promise; a write's promise is completed by the record that holds its
 * <em>last</em> byte. So without this handler a tracked write (a) never sees progress (the
 * transport reports progress to the record's promise, not to ours), and (b) may have its first
 * bytes in a record that reached the kernel while the record with its last byte did not: the write
 * fails with 0 bytes flushed although the peer can decrypt part of it.
 *
 * <p>What it does: the SslHandler's coalescing is switched off ({@code setWrapDataSize(0)}: each
 * queued buffer is wrapped on its own) and a write larger than one record's plaintext
 * ({@value #RECORD} bytes, the TLS maximum) is cut here into pieces of at most that size, each
 * with a promise of its own. Every record then holds bytes of one write only, and a piece's promise
 * succeeds exactly when its record was handed to the kernel. On each piece that succeeds the
 * write's progressive promise gets {@code tryProgress}, so a write that fails half way reports the
 * plaintext of its records that got out. A record is authenticated as a whole: the peer can never
 * decrypt part of one, hence never more than what is counted flushed.
 *
 * <p>Placed right after the SslHandler (towards the tail), below Vert.x's chunked writer, the fault
 * injector and the tracker: faults and resends act on plaintext. Writes of at most one record go
 * through untouched, with their own promise.
 *
 * <p>Threading: the channel's event loop.
 */
public final class TlsRecords extends ChannelOutboundHandlerAdapter {

  /** Pipeline name. */
  public static final String NAME = "tether-tls";
  /** Largest plaintext of one TLS record: 2^14 bytes (RFC 8446 5.1, RFC 5246 6.2.1); SslHandler's maximum too. */
  public static final int RECORD = 16 * 1024;

  /**
   * Installs the handler after the channel's SslHandler, if it has one (a TLS connection whose
   * handshake is done: Vert.x hands the socket over only then).
   *
   * @return whether the channel speaks TLS
   */
  public static boolean install(Channel channel) {
    ChannelPipeline pipeline = channel.pipeline();
    ChannelHandlerContext ssl = pipeline.context(SslHandler.class);
    if (ssl == null) {
      return false;
    }
    // each buffer wrapped on its own: records never mix bytes of two writes
    ((SslHandler) ssl.handler()).setWrapDataSize(0);
    if (pipeline.get(NAME) == null) {
      pipeline.addAfter(ssl.name(), NAME, new TlsRecords());
    }
    return true;
  }

  /**
   * Where an abort starts: the SslHandler's own context when the channel speaks TLS (a close from
   * there goes to the transport below the TLS layer), else {@code ctx}. SslHandler's close sends a
   * close_notify and waits up to 3 s for it to be flushed, behind whatever a stalled peer did not
   * read, then logs a WARN; an abort must not wait.
   */
  public static ChannelHandlerContext belowTls(ChannelHandlerContext ctx) {
    ChannelHandlerContext ssl = ctx.pipeline().context(SslHandler.class);
    return ssl == null ? ctx : ssl;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof ByteBuf buf) || buf.readableBytes() <= RECORD) {
      ctx.write(msg, promise);
      return;
    }
    int total = buf.readableBytes();
    Pieces pieces = promise.isVoid() ? null : new Pieces(promise, total);
    try {
      while (buf.isReadable()) {
        ByteBuf piece = buf.readRetainedSlice(Math.min(RECORD, buf.readableBytes()));
        ctx.write(piece, pieces == null ? ctx.voidPromise() : ctx.newPromise().addListener(pieces));
      }
    } finally {
      buf.release();
    }
  }

  /**
   * The pieces of one write, followed by their promises. Every piece but the last is
   * {@value #RECORD} bytes, and they complete in order (the transport completes writes in order).
   */
  private static final class Pieces implements ChannelFutureListener {
    private final ChannelPromise whole;
    private final int total;
    private int done;

    Pieces(ChannelPromise whole, int total) {
      this.whole = whole;
      this.total = total;
    }

    @Override
    public void operationComplete(ChannelFuture f) {
      if (!f.isSuccess()) {
        whole.tryFailure(f.cause()); // the first failure settles the write; later pieces fail too
        return;
      }
      done = Math.min(total, done + RECORD);
      if (done == total) {
        whole.trySuccess();
      } else if (whole instanceof ChannelProgressivePromise p) {
        p.tryProgress(done, total);
      }
    }
  }
}
