package dev.tether.bench;

import dev.tether.metrics.MicrometerRecorder;
import dev.tether.metrics.TetherRecorder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelProgressivePromise;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * The pieces TrackedSocket adds to each write beyond what a plain Vert.x write does, measured one by
 * one (with -prof gc, B/op is what each allocates per write). Not a socket write: no channel I/O.
 *
 * <ul>
 *   <li>{@code progressivePromise}: {@code ctx.newProgressivePromise()} + {@code addListener} + success,
 *   which the tracker creates per write on top of the promise Vert.x already made;</li>
 *   <li>{@code plainPromise}: the same with a plain {@code newPromise()}, for comparison;</li>
 *   <li>{@code byteBufOfBuffer}: {@code ((BufferInternal) buffer).getByteBuf()} as NettyAccess.byteBuf does;</li>
 *   <li>{@code micrometerRecorderPerWrite}: the recorder calls of one successful write with metrics on
 *   (pending +n, flushed, pending -n, write "ok", flushTime);</li>
 *   <li>{@code noopRecorderPerWrite}: the same calls on {@link TetherRecorder#NOOP}.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TrackedWritePartsBench {

  private EmbeddedChannel channel;
  private Buffer buffer;
  private TetherRecorder micrometer;
  private TetherRecorder noop;
  private final ChannelProgressiveFutureListener listener = new ChannelProgressiveFutureListener() {
    long seen;

    @Override
    public void operationProgressed(ChannelProgressiveFuture future, long progress, long total) {
      seen = progress;
    }

    @Override
    public void operationComplete(ChannelProgressiveFuture future) {
      seen++;
    }
  };

  @Setup(Level.Trial)
  public void setup() {
    channel = new EmbeddedChannel();
    buffer = Buffer.buffer(new byte[1024]);
    micrometer = new MicrometerRecorder(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    noop = TetherRecorder.NOOP;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    channel.finishAndReleaseAll();
  }

  @Benchmark
  public boolean progressivePromise() {
    ChannelProgressivePromise p = channel.newProgressivePromise();
    p.addListener(listener);
    return p.trySuccess();
  }

  @Benchmark
  public boolean plainPromise() {
    ChannelPromise p = channel.newPromise();
    return p.trySuccess();
  }

  @Benchmark
  public ByteBuf byteBufOfBuffer() {
    return ((BufferInternal) buffer).getByteBuf();
  }

  @Benchmark
  public void micrometerRecorderPerWrite() {
    perWrite(micrometer);
  }

  @Benchmark
  public void noopRecorderPerWrite() {
    perWrite(noop);
  }

  private static void perWrite(TetherRecorder r) {
    r.pending("echo", 1024);
    r.flushed("echo", 1024);
    r.pending("echo", -1024);
    r.write("echo", "ok");
    r.flushTime("echo", 25_000);
  }
}
