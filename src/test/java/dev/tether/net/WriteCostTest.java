package dev.tether.net;

import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Finding 5 of issue 7: the caps counted payload bytes only, so 4 MiB of 1-byte writes (each
 * costing a few hundred bytes of objects) could hold hundreds of MiB for one connection under
 * {@code maxPendingBytes} = 4 MiB. Now the caps count payload plus
 * {@link TrackingOptions#WRITE_OVERHEAD_BYTES} per write, and this test measures what a flood of
 * 1-byte writes into a peer that never reads really retains, under the default caps.
 */
class WriteCostTest {

  private static final Logger log = LoggerFactory.getLogger(WriteCostTest.class);
  private static io.netty.util.ResourceLeakDetector.Level level;

  /**
   * The suite runs with the paranoid leak detector, which keeps a record (with stack traces) per
   * pooled buffer: heap that a deployment does not have. This test measures the heap a deployment
   * pays, so it runs at Netty's default level ({@code simple}, one buffer in 128 tracked).
   */
  @org.junit.jupiter.api.BeforeAll
  static void deploymentLeakDetection() {
    level = io.netty.util.ResourceLeakDetector.getLevel();
    io.netty.util.ResourceLeakDetector.setLevel(io.netty.util.ResourceLeakDetector.Level.SIMPLE);
  }

  @org.junit.jupiter.api.AfterAll
  static void restoreLeakDetection() {
    io.netty.util.ResourceLeakDetector.setLevel(level);
  }

  @Test
  void aFloodOfOneByteWritesStaysWithinTheCapInMemory() throws Exception {
    TrackingOptions defaults = new TrackingOptions().setServer("cost").setWriteTimeoutMs(0);
    try (Harness h = Harness.start(defaults, new NetServerOptions().setSendBufferSize(8 * 1024), null);
         Peer peer = Peer.stalled(h.port(), 8 * 1024)) {
      Harness.Conn c = h.accept();
      long before = usedAfterGc();
      // one event-loop turn: write until the cap refuses (at most 5 M writes: the old code took them all)
      long[] result = c.call(ts -> {
        Buffer one = Buffer.buffer(new byte[] {42});
        long writes = 0;
        while (ts.ledger().unsent() == 0 && writes < 5_000_000) {
          ts.send(one.copy());
          writes++;
        }
        return new long[] {writes, ts.ledger().pending(), ts.pendingCost()};
      });
      long after = usedAfterGc();
      long retained = after - before;
      long pendingWrites = result[1]; // 1 byte each
      log.info("1-byte flood under the default caps: {} writes issued, {} pending, cost {} B counted, {} B of heap retained"
        + " ({} B per pending write)", result[0], pendingWrites, result[2], retained, retained / Math.max(1, pendingWrites));
      // the cap stopped the flood at ~maxPendingBytes / (1 + overhead) writes, not at 4 Mi writes
      assertThat(pendingWrites).isLessThanOrEqualTo(TrackingOptions.DEFAULT_MAX_PENDING_BYTES / (1 + TrackingOptions.WRITE_OVERHEAD_BYTES));
      assertThat(result[2]).isLessThanOrEqualTo(TrackingOptions.DEFAULT_MAX_PENDING_BYTES);
      // the documented bound: a connection's pending writes retain at most ~maxPendingBytes of heap
      assertThat(retained).isLessThan(TrackingOptions.DEFAULT_MAX_PENDING_BYTES * 5 / 4);
      c.run(TrackedSocket::close);
    }
  }

  private static long usedAfterGc() {
    MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return mem.getHeapMemoryUsage().getUsed();
  }
}
