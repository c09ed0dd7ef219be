package dev.tether.session;

/**
 * A session could not be resumed (unknown or expired on the server, or the client gave up
 * reconnecting): the messages it had not seen acknowledged are lost, and this says how many.
 */
public final class SessionLostException extends RuntimeException {

  private final String sessionId;
  private final int code;
  private final long unacknowledgedBytes;

  public SessionLostException(String sessionId, int code, String message, long unacknowledgedBytes) {
    super(message);
    this.sessionId = sessionId;
    this.code = code;
    this.unacknowledgedBytes = unacknowledgedBytes;
  }

  public String sessionId() {
    return sessionId;
  }

  /** The server's ERROR code ({@link Frames#E_UNKNOWN_SESSION}, {@link Frames#E_SESSION_EXPIRED}, ...), or 0. */
  public int code() {
    return code;
  }

  /** Payload bytes sent but never acknowledged (client side) or frame bytes retained (server side). */
  public long unacknowledgedBytes() {
    return unacknowledgedBytes;
  }
}
