package dev.tether.internal;

import io.netty.buffer.ByteBuf;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.buffer.impl.BufferImpl;

/**
 * A Vert.x {@link Buffer} over memory Tether lends from Netty's pool: the bytes a connection just
 * read, without the copy to the heap that Vert.x makes for a {@code NetSocket}'s handler. It is
 * valid during the callback it is handed to, and no longer: Tether releases the pooled memory when
 * the callback returns.
 *
 * <p>Writing it through a tracked socket ({@code write}, {@code writeTracked}, {@code send}) is the
 * zero-copy path: the write takes a reference of its own at the call and gives it back exactly
 * once, when its bytes are flushed or given up. {@link #slice} returns a lent buffer too (same
 * memory, same rules); {@link #copy} returns a heap copy the caller may keep. Do not modify it.
 *
 * <p>It extends Vert.x's buffer implementation ({@code BufferImpl}, a public class with a
 * {@code ByteBuf} constructor) so that Tether can recognise it and reach its {@code ByteBuf}
 * without reflection. Not thread-safe: used on the connection's event loop.
 */
public final class LentBuffer extends BufferImpl {

  private final ByteBuf buf;

  /** {@code buf} must have its reader index at 0 (Vert.x's buffer indexes from 0). */
  public LentBuffer(ByteBuf buf) {
    super(buf);
    this.buf = buf;
  }

  /** The lent memory (not retained for the caller). */
  public ByteBuf byteBuf() {
    return buf;
  }

  @Override
  public LentBuffer slice() {
    return new LentBuffer(buf.slice());
  }

  @Override
  public LentBuffer slice(int start, int end) {
    return new LentBuffer(buf.slice(start, end - start));
  }

  /** A heap copy, safe to keep (a copy of pooled memory would be pooled memory nobody releases). */
  @Override
  public BufferImpl copy() {
    BufferImpl copy = new BufferImpl(buf.readableBytes());
    copy.appendBuffer(this);
    return copy;
  }
}
