package dev.tether.net.impl;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelProgressivePromise;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import dev.tether.support.TestTls;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The TLS record splitter in a real Netty pipeline (an embedded channel), with the writes it passes
 * on held below it so the test completes them as the transport would: in order, one by one.
 */
class TlsRecordsTest {

  /** Keeps what reaches it, without completing anything. */
  static final class Below extends ChannelOutboundHandlerAdapter {
    final List<ByteBuf> bufs = new ArrayList<>();
    final List<ChannelPromise> promises = new ArrayList<>();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      bufs.add((ByteBuf) msg);
      promises.add(promise);
    }
  }

  static final class Progress implements ChannelProgressiveFutureListener {
    final List<Long> seen = new ArrayList<>();
    boolean done;

    @Override
    public void operationProgressed(ChannelProgressiveFuture f, long progress, long total) {
      seen.add(progress);
    }

    @Override
    public void operationComplete(ChannelProgressiveFuture f) {
      done = true;
    }
  }

  private final Below below = new Below();
  private final EmbeddedChannel ch = new EmbeddedChannel(below, new TlsRecords());

  private static ByteBuf bytes(int n) {
    ByteBuf b = Unpooled.buffer(n);
    for (int i = 0; i < n; i++) {
      b.writeByte(i * 31);
    }
    return b;
  }

  @Test
  void aWriteOfAtMostOneRecordPassesAsItIsWithItsOwnPromise() {
    ByteBuf b = bytes(TlsRecords.RECORD);
    ChannelPromise p = ch.newPromise();
    ch.write(b, p);
    assertThat(below.bufs).containsExactly(b);
    assertThat(below.promises).containsExactly(p);
  }

  @Test
  void aLargerWriteIsCutIntoRecordsAndReportsProgressRecordByRecord() {
    ByteBuf b = bytes(40_000);
    ChannelProgressivePromise p = ch.newProgressivePromise();
    Progress progress = new Progress();
    p.addListener(progress);
    ch.write(b, p);

    assertThat(below.bufs).extracting(ByteBuf::readableBytes).containsExactly(16_384, 16_384, 7_232);
    ByteBuf joined = Unpooled.wrappedBuffer(below.bufs.stream().map(ByteBuf::duplicate).toArray(ByteBuf[]::new));
    assertThat(joined).isEqualTo(bytes(40_000));
    assertThat(below.promises).doesNotContain(p);

    below.promises.get(0).setSuccess();
    assertThat(progress.seen).containsExactly(16_384L);
    below.promises.get(1).setSuccess();
    assertThat(progress.seen).containsExactly(16_384L, 32_768L);
    assertThat(p.isDone()).isFalse();
    below.promises.get(2).setSuccess();
    assertThat(p.isSuccess()).isTrue();

    below.bufs.forEach(ByteBuf::release);
    assertThat(b.refCnt()).as("the write's buffer is released with its pieces").isZero();
  }

  @Test
  void aWriteThatFailsHalfWayKeepsTheProgressOfItsRecordsThatGotOut() {
    ChannelProgressivePromise p = ch.newProgressivePromise();
    Progress progress = new Progress();
    p.addListener(progress);
    ch.write(bytes(50_000), p);
    assertThat(below.promises).hasSize(4);

    below.promises.get(0).setSuccess();
    IOException reset = new IOException("Connection reset by peer");
    below.promises.get(1).setFailure(reset);
    below.promises.get(2).setFailure(reset);
    below.promises.get(3).setFailure(reset);

    assertThat(p.cause()).isSameAs(reset);
    assertThat(progress.seen).containsExactly(16_384L);
    below.bufs.forEach(ByteBuf::release);
  }

  @Test
  void installGoesRightAfterTheSslHandlerOnlyWhenThereIsOne() throws Exception {
    EmbeddedChannel plain = new EmbeddedChannel(new ChannelOutboundHandlerAdapter());
    assertThat(TlsRecords.install(plain)).isFalse();
    assertThat(plain.pipeline().get(TlsRecords.NAME)).isNull();

    TestTls t = TestTls.get();
    SslContext server = SslContextBuilder.forServer(t.cert.toFile(), t.key.toFile()).build();
    EmbeddedChannel tls = new EmbeddedChannel();
    tls.pipeline().addLast("ssl", server.newHandler(tls.alloc()));
    tls.pipeline().addLast("chunkedWriter", new ChannelOutboundHandlerAdapter());
    assertThat(TlsRecords.install(tls)).isTrue();
    assertThat(TlsRecords.install(tls)).as("idempotent").isTrue();
    List<String> names = tls.pipeline().names();
    assertThat(names.indexOf(TlsRecords.NAME)).isEqualTo(names.indexOf("ssl") + 1);
    assertThat(tls.pipeline().get(SslHandler.class)).isNotNull();
    tls.finishAndReleaseAll();
  }
}
