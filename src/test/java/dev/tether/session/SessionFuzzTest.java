package dev.tether.session;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.tether.tools.Fuzz;
import dev.tether.verticles.SessionVerticle;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static dev.tether.session.SessionTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The CI-sized fuzz run (issue 9 item 4): 3,000 seeded inputs (mutated valid streams and random bytes)
 * against a real session server on a real socket, each on a fresh connection. Every input must end in
 * an ERROR frame and a close, a valid reply and a close, a plain close or a reset; none may stay open
 * past the deadline; good sessions run between the inputs and after them, byte-exact; nothing is logged
 * with a stack trace (no exception reaches Netty's tail handler); afterwards every session expires and
 * no connection is left. {@code scripts/fuzz.sh} runs the same generator at 100,000 inputs against a node.
 */
class SessionFuzzTest {

  static final int INPUTS = 3000;
  static final int MAX_FRAME = 128 * 1024;

  private Vertx vertx;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    logged.start();
    root.addAppender(logged);
  }

  @AfterEach
  void tearDown() throws Exception {
    root.detachAppender(logged);
    await(vertx.close());
  }

  @Test
  void generatorNeverFails() {
    for (long i = 0; i < 20_000; i++) {
      assertThat(Fuzz.generate(1, i, MAX_FRAME)).isNotNull();
    }
  }

  /** Found by the fuzzer: a peer's ERROR message went into the server's log as sent (line breaks, escapes). */
  @Test
  void aPeersErrorMessageCannotForgeLogLines() throws Exception {
    SessionVerticle v = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session"), false);
    try (dev.tether.support.LogCapture log = new dev.tether.support.LogCapture(SessionServer.class, Level.INFO)) {
      RawPeer peer = await(RawPeer.connect(vertx, v.actualPort()));
      peer.write(Frames.error(100, "bye\n2026-11-29 00:00:00.000 ERROR [main] forged - \u001b[31mred" + "x".repeat(900)));
      await(peer.closed());
      await().atMost(Duration.ofSeconds(10)).until(() -> !log.lines(Level.INFO).isEmpty());
      String line = log.lines(Level.INFO).get(0);
      assertThat(line).contains("peer sent ERROR 100: bye\\u000a2026").contains("\\u001b[31mred")
        .doesNotContain("\n").doesNotContain("\u001b").endsWith("...");
      assertThat(line.length()).isLessThan(300);
    }
  }

  @Test
  void generatorIsDeterministic() {
    for (long i = 0; i < 200; i++) {
      Fuzz.Input a = Fuzz.generate(7, i, MAX_FRAME);
      Fuzz.Input b = Fuzz.generate(7, i, MAX_FRAME);
      assertThat(a.bytes()).isEqualTo(b.bytes());
      assertThat(a.splits()).isEqualTo(b.splits());
      assertThat(a.kind()).isEqualTo(b.kind());
    }
    assertThat(Fuzz.generate(7, 1, MAX_FRAME).bytes()).isNotEqualTo(Fuzz.generate(8, 1, MAX_FRAME).bytes());
  }

  @Test
  void thousandsOfHostileInputsAreContained() throws Exception {
    SessionVerticle v = SessionTestSupport.deploy(vertx, SessionTestSupport.serverConfig("session")
      .put("maxFrameBytes", MAX_FRAME).put("helloTimeoutMs", 500).put("idleTimeoutMs", 500).put("sessionTtlMs", 500),
      false);
    int port = v.actualPort();

    Fuzz.Report rep = Fuzz.run(new Fuzz.Options("127.0.0.1", port, INPUTS, 20261129, 16, 10_000, 10_000, MAX_FRAME, 300),
      null);

    assertThat(rep.violations).as("violations").isEmpty();
    assertThat(rep.clean()).isTrue();
    long total = Arrays.stream(Fuzz.Outcome.values()).mapToLong(rep::count).sum();
    assertThat(total).isEqualTo(INPUTS);
    // the generator reaches every acceptable ending, and the decoder's main error codes
    assertThat(rep.count(Fuzz.Outcome.ERROR_CLOSE)).as(rep.table()).isGreaterThan(INPUTS / 4);
    assertThat(rep.count(Fuzz.Outcome.REPLY_CLOSE)).as(rep.table()).isGreaterThan(50);
    assertThat(rep.errorCodes.keySet()).as(rep.table())
      .contains(Frames.E_MALFORMED, Frames.E_TOO_LARGE, Frames.E_UNKNOWN_TYPE, Frames.E_UNEXPECTED, Frames.E_BAD_SEQ,
        Frames.E_UNKNOWN_SESSION);
    assertThat(rep.goodSessions.sum()).isGreaterThanOrEqualTo(INPUTS / 300);
    assertThat(rep.goodSessionFailures.sum()).isZero();

    // the sessions the inputs opened expire; no connection is left behind
    SessionServer server = v.server();
    await().atMost(Duration.ofSeconds(20)).until(() -> server.sessionCount() == 0);
    assertThat(Fuzz.goodSession("127.0.0.1", port, 99, 100, 10_000)).isNull();

    List<String> escaped = logged.list.stream()
      .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
      .filter(e -> e.getThrowableProxy() != null || e.getLoggerName().startsWith("io.netty")
        || e.getFormattedMessage().contains("reached at the tail of the pipeline"))
      .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()
        + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getClassName()))
      .collect(Collectors.toList());
    assertThat(escaped).as("stack traces / Netty warnings").isEmpty();
  }
}
