package dev.tether.session;

import dev.tether.internal.LentBuffer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/**
 * Frame types, error codes and encoders of the session protocol. Every frame is a 4-byte big-endian
 * length {@code L} of what follows, a 1-byte type and the type's fields (integers big-endian).
 * Encoders return fresh heap buffers that are never modified afterwards, so a DATA frame can be
 * retained and written again on a later connection.
 */
public final class Frames {

  public static final byte HELLO = 0x01;
  public static final byte WELCOME = 0x02;
  public static final byte DATA = 0x03;
  public static final byte ACK = 0x04;
  public static final byte PING = 0x05;
  public static final byte PONG = 0x06;
  public static final byte ERROR = 0x07;
  public static final byte BYE = 0x08;

  /** Bytes before a frame's body: the length field. */
  public static final int LENGTH_BYTES = 4;
  /** Bytes of a DATA frame that are not payload: length, type, seq. */
  public static final int DATA_OVERHEAD = LENGTH_BYTES + 1 + 8;
  public static final int ID_BYTES = 16;

  // Error codes (2 bytes on the wire). 1xx: the peer sent something wrong; 2xx: session state.
  /** Zero length, or a frame shorter than its type's fields (truncated), or otherwise unreadable. */
  public static final int E_MALFORMED = 100;
  /** Length above {@code maxFrameBytes}. */
  public static final int E_TOO_LARGE = 101;
  public static final int E_UNKNOWN_TYPE = 102;
  /** A frame not allowed in this state: DATA or ACK before HELLO, a second HELLO, WELCOME to a server. */
  public static final int E_UNEXPECTED = 103;
  /** A DATA seq beyond the next expected one (a gap), or an ACK of frames never sent. */
  public static final int E_BAD_SEQ = 104;
  /** No HELLO within {@code helloTimeoutMs}. */
  public static final int E_TIMEOUT = 105;
  /** The session id is not known here (never existed, or expired and forgotten). */
  public static final int E_UNKNOWN_SESSION = 200;
  /** The session expired (TTL or retained-bytes cap) with data unacknowledged. */
  public static final int E_SESSION_EXPIRED = 201;
  /** The server holds {@code maxSessions} sessions already. */
  public static final int E_SESSION_LIMIT = 202;
  /** The session was resumed on another connection; this one is closed. */
  public static final int E_SUPERSEDED = 203;
  /** The server is shutting down. */
  public static final int E_SHUTDOWN = 204;
  /**
   * The server's application failed on a DATA frame; it was not acknowledged and the connection
   * closes: resume to have it delivered again (the session is kept).
   */
  public static final int E_HANDLER_FAILED = 205;
  /**
   * The session is held elsewhere in the cluster and could not be brought here in time (its owner
   * did not answer, or its node died and the cluster has not taken its sessions over yet): resume
   * again, here or on another node.
   */
  public static final int E_RETRY = 206;

  private Frames() {
  }

  public static String typeName(int type) {
    return switch (type) {
      case HELLO -> "HELLO";
      case WELCOME -> "WELCOME";
      case DATA -> "DATA";
      case ACK -> "ACK";
      case PING -> "PING";
      case PONG -> "PONG";
      case ERROR -> "ERROR";
      case BYE -> "BYE";
      default -> "0x" + Integer.toHexString(type & 0xff);
    };
  }

  /** The smallest body (type byte included) a frame of {@code type} may have, or -1 for an unknown type. */
  static int minBody(int type) {
    return switch (type) {
      case HELLO, WELCOME -> 1 + ID_BYTES + 8;
      case DATA, ACK, PING, PONG -> 1 + 8;
      case ERROR -> 1 + 2;
      case BYE -> 1;
      default -> -1;
    };
  }

  /** The largest body a frame of {@code type} may have (DATA and ERROR: up to the frame limit). */
  static int maxBody(int type, int maxFrameBytes) {
    return switch (type) {
      case DATA, ERROR -> maxFrameBytes;
      default -> minBody(type);
    };
  }

  public static Buffer hello(byte[] id, long lastReceived) {
    return Buffer.buffer(LENGTH_BYTES + 1 + ID_BYTES + 8)
      .appendInt(1 + ID_BYTES + 8).appendByte(HELLO).appendBytes(id).appendLong(lastReceived);
  }

  public static Buffer welcome(byte[] id, long lastReceived) {
    return Buffer.buffer(LENGTH_BYTES + 1 + ID_BYTES + 8)
      .appendInt(1 + ID_BYTES + 8).appendByte(WELCOME).appendBytes(id).appendLong(lastReceived);
  }

  public static Buffer data(long seq, Buffer payload) {
    return Buffer.buffer(DATA_OVERHEAD + payload.length())
      .appendInt(1 + 8 + payload.length()).appendByte(DATA).appendLong(seq).appendBuffer(payload);
  }

  /**
   * A frame of {@code type} with one long field (ACK, PONG) in pooled direct memory (Netty's default
   * allocator), for the session server: the caller owns the one reference of the returned buffer
   * and releases it ({@link #release}) after handing it to a write, which takes its own.
   */
  static LentBuffer pooledLongFrame(byte type, long value) {
    ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(LENGTH_BYTES + 9);
    b.writeInt(9).writeByte(type).writeLong(value);
    return new LentBuffer(b);
  }

  /** Releases the reference of a frame made by a {@code pooled...} encoder; no-op for a heap frame. */
  static void release(Buffer frame) {
    if (frame instanceof LentBuffer lb) {
      lb.byteBuf().release();
    }
  }

  public static Buffer ack(long seq) {
    return longFrame(ACK, seq);
  }

  public static Buffer ping(long token) {
    return longFrame(PING, token);
  }

  public static Buffer pong(long token) {
    return longFrame(PONG, token);
  }

  public static Buffer bye() {
    return Buffer.buffer(LENGTH_BYTES + 1).appendInt(1).appendByte(BYE);
  }

  /** An ERROR frame; the message is cut to 1,000 bytes. */
  public static Buffer error(int code, String message) {
    byte[] m = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
    int n = Math.min(m.length, 1000);
    return Buffer.buffer(LENGTH_BYTES + 3 + n)
      .appendInt(3 + n).appendByte(ERROR).appendShort((short) code).appendBytes(m, 0, n);
  }

  private static Buffer longFrame(byte type, long value) {
    return Buffer.buffer(LENGTH_BYTES + 9).appendInt(9).appendByte(type).appendLong(value);
  }

  /** The seq of an encoded DATA frame. */
  static long dataSeq(Buffer frame) {
    return frame.getLong(LENGTH_BYTES + 1);
  }

  static boolean isZero(byte[] id) {
    for (byte b : id) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * A peer's text made safe for one log line: control characters (line breaks, escapes, NUL) become
   * {@code \\uXXXX}, and it is cut to {@code max} characters. A peer's ERROR message is its own bytes: without
   * this a client could write forged lines or terminal escapes into the server's log.
   */
  public static String printable(String text, int max) {
    if (text == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder(Math.min(text.length(), max) + 8);
    for (int i = 0; i < text.length() && sb.length() < max; i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    if (sb.length() >= max && text.length() > max) {
      sb.setLength(max);
      sb.append("...");
    }
    return sb.toString();
  }

  /** Hex form of a session id, for logs, events and exceptions. */
  public static String hex(byte[] id) {
    StringBuilder sb = new StringBuilder(32);
    for (byte b : id) {
      sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return sb.toString();
  }
}
