package dev.tether.fault;

import dev.tether.net.spi.PartialWriteException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * A Netty handler that injects outbound faults following a {@link FaultPlan}: refuse a write
 * (soft failure), pass part of it and refuse the rest (soft partial write), fail it as a direct
 * memory allocation would ({@link OutOfMemoryError}), or delay flushes. It sits between Tether's
 * write tracker and the transport, so what it does looks to Tether exactly like the real thing.
 *
 * <p>One instance per channel; used only from the channel's event loop.
 */
public final class FaultInjector extends ChannelOutboundHandlerAdapter {

  /** Pipeline name under which Tether installs the injector. */
  public static final String NAME = "tether-fault";

  private final FaultPlan plan;
  private final SplittableRandom random;

  // State accessed exclusively from the channel's event loop
  private long writes;
  private int faults;
  /** Writes waiting behind a delayed refusal (see {@link FaultPlan#withRefusalDelayMs}). */
  private final java.util.ArrayDeque<Delayed> delayed = new java.util.ArrayDeque<>();

  FaultInjector(FaultPlan plan, long seed) {
    this.plan = plan;
    this.random = new SplittableRandom(seed);
  }

  /** Writes seen so far (numbered from 1). */
  public long writes() {
    return writes;
  }

  /** Faults injected so far. */
  public int faults() {
    return faults;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!delayed.isEmpty()) {
      // a delayed refusal is pending: what comes after it waits behind it, in order, as in a transport's queue
      delayed.addLast(new Delayed(msg, promise, null));
      return;
    }
    if (!(msg instanceof ByteBuf buf) || !buf.isReadable()) {
      ctx.write(msg, promise);
      return;
    }
    long n = ++writes;
    int len = buf.readableBytes();
    if (faults >= plan.maxFaults()) {
      ctx.write(msg, promise);
      return;
    }
    double roll = random.nextDouble();
    Integer pass = plan.partialWrites().get(n);
    if (pass == null && roll < plan.partialWriteRate() && len > 1) {
      pass = 1 + random.nextInt(len - 1);
    }
    Throwable refusal = null;
    if (plan.failWrites().contains(n)
      || (pass == null && roll >= plan.partialWriteRate() && roll < plan.partialWriteRate() + plan.writeFailureRate())) {
      refusal = new InjectedWriteFault("injected: write #" + n + " of " + len + " bytes refused");
    } else if (plan.allocationFailures().contains(n) || (pass == null
      && roll >= plan.partialWriteRate() + plan.writeFailureRate()
      && roll < plan.partialWriteRate() + plan.writeFailureRate() + plan.allocationFailureRate())) {
      refusal = new OutOfMemoryError("injected: cannot reserve " + len + " bytes of direct buffer memory");
    }
    if (refusal != null) {
      faults++;
      if (plan.refusalDelayMs() > 0) {
        delayed.addLast(new Delayed(msg, promise, refusal));
        ctx.executor().schedule(() -> releaseDelayed(ctx), plan.refusalDelayMs(), TimeUnit.MILLISECONDS);
        return;
      }
      buf.release();
      promise.tryFailure(refusal);
    } else if (pass != null && pass > 0 && pass < len) {
      faults++;
      // progressive: if the connection fails while the passed part is under way, the tracker
      // learns how much of it reached the kernel
      ChannelPromise passed = ctx.newProgressivePromise();
      ctx.write(buf.retainedSlice(buf.readerIndex(), pass), passed);
      buf.release();
      promise.tryFailure(new PartialWriteException("injected: write #" + n + " passed " + pass + " of " + len
        + " bytes, the rest refused", pass, passed));
    } else {
      ctx.write(msg, promise);
    }
  }

  /** Refuses the delayed write, then lets what queued up behind it through, in order. */
  private void releaseDelayed(ChannelHandlerContext ctx) {
    Delayed d;
    while ((d = delayed.pollFirst()) != null) {
      if (d.refusal != null) {
        io.netty.util.ReferenceCountUtil.release(d.msg);
        d.promise.tryFailure(d.refusal);
      } else if (!ctx.channel().isActive()) {
        io.netty.util.ReferenceCountUtil.release(d.msg);
        d.promise.tryFailure(new java.nio.channels.ClosedChannelException());
      } else {
        ctx.write(d.msg, d.promise);
      }
    }
    ctx.flush();
  }

  private record Delayed(Object msg, ChannelPromise promise, Throwable refusal) {
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    if (!delayed.isEmpty()) {
      return; // flushed when the delayed refusal is released
    }
    long delay = plan.flushDelayMs();
    if (delay > 0) {
      ctx.executor().schedule(() -> {
        ctx.flush();
      }, delay, TimeUnit.MILLISECONDS);
    } else {
      ctx.flush();
    }
  }
}
