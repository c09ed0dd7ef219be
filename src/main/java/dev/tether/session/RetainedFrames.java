package dev.tether.session;

import io.vertx.core.buffer.Buffer;

import java.util.function.Consumer;

/**
 * The DATA frames one side sent and the peer has not acknowledged yet, in seq order without gaps,
 * as encoded frames (ready to be written again on a new connection). A ring, so a frame is found by
 * its seq in O(1). Serialisable with {@link #appendTo} / {@link #readFrom} so a session can be handed
 * to another node over the event bus. Not thread-safe: owned by the session's event loop.
 *
 * <p>Ownership: a frame added here is owned by this ring. A frame in pooled memory
 * (a lent or {@code Frames.pooled...} buffer) is released exactly once: when an acknowledgement removes it
 * ({@link #release}) or when the ring is emptied for good ({@link #clear}).
 */
public final class RetainedFrames {

  /**
   * Heap a retained frame costs beyond its encoded bytes, as charged to the node's memory budget: the
   * Vert.x buffer, Netty's heap buffer, the array header and the ring slot. An estimate from the
   * objects' layouts (about 100 bytes on a 64-bit JVM with compressed oops), rounded up.
   */
  public static final int FRAME_OVERHEAD_BYTES = 128;

  private Buffer[] ring = new Buffer[16];
  private int head;
  private int size;
  /** Seq of the frame at {@code head} (meaningful when size > 0). */
  private long firstSeq;
  private long bytes;

  /** Appends an encoded DATA frame whose seq follows the last one. */
  public void add(Buffer frame) {
    long seq = Frames.dataSeq(frame);
    if (size == 0) {
      firstSeq = seq;
    } else if (seq != firstSeq + size) {
      throw new IllegalArgumentException("retained frame seq " + seq + " does not follow " + (firstSeq + size - 1));
    }
    if (size == ring.length) {
      Buffer[] bigger = new Buffer[ring.length * 2];
      for (int i = 0; i < size; i++) {
        bigger[i] = ring[(head + i) % ring.length];
      }
      ring = bigger;
      head = 0;
    }
    ring[(head + size) % ring.length] = frame;
    size++;
    bytes += frame.length();
  }

  /**
   * Releases every frame with seq <= {@code ack}.
   *
   * @return the number of frames released
   */
  public int release(long ack) {
    int n = 0;
    while (size > 0 && firstSeq <= ack) {
      bytes -= ring[head].length();
      Frames.release(ring[head]);
      ring[head] = null;
      head = (head + 1) % ring.length;
      size--;
      firstSeq++;
      n++;
    }
    return n;
  }

  /** Releases every frame (pooled ones back to the pool); the ring is empty afterwards. */
  public void clear() {
    for (int i = 0; i < size; i++) {
      int at = (head + i) % ring.length;
      Frames.release(ring[at]);
      ring[at] = null;
    }
    head = 0;
    size = 0;
    bytes = 0;
  }

  /** The retained frame with {@code seq}, or null when it is not retained. */
  public Buffer get(long seq) {
    if (size == 0 || seq < firstSeq || seq >= firstSeq + size) {
      return null;
    }
    return ring[(int) ((head + (seq - firstSeq)) % ring.length)];
  }

  /** Seq of the oldest retained frame, or -1 when empty. */
  public long firstSeq() {
    return size == 0 ? -1 : firstSeq;
  }

  /** Calls {@code action} with each retained frame whose seq is > {@code seq}, in order. */
  public void forEachAfter(long seq, Consumer<Buffer> action) {
    for (int i = 0; i < size; i++) {
      if (firstSeq + i > seq) {
        action.accept(ring[(head + i) % ring.length]);
      }
    }
  }

  /** Encoded bytes retained (frame headers included). */
  public long bytes() {
    return bytes;
  }

  /** Payload bytes retained (frame headers excluded): what the application would lose. */
  public long payloadBytes() {
    return bytes - (long) size * Frames.DATA_OVERHEAD;
  }

  public int size() {
    return size;
  }

  public boolean isEmpty() {
    return size == 0;
  }

  /** Writes count, then each frame as length + bytes. */
  public Buffer appendTo(Buffer out) {
    out.appendInt(size);
    forEachAfter(Long.MIN_VALUE, f -> out.appendInt(f.length()).appendBuffer(f));
    return out;
  }

  /**
   * Reads what {@link #appendTo} wrote, starting at {@code pos[0]} and advancing it.
   *
   * @throws IllegalArgumentException when the bytes are not a valid sequence of DATA frames
   */
  public static RetainedFrames readFrom(Buffer in, int[] pos) {
    RetainedFrames r = new RetainedFrames();
    int n = in.getInt(pos[0]);
    pos[0] += 4;
    if (n < 0) {
      throw new IllegalArgumentException("negative frame count");
    }
    for (int i = 0; i < n; i++) {
      int len = in.getInt(pos[0]);
      pos[0] += 4;
      if (len < Frames.DATA_OVERHEAD || in.length() - pos[0] < len) {
        throw new IllegalArgumentException("bad retained frame length " + len);
      }
      Buffer f = in.getBuffer(pos[0], pos[0] + len);
      pos[0] += len;
      if (f.getByte(Frames.LENGTH_BYTES) != Frames.DATA) {
        throw new IllegalArgumentException("retained frame " + i + " is not DATA");
      }
      r.add(f);
    }
    return r;
  }
}
