package dev.tether.ledger;

import dev.tether.event.FailureEvent;
import dev.tether.event.RecoveryOutcome;
import dev.tether.support.Harness;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.fail;

/**
 * The ledger's guarantees against adversarial users, not only adversarial networks. Each try draws
 * an {@link AdversarialSchedule} from a seed and runs it on a real loopback connection
 * ({@link AdversarialRun}): writes of 1 B to 64 KiB through {@code write}, {@code writeTracked} and
 * {@code send}, on the loop and from another thread, and more writes, closes and throws from inside
 * receipts, the drain, failure, outcome, read and close handlers; close, resend, drop, report and a
 * policy that throws; injected refusals (also delayed ones), partial writes and allocation failures;
 * stalled peers with small buffers, write timeouts and overflows. After each connection has closed:
 * {@code accepted == flushed + unsent}, nothing pending, every future completed and where it says,
 * the peer received exactly the written bytes in order, the meters agree, and the server's slot came
 * back.
 *
 * <p>Settings (system properties, passed through by Maven):
 * <ul>
 *   <li>{@code tether.soak.tries}: schedules to run (default {@value #DEFAULT_TRIES});</li>
 *   <li>{@code tether.soak.seed}: the master seed (default {@value #DEFAULT_SEED}); schedule
 *       {@code i} uses a seed derived from it, printed when it fails;</li>
 *   <li>{@code tether.soak.schedule}: run only this schedule seed (as printed), {@code tether.soak.repeat}
 *       times (default 1), printing it;</li>
 *   <li>{@code tether.soak.maxFailures}: stop after this many failing schedules (default 3).</li>
 * </ul>
 * A failure prints the schedule (its steps), what the calls did, the events and outcomes, and the
 * property that broke. There is no shrinking: schedules are small, and their timing matters.
 */
class AdversarialUserProperties {

  static final long DEFAULT_SEED = 20261129L;
  static final int DEFAULT_TRIES = 300;

  /** What the adversarial user throws; anything else that reaches Vert.x is a finding. */
  static final class Adversary extends RuntimeException {
    Adversary(String message) {
      super(message, null, false, false);
    }
  }

  private static Harness h;
  private static ScheduledExecutorService offLoop;
  private static final List<Throwable> unexpected = new CopyOnWriteArrayList<>();
  private static final AtomicLong servers = new AtomicLong();

  @BeforeAll
  static void start() {
    h = Harness.bare();
    h.vertx.exceptionHandler(t -> {
      if (!(t instanceof Adversary)) {
        unexpected.add(t);
      }
    });
    offLoop = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "adversary-off-loop");
      t.setDaemon(true);
      return t;
    });
  }

  @AfterAll
  static void stop() {
    if (offLoop != null) {
      offLoop.shutdownNow();
    }
    if (h != null) {
      h.close();
    }
  }

  @Test
  void adversarialUsersCannotUnbalanceTheBooksNorReorderTheStream() throws Exception {
    long master = parse(System.getProperty("tether.soak.seed", String.valueOf(DEFAULT_SEED)));
    int tries = Integer.getInteger("tether.soak.tries", DEFAULT_TRIES);
    int maxFailures = Integer.getInteger("tether.soak.maxFailures", 3);
    String only = System.getProperty("tether.soak.schedule");
    List<Long> seeds = new ArrayList<>();
    if (only != null && !only.isBlank()) {
      long one = parse(only);
      for (int i = 0, n = Integer.getInteger("tether.soak.repeat", 1); i < n; i++) {
        seeds.add(one);
      }
    } else {
      for (int i = 0; i < tries; i++) {
        seeds.add(scheduleSeed(master, i));
      }
    }
    Map<String, Long> seen = new TreeMap<>();
    java.util.TreeMap<Long, String> slowest = new java.util.TreeMap<>();
    List<String> reports = new ArrayList<>();
    long t0 = System.nanoTime();
    int ran = 0;
    for (long seed : seeds) {
      AdversarialSchedule s = new AdversarialSchedule(seed);
      if (only != null) {
        System.out.println(s);
      }
      AdversarialRun run = new AdversarialRun(s, h, "adv-" + servers.incrementAndGet(), offLoop);
      unexpected.clear();
      long start = System.nanoTime();
      try {
        run.run();
      } catch (Throwable t) {
        java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        run.violation("the run itself failed: " + w.toString().lines().limit(8).collect(java.util.stream.Collectors.joining("\n      ")));
      }
      slowest.put((System.nanoTime() - start) / 1_000_000 * 1000 + ran % 1000, AdversarialSchedule.hex(seed));
      if (slowest.size() > 3) {
        slowest.pollFirstEntry();
      }
      if (only != null) {
        System.out.println("  phases: " + run.phases);
      }
      for (Throwable t : unexpected) {
        run.violation("an exception that is not the adversary's reached Vert.x: " + t);
      }
      ran++;
      count(seen, s, run);
      if (!run.violations.isEmpty()) {
        String report = "schedule #" + (ran - 1) + " FAILED (master seed " + master + ")\n" + s + "\n  broken:\n    "
          + String.join("\n    ", run.violations) + "\n" + run.trace()
          + "  run it alone: -Dtether.soak.schedule=" + AdversarialSchedule.hex(seed);
        System.out.println(report);
        reports.add(report);
        if (reports.size() >= maxFailures) {
          break;
        }
      }
      h.forgetMeters(run.server());
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    StringBuilder slow = new StringBuilder();
    slowest.descendingMap().forEach((ms, sd) -> slow.append(' ').append(sd).append(" (").append(ms / 1000).append(" ms)"));
    System.out.printf("adversarial users: %d schedules (master seed %d) in %.1f s, %d failed%n  seen: %s%n  slowest:%s%n",
      ran, master, secs, reports.size(), seen, slow);
    if (!reports.isEmpty()) {
      fail(reports.size() + " of " + ran + " schedules broke the ledger's guarantees (master seed " + master
        + "); first:\n" + reports.get(0));
    }
  }

  /** Coverage: how often the schedules reached each path (printed, so a weak generator shows). */
  private static void count(Map<String, Long> seen, AdversarialSchedule s, AdversarialRun run) {
    seen.merge("policy " + s.policy.name().toLowerCase() + (s.policyThrowRate > 0 ? "+throws" : ""), 1L, Long::sum);
    seen.merge("calls", (long) run.calls.size(), Long::sum);
    seen.merge("calls rejected", run.calls.stream().filter(c -> c.accepted == 0).count(), Long::sum);
    run.callbacks.forEach((k, v) -> seen.merge("ran " + k, (long) v, Long::sum));
    if (s.stall) {
      seen.merge("peer stalled", 1L, Long::sum);
    }
    if (run.failures.stream().anyMatch(e -> String.valueOf(e.message()).contains("reorder"))) {
      seen.merge("refused behind later writes (closed)", 1L, Long::sum);
    }
    for (FailureEvent e : run.failures) {
      seen.merge("event " + e.kind() + (e.soft() ? "" : " hard"), 1L, Long::sum);
    }
    for (RecoveryOutcome o : run.outcomes) {
      seen.merge("outcome " + o.action() + " " + o.result(), 1L, Long::sum);
    }
  }

  /** The seed of schedule {@code i} of a run (a 64-bit mix, so neighbouring schedules differ). */
  static long scheduleSeed(long master, int i) {
    long z = master + (i + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static long parse(String v) {
    String t = v.trim();
    if (t.startsWith("0x") || t.startsWith("0X")) {
      return Long.parseUnsignedLong(t.substring(2), 16);
    }
    return Long.parseLong(t);
  }
}
