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
  void decodesInPlaceAndCopiesOnlyAFrameCutBetweenReads() throws Exception {
    Buffer stream = Buffer.buffer();
    for (int i = 1; i <= 40; i++) {
      stream.appendBuffer(Frames.data(i, Buffer.buffer("payload-" + i + "-" + "x".repeat(i * 7))));
      if (i % 5 == 0) {
        stream.appendBuffer(Frames.ack(i));
      }
    }
    SplittableRandom random = new SplittableRandom(5);
    for (int round = 0; round < 200; round++) {
      FrameDecoder d = new FrameDecoder(1 << 20);
      List<String> seen = new ArrayList<>();
      int inPlace = 0;
      int pos = 0;
      while (pos < stream.length()) {
        int n = 1 + random.nextInt(Math.min(600, stream.length() - pos));
        Buffer read = stream.getBuffer(pos, pos + n);
        int[] here = {0};
        d.decode(read, (type, buf, start, end) -> {
          if (buf == read) {
            here[0]++;
          }
          seen.add(Frames.typeName(type) + ":" + buf.getLong(start)
            + (type == Frames.DATA ? ":" + buf.getString(start + 8, end) : ""));
        });
        inPlace += here[0];
        pos += n;
      }
      assertThat(d.buffered()).isZero();
      assertThat(seen).hasSize(48);
      for (int i = 1, k = 0; i <= 40; i++) {
        assertThat(seen.get(k++)).isEqualTo("DATA:" + i + ":payload-" + i + "-" + "x".repeat(i * 7));
        if (i % 5 == 0) {
          assertThat(seen.get(k++)).isEqualTo("ACK:" + i);
        }
      }
      // only frames cut by a read's end come from the decoder's copy
      assertThat(inPlace).isGreaterThan(0);
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
