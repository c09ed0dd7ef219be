package dev.tether;

import dev.tether.metrics.TetherRecorder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node-wide memory budget: one account of the bytes every connection of one Vert.x instance
 * retains (pending writes of tracked sockets, retained session frames, frame decoder buffers),
 * shared by all of them ({@link Tether#memory()}).
 *
 * <p>Each party that retains memory opens an {@link Account} and charges it <em>before</em> it
 * retains ({@link Account#charge}) and credits it when it frees. Three zones, by the node's total:
 * <ul>
 *   <li>below the high mark: nothing happens;</li>
 *   <li>past the high mark: back-pressure. The heaviest accounts (largest first, until the paused
 *       ones hold at least half of the total) are asked to stop reading ({@link Holder#pauseReading});
 *       all are resumed once the total is back at the low mark or below;</li>
 *   <li>past the limit: shedding. The largest accounts are condemned, largest first, until what the
 *       others hold fits again; each is asked to {@link Holder#shed} itself (a tracked socket closes
 *       with a WRITE_QUEUE_OVERFLOW event, a session expires with SESSION_EXPIRED), with one WARN
 *       line per shedding. A charge by a condemned account is refused: the caller must not retain.</li>
 * </ul>
 * A condemned account's bytes still count until it actually frees them (one turn of its event
 * loop), so the total may pass the limit by what is being shed at that moment, never by more.
 *
 * <p>Threading: accounts live on different event loops. The total is an {@link AtomicLong}; an
 * account's figure is written only by its owner (its own event loop) and read by any thread
 * (volatile); decisions (which to pause, which to shed) are taken under this object's lock, which
 * the common path (below the high mark) never takes. {@link Holder} methods are called on whatever
 * thread made the decision: implementations hop onto their own context.
 */
public final class MemoryBudget {

  private static final Logger log = LoggerFactory.getLogger(MemoryBudget.class);

  /** Default limit as a share of the JVM's max heap ({@code Runtime.maxMemory()}). */
  public static final double DEFAULT_LIMIT_FRACTION = 0.5;
  /** Default high mark (back-pressure starts) as a share of the limit. */
  public static final double DEFAULT_HIGH_MARK = 0.8;
  /** Default low mark (back-pressure ends) as a share of the limit. */
  public static final double DEFAULT_LOW_MARK = 0.6;

  private final long limit;
  private final long high;
  private final long low;
  /** Evaluate back-pressure again each time the total grew by this much above the high mark. */
  private final long step;
  private final AtomicLong used = new AtomicLong();
  private final Set<Account> accounts = ConcurrentHashMap.newKeySet();
  /** Condemned accounts not closed yet (what they hold is on its way out). */
  private final Set<Account> condemned = ConcurrentHashMap.newKeySet();
  private final AtomicInteger pausedCount = new AtomicInteger();
  private final AtomicLong shedCount = new AtomicLong();
  private final AtomicLong pauses = new AtomicLong();
  private volatile TetherRecorder recorder = TetherRecorder.NOOP;
  /** Total at the last back-pressure evaluation (written under this object's lock, read without). */
  private volatile long lastEvaluation;

  /**
   * @param limitBytes the limit (> 0)
   * @param highMark   back-pressure starts past this share of the limit (0 < lowMark < highMark <= 1)
   * @param lowMark    back-pressure ends at this share of the limit
   */
  public MemoryBudget(long limitBytes, double highMark, double lowMark) {
    if (limitBytes <= 0) {
      throw new IllegalArgumentException("memory limit must be > 0, got " + limitBytes);
    }
    if (!(lowMark > 0 && lowMark < highMark && highMark <= 1)) {
      throw new IllegalArgumentException("memory marks must satisfy 0 < lowMark < highMark <= 1, got lowMark="
        + lowMark + " highMark=" + highMark);
    }
    this.limit = limitBytes;
    this.high = (long) (limitBytes * highMark);
    this.low = (long) (limitBytes * lowMark);
    this.step = Math.max(1, (limit - high) / 8);
  }

  /** The default: {@value #DEFAULT_LIMIT_FRACTION} of the max heap, marks 0.8 and 0.6. */
  public static MemoryBudget defaults() {
    return new MemoryBudget(defaultLimit(DEFAULT_LIMIT_FRACTION), DEFAULT_HIGH_MARK, DEFAULT_LOW_MARK);
  }

  /** {@code fraction} of this JVM's max heap. */
  public static long defaultLimit(double fraction) {
    return Math.max(1, (long) (Runtime.getRuntime().maxMemory() * fraction));
  }

  /** Meters: called by {@link Tether#install}; the gauges read this budget. */
  void bind(TetherRecorder r) {
    this.recorder = Objects.requireNonNull(r);
    r.memoryBudget(used::get, limit, high, pausedCount::get, pauses::get);
  }

  public long limit() {
    return limit;
  }

  public long highMark() {
    return high;
  }

  public long lowMark() {
    return low;
  }

  /** Bytes charged now by every account of the node. Any thread. */
  public long used() {
    return used.get();
  }

  /** Accounts asked to stop reading now. */
  public int paused() {
    return pausedCount.get();
  }

  /** Accounts shed since start. */
  public long shed() {
    return shedCount.get();
  }

  /** Times an account was asked to stop reading, since start. */
  public long pauses() {
    return pauses.get();
  }

  /** Open accounts (for tests and diagnostics). */
  public int accounts() {
    return accounts.size();
  }

  /**
   * Opens an account for one party.
   *
   * @param kind   what it is, for logs and meters: {@code connection} or {@code session}
   * @param name   its id (connection or session id), for logs; null: asked of {@link Holder#name()} when needed
   * @param holder how to pause, resume and shed it
   */
  public Account open(String kind, String name, Holder holder) {
    Account a = new Account(kind, name, holder);
    accounts.add(a);
    return a;
  }

  /** What the budget asks of a party; each method may be called from any thread. */
  public interface Holder {
    /** The party's id for logs, when none was given to {@link #open} (built lazily: ids cost heap). */
    default String name() {
      return "?";
    }

    /** Stop reading from the peer (back-pressure). */
    void pauseReading();

    /** Reading may go on. */
    void resumeReading();

    /**
     * Free everything: close the connection or end the session, with the event that says so.
     *
     * @param reason one sentence for the event and log (limit, total, this party's bytes)
     */
    void shed(String reason);
  }

  /**
   * One party's share. {@link #charge} and {@link #credit} are called by the party's owner only
   * (its event loop); the figure is readable from any thread.
   */
  public final class Account {
    final String kind;
    final String name;
    final Holder holder;
    private volatile long bytes;
    private volatile boolean isCondemned;
    private volatile boolean closed;
    /** Guarded by the budget's lock. */
    private boolean paused;

    Account(String kind, String name, Holder holder) {
      this.kind = kind;
      this.name = name;
      this.holder = holder;
    }

    public String kind() {
      return kind;
    }

    public String name() {
      return name != null ? name : holder.name();
    }

    /** Bytes charged to this account now. */
    public long bytes() {
      return bytes;
    }

    /** Chosen for shedding: further charges are refused. */
    public boolean condemned() {
      return isCondemned;
    }

    /**
     * Charges {@code n} bytes the caller is about to retain. Returns false when it must not: this
     * account is (or has just been) chosen for shedding, or is closed; nothing is charged then.
     */
    public boolean charge(long n) {
      if (isCondemned || closed) {
        return false;
      }
      if (n <= 0) {
        return true;
      }
      long u = used.addAndGet(n);
      bytes += n; // owner only
      if (u > high) {
        overHigh(this, n, u);
        if (isCondemned) {
          // refused: this account is the one to shed
          bytes -= n;
          used.addAndGet(-n);
          return false;
        }
      }
      return true;
    }

    /** Frees {@code n} bytes charged before (no-op once closed). */
    public void credit(long n) {
      if (n <= 0 || closed) {
        return;
      }
      long b = bytes;
      long take = Math.min(n, b);
      bytes = b - take;
      long u = used.addAndGet(-take);
      if (pausedCount.get() > 0 && u <= low) {
        resumeAll();
      }
    }

    /** Frees whatever is still charged and leaves the budget. Idempotent. */
    public void close() {
      if (closed) {
        return;
      }
      long b = bytes;
      closed = true;
      bytes = 0;
      accounts.remove(this);
      condemned.remove(this);
      long u = used.addAndGet(-b);
      synchronized (MemoryBudget.this) {
        if (paused) {
          paused = false;
          pausedCount.decrementAndGet();
        }
      }
      if (pausedCount.get() > 0 && u <= low) {
        resumeAll();
      }
    }

    @Override
    public String toString() {
      return kind + " " + name() + " (" + bytes + " bytes)";
    }
  }

  // -----------------------------------------------------------------------------------------------

  /** The total passed the high mark with a charge of {@code n} by {@code a}. */
  private void overHigh(Account a, long n, long u) {
    // without the lock while nothing is due: under back-pressure most charges land here
    if (u <= limit && pausedCount.get() > 0 && u < lastEvaluation + step) {
      return;
    }
    List<Account> victims = null;
    List<Account> toPause = null;
    synchronized (this) {
      long total = used.get();
      long beingShed = 0;
      for (Account c : condemned) {
        beingShed += c.bytes;
      }
      if (total - beingShed > limit) {
        victims = condemn(total - beingShed);
        for (Account v : victims) {
          beingShed += v.bytes;
        }
      }
      // what stays once the condemned are gone decides the back-pressure
      long staying = total - beingShed;
      if (staying > high && (pausedCount.get() == 0 || staying >= lastEvaluation + step)) {
        lastEvaluation = staying;
        toPause = choosePaused(staying);
      }
    }
    if (victims != null) {
      for (Account v : victims) {
        v.holder.shed("node memory budget: " + v.kind + " " + v.name() + " holds " + v.bytes + " bytes, the largest, with "
          + used.get() + " of " + limit + " bytes used");
      }
    }
    if (toPause != null) {
      for (Account p : toPause) {
        p.holder.pauseReading();
      }
    }
  }

  /** Condemns the largest accounts until the others fit within the limit; under the lock. */
  private List<Account> condemn(long excessTotal) {
    List<Account> sorted = new ArrayList<>();
    for (Account c : accounts) {
      if (!c.isCondemned && !c.closed && c.bytes > 0) {
        sorted.add(c);
      }
    }
    sorted.sort(Comparator.comparingLong((Account c) -> c.bytes).reversed());
    List<Account> victims = new ArrayList<>();
    long rest = excessTotal;
    for (Account c : sorted) {
      if (rest <= limit) {
        break;
      }
      long b = c.bytes;
      c.isCondemned = true;
      condemned.add(c);
      victims.add(c);
      rest -= b;
      shedCount.incrementAndGet();
      recorder.memoryShed(c.kind, b);
      log.warn("memory budget: {} of {} bytes used, past the limit: shedding {} {} holding {} bytes, the largest of {}",
        used.get(), limit, c.kind, c.name(), b, sorted.size());
    }
    return victims;
  }

  /** Marks the heaviest accounts paused until they hold half of {@code total}; returns the newly paused. */
  private List<Account> choosePaused(long total) {
    List<Account> sorted = new ArrayList<>();
    for (Account c : accounts) {
      if (!c.closed && !c.isCondemned && c.bytes > 0) {
        sorted.add(c);
      }
    }
    sorted.sort(Comparator.comparingLong((Account c) -> c.bytes).reversed());
    List<Account> fresh = new ArrayList<>();
    long covered = 0;
    for (Account c : sorted) {
      if (covered * 2 >= total) {
        break;
      }
      covered += c.bytes;
      if (!c.paused) {
        c.paused = true;
        pausedCount.incrementAndGet();
        pauses.incrementAndGet();
        fresh.add(c);
      }
    }
    if (!fresh.isEmpty()) {
      log.info("memory budget: {} of {} bytes used, past the high mark {}: {} more stop reading ({} paused), the heaviest {}",
        total, limit, high, fresh.size(), pausedCount.get(), fresh.get(0));
    }
    return fresh;
  }

  private void resumeAll() {
    List<Account> resumed = new ArrayList<>();
    synchronized (this) {
      if (used.get() > low) {
        return;
      }
      for (Account c : accounts) {
        if (c.paused) {
          c.paused = false;
          pausedCount.decrementAndGet();
          resumed.add(c);
        }
      }
      lastEvaluation = 0;
    }
    if (!resumed.isEmpty()) {
      log.info("memory budget: {} of {} bytes used, at the low mark {} or below: {} resume reading",
        used.get(), limit, low, resumed.size());
    }
    for (Account c : resumed) {
      c.holder.resumeReading();
    }
  }

  @Override
  public String toString() {
    return "MemoryBudget[limit=" + limit + " high=" + high + " low=" + low + " used=" + used.get() + "]";
  }
}
