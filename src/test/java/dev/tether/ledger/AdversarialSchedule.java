package dev.tether.ledger;

import dev.tether.event.FailureKind;
import dev.tether.fault.FaultPlan;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.DropPolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.RecoveryPolicy;
import dev.tether.recovery.ReportPolicy;
import dev.tether.recovery.ResendRemainderPolicy;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * One connection's worth of adversity, drawn from a single seed: how the user writes (sizes,
 * {@code write} / {@code writeTracked} / {@code send}, bursts on and off the event loop), what the
 * user's callbacks do when they run (write more, close, throw), which policies decide, which faults
 * the injector plays, and how the peer behaves (stalls, small buffers).
 *
 * <p>The schedule is plain data, generated before anything runs, so a failing one can be printed
 * ({@link #toString()}) and run again from its seed. What happens at run time still depends on
 * timing (which callback fires first), which is the point: the ops queued for a handler are
 * consumed in the order the handler is called.
 */
final class AdversarialSchedule {

  /** At most this many write ops per schedule: payload markers (7 bits of the call index) stay unique. */
  static final int MAX_WRITES = 100;

  enum Method { WRITE, TRACKED, SEND }

  /** Something the user does, at top level or inside a callback. */
  sealed interface Op permits Write, Close, Throw, SetMark, AskFull, Report {
  }

  /** A write; {@code then} runs when its future completes (never for {@code send}). */
  record Write(Method method, int size, List<Op> then) implements Op {
    @Override
    public String toString() {
      String m = switch (method) {
        case WRITE -> "W";
        case TRACKED -> "T";
        case SEND -> "S";
      };
      return m + size + (then.isEmpty() ? "" : "{" + join(then) + "}");
    }
  }

  /** {@code close()}. */
  record Close() implements Op {
    @Override
    public String toString() {
      return "C";
    }
  }

  /** The callback throws a RuntimeException (the ops after it in the same list do not run). */
  record Throw() implements Op {
    @Override
    public String toString() {
      return "X";
    }
  }

  /** {@code setWriteQueueMaxSize(bytes)}. */
  record SetMark(int bytes) implements Op {
    @Override
    public String toString() {
      return "M" + bytes;
    }
  }

  /** {@code writeQueueFull()} (off the loop it must throw IllegalStateException). */
  record AskFull() implements Op {
    @Override
    public String toString() {
      return "F?";
    }
  }

  /** {@code reportFailure(PROTOCOL_ERROR, ...)}: the protocol on top gives up on the peer. */
  record Report() implements Op {
    @Override
    public String toString() {
      return "R";
    }
  }

  /** Ops issued together after {@code delayMs}, on the socket's event loop or from the test thread. */
  record Burst(long delayMs, boolean offLoop, List<Op> ops) {
    @Override
    public String toString() {
      return "+" + delayMs + "ms " + (offLoop ? "off-loop" : "loop") + " [" + join(ops) + "]";
    }
  }

  enum PolicyKind { CLOSE, RESEND, DROP, REPORT, MIXED }

  enum FinalClose { ON_LOOP, OFF_LOOP }

  final long seed;
  // policies
  final PolicyKind policy;
  final long resendInitialMs;
  final long resendMaxMs;
  final int resendAttempts;
  /** Probability that the policy throws (or returns null) instead of deciding; 0 for none. */
  final double policyThrowRate;
  // faults
  final boolean faults;
  final long faultSeed;
  final double failRate;
  final double partialRate;
  final double allocRate;
  final long refusalDelayMs;
  final long flushDelayMs;
  final int maxFaults;
  // limits
  final long writeTimeoutMs;
  final long maxPendingBytes;
  final int highWaterMark;
  final boolean markBySetter;
  // peer
  final boolean stall;
  final int receiveBuffer;
  final int sendBuffer;
  final long stallMs;
  final int pings;
  /** Larger writes (against a stalled peer, so it backs up). */
  final boolean big;
  // user
  final List<Burst> bursts;
  final List<List<Op>> onDrain;
  final List<List<Op>> onFailure;
  final List<List<Op>> onOutcome;
  final List<List<Op>> onRead;
  final List<Op> onClose;
  final FinalClose finalClose;

  private int writesLeft = MAX_WRITES;

  AdversarialSchedule(long seed) {
    this.seed = seed;
    SplittableRandom r = new SplittableRandom(seed);
    policy = PolicyKind.values()[r.nextInt(PolicyKind.values().length)];
    resendInitialMs = 1 + r.nextInt(3);
    resendMaxMs = resendInitialMs + r.nextInt(6);
    resendAttempts = 1 + r.nextInt(6);
    policyThrowRate = r.nextInt(100) < 25 ? 0.2 + 0.6 * r.nextDouble() : 0;

    faults = r.nextInt(100) < 85;
    faultSeed = r.nextLong();
    failRate = r.nextBoolean() ? 0.3 * r.nextDouble() : 0;
    partialRate = r.nextBoolean() ? 0.25 * r.nextDouble() : 0;
    allocRate = r.nextInt(100) < 30 ? 0.1 * r.nextDouble() : 0;
    refusalDelayMs = r.nextBoolean() ? 1 + r.nextInt(5) : 0;
    flushDelayMs = r.nextInt(100) < 15 ? 1 + r.nextInt(4) : 0;
    maxFaults = r.nextInt(100) < 60 ? Integer.MAX_VALUE : 1 + r.nextInt(4);

    // a stalled peer (small buffers on both sides, reading only after the stall) backs writes up:
    // that is where timeouts, overflows and drains happen, so those knobs lean on it
    stall = r.nextInt(100) < 30;
    receiveBuffer = 8192 + r.nextInt(7 * 1024);
    sendBuffer = 4096 + r.nextInt(12 * 1024);
    stallMs = 5 + r.nextInt(120);
    pings = r.nextInt(100) < 30 ? 1 + r.nextInt(2) : 0;
    big = stall && r.nextBoolean();

    writeTimeoutMs = r.nextInt(100) < (stall || flushDelayMs > 0 ? 55 : 20) ? 2 + r.nextInt(30) : 0;
    maxPendingBytes = r.nextInt(100) < (stall ? 45 : 25) ? 1024 + r.nextInt(64 * 1024) : 64L << 20;
    highWaterMark = (int) Math.min(maxPendingBytes, 300 + r.nextInt(32 * 1024));
    markBySetter = r.nextBoolean();

    List<Burst> bs = new ArrayList<>();
    int nb = 1 + r.nextInt(5);
    for (int i = 0; i < nb; i++) {
      boolean off = r.nextInt(100) < 20;
      bs.add(new Burst(i == 0 ? 0 : r.nextInt(9), off, ops(r, 0, 1, 10, off)));
    }
    bursts = List.copyOf(bs);
    onDrain = queue(r, 4);
    onFailure = queue(r, 3);
    onOutcome = queue(r, 3);
    onRead = pings > 0 ? queue(r, 2) : List.of();
    onClose = r.nextInt(100) < 40 ? ops(r, 1, 1, 3, false) : List.of();
    finalClose = r.nextBoolean() ? FinalClose.ON_LOOP : FinalClose.OFF_LOOP;
  }

  private List<List<Op>> queue(SplittableRandom r, int max) {
    List<List<Op>> q = new ArrayList<>();
    int n = r.nextInt(max + 1);
    for (int i = 0; i < n; i++) {
      q.add(ops(r, 1, 0, 3, false));
    }
    return List.copyOf(q);
  }

  private List<Op> ops(SplittableRandom r, int depth, int min, int max, boolean offLoop) {
    int n = min + r.nextInt(max - min + 1);
    List<Op> l = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      l.add(op(r, depth, offLoop));
    }
    return List.copyOf(l);
  }

  private Op op(SplittableRandom r, int depth, boolean offLoop) {
    int x = r.nextInt(100);
    if (offLoop) {
      // off the loop only writeTracked tells where the write landed; close and the mark are allowed there
      if (x < 86) {
        return write(r, Method.TRACKED, depth);
      } else if (x < 91) {
        return new SetMark(300 + r.nextInt(32 * 1024));
      } else if (x < 96) {
        return new AskFull();
      } else if (x < 97) {
        return new Report();
      }
      return new Close();
    }
    int close = depth == 0 ? 2 : 4;
    if (x < 64) {
      return write(r, Method.values()[r.nextInt(3)], depth);
    } else if (x < 64 + close) {
      return new Close();
    } else if (x < 84) {
      return depth == 0 ? write(r, Method.SEND, depth) : new Throw();
    } else if (x < 90) {
      return new SetMark(300 + r.nextInt(32 * 1024));
    } else if (x < 91) {
      return new Report();
    }
    return new AskFull();
  }

  private Op write(SplittableRandom r, Method m, int depth) {
    if (writesLeft == 0) {
      return new AskFull();
    }
    writesLeft--;
    int size = size(r);
    if (size == 0 && m == Method.SEND) {
      m = Method.WRITE; // an empty send says nothing about itself; an empty write's future does
    }
    List<Op> then = m != Method.SEND && depth < 2 && r.nextInt(100) < 35 ? ops(r, depth + 1, 1, 3, false) : List.of();
    return new Write(m, size, then);
  }

  /** Mostly small, now and then up to 64 KiB; now and then empty. */
  private int size(SplittableRandom r) {
    if (r.nextInt(100) < 2) {
      return 0; // an empty write: a receipt at the current offset, nothing in the stream
    }
    int x = r.nextInt(100);
    if (big) {
      x = Math.min(99, x + 25);
    }
    if (x < 55) {
      return 1 + r.nextInt(64);
    } else if (x < 85) {
      return 65 + r.nextInt(2048 - 64);
    } else if (x < 97) {
      return 2049 + r.nextInt(16 * 1024 - 2048);
    }
    return 16 * 1024 + 1 + r.nextInt(48 * 1024);
  }

  /**
   * True when no decision can give up bytes in the middle of the stream and carry on (only close
   * and resend, a throwing policy counting as close): the peer must then receive an exact prefix
   * of the stream. With drop or report a refused suffix can be given up and later writes flow, so
   * the peer receives the stream with those ranges cut out.
   */
  boolean prefixOnly() {
    return policy == PolicyKind.CLOSE || policy == PolicyKind.RESEND;
  }

  FaultPlan faultPlan() {
    if (!faults) {
      return FaultPlan.NONE;
    }
    return FaultPlan.seeded(faultSeed).withRates(failRate, partialRate, allocRate).withRefusalDelayMs(refusalDelayMs)
      .withFlushDelayMs(flushDelayMs).withMaxFaults(maxFaults);
  }

  /** The policies; a throwing wrapper (recording where it threw) when {@link #policyThrowRate} > 0. */
  PolicySet policies(ThrowingPolicy.Log log) {
    RecoveryPolicy close = wrap(new ClosePolicy(), log, 1);
    RecoveryPolicy resend = wrap(new ResendRemainderPolicy(resendInitialMs, resendMaxMs, resendAttempts), log, 2);
    return switch (policy) {
      case CLOSE -> new PolicySet(close, null, Map.of());
      case RESEND -> new PolicySet(close, resend, Map.of());
      case DROP -> new PolicySet(wrap(new DropPolicy(), log, 3), null, Map.of());
      case REPORT -> new PolicySet(wrap(new ReportPolicy(), log, 4), null, Map.of());
      case MIXED -> {
        Map<FailureKind, RecoveryPolicy> byKind = new EnumMap<>(FailureKind.class);
        byKind.put(FailureKind.WRITE_QUEUE_OVERFLOW, wrap(new DropPolicy(), log, 5));
        byKind.put(FailureKind.WRITE_TIMEOUT, wrap(new ReportPolicy(), log, 6));
        yield new PolicySet(close, resend, byKind);
      }
    };
  }

  private RecoveryPolicy wrap(RecoveryPolicy p, ThrowingPolicy.Log log, int salt) {
    return policyThrowRate > 0 ? new ThrowingPolicy(p, policyThrowRate, seed * 31 + salt, log) : p;
  }

  static String join(List<?> l) {
    return l.stream().map(String::valueOf).collect(Collectors.joining(" "));
  }

  private static String queue(List<List<Op>> q) {
    return q.stream().map(l -> "[" + join(l) + "]").collect(Collectors.joining(" "));
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    b.append("schedule ").append(hex(seed)).append('\n');
    b.append("  policy ").append(policy.name().toLowerCase());
    if (policy == PolicyKind.RESEND || policy == PolicyKind.MIXED) {
      b.append(" resend(").append(resendInitialMs).append("..").append(resendMaxMs).append(" ms, ")
        .append(resendAttempts).append(" attempts)");
    }
    if (policyThrowRate > 0) {
      b.append(String.format(" throwing p=%.2f", policyThrowRate));
    }
    b.append('\n');
    if (faults) {
      b.append(String.format("  faults seed=%d fail=%.3f partial=%.3f alloc=%.3f refusalDelay=%dms flushDelay=%dms maxFaults=%s%n",
        faultSeed, failRate, partialRate, allocRate, refusalDelayMs, flushDelayMs,
        maxFaults == Integer.MAX_VALUE ? "-" : String.valueOf(maxFaults)));
    } else {
      b.append("  faults off\n");
    }
    b.append("  writeTimeout=").append(writeTimeoutMs == 0 ? "off" : writeTimeoutMs + "ms")
      .append(" maxPending=").append(maxPendingBytes).append(" highWater=").append(highWaterMark)
      .append(markBySetter ? " (setWriteQueueMaxSize)" : " (options)").append('\n');
    b.append("  peer ").append(stall ? "stalled " + stallMs + "ms rcvbuf=" + receiveBuffer + " server sndbuf=" + sendBuffer
      + (big ? ", larger writes" : "") : "reading").append(pings > 0 ? ", sends " + pings + " ping(s)" : "").append('\n');
    for (Burst burst : bursts) {
      b.append("  burst ").append(burst).append('\n');
    }
    b.append("  on drain: ").append(queue(onDrain)).append('\n');
    b.append("  on failure: ").append(queue(onFailure)).append('\n');
    b.append("  on outcome: ").append(queue(onOutcome)).append('\n');
    if (!onRead.isEmpty()) {
      b.append("  on read: ").append(queue(onRead)).append('\n');
    }
    b.append("  on close: [").append(join(onClose)).append("]\n");
    b.append("  then close ").append(finalClose == FinalClose.ON_LOOP ? "on the loop" : "from the test thread");
    b.append("\n  (W=write T=writeTracked S=send + size, {..} = on its completion, C=close X=throw M=setWriteQueueMaxSize F?=writeQueueFull R=reportFailure)");
    return b.toString();
  }

  static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }
}
