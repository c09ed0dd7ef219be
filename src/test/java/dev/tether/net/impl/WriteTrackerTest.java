package dev.tether.net.impl;

import dev.tether.fault.FaultPlan;
import dev.tether.net.spi.SoftWriteException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The write tracker in a real Netty pipeline (an embedded channel, whose head completes writes on
 * flush): writes pass in order, a refusal latches and holds, a replay keeps the stream's order
 * with writes that arrive meanwhile, and a refusal behind later writes is unorderable.
 */
class WriteTrackerTest {

  /** Records what the tracker reports. */
  static final class Books implements WriteTracker.Listener {
    final List<String> events = new ArrayList<>();

    @Override
    public void flushed(TrackedWrite w, int bytes) {
      events.add("flushed " + text(w) + " " + bytes);
    }

    @Override
    public void softFailure(TrackedWrite w, Throwable cause) {
      events.add("soft " + text(w));
    }

    @Override
    public void hardFailure(TrackedWrite w, Throwable cause) {
      events.add("hard " + text(w));
    }

    @Override
    public void unorderable(TrackedWrite w, Throwable cause) {
      events.add("unorderable " + text(w));
    }

    @Override
    public void wireIdle() {
    }

    @Override
    public void enter() {
    }

    @Override
    public void exit() {
    }
  }

  /** Holds writes until released, then fails the first and passes the rest: a late refusal. */
  static final class LateRefusal extends ChannelOutboundHandlerAdapter {
    final ArrayDeque<Object[]> queued = new ArrayDeque<>();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      queued.add(new Object[] {msg, promise});
    }

    void release(ChannelHandlerContext ctx) {
      Object[] first = queued.poll();
      ((ByteBuf) first[0]).release();
      ((ChannelPromise) first[1]).tryFailure(new SoftWriteException("refused late"));
      Object[] next;
      while ((next = queued.poll()) != null) {
        ctx.write(next[0], (ChannelPromise) next[1]);
      }
      ctx.flush();
    }
  }

  private static String text(TrackedWrite w) {
    io.netty.buffer.ByteBuf b = w.wire(0);
    try {
      return b.toString(StandardCharsets.US_ASCII);
    } finally {
      b.release();
    }
  }

  private final Books books = new Books();
  private long offset;

  private TrackedWrite write(EmbeddedChannel ch, WriteTracker tracker, String s) {
    TrackedWrite w = new TrackedWrite(ch, tracker, Buffer.buffer(s), null, false);
    w.ledgerInit(offset, s.length());
    offset += s.length();
    w.stage(TrackedWrite.Stage.QUEUED);
    ChannelPromise p = w.transmission();
    ch.write(w, p);
    return w;
  }

  private static String outbound(EmbeddedChannel ch) {
    StringBuilder sb = new StringBuilder();
    ByteBuf b;
    while ((b = ch.readOutbound()) != null) {
      sb.append(b.toString(StandardCharsets.US_ASCII));
      b.release();
    }
    return sb.toString();
  }

  @Test
  void writesPassInOrderAndAreReportedFlushed() {
    WriteTracker tracker = new WriteTracker(null, books);
    EmbeddedChannel ch = new EmbeddedChannel(tracker);
    write(ch, tracker, "[1]");
    write(ch, tracker, "[2]");
    assertThat(tracker.onWire()).isEqualTo(2);
    ch.flush();
    assertThat(outbound(ch)).isEqualTo("[1][2]");
    assertThat(books.events).containsExactly("flushed [1] 3", "flushed [2] 3");
    assertThat(tracker.onWire()).isZero();
  }

  @Test
  void aRefusalLatchesHoldsWhatFollowsAndTheReplayKeepsTheOrder() {
    WriteTracker tracker = new WriteTracker(null, books);
    EmbeddedChannel ch = new EmbeddedChannel(FaultPlan.seeded(1).withFailWrite(2).newInjector(1), tracker);
    write(ch, tracker, "[1]");
    write(ch, tracker, "[2]");
    write(ch, tracker, "[3]");
    assertThat(tracker.latched()).isTrue();
    assertThat(tracker.heldCount()).isEqualTo(2);
    ch.flush();
    assertThat(outbound(ch)).isEqualTo("[1]");
    List<String> resent = new ArrayList<>();
    tracker.replay(w -> {
      resent.add(text(w));
      if (text(w).equals("[2]")) {
        // a write arriving while the replay runs (from a receipt, say) goes behind the held ones
        write(ch, tracker, "[X]");
      }
    });
    assertThat(resent).containsExactly("[2]", "[3]", "[X]");
    assertThat(outbound(ch)).isEqualTo("[2][3][X]");
    assertThat(tracker.latched()).isFalse();
    // [2] was refused inside its write, before the flush that confirmed [1]
    assertThat(books.events).containsExactly("soft [2]", "flushed [1] 3", "flushed [2] 3", "flushed [3] 3",
      "flushed [X] 3");
  }

  @Test
  void aRefusalBehindLaterWritesIsUnorderable() {
    WriteTracker tracker = new WriteTracker(null, books);
    LateRefusal late = new LateRefusal();
    EmbeddedChannel ch = new EmbeddedChannel(late, tracker);
    write(ch, tracker, "[1]");
    write(ch, tracker, "[2]");
    late.release(ch.pipeline().context(late));
    assertThat(books.events).containsExactly("unorderable [1]", "flushed [2] 3");
    assertThat(tracker.latched()).isFalse();
  }

  @Test
  void aLateRefusalWithNothingBehindItIsSoft() {
    WriteTracker tracker = new WriteTracker(null, books);
    LateRefusal late = new LateRefusal();
    EmbeddedChannel ch = new EmbeddedChannel(late, tracker);
    write(ch, tracker, "[1]");
    late.release(ch.pipeline().context(late));
    assertThat(books.events).containsExactly("soft [1]");
    assertThat(tracker.latched()).isTrue();
  }

  @Test
  void aWriteGivenUpWhileQueuedGoesNoFurther() {
    WriteTracker tracker = new WriteTracker(null, books);
    EmbeddedChannel ch = new EmbeddedChannel(tracker);
    TrackedWrite w = new TrackedWrite(ch, tracker, Buffer.buffer("[1]"), null, false);
    w.ledgerInit(0, 3);
    w.ledgerSettle(true);
    ChannelPromise p = w.transmission();
    ch.writeAndFlush(w, p);
    assertThat(outbound(ch)).isEmpty();
    assertThat(books.events).isEmpty();
    assertThat(tracker.onWire()).isZero();
  }

  @SuppressWarnings("unused")
  private static boolean done(ChannelProgressiveFuture f) {
    return f.isDone();
  }
}
