package dev.tether.session;

import io.vertx.core.buffer.Buffer;

/**
 * Everything a session must carry from one connection to the next (or, later, from one node to
 * another): id, the seq of the last DATA sent and received in order, and the unacknowledged
 * frames. {@link #toBuffer()} / {@link #fromBuffer(Buffer)} serialise it for the event bus.
 * Mutable, owned by one event loop at a time.
 */
public final class SessionState {

  private static final int VERSION = 1;

  private final byte[] id;
  /** Seq of the last DATA frame sent (0 = none). */
  long lastSent;
  /** Seq of the last DATA frame received in order (0 = none). */
  long lastReceived;
  /** Frame bytes of DATA acknowledged so far: the stream offset of the first retained frame. */
  long releasedBytes;
  /** Duplicates dropped (seq <= lastReceived). */
  long duplicates;
  final RetainedFrames retained;

  SessionState(byte[] id) {
    this(id, new RetainedFrames());
  }

  private SessionState(byte[] id, RetainedFrames retained) {
    if (id.length != Frames.ID_BYTES) {
      throw new IllegalArgumentException("session id must be 16 bytes");
    }
    this.id = id.clone();
    this.retained = retained;
  }

  public byte[] id() {
    return id.clone();
  }

  public long lastSent() {
    return lastSent;
  }

  public long lastReceived() {
    return lastReceived;
  }

  public RetainedFrames retained() {
    return retained;
  }

  public Buffer toBuffer() {
    Buffer b = Buffer.buffer(64 + (int) Math.min(Integer.MAX_VALUE - 64, retained.bytes() + 4L * retained.size()));
    b.appendInt(VERSION).appendBytes(id).appendLong(lastSent).appendLong(lastReceived).appendLong(releasedBytes)
      .appendLong(duplicates);
    return retained.appendTo(b);
  }

  public static SessionState fromBuffer(Buffer b) {
    if (b.getInt(0) != VERSION) {
      throw new IllegalArgumentException("unknown session state version " + b.getInt(0));
    }
    byte[] id = b.getBytes(4, 4 + Frames.ID_BYTES);
    int[] pos = {4 + Frames.ID_BYTES + 32};
    SessionState s = new SessionState(id, RetainedFrames.readFrom(b, pos));
    int p = 4 + Frames.ID_BYTES;
    s.lastSent = b.getLong(p);
    s.lastReceived = b.getLong(p + 8);
    s.releasedBytes = b.getLong(p + 16);
    s.duplicates = b.getLong(p + 24);
    return s;
  }
}
