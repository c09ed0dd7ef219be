package dev.tether.session;

/** Input that breaks the session protocol; {@link #code()} is the ERROR frame's code (see {@link Frames}). */
public final class ProtocolException extends Exception {

  private final int code;

  public ProtocolException(int code, String message) {
    super(message);
    this.code = code;
  }

  public int code() {
    return code;
  }
}
