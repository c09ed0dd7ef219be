package dev.tether.session;

import io.vertx.core.buffer.Buffer;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.function.Consumer;

/**
 * The DATA frames one side sent and the peer has not acknowledged yet, in seq order, as encoded
 * frames (ready to be written again on a new connection). Serialisable with {@link #appendTo} /
 * {@link #readFrom} so a session can be handed to another node over the event bus. Not
 * thread-safe: owned by the session's event loop.
 */
public final class RetainedFrames {

  private final ArrayDeque<Buffer> frames = new ArrayDeque<>();
  private long bytes;

  /** Appends an encoded DATA frame whose seq follows the last one. */
  public void add(Buffer frame) {
    assert frames.isEmpty() || Frames.dataSeq(frame) == Frames.dataSeq(frames.peekLast()) + 1 : "seq out of order";
    frames.addLast(frame);
    bytes += frame.length();
  }

  /**
   * Releases every frame with seq <= {@code ack}.
   *
   * @return the number of frames released
   */
  public int release(long ack) {
    int n = 0;
    while (!frames.isEmpty() && Frames.dataSeq(frames.peekFirst()) <= ack) {
      bytes -= frames.pollFirst().length();
      n++;
    }
    return n;
  }

  /** Calls {@code action} with each retained frame whose seq is > {@code seq}, in order. */
  public void forEachAfter(long seq, Consumer<Buffer> action) {
    for (Buffer f : frames) {
      if (Frames.dataSeq(f) > seq) {
        action.accept(f);
      }
    }
  }

  public Iterator<Buffer> iterator() {
    return frames.iterator();
  }

  /** Encoded bytes retained (frame headers included). */
  public long bytes() {
    return bytes;
  }

  /** Payload bytes retained (frame headers excluded): what the application would lose. */
  public long payloadBytes() {
    return bytes - (long) frames.size() * Frames.DATA_OVERHEAD;
  }

  public int size() {
    return frames.size();
  }

  public boolean isEmpty() {
    return frames.isEmpty();
  }

  /** Writes count, then each frame as length + bytes. */
  public Buffer appendTo(Buffer out) {
    out.appendInt(frames.size());
    for (Buffer f : frames) {
      out.appendInt(f.length()).appendBuffer(f);
    }
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
    long prev = -1;
    for (int i = 0; i < n; i++) {
      int len = in.getInt(pos[0]);
      pos[0] += 4;
      if (len < Frames.DATA_OVERHEAD || in.length() - pos[0] < len) {
        throw new IllegalArgumentException("bad retained frame length " + len);
      }
      Buffer f = in.getBuffer(pos[0], pos[0] + len);
      pos[0] += len;
      long seq = Frames.dataSeq(f);
      if (f.getByte(Frames.LENGTH_BYTES) != Frames.DATA || (prev >= 0 && seq != prev + 1)) {
        throw new IllegalArgumentException("retained frames out of order at seq " + seq);
      }
      prev = seq;
      r.frames.addLast(f);
      r.bytes += len;
    }
    return r;
  }
}
