package dev.tether.net.impl;

import dev.tether.ledger.LedgerEntry;
import dev.tether.internal.NettyAccess;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelProgressivePromise;
import io.netty.channel.DefaultChannelProgressivePromise;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;

/**
 * One accepted write: its ledger entry, the retained buffer, where it is on its way, and who waits
 * for it. It is also the message that travels through Vert.x's outbound queue to the
 * {@link WriteTracker}, the Netty promise of its first transmission (one object per write instead of
 * two; a resend gets a fresh promise) and the listener of whichever promise is on its way.
 *
 * <p>Threading: created and touched only on the connection's event loop.
 */
public final class TrackedWrite extends DefaultChannelProgressivePromise
  implements LedgerEntry, ChannelProgressiveFutureListener {

  /** Where a write is. */
  public enum Stage {
    /** In Vert.x's outbound queue, not yet at the tracker. */
    QUEUED,
    /** Passed on towards the transport by the tracker, completion pending. */
    WIRE,
    /** Held by the tracker after a soft failure, waiting for a decision. */
    HELD
  }

  /** Told when the promise of a transmission completes. */
  public interface Owner {
    void completed(TrackedWrite w, ChannelProgressiveFuture f);
  }

  /**
   * The bytes: a Vert.x {@link Buffer} (heap, the application's: Netty gets a view of it), or a
   * {@link ByteBuf} this write holds a reference of (a lent buffer's pooled memory, the zero-copy
   * path), released exactly once when the write settles ({@link #ledgerSettle}).
   */
  private final Object data;
  /** The user's promise: a {@code Promise<WriteReceipt>}, a {@code Promise<Void>} or null (send). */
  public final Promise<?> waiter;
  public final long acceptedAt = System.nanoTime();
  private final Owner owner;
  // ledger state (see LedgerEntry)
  private long start;
  private int length;
  private int flushed;
  /** Progress reported by Netty for the transmission on its way. */
  int progress;
  /** The promise of the transmission on its way (in Vert.x's queue or in Netty), if any. */
  ChannelProgressivePromise onItsWay;
  /** The flags below and the stage, in one byte: this object is made for every write. */
  private byte bits;

  public static final int SETTLED = 1;
  public static final int GIVEN_UP = 1 << 1;
  /** This object already served as the promise of a transmission (promises complete once). */
  public static final int PROMISE_USED = 1 << 2;
  public static final int RESENT = 1 << 3;
  public static final int TIMEOUT_REPORTED = 1 << 4;
  private static final int STAGE_SHIFT = 5;
  /** The waiter wants a WriteReceipt (else a Void): a flag, not a field (a boolean field cost 8 B per write). */
  private static final int RECEIPT = 1 << 7;
  private static final Stage[] STAGES = {null, Stage.QUEUED, Stage.WIRE, Stage.HELD};

  public TrackedWrite(Channel channel, Owner owner, Buffer data, Promise<?> waiter, boolean receipt) {
    this(channel, owner, (Object) data, waiter, receipt);
  }

  /** A write of pooled memory: {@code retained} is a reference this write now owns and releases once. */
  public TrackedWrite(Channel channel, Owner owner, ByteBuf retained, Promise<?> waiter, boolean receipt) {
    this(channel, owner, (Object) retained, waiter, receipt);
  }

  private TrackedWrite(Channel channel, Owner owner, Object data, Promise<?> waiter, boolean receipt) {
    super(channel);
    this.owner = owner;
    this.data = data;
    this.waiter = waiter;
    if (receipt) {
      bits = (byte) RECEIPT;
    }
  }

  public boolean is(int flag) {
    return (bits & flag) != 0;
  }

  public void set(int flag) {
    bits = (byte) (bits | flag);
  }

  public Stage stage() {
    return STAGES[(bits >> STAGE_SHIFT) & 3];
  }

  public void stage(Stage stage) {
    bits = (byte) ((bits & ~(3 << STAGE_SHIFT)) | ((stage.ordinal() + 1) << STAGE_SHIFT));
  }

  /** Whether the waiter wants a {@code WriteReceipt}. */
  public boolean wantsReceipt() {
    return (bits & RECEIPT) != 0;
  }

  /** A fresh promise for the next transmission (this object the first time), followed by this write. */
  public ChannelProgressivePromise transmission() {
    ChannelProgressivePromise p;
    if (!is(PROMISE_USED)) {
      set(PROMISE_USED);
      p = this;
    } else {
      p = channel().newProgressivePromise();
    }
    progress = 0;
    onItsWay = p;
    p.addListener(this);
    return p;
  }

  @Override
  public long start() {
    return start;
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public int flushedBytes() {
    return flushed;
  }

  @Override
  public boolean settled() {
    return is(SETTLED);
  }

  @Override
  public boolean givenUp() {
    return is(GIVEN_UP);
  }

  @Override
  public void ledgerInit(long start, int length) {
    this.start = start;
    this.length = length;
  }

  @Override
  public void ledgerFlushed(int bytes) {
    flushed += bytes;
  }

  @Override
  public void ledgerSettle(boolean givenUp) {
    if (is(SETTLED)) {
      return;
    }
    set(SETTLED);
    if (givenUp) {
      set(GIVEN_UP);
    }
    if (data instanceof ByteBuf b) {
      // the write's own reference: flushed or given up, nobody needs the bytes any more (Netty holds
      // references of its own to whatever it still has on its way)
      b.release();
    }
  }

  /**
   * The bytes from {@code from} on, for one transmission: a view the transport may release (for
   * pooled memory a retained slice, so the write keeps its own reference for a resend).
   */
  public ByteBuf wire(int from) {
    if (data instanceof ByteBuf b) {
      return b.retainedSlice(b.readerIndex() + from, length - from);
    }
    return NettyAccess.byteBuf((Buffer) data, from);
  }

  /** Whether the bytes are pooled memory this write holds a reference of. */
  public boolean pooled() {
    return data instanceof ByteBuf;
  }

  @Override
  public void operationProgressed(ChannelProgressiveFuture future, long progress, long total) {
    if (future == onItsWay) {
      this.progress = (int) Math.min(progress, Integer.MAX_VALUE);
    }
  }

  @Override
  public void operationComplete(ChannelProgressiveFuture future) {
    owner.completed(this, future);
  }

  @Override
  public String toString() {
    return "write[" + start + ".." + (start + length) + " flushed=" + flushed + " " + stage() + "]";
  }
}
