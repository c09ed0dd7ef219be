package dev.tether.session;

/**
 * The application's message handler threw on a DATA frame. The frame was not acknowledged: the
 * server closes the connection (ERROR {@link Frames#E_HANDLER_FAILED}), keeps the session, and the
 * client's resume delivers the message again. The cause of a {@code READ_FAILED} event; its
 * {@link #getCause()} is what the handler threw.
 */
public final class SessionHandlerException extends RuntimeException {

  private final String sessionId;
  private final long seq;

  public SessionHandlerException(String sessionId, long seq, Throwable cause) {
    super("application handler of session " + sessionId + " failed on DATA " + seq + ": " + cause, cause);
    this.sessionId = sessionId;
    this.seq = seq;
  }

  public String sessionId() {
    return sessionId;
  }

  /** Seq of the DATA frame the handler failed on (not acknowledged). */
  public long seq() {
    return seq;
  }
}
