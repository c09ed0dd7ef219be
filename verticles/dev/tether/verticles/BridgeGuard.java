package dev.tether.verticles;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A guard in front of the Vert.x TCP event-bus bridge's parser on one client connection (the bridge is
 * handed a view of the socket whose {@code handler} sees only checked frames). The
 * bridge's own parser trusts its input: a negative length throws into the pipeline, a huge one makes it
 * buffer without bound, a frame whose {@code type} is not a string throws, and events are written to a
 * client that never reads until memory runs out. This guard lets through only whole, well-formed
 * frames (length 1..{@code maxFrameBytes}, strict UTF-8, a JSON object whose {@code type} is one of
 * the bridge's, with a string {@code address} where one is needed, an object {@code headers} and a
 * string {@code replyAddress} if present); anything else gets one {@code err} frame naming the problem
 * and the connection is closed. Outbound, a client whose unread events pass {@code maxPendingBytes} is
 * closed. Either way only that client is affected.
 *
 * <p>Frames that are well-formed but not permitted (send, publish, other addresses) pass on: the bridge
 * answers them with {@code access_denied} and keeps the client, as documented.
 *
 * <p>Threading: one instance per connection, used only on that channel's event loop.
 */
final class BridgeGuard {

  private static final Logger log = LoggerFactory.getLogger(BridgeGuard.class);
  private static final Set<String> TYPES = Set.of("register", "unregister", "send", "publish", "ping");
  /** Closed clients, node-wide (for the log line and tests). */
  static final AtomicLong CLOSED = new AtomicLong();
  /** When the last INFO line was written (node-wide): at most one a second, the rest at DEBUG. */
  private static final AtomicLong lastInfo = new AtomicLong();

  /** A frame begun must be complete within this time, or the client is closed (a stalled half frame holds memory). */
  static final long FRAME_TIMEOUT_MS = 5000;

  private final io.vertx.core.Vertx vertx;
  private final NetSocket socket;
  private final int maxFrameBytes;
  private final long maxPendingBytes;
  // State of this connection's event loop
  private Buffer pending = Buffer.buffer(0);
  private int pos;
  private boolean closing;
  private long frameTimer = -1;
  /** Bytes written to the client whose write has not completed yet (its unread events). */
  private final AtomicLong unflushed = new AtomicLong();

  private BridgeGuard(io.vertx.core.Vertx vertx, NetSocket socket, int maxFrameBytes, long maxPendingBytes) {
    this.vertx = vertx;
    this.socket = socket;
    this.maxFrameBytes = maxFrameBytes;
    this.maxPendingBytes = maxPendingBytes;
  }

  /**
   * The socket the bridge is given: {@code socket} seen through the guard. Its {@code handler} gets only
   * whole checked frames; after each {@code write} the client's unread bytes are checked.
   */
  static NetSocket guard(io.vertx.core.Vertx vertx, NetSocket socket, int maxFrameBytes, long maxPendingBytes) {
    BridgeGuard g = new BridgeGuard(vertx, socket, maxFrameBytes, maxPendingBytes);
    socket.closeHandler(v -> g.cancelTimer()); // the bridge sets no close handler of its own
    return (NetSocket) Proxy.newProxyInstance(BridgeGuard.class.getClassLoader(), new Class<?>[] {NetSocket.class},
      (proxy, method, args) -> {
        String name = method.getName();
        if (name.equals("handler") && args != null && args.length == 1) {
          @SuppressWarnings("unchecked")
          Handler<Buffer> h = (Handler<Buffer>) args[0];
          socket.handler(h == null ? null : b -> g.feed(b, h));
          return proxy;
        }
        Object result;
        try {
          result = method.invoke(socket, args);
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
        if (name.equals("write") && args != null && args.length >= 1 && args[0] instanceof Buffer b
          && result instanceof io.vertx.core.Future<?> written) {
          // counted until the write completes (the bytes reached the kernel, or the connection failed)
          long n = b.length();
          g.unflushed.addAndGet(n);
          written.onComplete(ar -> g.unflushed.addAndGet(-n));
          g.checkPending();
        }
        return result == socket ? proxy : result;
      });
  }

  /** Passes every whole, well-formed frame in {@code data} to {@code sink}; garbage closes the client. */
  void feed(Buffer data, Handler<Buffer> sink) {
    if (closing) {
      return;
    }
    if (pos == pending.length()) {
      pending = data.copy();
      pos = 0;
    } else {
      pending = pending.getBuffer(pos, pending.length()).appendBuffer(data);
      pos = 0;
    }
    while (pending.length() - pos >= 4) {
      int len = pending.getInt(pos);
      if (len < 1 || len > maxFrameBytes) {
        reject("frame length " + len + " outside 1.." + maxFrameBytes);
        return;
      }
      if (pending.length() - pos < 4 + len) {
        break;
      }
      String problem = check(pending.getBytes(pos + 4, pos + 4 + len));
      if (problem != null) {
        reject(problem);
        return;
      }
      Buffer frame = pending.getBuffer(pos, pos + 4 + len);
      pos += 4 + len;
      sink.handle(frame);
      if (closing) {
        return;
      }
    }
    if (pos == pending.length()) {
      pending = Buffer.buffer(0);
      pos = 0;
      cancelTimer();
    } else if (frameTimer == -1) {
      // the context is this connection's: the timer runs on its event loop
      frameTimer = vertx.setTimer(FRAME_TIMEOUT_MS, t -> {
        frameTimer = -1;
        if (!closing && pos < pending.length()) {
          reject("incomplete frame for " + FRAME_TIMEOUT_MS + " ms (" + (pending.length() - pos) + " bytes)");
        }
      });
    }
  }

  void cancelTimer() {
    if (frameTimer != -1) {
      vertx.cancelTimer(frameTimer);
      frameTimer = -1;
    }
  }

  /** Null when {@code body} is a frame the bridge can read, else why not. */
  static String check(byte[] body) {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body)).toString();
    } catch (CharacterCodingException e) {
      return "frame is not UTF-8";
    }
    String trimmed = text.strip();
    if (!trimmed.startsWith("{")) {
      return "frame is not a JSON object";
    }
    JsonObject json;
    try {
      json = new JsonObject(trimmed);
    } catch (DecodeException | ClassCastException e) {
      return "frame is not a JSON object";
    }
    if (!(json.getValue("type") instanceof String type) || !TYPES.contains(type)) {
      return "type must be one of " + new java.util.TreeSet<>(TYPES);
    }
    if (!type.equals("ping") && !(json.getValue("address") instanceof String a && !a.isEmpty())) {
      return "address must be a non-empty string";
    }
    Object headers = json.getValue("headers");
    if (headers != null && !(headers instanceof JsonObject)) {
      return "headers must be an object";
    }
    Object reply = json.getValue("replyAddress");
    if (reply != null && !(reply instanceof String)) {
      return "replyAddress must be a string";
    }
    return null;
  }

  private void reject(String why) {
    closing = true;
    cancelTimer();
    pending = Buffer.buffer(0);
    pos = 0;
    CLOSED.incrementAndGet();
    note("bridge: closing client {}: {}", socket.remoteAddress(), why, null);
    byte[] body = new JsonObject().put("type", "err").put("message", "closing: " + why).encode()
      .getBytes(StandardCharsets.UTF_8);
    socket.write(Buffer.buffer(4 + body.length).appendInt(body.length).appendBytes(body));
    socket.close();
  }

  /** Closes a client whose unread event bytes passed the bound. */
  void checkPending() {
    long unread = unflushed.get();
    if (closing || unread <= maxPendingBytes) {
      return;
    }
    closing = true;
    cancelTimer();
    CLOSED.incrementAndGet();
    note("bridge: closing client {}: it does not read ({} bytes of events unread, limit {})", socket.remoteAddress(),
      unread, maxPendingBytes);
    // not socket.close(): Vert.x would first flush what the client does not read, which is the problem; the
    // channel's own close drops the unread bytes at once
    dev.tether.internal.NettyAccess.channel(socket).close();
  }

  private static void note(String format, Object a, Object b, Object c) {
    long now = System.currentTimeMillis();
    long last = lastInfo.get();
    if (now - last >= 1000 && lastInfo.compareAndSet(last, now)) {
      log.info(format, a, b, c);
    } else {
      log.debug(format, a, b, c);
    }
  }
}
