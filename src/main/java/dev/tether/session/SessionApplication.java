package dev.tether.session;

/**
 * The application a session server runs: called once per new session (not again on resume), on
 * the server's event loop, to install the session's handlers.
 */
@FunctionalInterface
public interface SessionApplication {

  void onSession(Session session);

  /** Echoes each message back, pausing while the connection's outbound queue is full. */
  static SessionApplication echo() {
    return s -> {
      s.handler(msg -> {
        s.send(msg);
        if (s.writeQueueFull()) {
          s.pause();
        }
      });
      s.drainHandler(v -> s.resume());
    };
  }
}
