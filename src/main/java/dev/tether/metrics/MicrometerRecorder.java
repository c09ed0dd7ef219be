package dev.tether.metrics;

import dev.tether.event.Action;
import dev.tether.event.Direction;
import dev.tether.event.FailureKind;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Records Tether's meters in a Micrometer registry under the public names
 * ({@code tether_writes_total}, {@code tether_written_bytes_total}, ... in Prometheus form).
 * Meters are created once per server (and per kind, outcome, policy) and cached, so recording on the
 * write path is a map lookup and an add, without allocation; the write path proper
 * ({@link #writePath}) holds a server's meters, so a write records with no lookup at all.
 */
public final class MicrometerRecorder implements TetherRecorder {

  private final MeterRegistry registry;
  private final ConcurrentMap<String, ServerMeters> servers = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Map<Action, Map<String, Counter>>> recovery = new ConcurrentHashMap<>();
  private final Map<FailureKind, Counter> suppressed = new EnumMap<>(FailureKind.class);

  public MicrometerRecorder(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Meters of one server, created on first use. Maps below are filled under their own lock. */
  private final class ServerMeters implements WritePath {
    final String server;
    final Counter written;
    /**
     * The flush time's count and total: plain adders that Micrometer reads when it is scraped (a
     * FunctionTimer, a summary in Prometheus). Recording costs two uncontended adds per write, where a
     * Micrometer Timer also keeps a decaying max (measured: 64 ns per record against 13 ns for a
     * counter, RecorderBench); the price is that the flush time has no {@code _max}.
     */
    final LongAdder flushCount = new LongAdder();
    final LongAdder flushNanos = new LongAdder();
    final Counter resent;
    final AtomicLong pending = new AtomicLong();
    final AtomicLong connections = new AtomicLong();
    final ConcurrentMap<String, Counter> writes = new ConcurrentHashMap<>();
    /** writes{outcome=ok}, the one counted on every flushed write. */
    final Counter writesOk;
    final Map<FailureKind, Counter> unsent = new EnumMap<>(FailureKind.class);
    final ConcurrentMap<String, Counter> refused = new ConcurrentHashMap<>();
    final Map<FailureKind, Counter[]> failures = new EnumMap<>(FailureKind.class);

    ServerMeters(String server) {
      this.server = server;
      written = Counter.builder("tether.written.bytes").baseUnit("bytes")
        .description("Bytes confirmed handed to the kernel").tag("server", server).register(registry);
      resent = Counter.builder("tether.resent.bytes").baseUnit("bytes")
        .description("Bytes replayed after a soft failure").tag("server", server).register(registry);
      FunctionTimer.builder("tether.write.flush", this, m -> m.flushCount.sum(), m -> m.flushNanos.sum(),
          TimeUnit.NANOSECONDS).description("Time from write to flushed").tag("server", server).register(registry);
      Gauge.builder("tether.pending.bytes", pending, AtomicLong::get).baseUnit("bytes")
        .description("Bytes accepted but not yet flushed or given up").tag("server", server).register(registry);
      Gauge.builder("tether.connections", connections, AtomicLong::get)
        .description("Open tracked connections").tag("server", server).register(registry);
      writesOk = writes("ok");
    }

    // WritePath: a write's meters without a lookup by name

    @Override
    public void pending(long delta) {
      pending.addAndGet(delta);
    }

    @Override
    public void flushedPart(long bytes) {
      written.increment(bytes);
      pending.addAndGet(-bytes);
    }

    @Override
    public void writeFlushed(long bytes, long nanos) {
      written.increment(bytes);
      pending.addAndGet(-bytes);
      writesOk.increment();
      flushTime(nanos);
    }

    void flushTime(long nanos) {
      flushCount.increment();
      flushNanos.add(nanos);
    }

    Counter writes(String outcome) {
      Counter c = writes.get(outcome);
      return c != null ? c : writes.computeIfAbsent(outcome, o -> Counter.builder("tether.writes")
        .description("Application writes by final outcome").tag("server", server).tag("outcome", o)
        .register(registry));
    }

    Counter refused(String reason) {
      Counter c = refused.get(reason);
      return c != null ? c : refused.computeIfAbsent(reason, r -> Counter.builder("tether.accept.refused")
        .description("Connections the server could not accept (failed: no descriptor; shed: closed at once)")
        .tag("server", server).tag("reason", r).register(registry));
    }

    Counter unsent(FailureKind kind) {
      synchronized (unsent) {
        return unsent.computeIfAbsent(kind, k -> Counter.builder("tether.unsent.bytes").baseUnit("bytes")
          .description("Bytes given up for good").tag("server", server).tag("kind", k.name()).register(registry));
      }
    }

    Counter failures(FailureKind kind, Direction direction) {
      synchronized (failures) {
        Counter[] byDirection = failures.computeIfAbsent(kind, k -> new Counter[Direction.values().length]);
        Counter c = byDirection[direction.ordinal()];
        if (c == null) {
          c = Counter.builder("tether.failures").description("Failure events").tag("server", server)
            .tag("kind", kind.name()).tag("direction", direction.name()).register(registry);
          byDirection[direction.ordinal()] = c;
        }
        return c;
      }
    }
  }

  private ServerMeters server(String server) {
    ServerMeters m = servers.get(server);
    return m != null ? m : servers.computeIfAbsent(server, ServerMeters::new);
  }

  @Override
  public WritePath writePath(String server) {
    return server(server);
  }

  @Override
  public void registerServer(String server) {
    ServerMeters m = server(server);
    m.writes("ok");
    m.writes("unsent");
  }

  @Override
  public void write(String server, String outcome) {
    server(server).writes(outcome).increment();
  }

  @Override
  public void flushed(String server, long bytes) {
    server(server).written.increment(bytes);
  }

  @Override
  public void flushTime(String server, long nanos) {
    server(server).flushTime(nanos);
  }

  @Override
  public void unsent(String server, FailureKind kind, long bytes) {
    server(server).unsent(kind).increment(bytes);
  }

  @Override
  public void failure(String server, FailureKind kind, Direction direction) {
    server(server).failures(kind, direction).increment();
  }

  @Override
  public void acceptRefused(String server, String reason, long n) {
    server(server).refused(reason).increment(n);
  }

  @Override
  public void pending(String server, long delta) {
    server(server).pending.addAndGet(delta);
  }

  @Override
  public void connections(String server, int delta) {
    server(server).connections.addAndGet(delta);
  }

  @Override
  public void recoveryAction(String policy, Action action, String result) {
    Map<Action, Map<String, Counter>> byAction = recovery.computeIfAbsent(policy, p -> new EnumMap<>(Action.class));
    Counter c;
    synchronized (byAction) {
      c = byAction.computeIfAbsent(action, a -> new ConcurrentHashMap<>()).computeIfAbsent(result,
        r -> Counter.builder("tether.recovery.actions").description("Recovery decisions carried out")
          .tag("policy", policy).tag("action", action.name()).tag("result", r).register(registry));
    }
    c.increment();
  }

  @Override
  public void suppressed(FailureKind kind) {
    Counter c;
    synchronized (suppressed) {
      c = suppressed.computeIfAbsent(kind, k -> Counter.builder("tether.suppressed.events")
        .description("Failure events not published because the node's failure budget was spent")
        .tag("kind", k.name()).register(registry));
    }
    c.increment();
  }

  @Override
  public void memoryBudget(java.util.function.LongSupplier used, long limit, long highMark,
                           java.util.function.LongSupplier paused, java.util.function.LongSupplier pauses) {
    // strong references: the suppliers live as long as the budget; a re-install replaces the meters
    replace(Gauge.builder("tether.memory.used", used, LongSupplier::getAsLong).baseUnit("bytes").strongReference(true)
      .description("Bytes retained by connections and sessions, as charged to the node's memory budget"));
    replace(Gauge.builder("tether.memory.limit", () -> limit).baseUnit("bytes").strongReference(true)
      .description("The node's memory budget: past it the largest holders are shed"));
    replace(Gauge.builder("tether.memory.high.mark", () -> highMark).baseUnit("bytes").strongReference(true)
      .description("Past this many bytes the heaviest producers stop being read"));
    replace(Gauge.builder("tether.memory.paused", paused, LongSupplier::getAsLong).strongReference(true)
      .description("Connections and sessions not read now because of the memory budget"));
    io.micrometer.core.instrument.FunctionCounter.Builder<LongSupplier> c = io.micrometer.core.instrument.FunctionCounter
      .builder("tether.memory.pauses", pauses, LongSupplier::getAsLong)
      .description("Times a connection or session stopped being read for the memory budget");
    registry.remove(c.register(registry));
    c.register(registry);
    pausesSupplier = pauses; // a function counter holds its object weakly
    memoryShedCounter("connection");
    memoryShedCounter("session");
  }

  private volatile LongSupplier pausesSupplier;

  /** Micrometer keeps the first meter of a name: a second budget in the same registry replaces it. */
  private void replace(Gauge.Builder<?> b) {
    registry.remove(b.register(registry));
    b.register(registry);
  }

  private Counter memoryShedCounter(String kind) {
    return Counter.builder("tether.memory.shed").description("Connections and sessions shed by the node's memory budget")
      .tag("kind", kind).register(registry);
  }

  @Override
  public void memoryShed(String kind, long bytes) {
    memoryShedCounter(kind).increment();
    Counter.builder("tether.memory.shed.bytes").baseUnit("bytes")
      .description("Bytes held by connections and sessions when the memory budget shed them").tag("kind", kind)
      .register(registry).increment(bytes);
  }

  @Override
  public void resent(String server, long bytes) {
    server(server).resent.increment(bytes);
  }
}
