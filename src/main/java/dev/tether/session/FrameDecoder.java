package dev.tether.session;

import io.vertx.core.buffer.Buffer;

import java.util.function.Consumer;

/**
 * Splits a byte stream into {@link Frame}s, checking each frame's length before reading its body:
 * a length of 0 or above {@code maxFrameBytes}, an unknown type, or a body shorter (or, for fixed
 * frames, longer) than the type's fields is a {@link ProtocolException}. At most one frame plus one
 * read are buffered. Not thread-safe: owned by one connection's event loop.
 */
public final class FrameDecoder {

  private final int maxFrameBytes;
  private Buffer pending = Buffer.buffer(0);
  private int pos;
  private boolean failed;
  /** {@code pending} is a buffer of ours (not the caller's), so it may be appended to. */
  private boolean owned;

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
     * decoder's own, which the next call reuses.
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
    if (pos == pending.length()) {
      pending = data;
      pos = 0;
      owned = false;
    } else {
      if (!owned || pos > 0) {
        pending = pending.getBuffer(pos, pending.length());
        pos = 0;
        owned = true;
      }
      pending.appendBuffer(data);
    }
    try {
      while (pending.length() - pos >= Frames.LENGTH_BYTES) {
        int len = pending.getInt(pos);
        if (len <= 0) {
          throw new ProtocolException(Frames.E_MALFORMED, len == 0 ? "zero frame length" : "negative frame length " + len);
        }
        if (len > maxFrameBytes) {
          throw new ProtocolException(Frames.E_TOO_LARGE, "frame of " + len + " bytes exceeds maxFrameBytes " + maxFrameBytes);
        }
        if (pending.length() - pos < Frames.LENGTH_BYTES + 1) {
          break;
        }
        byte type = pending.getByte(pos + Frames.LENGTH_BYTES);
        int min = Frames.minBody(type);
        if (min < 0) {
          throw new ProtocolException(Frames.E_UNKNOWN_TYPE, "unknown frame type " + Frames.typeName(type));
        }
        if (len < min || len > Frames.maxBody(type, maxFrameBytes)) {
          throw new ProtocolException(Frames.E_MALFORMED, Frames.typeName(type) + " frame of " + len
            + " bytes, expected " + (len < min ? "at least " + min : "exactly " + min));
        }
        if (pending.length() - pos - Frames.LENGTH_BYTES < len) {
          break;
        }
        int start = pos + Frames.LENGTH_BYTES + 1;
        int end = pos + Frames.LENGTH_BYTES + len;
        pos = end;
        sink.frame(type, pending, start, end);
      }
    } catch (ProtocolException e) {
      failed = true;
      pending = Buffer.buffer(0); // never keep the caller's memory
      pos = 0;
      owned = false;
      throw e;
    }
    if (pos == pending.length()) {
      pending = Buffer.buffer(0);
      pos = 0;
      owned = false;
    } else if (!owned) {
      // an incomplete frame at the end of the caller's buffer: keep a copy, never the caller's memory
      pending = pending.getBuffer(pos, pending.length());
      pos = 0;
      owned = true;
    }
  }

  /** Bytes of an incomplete frame held: non-zero at end of stream means the last frame was truncated. */
  public int buffered() {
    return pending.length() - pos;
  }
}
