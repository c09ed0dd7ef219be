package dev.tether.support;

import dev.tether.internal.LentBuffer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.vertx.core.buffer.Buffer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.fail;

/**
 * Plays the zero-copy read path's part in tests: lends bytes as a {@link LentBuffer} over direct
 * memory for the duration of one call and releases its own reference afterwards, as
 * {@code LentReader} does. It remembers every buffer it lent, so {@link #assertAllReleased()} can
 * check, without waiting for the garbage collector, that every reference a write took was given
 * back: exactly once (a second release throws, and is reported by {@link LeakDetection}).
 *
 * <p>Unpooled direct memory, so a released buffer's count stays readable (pooled buffer objects
 * are recycled); it is leak-tracked like pooled memory. Thread-safe.
 */
public final class Lender {

  private static final UnpooledByteBufAllocator ALLOC = new UnpooledByteBufAllocator(true);
  private final List<ByteBuf> lent = new ArrayList<>();

  /** Lends {@code bytes[off, off + n)} to {@code use} and takes the lender's reference back after it. */
  public <T> T lend(byte[] bytes, int off, int n, Function<Buffer, T> use) {
    ByteBuf b = ALLOC.directBuffer(Math.max(n, 1));
    b.writeBytes(bytes, off, n);
    synchronized (lent) {
      lent.add(b);
    }
    try {
      return use.apply(new LentBuffer(b));
    } finally {
      b.release();
    }
  }

  public int count() {
    synchronized (lent) {
      return lent.size();
    }
  }

  /** Every buffer lent so far has been released by everyone who held it. */
  public void assertAllReleased() {
    synchronized (lent) {
      for (int i = 0; i < lent.size(); i++) {
        int refs = lent.get(i).refCnt();
        if (refs != 0) {
          fail("lent buffer #" + i + " of " + lent.size() + " still has " + refs + " reference(s): a write did not release it");
        }
      }
    }
  }
}
