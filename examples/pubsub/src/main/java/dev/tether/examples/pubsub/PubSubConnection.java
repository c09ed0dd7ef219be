package dev.tether.examples.pubsub;

import dev.tether.event.Action;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.net.TrackedSocket;
import dev.tether.net.WriteFailedException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One client of the pub/sub server: line framing, the commands, and flow control.
 *
 * <h2>Protocol</h2>
 * Lines end with {@code \n} (a {@code \r} before it is ignored); at most
 * {@link PubSubSettings#maxLineBytes()} bytes before the newline.
 * <pre>
 * SUB &lt;topic&gt;             -> OK SUB &lt;topic&gt;
 * UNSUB &lt;topic&gt;           -> OK UNSUB &lt;topic&gt;
 * PUB &lt;topic&gt; &lt;message&gt;   -> OK PUB &lt;topic&gt; &lt;n&gt;   (n: subscribers it was queued for)
 *                            and every subscriber gets  MSG &lt;topic&gt; &lt;message&gt;
 * (a subscriber that lost messages) LOST &lt;n&gt;           before the next message it gets
 * (anything wrong)                  ERR &lt;reason&gt;        the connection stays open, except for
 *                                                     ERR line too long, which closes it
 * </pre>
 * Topics are 1 to 128 characters of {@code A-Z a-z 0-9 . _ : / -}. The message is the rest of the
 * line, copied byte for byte.
 *
 * <h2>Flow control</h2>
 * <ul>
 *   <li>A client that does not read its own replies and messages: its reads pause while its own
 *       pending bytes are over the high-water mark ({@code writeQueueFull()}), until its drain
 *       handler runs.</li>
 *   <li>A publisher whose message put a subscriber over its high-water mark: its reads pause until
 *       that subscriber drains, closes, or is found lagging. So publishers slow down to their
 *       subscribers' pace, and nothing piles up.</li>
 *   <li>Lagging: a subscriber whose oldest pending message waited {@code writeTimeoutMs} raises
 *       {@code WRITE_TIMEOUT}; from then on publishers do not wait for it. Its pending bytes grow to
 *       {@code maxPendingBytes} at most: Tether refuses the next message ({@code WRITE_QUEUE_OVERFLOW}),
 *       the policy drops it, and the server offers that subscriber no more messages until it has
 *       drained; then it sends {@code LOST <n>} with the number of messages it missed. A slow
 *       subscriber costs at most {@code maxPendingBytes} of memory and never loses a message
 *       silently.</li>
 * </ul>
 *
 * <p>Threading: every method runs on the verticle's event loop, the one that owns the socket.
 */
final class PubSubConnection {

  private static final Logger log = LoggerFactory.getLogger(PubSubConnection.class);
  private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9._:/-]{1,128}");

  private final TrackedSocket socket;
  private final Broker broker;
  private final PubSubSettings settings;
  private final RecordParser parser;
  private final Set<String> topics = new LinkedHashSet<>();
  /** Subscribers (this one included) this connection's reads are paused for. */
  private final Set<PubSubConnection> waitingFor = new HashSet<>();
  /** Connections whose reads are paused until this one drains. */
  private final Set<PubSubConnection> waiters = new HashSet<>();
  /** Bytes received since the last newline: bounds a line that never ends. */
  private long unterminated;
  private boolean closing;
  /** A write of this subscriber timed out: publishers no longer wait for it (until it drains). */
  private boolean lagging;
  /** Tether refused a message (over maxPendingBytes): offer none until it drains. */
  private boolean shedding;
  /** Messages this subscriber did not get since the last LOST notice. */
  private long lost;

  PubSubConnection(TrackedSocket socket, Broker broker, PubSubSettings settings) {
    this.socket = socket;
    this.broker = broker;
    this.settings = settings;
    // RecordParser does the framing. We feed it ourselves instead of handing it the socket: its own
    // maxRecordSize counts every byte it holds, which includes whole lines it keeps back while we are
    // paused, so a publisher that pipelines commands would be cut off for no reason.
    this.parser = RecordParser.newDelimited("\n");
    parser.handler(this::onLine);
    socket.handler(this::onData);
    socket.drainHandler(v -> onDrain());
    socket.failureHandler(this::onFailure);
    socket.outcomeHandler(this::onOutcome);
    socket.exceptionHandler(e -> log.debug("{}: read failed: {}", socket.id(), e.toString()));
    socket.closeHandler(v -> onClose());
    log.debug("{}: connected from {}", socket.id(), socket.remote());
  }

  // ---------------------------------------------------------------------------------------------
  // Input

  private void onData(Buffer chunk) {
    if (closing) {
      return;
    }
    int last = lastNewline(chunk);
    unterminated = last < 0 ? unterminated + chunk.length() : chunk.length() - 1 - last;
    if (unterminated > settings.maxLineBytes()) {
      tooLong();
      return;
    }
    parser.handle(chunk);
  }

  private void onLine(Buffer line) {
    if (closing) {
      return;
    }
    int len = line.length();
    if (len > settings.maxLineBytes()) {
      tooLong();
      return;
    }
    if (len > 0 && line.getByte(len - 1) == '\r') {
      len--;
    }
    if (len == 0) {
      return;
    }
    int sp = indexOf(line, 0, len);
    String command = line.getString(0, sp < 0 ? len : sp, "ISO-8859-1");
    switch (command) {
      case "SUB" -> subscribe(sp < 0 ? null : line.getString(sp + 1, len, "ISO-8859-1"));
      case "UNSUB" -> unsubscribe(sp < 0 ? null : line.getString(sp + 1, len, "ISO-8859-1"));
      case "PUB" -> publish(line, sp, len);
      default -> error("unknown command '" + printable(command) + "' (SUB, UNSUB, PUB)");
    }
    // our own replies pile up when the client does not read them: stop reading its commands
    if (!closing && socket.writeQueueFull()) {
      waitFor(this);
    }
  }

  private void subscribe(String topic) {
    if (topic == null) {
      error("usage: SUB <topic>");
    } else if (!TOPIC.matcher(topic).matches()) {
      error("bad topic '" + printable(topic) + "': 1-128 of A-Z a-z 0-9 . _ : / -");
    } else if (!topics.contains(topic) && topics.size() >= settings.maxSubscriptions()) {
      error("too many subscriptions (max " + settings.maxSubscriptions() + ")");
    } else {
      if (topics.add(topic)) {
        broker.subscribe(topic, this);
      }
      reply("OK SUB " + topic);
    }
  }

  private void unsubscribe(String topic) {
    if (topic == null) {
      error("usage: UNSUB <topic>");
    } else if (!topics.remove(topic)) {
      error("not subscribed to '" + printable(topic) + "'");
    } else {
      broker.unsubscribe(topic, this);
      reply("OK UNSUB " + topic);
    }
  }

  /** {@code PUB <topic> <message>}: the frame is {@code MSG } + the line from the topic on + newline. */
  private void publish(Buffer line, int sp, int len) {
    int sp2 = sp < 0 ? -1 : indexOf(line, sp + 1, len);
    if (sp2 < 0) {
      error("usage: PUB <topic> <message>");
      return;
    }
    String topic = line.getString(sp + 1, sp2, "ISO-8859-1");
    if (!TOPIC.matcher(topic).matches()) {
      error("bad topic '" + printable(topic) + "': 1-128 of A-Z a-z 0-9 . _ : / -");
      return;
    }
    // one buffer for every subscriber: Tether keeps a reference until it is flushed, never a copy,
    // so it must not change afterwards (it does not)
    Buffer frame = Buffer.buffer(len + 1).appendString("MSG ").appendBuffer(line, sp + 1, len - sp - 1)
      .appendByte((byte) '\n');
    int n = broker.publish(this, topic, frame);
    reply("OK PUB " + topic + " " + n);
  }

  /** A line longer than allowed: answer, stop reading it, close once the answer went out. */
  private void tooLong() {
    log.info("{}: line longer than {} bytes from {}; closing the connection", socket.id(), settings.maxLineBytes(),
      socket.remote());
    Buffer err = Buffer.buffer("ERR line too long (max " + settings.maxLineBytes() + " bytes)\n");
    shutdown();
    parser.pause();
    // keep reading, and discard, until the answer is out: closing with unread input would make the
    // kernel reset the connection, and the client might never see the answer
    socket.handler(b -> { });
    socket.resume();
    socket.write(err).onComplete(ar -> socket.close());
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  private void reply(String line) {
    if (!closing) {
      socket.send(Buffer.buffer(line + "\n"));
    }
  }

  private void error(String reason) {
    reply("ERR " + reason);
  }

  /**
   * Offers one {@code MSG} line to this subscriber.
   *
   * @return false when it was not queued (closing, or shedding after an overflow: counted as lost)
   */
  boolean offer(Buffer frame) {
    if (closing) {
      return false;
    }
    if (shedding) {
      lost++;
      return false;
    }
    // write, not send: its future tells us when a message was given up, so we can count it
    socket.write(frame).onFailure(this::messageFailed);
    return true;
  }

  private void messageFailed(Throwable e) {
    if (closing || !(e instanceof WriteFailedException w)) {
      return; // closed or closing: nobody to tell
    }
    lost++;
    if (w.kind() == FailureKind.WRITE_QUEUE_OVERFLOW && !shedding) {
      shedding = true;
      log.info("{}: subscriber over maxPendingBytes; offering it no messages until it has drained", socket.id());
    }
  }

  /** Tells the subscriber how many messages it missed, once there is room for the notice. */
  private void notifyLost() {
    if (lost == 0 || closing || shedding || socket.writeQueueFull()) {
      return; // the drain handler comes back here
    }
    long n = lost;
    lost = 0;
    log.info("{}: told the subscriber it lost {} message(s)", socket.id(), n);
    socket.write(Buffer.buffer("LOST " + n + "\n")).onFailure(e -> {
      if (!closing) {
        lost += n; // the notice itself was refused: the next one carries its count
      }
    });
  }

  /** True when publishers should wait for this subscriber to drain before they go on. */
  boolean holdsUpPublishers() {
    return !closing && !lagging && !shedding && socket.writeQueueFull();
  }

  // ---------------------------------------------------------------------------------------------
  // Flow control and life cycle

  /** Pauses this connection's reads until {@code other} (possibly this one) drains or goes. */
  void waitFor(PubSubConnection other) {
    if (closing) {
      return;
    }
    if (waitingFor.add(other)) {
      other.waiters.add(this);
    }
    parser.pause();
    socket.pause();
  }

  private void release(PubSubConnection other) {
    if (waitingFor.remove(other) && waitingFor.isEmpty() && !closing) {
      parser.resume(); // hands out the lines it held back; one of them may make us wait again
      if (waitingFor.isEmpty() && !closing) {
        socket.resume();
      }
    }
  }

  /** Lets the connections that wait for this one go on (this one too when {@code self}). */
  private void releaseWaiters(boolean self) {
    for (PubSubConnection w : waiters.toArray(new PubSubConnection[0])) {
      if (w != this || self) {
        waiters.remove(w);
        w.release(this);
      }
    }
  }

  private void onDrain() {
    lagging = false;
    shedding = false;
    notifyLost();
    releaseWaiters(true);
  }

  private void onFailure(FailureEvent e) {
    // Tether reports one WRITE_TIMEOUT per stall, and the next only after progress: so mark the
    // subscriber lagging whether or not it is over its mark right now (it may cross it later in the
    // same stall, and then no second event would come to let the publishers go). The drain handler
    // clears the mark once it has caught up.
    if (e.kind() == FailureKind.WRITE_TIMEOUT && !closing && !lagging) {
      lagging = true;
      log.info("{}: subscriber lagging (a write waited {} ms); publishers no longer wait for it", socket.id(),
        socket.options().writeTimeoutMs());
      releaseWaiters(false);
    }
  }

  private void onOutcome(RecoveryOutcome o) {
    if (o.action() == Action.DROP) {
      notifyLost(); // after a drop the stream goes on: say what was lost before the next message
    }
  }

  private void onClose() {
    shutdown();
    log.debug("{}: closed; books {}", socket.id(), socket.ledger());
  }

  /** Leaves every topic and lets every connection waiting for this one go on. */
  private void shutdown() {
    if (closing) {
      return;
    }
    closing = true;
    for (String t : topics) {
      broker.unsubscribe(t, this);
    }
    topics.clear();
    for (PubSubConnection s : waitingFor) {
      s.waiters.remove(this);
    }
    waitingFor.clear();
    releaseWaiters(false);
  }

  // ---------------------------------------------------------------------------------------------

  private static int lastNewline(Buffer b) {
    for (int i = b.length() - 1; i >= 0; i--) {
      if (b.getByte(i) == '\n') {
        return i;
      }
    }
    return -1;
  }

  private static int indexOf(Buffer b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b.getByte(i) == ' ') {
        return i;
      }
    }
    return -1;
  }

  /** For error messages: at most 40 characters, control characters as '?'. */
  private static String printable(String s) {
    String t = s.length() > 40 ? s.substring(0, 40) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
