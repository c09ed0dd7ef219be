package dev.tether.tools;

import dev.tether.internal.TransportAccess;
import dev.tether.support.Bytes;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.core.transport.Transport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * The raw Netty echo of the benchmark, on every transport available here: byte-exact echo on one
 * event-loop thread, Vert.x's default socket options, and reading paused while the peer does not read.
 */
class NettyEchoTest {

  static Transport available(String name) {
    Transport t = TransportAccess.byName(name);
    assumeThat(t.available()).as(name + " here: " + t.unavailabilityCause()).isTrue();
    return t;
  }

  @ParameterizedTest
  @ValueSource(strings = {"nio", "epoll", "io_uring"})
  void echoesEveryByteOnItsOneEventLoopAndStopsReadingWhileThePeerDoesNot(String name) throws Exception {
    Transport transport = available(name);
    // more than every socket buffer on the way can hold (here: 4 MiB send, 32 MiB receive at most)
    byte[] stream = Bytes.random(96 << 20, 7);
    // an allocator of its own: what it holds is what this server buffers
    PooledByteBufAllocator allocator = new PooledByteBufAllocator(true);
    ExecutorService writerThread = Executors.newSingleThreadExecutor();
    try (NettyEcho echo = NettyEcho.start(transport, allocator, "127.0.0.1", 0);
         Socket s = new Socket()) {
      assertThat(echo.eventLoopThread().getName()).startsWith("bench-netty-loop");
      assertThat(echo.serverChannelClass()).containsIgnoringCase(name.replace("_", ""));
      assertThat(echo.options()).containsEntry("child.TCP_NODELAY", true).containsEntry("SO_REUSEADDR", true)
        .containsEntry("child.SO_KEEPALIVE", false).containsEntry("child.ALLOCATOR", "PooledByteBufAllocator");

      s.setReceiveBufferSize(32 * 1024);
      s.connect(new InetSocketAddress("127.0.0.1", echo.port()), 5000);
      AtomicLong sent = new AtomicLong();
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          OutputStream out = s.getOutputStream();
          for (int off = 0; off < stream.length; off += 8192) {
            out.write(stream, off, 8192);
            sent.addAndGet(8192);
          }
          out.flush();
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }, writerThread);
      // we do not read: once our 32 KiB receive buffer and the server's send buffer are full, its
      // outbound buffer passes the 64 KiB high-water mark and it must stop reading
      await().atMost(Duration.ofSeconds(20)).until(() -> echo.pauses() > 0);
      // ... and stay stopped: the writer gets stuck (its count stops moving between two polls 300 ms
      // apart) instead of finishing into the server's memory
      AtomicLong last = new AtomicLong(-1);
      await().pollInterval(Duration.ofMillis(300)).atMost(Duration.ofSeconds(30))
        .until(() -> sent.get() == last.getAndSet(sent.get()) || writer.isDone());
      assertThat(writer).isNotDone();
      assertThat(allocator.metric().usedDirectMemory() + allocator.metric().usedHeapMemory())
        .as("bytes the server holds").isLessThan(16L << 20);

      byte[] back;
      try (InputStream in = s.getInputStream()) {
        back = in.readNBytes(stream.length);
      }
      writer.get(10, TimeUnit.SECONDS);
      Bytes.assertSameStream(stream, back);
      assertThat(echo.resumes()).isPositive();
    } finally {
      writerThread.shutdownNow();
    }
  }
}
