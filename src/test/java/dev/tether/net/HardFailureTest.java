package dev.tether.net;

import dev.tether.event.FailureKind;
import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.recovery.ClosePolicy;
import dev.tether.recovery.PolicySet;
import dev.tether.recovery.ReportPolicy;
import dev.tether.recovery.ResendRemainderPolicy;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.Peer;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.tether.support.Harness.kind;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Failures provoked for real on loopback sockets: a peer that resets (SO_LINGER 0) with writes
 * pending inside Netty and still in Vert.x's queue, a peer that never reads, an RST on an idle
 * connection, and a close while bytes are held.
 */
class HardFailureTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  private static LedgerSnapshot settled(Harness.Conn c) {
    await().atMost(WAIT).until(() -> c.call(TrackedSocket::isClosed));
    return c.call(ts -> {
      ts.checkInvariant();
      return ts.ledger();
    });
  }

  @Test
  void resetWithWritesInNettyAndInVertxQueueIsOneEventCoveringEveryPendingByte() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("reset").setWriteTimeoutMs(0);
    NetServerOptions net = new NetServerOptions().setSendBufferSize(32 * 1024);
    try (Harness h = Harness.start(o, net, null); Peer peer = Peer.stalled(h.port(), 16 * 1024)) {
      Harness.Conn c = h.accept();
      byte[] chunk = Bytes.random(64 * 1024, 7);
      // 4 MiB into a peer that does not read: the kernel buffers fill, then Netty's outbound
      // buffer passes its high-water mark and Vert.x starts queueing the rest
      List<Future<WriteReceipt>> fs = c.call(ts -> {
        List<Future<WriteReceipt>> l = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          l.add(ts.writeTracked(Buffer.buffer(chunk)));
        }
        return l;
      });
      await().atMost(WAIT).until(() -> c.call(ts -> ts.writesOnWire() > 0 && ts.queuedWrites() > 0));
      LedgerSnapshot before = c.call(TrackedSocket::ledger);
      assertThat(before.pending()).isPositive();

      peer.reset();

      LedgerSnapshot after = settled(c);
      assertThat(after.accepted()).isEqualTo(64L * chunk.length);
      assertThat(after.pending()).isZero();
      assertThat(after.flushed() + after.unsent()).isEqualTo(after.accepted());
      assertThat(after.flushed()).isGreaterThanOrEqualTo(before.flushed());

      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
      List<JsonObject> writes = h.failures.stream().filter(e -> "WRITE".equals(e.getString("direction"))).toList();
      assertThat(writes).hasSize(1);
      JsonObject e = writes.get(0);
      assertThat(e.getString("kind")).isEqualTo(FailureKind.WRITE_FAILED.name());
      assertThat(e.getBoolean("soft")).isFalse();
      assertThat(e.getLong("unsent")).isEqualTo(after.unsent());
      assertThat(e.getLong("requested")).isEqualTo(e.getLong("flushed") + e.getLong("unsent"));
      // bytes are flushed in stream order, so the first unsent byte sits right after the flushed ones
      assertThat(e.getLong("offset")).isEqualTo(after.flushed());
      assertThat(e.getString("cause")).isNotBlank();
      // every write future is settled, and the failed ones account for exactly the unsent bytes
      long unsentByFutures = fs.stream().filter(Future::failed)
        .mapToLong(f -> ((WriteFailedException) f.cause()).end() - ((WriteFailedException) f.cause()).unsentFrom()).sum();
      assertThat(unsentByFutures).isEqualTo(after.unsent());
      assertThat(h.counter("tether.unsent.bytes", "server", "reset", "kind", "WRITE_FAILED")).isEqualTo(after.unsent());
      assertThat(h.counter("tether.written.bytes", "server", "reset")).isEqualTo(after.flushed());
      assertThat(h.gauge("tether.pending.bytes", "server", "reset")).isZero();
      h.awaitOutcome(x -> "CLOSE".equals(x.getString("action")) && e.getString("id").equals(x.getString("failure")));
    }
  }

  @Test
  void peerThatNeverReadsTimesOutThenOverflows() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("stall")
      .setWriteTimeoutMs(200)
      .setMaxPendingBytes(1 << 20)
      .setHighWaterMark(256 * 1024)
      .setPolicies(new PolicySet(new ClosePolicy(), null,
        Map.of(FailureKind.WRITE_TIMEOUT, new ReportPolicy(), FailureKind.WRITE_QUEUE_OVERFLOW, new ClosePolicy())));
    NetServerOptions net = new NetServerOptions().setSendBufferSize(64 * 1024);
    try (Harness h = Harness.start(o, net, null); Peer peer = Peer.stalled(h.port(), 32 * 1024)) {
      Harness.Conn c = h.accept();
      byte[] chunk = Bytes.random(16 * 1024, 8);
      List<Future<WriteReceipt>> fs = new java.util.concurrent.CopyOnWriteArrayList<>();
      // a careless application: 16 KiB every 10 ms, ignoring writeQueueFull(), at most 300 writes
      c.run(ts -> {
        int[] n = {0};
        h.vertx.setPeriodic(10, id -> {
          if (ts.isClosed() || ++n[0] > 300) {
            h.vertx.cancelTimer(id);
            return;
          }
          fs.add(ts.writeTracked(Buffer.buffer(chunk)));
        });
      });
      JsonObject timeout = h.awaitFailure(kind("WRITE_TIMEOUT"));
      JsonObject overflow = h.awaitFailure(kind("WRITE_QUEUE_OVERFLOW"));
      assertThat(h.failures.indexOf(timeout)).isLessThan(h.failures.indexOf(overflow));
      assertThat(timeout.getLong("requested")).isEqualTo(timeout.getLong("flushed") + timeout.getLong("unsent"));
      assertThat(timeout.getLong("unsent")).isPositive();
      assertThat(overflow.getLong("requested")).isEqualTo(chunk.length);
      assertThat(overflow.getLong("flushed")).isZero();

      LedgerSnapshot s = settled(c);
      assertThat(s.pending()).isZero();
      assertThat(s.accepted()).isEqualTo(s.flushed() + s.unsent());
      JsonObject closed = h.awaitOutcome(x -> overflow.getString("id").equals(x.getString("failure")));
      assertThat(closed.getString("action")).isEqualTo("CLOSE");
      // the overflowing write plus everything pending when the connection was closed
      assertThat(closed.getLong("bytes")).isEqualTo(s.unsent());
      assertThat(h.outcomes).anyMatch(x -> timeout.getString("id").equals(x.getString("failure"))
        && "NONE".equals(x.getString("action")));
      assertThat(h.counter("tether.unsent.bytes", "server", "stall")).isEqualTo(s.unsent());
      assertThat(h.counter("tether.failures", "server", "stall", "kind", "WRITE_TIMEOUT")).isEqualTo(1);
      assertThat(h.counter("tether.failures", "server", "stall", "kind", "WRITE_QUEUE_OVERFLOW")).isEqualTo(1);
      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
    }
  }

  @Test
  void resetOnAnIdleConnectionIsAReadFailure() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("idle");
    try (Harness h = Harness.start(o); Peer peer = Peer.stalled(h.port(), 0)) {
      Harness.Conn c = h.accept();
      peer.reset();
      JsonObject e = h.awaitFailure(kind("READ_FAILED"));
      assertThat(e.getString("direction")).isEqualTo("READ");
      assertThat(e.getLong("requested")).isZero();
      assertThat(e.getLong("flushed")).isZero();
      assertThat(e.getLong("unsent")).isZero();
      assertThat(e.getString("cause")).contains("Exception");
      LedgerSnapshot s = settled(c);
      assertThat(s.accepted()).isZero();
      assertThat(h.failures).hasSize(1);
      assertThat(h.counter("tether.failures", "server", "idle", "kind", "READ_FAILED", "direction", "READ")).isEqualTo(1);
    }
  }

  @Test
  void closingWithHeldBytesIsWriteIncomplete() throws Exception {
    // a soft failure whose resend is far away; the application closes meanwhile
    TrackingOptions o = new TrackingOptions().setServer("incomplete")
      .setFaults(FaultPlan.seeded(9).withFailWrite(2))
      .setPolicies(new PolicySet(new ClosePolicy(), new ResendRemainderPolicy(20_000, 20_000, 3), Map.of()));
    byte[] stream = Bytes.random(3000, 9);
    try (Harness h = Harness.start(o); Peer peer = Peer.reading(h.port())) {
      Harness.Conn c = h.accept();
      c.call(ts -> SoftFailureTest.writeChunks(ts, stream, 1000));
      h.awaitFailure(kind("WRITE_FAILED"));
      peer.awaitReceived(1000, WAIT);
      c.run(TrackedSocket::close);
      byte[] got = peer.awaitEof(WAIT);
      Bytes.assertPrefix(stream, 1000, got);
      JsonObject e = h.awaitFailure(kind("WRITE_INCOMPLETE"));
      assertThat(e.getBoolean("soft")).isFalse();
      assertThat(e.getLong("requested")).isEqualTo(2000);
      assertThat(e.getLong("flushed")).isZero();
      assertThat(e.getLong("unsent")).isEqualTo(2000);
      assertThat(e.getLong("offset")).isEqualTo(1000);
      LedgerSnapshot s = settled(c);
      assertThat(s).isEqualTo(new LedgerSnapshot(3000, 1000, 0, 2000, 0));
      h.awaitOutcome(x -> "RESEND".equals(x.getString("action")) && "FAILED".equals(x.getString("result")));
      assertThat(h.counter("tether.unsent.bytes", "server", "incomplete", "kind", "WRITE_INCOMPLETE")).isEqualTo(2000);
    }
  }
}
