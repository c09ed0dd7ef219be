package dev.tether.session;

import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/**
 * One decoded frame: its type and a view of its body (type byte excluded). Accessors read the
 * type's fields; the decoder has already checked the body is long enough for them.
 */
public record Frame(byte type, Buffer body) {

  /** Session id of HELLO and WELCOME. */
  public byte[] id() {
    return body.getBytes(0, Frames.ID_BYTES);
  }

  /** Last seq received in order, of HELLO and WELCOME. */
  public long lastReceived() {
    return body.getLong(Frames.ID_BYTES);
  }

  /** Seq of DATA, cumulative seq of ACK, token of PING and PONG. */
  public long number() {
    return body.getLong(0);
  }

  /** Payload of DATA. */
  public Buffer payload() {
    return body.slice(8, body.length());
  }

  public int errorCode() {
    return body.getUnsignedShort(0);
  }

  public String errorMessage() {
    return new String(body.getBytes(2, body.length()), StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return Frames.typeName(type) + "[" + body.length() + " bytes]";
  }
}
