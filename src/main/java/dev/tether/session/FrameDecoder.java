package dev.tether.session;

import io.vertx.core.buffer.Buffer;

import java.util.function.Consumer;

/**
 * Splits a byte stream into {@link Frame}s, checking each frame's length before reading its body:
 * a length of 0 or above {@code maxFrameBytes}, an unknown type, or a body shorter (or, for fixed
 * frames, longer) than the type's fields is a {@link ProtocolException}.
 *
 * <p>Frames are decoded in place, from the caller's buffer. Only a frame cut by the end of a read is
 * copied: its start is kept, and the next read lends it just the bytes it still needs; the rest of
 * that read is decoded in place again. At most one incomplete frame is buffered. Not thread-safe:
 * owned by one connection's event loop.
 */
public final class FrameDecoder {

  private static final Buffer EMPTY = Buffer.buffer(0);

  private final int maxFrameBytes;
  /** The start of a frame cut by the end of the last read (a copy of ours), or empty. */
  private Buffer partial = EMPTY;
  private boolean failed;

  public FrameDecoder(int maxFrameBytes) {
    if (maxFrameBytes < 1 + 8) {
      throw new IllegalArgumentException("maxFrameBytes must be at least 9");
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Receives frames in place, without a copy and without an object per frame. */
  public interface Sink {
    /**
     * One frame of {@code type}, whose body (type byte excluded) is {@code buf[start, end)}. The
     * bytes are valid during the call only: {@code buf} may be the caller's (lent) buffer or the
     * decoder's own copy of a frame that was cut between two reads.
     */
    void frame(byte type, Buffer buf, int start, int end);
  }

  /**
   * Feeds bytes and hands every complete frame to {@code sink}, in order. After a failure the
   * decoder stays failed and ignores further input. Frame bodies are copies, safe to keep.
   */
  public void feed(Buffer data, Consumer<Frame> sink) throws ProtocolException {
    decode(data, (type, buf, start, end) -> sink.accept(new Frame(type, buf.getBuffer(start, end))));
  }

  /**
   * Feeds bytes and hands every complete frame to {@code sink} in place, in order (the session
   * server's path: no copy and no object per frame). {@code data} may be lent for the duration of
   * this call: an incomplete frame at its end is copied before the call returns.
   */
  public void decode(Buffer data, Sink sink) throws ProtocolException {
    if (failed) {
      return;
    }
    try {
      int from = 0;
      if (partial.length() > 0) {
        from = completePartial(data, sink);
        if (from < 0) {
          return; // all of data went into the partial frame, which is still incomplete
        }
      }
      int end = scan(data, from, sink);
      if (end < data.length()) {
        partial = keep(data, end); // a copy: never the caller's memory
      }
    } catch (ProtocolException e) {
      failed = true;
      partial = EMPTY;
      throw e;
    }
  }

  /**
   * Adds to the partial frame the bytes of {@code data} it still needs; decodes it once complete.
   *
   * @return where the rest of {@code data} starts, or -1 when all of it was taken and the frame is
   * still incomplete
   */
  private int completePartial(Buffer data, Sink sink) throws ProtocolException {
    int from = 0;
    if (partial.length() < Frames.LENGTH_BYTES) {
      int take = Math.min(Frames.LENGTH_BYTES - partial.length(), data.length());
      partial.appendBuffer(data, 0, take);
      from = take;
      if (partial.length() < Frames.LENGTH_BYTES) {
        return -1;
      }
    }
    int len = checkLength(partial.getInt(0));
    int need = Frames.LENGTH_BYTES + len - partial.length();
    int take = Math.min(need, data.length() - from);
    if (take > 0) {
      partial.appendBuffer(data, from, take);
    }
    from += take;
    if (take < need) {
      // still incomplete: checks the type as soon as it is there
      if (partial.length() > Frames.LENGTH_BYTES) {
        checkType(partial.getByte(Frames.LENGTH_BYTES), len);
      }
      return -1;
    }
    Buffer whole = partial;
    partial = EMPTY;
    scan(whole, 0, sink);
    return from;
  }

  /** A copy of the incomplete frame at {@code data[end..]}, sized for the whole frame when its length is known. */
  private static Buffer keep(Buffer data, int end) {
    int have = data.length() - end;
    // scan() checked the length field when it is there
    int whole = have >= Frames.LENGTH_BYTES ? Frames.LENGTH_BYTES + data.getInt(end) : 64;
    return Buffer.buffer(Math.max(whole, have)).appendBuffer(data, end, have);
  }

  /** Decodes the complete frames of {@code buf} from {@code pos}; returns where an incomplete one starts. */
  private int scan(Buffer buf, int pos, Sink sink) throws ProtocolException {
    int n = buf.length();
    while (n - pos >= Frames.LENGTH_BYTES) {
      int len = checkLength(buf.getInt(pos));
      if (n - pos < Frames.LENGTH_BYTES + 1) {
        break;
      }
      byte type = buf.getByte(pos + Frames.LENGTH_BYTES);
      checkType(type, len);
      if (n - pos - Frames.LENGTH_BYTES < len) {
        break;
      }
      int start = pos + Frames.LENGTH_BYTES + 1;
      int end = pos + Frames.LENGTH_BYTES + len;
      pos = end;
      sink.frame(type, buf, start, end);
    }
    return pos;
  }

  private int checkLength(int len) throws ProtocolException {
    if (len <= 0) {
      throw new ProtocolException(Frames.E_MALFORMED, len == 0 ? "zero frame length" : "negative frame length " + len);
    }
    if (len > maxFrameBytes) {
      throw new ProtocolException(Frames.E_TOO_LARGE, "frame of " + len + " bytes exceeds maxFrameBytes " + maxFrameBytes);
    }
    return len;
  }

  private void checkType(byte type, int len) throws ProtocolException {
    int min = Frames.minBody(type);
    if (min < 0) {
      throw new ProtocolException(Frames.E_UNKNOWN_TYPE, "unknown frame type " + Frames.typeName(type));
    }
    if (len < min || len > Frames.maxBody(type, maxFrameBytes)) {
      throw new ProtocolException(Frames.E_MALFORMED, Frames.typeName(type) + " frame of " + len
        + " bytes, expected " + (len < min ? "at least " + min : "exactly " + min));
    }
  }

  /** Bytes of an incomplete frame held: non-zero at end of stream means the last frame was truncated. */
  public int buffered() {
    return partial.length();
  }
}
