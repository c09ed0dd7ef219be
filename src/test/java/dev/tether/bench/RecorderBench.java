package dev.tether.bench;

import dev.tether.metrics.MicrometerRecorder;
import dev.tether.metrics.TetherRecorder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * What Tether's metrics cost per tracked write that is flushed whole, on a Prometheus registry as the
 * node wires it ({@code scripts/bench.sh jmh}, or {@code JMH_ARGS=RecorderBench}):
 *
 * <ul>
 *   <li>{@code byName}: the calls the write path made before the write path object: {@code pending(+n)},
 *       then {@code flushed}, {@code pending(-n)}, {@code write("ok")}, {@code flushTime}, each looking its
 *       server's meters up by name (six map lookups);</li>
 *   <li>{@code writePath}: what it makes now: {@code pending(+n)} and {@code writeFlushed} on the server's
 *       {@link TetherRecorder.WritePath}, resolved once per server (no lookup);</li>
 *   <li>{@code timerPath}: the meters of the old path without its lookups (two counters, two atomic adds
 *       and a Micrometer {@code Timer}), to compare with {@code writePath} in the same run;</li>
 *   <li>{@code noop}: the no-op recorder's path, the floor.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RecorderBench {

  private MicrometerRecorder recorder;
  private TetherRecorder.WritePath path;
  private TetherRecorder.WritePath noop;
  private final String server = new String("echo");
  private long nanos = 12_345;
  private io.micrometer.core.instrument.Timer timer;
  private io.micrometer.core.instrument.Counter counter;
  private io.micrometer.core.instrument.Counter ok;
  private final java.util.concurrent.atomic.AtomicLong pending = new java.util.concurrent.atomic.AtomicLong();

  @Setup
  public void setUp() {
    recorder = new MicrometerRecorder(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    recorder.registerServer(server);
    path = recorder.writePath(server);
    noop = TetherRecorder.NOOP.writePath(server);
    timer = recorder.registry().timer("bench.timer");
    counter = recorder.registry().counter("bench.counter");
    ok = recorder.registry().counter("bench.ok");
  }

  @Benchmark
  public long byName() {
    recorder.pending(server, 1024);
    recorder.flushed(server, 1024);
    recorder.pending(server, -1024);
    recorder.write(server, "ok");
    recorder.flushTime(server, nanos);
    return nanos++;
  }

  @Benchmark
  public long writePath() {
    path.pending(1024);
    path.writeFlushed(1024, nanos);
    return nanos++;
  }

  @Benchmark
  public long timerPath() {
    pending.addAndGet(1024);
    counter.increment(1024);
    pending.addAndGet(-1024);
    ok.increment();
    timer.record(nanos, TimeUnit.NANOSECONDS);
    return nanos++;
  }

  /** One Micrometer timer record on the same registry: the part of the path that is a summary with a max. */
  @Benchmark
  public long timerOnly() {
    timer.record(nanos, TimeUnit.NANOSECONDS);
    return nanos++;
  }

  /** One counter increment on the same registry. */
  @Benchmark
  public long counterOnly() {
    counter.increment(1024);
    return nanos++;
  }

  @Benchmark
  public long noop() {
    noop.pending(1024);
    noop.writeFlushed(1024, nanos);
    return nanos++;
  }
}
