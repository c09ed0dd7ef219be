package dev.tether.metrics;

import dev.tether.event.Action;
import dev.tether.event.Direction;
import dev.tether.event.FailureKind;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Records Tether's meters in a Micrometer registry under the public names
 * ({@code tether_writes_total}, {@code tether_written_bytes_total}, ... in Prometheus form).
 * Per-server meters are looked up once and cached, so the hot path is a map lookup and an add.
 */
public final class MicrometerRecorder implements TetherRecorder {

  private final MeterRegistry registry;
  private final ConcurrentMap<String, ServerMeters> servers = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();

  public MicrometerRecorder(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Meters of one server, created on first use. */
  private final class ServerMeters {
    final Counter written;
    final Counter resent;
    final Timer flush;
    final AtomicLong pending = new AtomicLong();
    final AtomicLong connections = new AtomicLong();

    ServerMeters(String server) {
      written = Counter.builder("tether.written.bytes").baseUnit("bytes")
        .description("Bytes confirmed handed to the kernel").tag("server", server).register(registry);
      resent = Counter.builder("tether.resent.bytes").baseUnit("bytes")
        .description("Bytes replayed after a soft failure").tag("server", server).register(registry);
      flush = Timer.builder("tether.write.flush").description("Time from write to flushed")
        .tag("server", server).register(registry);
      Gauge.builder("tether.pending.bytes", pending, AtomicLong::get).baseUnit("bytes")
        .description("Bytes accepted but not yet flushed or given up").tag("server", server).register(registry);
      Gauge.builder("tether.connections", connections, AtomicLong::get)
        .description("Open tracked connections").tag("server", server).register(registry);
    }
  }

  private ServerMeters server(String server) {
    return servers.computeIfAbsent(server, ServerMeters::new);
  }

  private Counter counter(String key, java.util.function.Supplier<Counter> make) {
    Counter c = counters.get(key);
    return c != null ? c : counters.computeIfAbsent(key, k -> make.get());
  }

  @Override
  public void write(String server, String outcome) {
    counter("w|" + server + "|" + outcome, () -> Counter.builder("tether.writes")
      .description("Application writes by final outcome").tag("server", server).tag("outcome", outcome)
      .register(registry)).increment();
  }

  @Override
  public void flushed(String server, long bytes) {
    server(server).written.increment(bytes);
  }

  @Override
  public void flushTime(String server, long nanos) {
    server(server).flush.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void unsent(String server, FailureKind kind, long bytes) {
    counter("u|" + server + "|" + kind, () -> Counter.builder("tether.unsent.bytes").baseUnit("bytes")
      .description("Bytes given up for good").tag("server", server).tag("kind", kind.name())
      .register(registry)).increment(bytes);
  }

  @Override
  public void failure(String server, FailureKind kind, Direction direction) {
    counter("f|" + server + "|" + kind + "|" + direction, () -> Counter.builder("tether.failures")
      .description("Failure events").tag("server", server).tag("kind", kind.name())
      .tag("direction", direction.name()).register(registry)).increment();
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
    counter("r|" + policy + "|" + action + "|" + result, () -> Counter.builder("tether.recovery.actions")
      .description("Recovery decisions carried out").tag("policy", policy).tag("action", action.name())
      .tag("result", result).register(registry)).increment();
  }

  @Override
  public void resent(String server, long bytes) {
    server(server).resent.increment(bytes);
  }
}
