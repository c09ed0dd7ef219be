package dev.tether.session;

/**
 * A session ended with messages lost or possibly lost: it could not be resumed (unknown or expired
 * on the server, or the client gave up reconnecting), or it ended (BYE, close timeout) while
 * messages were still unacknowledged. Says how many, which seqs and how many bytes.
 */
public final class SessionLostException extends RuntimeException {

  private final String sessionId;
  private final int code;
  private final long unacknowledgedBytes;
  private final int unacknowledgedMessages;
  private final long firstUnacknowledgedSeq;
  private final long lastUnacknowledgedSeq;

  public SessionLostException(String sessionId, int code, String message, long unacknowledgedBytes) {
    this(sessionId, code, message, unacknowledgedBytes, 0, 0, 0);
  }

  public SessionLostException(String sessionId, int code, String message, long unacknowledgedBytes,
                              int unacknowledgedMessages, long firstUnacknowledgedSeq, long lastUnacknowledgedSeq) {
    super(message);
    this.sessionId = sessionId;
    this.code = code;
    this.unacknowledgedBytes = unacknowledgedBytes;
    this.unacknowledgedMessages = unacknowledgedMessages;
    this.firstUnacknowledgedSeq = firstUnacknowledgedSeq;
    this.lastUnacknowledgedSeq = lastUnacknowledgedSeq;
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

  /** Messages sent but never acknowledged (client side; 0 when none, or not counted). */
  public int unacknowledgedMessages() {
    return unacknowledgedMessages;
  }

  /** Seq of the first unacknowledged message, or 0 when none. */
  public long firstUnacknowledgedSeq() {
    return firstUnacknowledgedSeq;
  }

  /** Seq of the last unacknowledged message, or 0 when none. */
  public long lastUnacknowledgedSeq() {
    return lastUnacknowledgedSeq;
  }
}
