package dev.tether.session;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FrameDecoderTest {

  @Test
  void decodesFramesSplitAtEveryPossibleBoundary() throws Exception {
    Buffer stream = Buffer.buffer()
      .appendBuffer(Frames.hello(new byte[16], 0))
      .appendBuffer(Frames.data(1, Buffer.buffer("hello")))
      .appendBuffer(Frames.ack(1))
      .appendBuffer(Frames.ping(99))
      .appendBuffer(Frames.error(Frames.E_BAD_SEQ, "gap"))
      .appendBuffer(Frames.bye());
    SplittableRandom random = new SplittableRandom(3);
    for (int round = 0; round < 200; round++) {
      FrameDecoder d = new FrameDecoder(1 << 20);
      List<Frame> frames = new ArrayList<>();
      int pos = 0;
      while (pos < stream.length()) {
        int n = 1 + random.nextInt(Math.min(7, stream.length() - pos));
        d.feed(stream.getBuffer(pos, pos + n), frames::add);
        pos += n;
      }
      assertThat(frames).extracting(Frame::type)
        .containsExactly(Frames.HELLO, Frames.DATA, Frames.ACK, Frames.PING, Frames.ERROR, Frames.BYE);
      assertThat(frames.get(1).number()).isEqualTo(1);
      assertThat(frames.get(1).payload().toString()).isEqualTo("hello");
      assertThat(frames.get(3).number()).isEqualTo(99);
      assertThat(frames.get(4).errorCode()).isEqualTo(Frames.E_BAD_SEQ);
      assertThat(frames.get(4).errorMessage()).isEqualTo("gap");
      assertThat(d.buffered()).isZero();
    }
  }

  @Test
  void rejectsBadLengthsAndTypes() {
    assertThatThrownBy(() -> new FrameDecoder(1024).feed(Buffer.buffer().appendInt(0).appendByte((byte) 3), f -> { }))
      .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(Frames.E_MALFORMED));
    assertThatThrownBy(() -> new FrameDecoder(1024).feed(Buffer.buffer().appendInt(1025), f -> { }))
      .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(Frames.E_TOO_LARGE));
    assertThatThrownBy(() -> new FrameDecoder(1024).feed(Buffer.buffer().appendInt(1).appendByte((byte) 0x42), f -> { }))
      .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(Frames.E_UNKNOWN_TYPE));
    assertThatThrownBy(() -> new FrameDecoder(1024).feed(Buffer.buffer().appendInt(5).appendByte(Frames.HELLO)
      .appendInt(0), f -> { }))
      .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(Frames.E_MALFORMED));
  }

  @Test
  void retainedFramesSurviveSerialisation() {
    RetainedFrames r = new RetainedFrames();
    for (int i = 1; i <= 5; i++) {
      r.add(Frames.data(i, Buffer.buffer("x".repeat(i))));
    }
    r.release(2);
    Buffer b = r.appendTo(Buffer.buffer());
    RetainedFrames copy = RetainedFrames.readFrom(b, new int[] {0});
    assertThat(copy.size()).isEqualTo(3);
    assertThat(copy.bytes()).isEqualTo(r.bytes());
    List<Long> seqs = new ArrayList<>();
    copy.forEachAfter(3, f -> seqs.add(Frames.dataSeq(f)));
    assertThat(seqs).containsExactly(4L, 5L);
  }
}
