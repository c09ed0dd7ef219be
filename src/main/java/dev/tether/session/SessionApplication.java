package dev.tether.session;

/**
 * The application a session server runs: called once per new session (not again on resume), on
 * the server's event loop, to install the session's handlers.
 */
@FunctionalInterface
public interface SessionApplication {

  void onSession(Session session);

  /**
   * Whether the session handlers of this application take messages on the zero-copy path: a
   * message is then a view of the pooled memory the connection read, <b>valid during the handler
   * call only</b> (copy it with {@code Buffer.copy()} to keep it; {@code Session.send} copies what
   * it needs). By default false: every message is a heap copy the handler may keep.
   */
  default boolean zeroCopy() {
    return false;
  }

  /**
   * Echoes each message back, pausing while the connection's outbound queue is full. Zero-copy:
   * each message is sent on as it arrives, in the handler.
   */
  static SessionApplication echo() {
    return new SessionApplication() {
      @Override
      public void onSession(Session s) {
        s.handler(msg -> {
          s.send(msg);
          if (s.writeQueueFull()) {
            s.pause();
          }
        });
        s.drainHandler(v -> s.resume());
      }

      @Override
      public boolean zeroCopy() {
        return true;
      }
    };
  }
}
