package dev.tether;

import dev.tether.event.Direction;
import dev.tether.event.FailureKind;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The node-wide budget on failure WARN lines and failure events ({@code tether.failure}) that bounds
 * a storm: at most {@code warnPerSecond} WARN lines and {@code eventsPerSecond} published events per
 * one-second window, shared by every connection of every server of one Vert.x instance
 * ({@link Tether#failureBudget()}). What is over budget is only tallied here (per server, kind and
 * direction) until {@link #drain()} hands the tally to the once-per-window summary.
 *
 * <p>Lock-free: the current window is an immutable second number with two atomic counters behind an
 * {@link AtomicReference}; the first caller of a new second swaps in a fresh window. A caller that
 * raced the swap may still take a ticket of the previous window, which never admits more than that
 * window's budget. Tallies are {@link LongAdder}s that are summed-and-reset by {@link #drain()}, so a
 * suppression racing a drain is counted in this summary or the next one, never lost.
 */
public final class FailureBudget {

  public static final int DEFAULT_WARN_PER_SECOND = 100;
  public static final int DEFAULT_EVENTS_PER_SECOND = 1000;

  /** {@link #admit()} bit: log the WARN line. */
  public static final int LOG = 1;
  /** {@link #admit()} bit: publish the event (and ask the recovery verticle). */
  public static final int PUBLISH = 2;

  private static final long SECOND = 1_000_000_000L;

  private final int warnPerSecond;
  private final int eventsPerSecond;
  private final LongSupplier nanoClock;
  private final AtomicReference<Window> window;
  private final ConcurrentMap<Key, Tally> tallies = new ConcurrentHashMap<>();
  private final AtomicBoolean summaryPending = new AtomicBoolean();

  /** A budget on {@link System#nanoTime()}'s seconds. */
  public FailureBudget(int warnPerSecond, int eventsPerSecond) {
    this(warnPerSecond, eventsPerSecond, System::nanoTime);
  }

  /** A budget on the seconds of {@code nanoClock} (monotonic nanoseconds; tests step it by hand). */
  public FailureBudget(int warnPerSecond, int eventsPerSecond, LongSupplier nanoClock) {
    if (warnPerSecond < 0 || eventsPerSecond < 0) {
      throw new IllegalArgumentException("budgets must be >= 0, got warnPerSecond=" + warnPerSecond
        + " eventsPerSecond=" + eventsPerSecond);
    }
    this.warnPerSecond = warnPerSecond;
    this.eventsPerSecond = eventsPerSecond;
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    this.window = new AtomicReference<>(new Window(Math.floorDiv(nanoClock.getAsLong(), SECOND)));
  }

  /** The defaults: {@value #DEFAULT_WARN_PER_SECOND} WARN lines and {@value #DEFAULT_EVENTS_PER_SECOND} events per second. */
  public static FailureBudget defaults() {
    return new FailureBudget(DEFAULT_WARN_PER_SECOND, DEFAULT_EVENTS_PER_SECOND);
  }

  public int warnPerSecond() {
    return warnPerSecond;
  }

  public int eventsPerSecond() {
    return eventsPerSecond;
  }

  /** Takes one failure's tickets from the current window: {@link #LOG} and/or {@link #PUBLISH}, or 0. */
  public int admit() {
    long now = Math.floorDiv(nanoClock.getAsLong(), SECOND);
    Window w = window.get();
    while (w.second != now) {
      Window fresh = new Window(now);
      if (window.compareAndSet(w, fresh)) {
        w = fresh;
        break;
      }
      w = window.get();
    }
    int r = 0;
    if (w.warns.get() < warnPerSecond && w.warns.incrementAndGet() <= warnPerSecond) {
      r |= LOG;
    }
    if (w.events.get() < eventsPerSecond && w.events.incrementAndGet() <= eventsPerSecond) {
      r |= PUBLISH;
    }
    return r;
  }

  /**
   * Tallies what {@link #admit()} refused for one failure. Returns true when no summary is pending
   * yet: the caller schedules one ({@link #nanosToWindowEnd()} from now) and calls {@link #drain()} then.
   */
  public boolean suppressed(String server, FailureKind kind, Direction direction, boolean notLogged,
                            boolean notPublished) {
    Tally t = tallies.computeIfAbsent(new Key(server, kind, direction), k -> new Tally());
    if (notLogged) {
      t.notLogged.increment();
    }
    if (notPublished) {
      t.notPublished.increment();
    }
    return summaryPending.compareAndSet(false, true);
  }

  /** Nanoseconds until the current window ends (at least 1 ms). */
  public long nanosToWindowEnd() {
    long left = SECOND - Math.floorMod(nanoClock.getAsLong(), SECOND);
    return Math.max(1_000_000L, left);
  }

  /**
   * What was suppressed since the last drain, most frequent first (empty if nothing); re-arms the
   * summary, so the next suppression schedules the next one.
   */
  public List<Suppressed> drain() {
    summaryPending.set(false); // before reading: a suppression from now on schedules its own summary
    List<Suppressed> out = new ArrayList<>();
    for (Map.Entry<Key, Tally> e : tallies.entrySet()) {
      long l = e.getValue().notLogged.sumThenReset();
      long p = e.getValue().notPublished.sumThenReset();
      if (l > 0 || p > 0) {
        Key k = e.getKey();
        out.add(new Suppressed(k.server, k.kind, k.direction, l, p));
      }
    }
    out.sort(Comparator.comparingLong((Suppressed s) -> Math.max(s.notLogged(), s.notPublished())).reversed());
    return out;
  }

  /** Suppressed failures of one server, kind and direction since the last summary. */
  public record Suppressed(String server, FailureKind kind, Direction direction, long notLogged, long notPublished) { }

  private record Key(String server, FailureKind kind, Direction direction) { }

  private static final class Tally {
    final LongAdder notLogged = new LongAdder();
    final LongAdder notPublished = new LongAdder();
  }

  private static final class Window {
    final long second;
    final AtomicInteger warns = new AtomicInteger();
    final AtomicInteger events = new AtomicInteger();

    Window(long second) {
      this.second = second;
    }
  }
}
