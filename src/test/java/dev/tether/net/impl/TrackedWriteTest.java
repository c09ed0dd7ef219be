package dev.tether.net.impl;

import io.netty.channel.embedded.EmbeddedChannel;
import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** A write's flags and stage share one byte: none may clobber another. */
class TrackedWriteTest {

  @Test
  void flagsStageAndReceiptAreIndependent() {
    EmbeddedChannel ch = new EmbeddedChannel();
    for (boolean receipt : new boolean[] {false, true}) {
      TrackedWrite w = new TrackedWrite(ch, (x, f) -> { }, Buffer.buffer("x"), null, receipt);
      for (TrackedWrite.Stage stage : TrackedWrite.Stage.values()) {
        w.stage(stage);
        assertThat(w.stage()).isEqualTo(stage);
        assertThat(w.wantsReceipt()).isEqualTo(receipt);
      }
      w.set(TrackedWrite.RESENT);
      w.set(TrackedWrite.TIMEOUT_REPORTED);
      w.stage(TrackedWrite.Stage.HELD);
      assertThat(w.is(TrackedWrite.RESENT)).isTrue();
      assertThat(w.is(TrackedWrite.TIMEOUT_REPORTED)).isTrue();
      assertThat(w.is(TrackedWrite.SETTLED)).isFalse();
      assertThat(w.stage()).isEqualTo(TrackedWrite.Stage.HELD);
      assertThat(w.wantsReceipt()).isEqualTo(receipt);
    }
  }
}
