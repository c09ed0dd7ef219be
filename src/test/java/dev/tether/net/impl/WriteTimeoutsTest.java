package dev.tether.net.impl;

import dev.tether.ledger.WriteLedger;
import io.netty.channel.embedded.EmbeddedChannel;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Stall detection over a ledger: overdue writes in stream order, held ones skipped, each reported once. */
class WriteTimeoutsTest {

  private final EmbeddedChannel ch = new EmbeddedChannel();
  private final WriteLedger<TrackedWrite> ledger = new WriteLedger<>();

  private TrackedWrite accept(int n) {
    return ledger.accept(new TrackedWrite(ch, (w, f) -> { }, Buffer.buffer(new byte[n]), null, false), n);
  }

  @Test
  void overdueWritesAreSummedOnceAndHeldOnesAreSkipped() {
    WriteTimeouts t = new WriteTimeouts(100);
    TrackedWrite a = accept(10);
    TrackedWrite held = accept(20);
    held.stage(TrackedWrite.Stage.HELD);
    TrackedWrite c = accept(30);
    ledger.flushed(a, 4);
    long later = System.nanoTime() + 200_000_000L;
    WriteTimeouts.Overdue o = t.scan(ledger, later, true);
    assertThat(o.writes).isEqualTo(2);
    assertThat(o.requested).isEqualTo(40);
    assertThat(o.flushed).isEqualTo(4);
    assertThat(o.offset).isEqualTo(4);
    assertThat(c.is(TrackedWrite.TIMEOUT_REPORTED)).isTrue();
    // reported: the next scan finds nothing new
    assertThat(t.scan(ledger, later, true).writes).isZero();
  }

  @Test
  void theScanStopsAtTheFirstYoungWriteAndSaysWhenToLookAgain() {
    WriteTimeouts t = new WriteTimeouts(1000);
    accept(10);
    long now = System.nanoTime();
    WriteTimeouts.Overdue o = t.scan(ledger, now, true);
    assertThat(o.writes).isZero();
    assertThat(o.youngestAgeNanos).isGreaterThanOrEqualTo(0);
    assertThat(t.nextDelayMs(o)).isBetween(1L, 1000L);
  }
}
