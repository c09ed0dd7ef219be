package dev.tether.recovery;

import dev.tether.FailureBudget;
import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.event.Decision;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.event.RecoveryOutcome;
import dev.tether.internal.ContextAccess;
import dev.tether.metrics.TetherRecorder;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Reports failures that do not belong to one tracked connection (a session that outlived its
 * connections, say) the same way {@code TrackedSocket} reports its own: counted, logged, published
 * on {@value Addresses#FAILURE}, sent to the node's recovery verticle for a decision, and decided by
 * the server's own policy when nobody answers in time. Outcomes go to {@value Addresses#RECOVERY}.
 *
 * <p>Storms are bounded by the node's {@link FailureBudget}: over the WARN budget the line is skipped,
 * over the event budget the event is not published and the decision is the server's own policy,
 * applied directly (no request); counters and outcomes are always exact. Once per budget window in
 * which something was suppressed, one summary WARN line and one summary event (a failure event with
 * {@code suppressed} and {@code suppressedBy} fields) say what was left out.
 *
 * <p>Stateless apart from its immutable settings: usable from any event loop; the decision future
 * completes on the caller's context.
 */
public final class FailureReporter {

  private static final Logger log = LoggerFactory.getLogger(FailureReporter.class);

  private final Vertx vertx;
  private final Tether tether;
  private final TetherRecorder recorder;
  private final String server;
  private final String protocol;
  private final PolicySet policies;
  private final long decisionTimeoutMs;

  public FailureReporter(Vertx vertx, String server, String protocol, PolicySet policies, long decisionTimeoutMs) {
    this.vertx = vertx;
    this.tether = Tether.of(vertx);
    this.recorder = tether.recorder();
    this.server = server;
    this.protocol = protocol;
    this.policies = policies;
    this.decisionTimeoutMs = decisionTimeoutMs;
  }

  /** A new failure event of this server, stamped now, with {@code unsent = requested - flushed}. */
  public FailureEvent event(String connection, String remote, FailureKind kind, Direction direction,
                            long requested, long flushed, long offset, Throwable cause, boolean soft) {
    return event(connection, remote, kind, direction, requested, flushed, offset, cause, 1, soft);
  }

  /** Like the other {@code event}, for the {@code attempt}-th failure of a recovery episode. */
  public FailureEvent event(String connection, String remote, FailureKind kind, Direction direction,
                            long requested, long flushed, long offset, Throwable cause, int attempt, boolean soft) {
    return new FailureEvent(UUID.randomUUID().toString(), System.currentTimeMillis(), tether.node(), server,
      protocol, connection, remote, kind, direction, requested, flushed, requested - flushed, Math.max(0, offset),
      cause == null ? null : cause.getClass().getName(), cause == null ? null : String.valueOf(cause.getMessage()),
      attempt, soft);
  }

  /**
   * Counts, logs and publishes {@code e}, then asks the recovery verticle for a decision; the future
   * never fails: without an answer the server's own policy decides.
   */
  public Future<Decision> report(FailureEvent e) {
    recorder.failure(server, e.kind(), e.direction());
    FailureBudget budget = tether.failureBudget();
    int admitted = budget.admit();
    boolean logIt = (admitted & FailureBudget.LOG) != 0;
    boolean publishIt = (admitted & FailureBudget.PUBLISH) != 0;
    if (logIt) {
      log.warn("{} {} on {} remote={} requested={} flushed={} unsent={} offset={} attempt={} cause={}: {}",
        e.kind(), e.soft() ? "(soft)" : "(hard)", e.connection(), e.remote(), e.requested(), e.flushed(), e.unsent(),
        e.offset(), e.attempt(), e.cause(), e.message());
    }
    if (!publishIt) {
      recorder.suppressed(e.kind());
    }
    if ((!logIt || !publishIt) && budget.suppressed(server, e.kind(), e.direction(), !logIt, !publishIt)) {
      scheduleSummary(vertx, tether, budget);
    }
    if (!publishIt) {
      // over budget: no publish and no request either (the request is as much event-bus traffic as
      // the publish); the server's own policy decides, as it does when nobody answers, in a later turn
      Context ctx = vertx.getOrCreateContext();
      Promise<Decision> decided = Promise.promise();
      ctx.runOnContext(v -> decided.complete(policies.decide(e)));
      return decided.future();
    }
    JsonObject json = e.toJson();
    vertx.eventBus().publish(Addresses.FAILURE, json);
    // local only: the decision is the node's own (its recovery verticle consumes locally); in a cluster
    // a consumer of this address on another node must never decide for this node's sockets
    return vertx.eventBus().<JsonObject>request(Addresses.recover(tether.node()), json,
        new DeliveryOptions().setSendTimeout(decisionTimeoutMs).setLocalOnly(true))
      .map(msg -> Decision.fromJson(msg.body()))
      .recover(err -> {
        log.debug("{}: no decision from the recovery verticle ({}), applying the local policy", e.connection(),
          err.getMessage());
        return Future.succeededFuture(policies.decide(e));
      });
  }

  /**
   * Counts and publishes {@code e} on {@value Addresses#FAILURE} without logging it and without asking for
   * a decision: for failures that have no connection to recover (a failed accept), whose caller logs
   * once per episode itself.
   */
  public void announce(FailureEvent e) {
    recorder.failure(server, e.kind(), e.direction());
    vertx.eventBus().publish(Addresses.FAILURE, e.toJson());
  }

  /**
   * Schedules the summary of the current window at its end, on a context of its own (a timer of the
   * failing connection's verticle would be cancelled if that verticle were undeployed first).
   */
  private static void scheduleSummary(Vertx vertx, Tether tether, FailureBudget budget) {
    long delayMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(budget.nanosToWindowEnd()));
    ContextAccess.detachedContext(vertx).runOnContext(v ->
      vertx.setTimer(delayMs, t -> summarize(vertx, tether, budget)));
  }

  /** One WARN line and one summary event for what the budget suppressed since the last summary. */
  static void summarize(Vertx vertx, Tether tether, FailureBudget budget) {
    List<FailureBudget.Suppressed> all = budget.drain();
    if (all.isEmpty()) {
      return;
    }
    long notLogged = all.stream().mapToLong(FailureBudget.Suppressed::notLogged).sum();
    long notPublished = all.stream().mapToLong(FailureBudget.Suppressed::notPublished).sum();
    String by = all.stream().map(s -> s.kind() + " x " + Math.max(s.notLogged(), s.notPublished()) + " on " + s.server())
      .collect(Collectors.joining(", "));
    String text = Math.max(notLogged, notPublished) + " similar failures suppressed in the last second: " + by
      + " (" + notLogged + " not logged, " + notPublished + " not published on " + Addresses.FAILURE + "; budget " + budget.warnPerSecond() + " WARN lines and "
      + budget.eventsPerSecond() + " events per second; tether_failures_total counts them all)";
    log.warn(text);
    if (notPublished == 0) {
      return;
    }
    FailureBudget.Suppressed top = all.stream()
      .max(java.util.Comparator.comparingLong(FailureBudget.Suppressed::notPublished)).orElseThrow();
    JsonArray breakdown = new JsonArray();
    for (FailureBudget.Suppressed s : all) {
      if (s.notPublished() > 0) {
        breakdown.add(new JsonObject().put("server", s.server()).put("kind", s.kind().name())
          .put("direction", s.direction().name()).put("count", s.notPublished()));
      }
    }
    FailureEvent summary = new FailureEvent(UUID.randomUUID().toString(), System.currentTimeMillis(), tether.node(),
      top.server(), null, null, null, top.kind(), top.direction(), 0, 0, 0, 0, null, text, 1, false);
    vertx.eventBus().publish(Addresses.FAILURE, summary.toJson().put("suppressed", notPublished)
      .put("suppressedBy", breakdown));
  }

  /** Counts, logs and publishes the outcome of {@code e}'s decision. */
  public void publish(FailureEvent e, Decision d, long bytes, String result, String message) {
    publish(outcome(e, d, bytes, result, message));
  }

  /** The outcome of {@code e}'s decision, stamped now. */
  public RecoveryOutcome outcome(FailureEvent e, Decision d, long bytes, String result, String message) {
    return new RecoveryOutcome(e.id(), System.currentTimeMillis(), tether.node(), server,
      e.connection(), e.kind(), d.policy(), d.action(), d.delayMs(), bytes, result, message);
  }

  /** Counts, logs and publishes an outcome. */
  public void publish(RecoveryOutcome o) {
    recorder.recoveryAction(o.policy() == null ? "unknown" : o.policy(), o.action(), o.result());
    log.info("recovery of {} on {} by {}: {} {} bytes -> {}{}", o.kind(), o.connection(), o.policy(), o.action(),
      o.bytes(), o.result(), o.message() == null ? "" : " (" + o.message() + ")");
    vertx.eventBus().publish(Addresses.RECOVERY, o.toJson());
  }
}
