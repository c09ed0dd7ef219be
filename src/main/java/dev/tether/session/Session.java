package dev.tether.session;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;

/**
 * The application's view of one server-side session: messages arrive exactly once and in order,
 * whatever happened to the connections underneath; messages sent are retained until the peer
 * acknowledges them and resent after a resume. All methods must be called on the session server's
 * event loop (where the handlers are called).
 */
public interface Session {

  /** The session id, 32 hex digits. */
  String id();

  /**
   * Receives each message (a DATA payload) in order. A message is acknowledged only after the handler
   * returned normally, so it is delivered exactly once to a handler that succeeds; if the handler
   * throws, the connection is closed (ERROR 205), the session kept, and the message delivered again
   * after the client resumes.
   */
  Session handler(Handler<Buffer> handler);

  /**
   * Sends {@code payload} as the next DATA frame: transmitted now when a connection is attached,
   * else when the peer resumes. The buffer must not be modified afterwards.
   *
   * @throws IllegalStateException when the session has ended
   */
  void send(Buffer payload);

  /** True while the attached connection's outbound bytes are over its high-water mark: pause your source. */
  boolean writeQueueFull();

  /** Called when the outbound queue drained after being full, and after each resume. */
  Session drainHandler(Handler<Void> handler);

  /** Stops reading from the peer (across reconnects) until {@link #resume()}. */
  void pause();

  void resume();

  /** Called once when the session ends: BYE from the peer, expiry, or server shutdown. */
  Session endHandler(Handler<Void> handler);

  /** Messages delivered to the handler. */
  long received();

  /** Messages sent. */
  long sent();

  /** Messages the peer acknowledged. */
  long acknowledged();

  /** True while a connection is attached. */
  boolean attached();
}
