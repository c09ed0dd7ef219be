package dev.tether.net;

import ch.qos.logback.classic.Level;
import dev.tether.event.FailureKind;
import dev.tether.fault.FaultPlan;
import dev.tether.ledger.LedgerSnapshot;
import dev.tether.net.impl.TlsRecords;
import dev.tether.support.Bytes;
import dev.tether.support.Harness;
import dev.tether.support.LogCapture;
import dev.tether.support.Peer;
import dev.tether.support.TestTls;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.tether.support.Harness.kind;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Tracked servers over TLS on real loopback sockets: counts in plaintext bytes, exact under a reset
 * (whole TLS records), soft failures resent as plaintext, a plaintext client on the TLS port.
 */
class TlsTrackedTest {

  private static final Duration WAIT = Duration.ofSeconds(15);

  static NetServerOptions tls() {
    return TestTls.get().server().applyTo(new NetServerOptions());
  }

  private static LedgerSnapshot settled(Harness.Conn c) {
    await().atMost(WAIT).until(() -> c.call(TrackedSocket::isClosed));
    return c.call(ts -> {
      ts.checkInvariant();
      return ts.ledger();
    });
  }

  private static void echo(TrackedSocket ts) {
    ts.handler(ts::send);
  }

  @Test
  void tlsEchoIsByteExactAndCountedInPlaintextBytes() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("tls-echo");
    byte[] stream = Bytes.random(300_000, 11);
    try (Harness h = Harness.start(o, tls(), TlsTrackedTest::echo); Peer peer = Peer.tlsReading(h.port())) {
      Harness.Conn c = h.accept();
      for (int off = 0; off < stream.length; off += 50_000) {
        peer.send(java.util.Arrays.copyOfRange(stream, off, Math.min(stream.length, off + 50_000)));
      }
      peer.awaitReceived(stream.length, WAIT);
      Bytes.assertSameStream(stream, peer.received());
      await().atMost(WAIT).until(() -> c.call(ts -> ts.ledger().pending() == 0));
      LedgerSnapshot s = c.call(TrackedSocket::ledger);
      // plaintext bytes, not the larger encrypted ones
      assertThat(s.accepted()).isEqualTo(stream.length);
      assertThat(s.flushed()).isEqualTo(stream.length);
      assertThat(h.counter("tether.written.bytes", "server", "tls-echo")).isEqualTo(stream.length);
      assertThat(h.failures).isEmpty();
    }
  }

  @Test
  void underTlsTheFaultInjectorAndTheTrackerSitAboveTheTlsLayer() throws Exception {
    // Vert.x's TLS server pipeline is [ssl, chunkedWriter, handler]; wrapping adds the tracker before
    // handler, the injector before the tracker and TlsRecords right after ssl: everything of Tether's
    // sees plaintext
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      CompletableFuture<List<String>> names = new CompletableFuture<>();
      io.vertx.core.net.NetServer server = vertx.createNetServer(tls().setHost("127.0.0.1").setPort(0))
        .connectHandler(ns -> TrackedSocket.wrap(vertx, ns, new TrackingOptions().setServer("order")
            .setFaults(FaultPlan.seeded(1).withFailWrite(1000)))
          .onComplete(ar -> names.complete(dev.tether.internal.NettyAccess.channel(ns).pipeline().names())));
      int port = Harness.await(server.listen()).actualPort();
      try (java.net.Socket s = TestTls.get().connect(port)) {
        List<String> order = names.get(10, TimeUnit.SECONDS);
        assertThat(order.subList(0, 6)).containsExactly("ssl", TlsRecords.NAME, "chunkedWriter",
          dev.tether.fault.FaultInjector.NAME, dev.tether.net.impl.WriteTracker.NAME, "handler");
      }
    } finally {
      Harness.await(vertx.close());
    }
  }

  @Test
  void aStalledTlsPeerThatResetsLeavesBalancedBooksAndCouldNotHaveReadMoreThanFlushed() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("tls-reset").setWriteTimeoutMs(0);
    NetServerOptions net = tls().setSendBufferSize(32 * 1024);
    // 256 KiB writes: the peer reads into the middle of one (not on a record boundary either), and
    // the write it stalls in is most likely the one whose bytes are partly in the kernel
    int prefix = 300_000;
    try (Harness h = Harness.start(o, net, null); Peer peer = Peer.tlsStalled(h.port(), 16 * 1024)) {
      Harness.Conn c = h.accept();
      byte[] chunk = Bytes.random(256 * 1024, 7);
      byte[] stream = new byte[16 * chunk.length];
      for (int i = 0; i < 16; i++) {
        System.arraycopy(chunk, 0, stream, i * chunk.length, chunk.length);
      }
      // 2 MiB in one event-loop turn, then 2 MiB more once the peer stalled. (Under TLS, Vert.x
      // learns in a later turn that the channel became unwritable: SslHandler's queue reports its
      // pending bytes with invokeLater. So the first turn's writes all go into Netty, and only the
      // second turn's back up in Vert.x's queue.)
      List<Future<WriteReceipt>> fs = new ArrayList<>(c.call(ts -> writes(ts, chunk, 8)));
      peer.readExactly(prefix, WAIT);
      // then it stops reading: kernel buffers fill, Netty's outbound buffer and Vert.x's queue back up
      fs.addAll(c.call(ts -> writes(ts, chunk, 8)));
      await().atMost(WAIT).until(() -> c.call(ts -> ts.writesOnWire() > 0 && ts.queuedWrites() > 0));

      peer.reset();

      LedgerSnapshot after = settled(c);
      assertThat(after.accepted()).isEqualTo(stream.length);
      assertThat(after.pending()).isZero();
      assertThat(after.flushed() + after.unsent()).isEqualTo(after.accepted());
      // what the peer decrypted is a prefix of the stream and no longer than flushed: a record is
      // authenticated as a whole, and flushed counts the plaintext of records the kernel took in full
      Bytes.assertPrefix(stream, prefix, peer.received());
      assertThat(after.flushed()).isGreaterThanOrEqualTo(prefix);
      // 256 KiB writes go out as 16 KiB records, each counted when the kernel took all of it: a
      // write that failed half way counts its records that got out, not 0 and not a byte more
      assertThat(after.flushed() % TlsRecords.RECORD).isZero();
      assertThat(after.flushed()).isLessThan(stream.length);

      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
      List<JsonObject> writes = h.failures.stream().filter(e -> "WRITE".equals(e.getString("direction"))).toList();
      assertThat(writes).hasSize(1);
      JsonObject e = writes.get(0);
      assertThat(e.getString("kind")).isEqualTo(FailureKind.WRITE_FAILED.name());
      assertThat(e.getBoolean("soft")).isFalse();
      assertThat(e.getLong("unsent")).isEqualTo(after.unsent());
      assertThat(e.getLong("requested")).isEqualTo(e.getLong("flushed") + e.getLong("unsent"));
      assertThat(e.getLong("offset")).isEqualTo(after.flushed());
      long unsentByFutures = fs.stream().filter(Future::failed)
        .mapToLong(f -> ((WriteFailedException) f.cause()).end() - ((WriteFailedException) f.cause()).unsentFrom()).sum();
      assertThat(unsentByFutures).isEqualTo(after.unsent());
      long flushedByReceipts = fs.stream().filter(Future::succeeded).mapToLong(f -> f.result().end() - f.result().start()).sum();
      assertThat(flushedByReceipts + e.getLong("flushed")).as("nothing counted twice").isEqualTo(after.flushed());
      assertThat(h.counter("tether.unsent.bytes", "server", "tls-reset", "kind", "WRITE_FAILED")).isEqualTo(after.unsent());
      assertThat(h.counter("tether.written.bytes", "server", "tls-reset")).isEqualTo(after.flushed());
      assertThat(h.gauge("tether.pending.bytes", "server", "tls-reset")).isZero();
    }
  }

  private static List<Future<WriteReceipt>> writes(TrackedSocket ts, byte[] chunk, int n) {
    List<Future<WriteReceipt>> l = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      l.add(ts.writeTracked(Buffer.buffer(chunk)));
    }
    return l;
  }

  @Test
  void aCloseDecisionOnAStalledTlsPeerClosesAtOnceWithoutWaitingForCloseNotify() throws Exception {
    // a stalled peer never lets a TLS close_notify out; SslHandler would wait 3 s for it and then
    // log a WARN. The tracker aborts below the TLS layer, as it aborts below Vert.x in plaintext.
    TrackingOptions o = new TrackingOptions().setServer("tls-abort").setWriteTimeoutMs(300);
    try (Harness h = Harness.start(o, tls().setSendBufferSize(32 * 1024), null);
         Peer peer = Peer.tlsStalled(h.port(), 16 * 1024);
         LogCapture netty = new LogCapture(io.netty.handler.ssl.SslHandler.class, Level.WARN)) {
      Harness.Conn c = h.accept();
      byte[] chunk = Bytes.random(256 * 1024, 8);
      List<Future<WriteReceipt>> fs = c.call(ts -> writes(ts, chunk, 4));
      JsonObject timeout = h.awaitFailure(kind("WRITE_TIMEOUT"));
      long t0 = System.nanoTime();
      await().atMost(WAIT).until(() -> c.call(TrackedSocket::isClosed));
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(2_000));
      LedgerSnapshot s = settled(c);
      assertThat(s.pending()).isZero();
      assertThat(s.flushed() + s.unsent()).isEqualTo(s.accepted());
      JsonObject closed = h.awaitOutcome(x -> timeout.getString("id").equals(x.getString("failure")));
      assertThat(closed.getString("action")).isEqualTo("CLOSE");
      assertThat(closed.getLong("bytes")).isEqualTo(s.unsent());
      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
      assertThat(netty.lines(Level.WARN)).isEmpty();
    }
  }

  @Test
  void softFailuresUnderTlsAreResentAsPlaintextAndTheStreamIsByteExact() throws Exception {
    // refusals and a partial write of a write larger than a record, before the TLS layer: the
    // resends replay plaintext, the peer decrypts the exact stream
    TrackingOptions o = new TrackingOptions().setServer("tls-soft")
      .setFaults(FaultPlan.seeded(3).withFailWrite(2).withFailWrite(5).withPartialWrite(8, 20_000).withFailWrite(9))
      .setPolicies(SoftFailureTest.resend(5, 5));
    byte[] stream = Bytes.random(400_000, 12);
    try (Harness h = Harness.start(o, tls(), null); Peer peer = Peer.tlsReading(h.port())) {
      Harness.Conn c = h.accept();
      List<Future<WriteReceipt>> fs = c.call(ts -> SoftFailureTest.writeChunks(ts, stream, 40_000));
      peer.awaitReceived(stream.length, WAIT);
      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::isComplete));
      Bytes.assertSameStream(stream, peer.received());
      assertThat(fs).allMatch(Future::succeeded);
      assertThat(fs.stream().filter(f -> f.result().resent())).isNotEmpty();
      SoftFailureTest.assertBalancedAndSettled(c, stream.length, stream.length, 0);
      assertThat(h.failures).extracting(e -> e.getString("kind"))
        .contains(FailureKind.WRITE_FAILED.name(), FailureKind.WRITE_INCOMPLETE.name());
      assertThat(h.failures).allMatch(e -> e.getBoolean("soft"));
      assertThat(h.counter("tether.written.bytes", "server", "tls-soft")).isEqualTo(stream.length);
    }
  }

  @Test
  void aPlaintextClientOnTheTlsPortIsClosedWithOneLogLineAndOthersCarryOn() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("tls-port");
    try (Harness h = Harness.start(o, tls(), TlsTrackedTest::echo);
         LogCapture log = new LogCapture(TlsHandshakeLog.class, Level.DEBUG);
         LogCapture tail = new LogCapture(io.netty.channel.DefaultChannelPipeline.class, Level.DEBUG);
         Peer good = Peer.tlsReading(h.port())) {
      Harness.Conn c = h.accept();
      int localPort;
      try (Socket plain = new Socket()) {
        plain.connect(new InetSocketAddress("127.0.0.1", h.port()), 5_000);
        localPort = plain.getLocalPort();
        plain.setSoTimeout((int) WAIT.toMillis());
        OutputStream out = plain.getOutputStream();
        out.write("hello tether\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = plain.getInputStream();
        long t0 = System.nanoTime();
        // closed by the server (end of stream, or a reset), within the bound
        int r;
        try {
          byte[] buf = new byte[1024];
          while ((r = in.read(buf)) >= 0) {
            // a TLS alert may come first
          }
        } catch (IOException closedHard) {
          r = -1;
        }
        assertThat(r).isEqualTo(-1);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
      }
      await().atMost(WAIT).until(() -> !log.lines(Level.INFO).isEmpty());
      good.send("still here".getBytes(StandardCharsets.US_ASCII));
      good.awaitReceived(10, WAIT);
      assertThat(new String(good.received(), StandardCharsets.US_ASCII)).isEqualTo("still here");
      List<String> lines = log.lines(Level.INFO);
      assertThat(lines).hasSize(1);
      assertThat(lines.get(0)).contains("tls-port").contains("127.0.0.1:" + localPort)
        .contains("TLS handshake").contains("plaintext");
      assertThat(log.lines(Level.WARN)).isEmpty();
      // no "exceptionCaught() ... reached the tail of the pipeline" from Netty
      assertThat(tail.lines(Level.WARN)).isEmpty();
      assertThat(tail.lines(Level.DEBUG)).isEmpty();
      // no tracked connection, no failure event for it; the good one was the only one accepted
      assertThat(h.failures).isEmpty();
      assertThat(c.call(ts -> ts.ledger().flushed()).longValue()).isEqualTo(10);
    }
  }

  @Test
  void aConnectionLostDuringTheHandshakeIsNoTlsProblemAndLoggedAtDebugOnly() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("tls-probe");
    try (Harness h = Harness.start(o, tls(), TlsTrackedTest::echo);
         LogCapture log = new LogCapture(TlsHandshakeLog.class, Level.DEBUG)) {
      // a port probe: connect, then reset without a byte
      Peer.stalled(h.port(), 0).reset();
      await().atMost(WAIT).until(() -> !log.lines(Level.DEBUG).isEmpty());
      assertThat(log.lines(Level.DEBUG).get(0)).contains("tls-probe").contains("lost during the TLS handshake");
      assertThat(log.lines(Level.INFO)).isEmpty();
      assertThat(h.failures).isEmpty();
    }
  }

  @Test
  void aTrackedClientSpeaksTlsAndCountsPlaintextBytes() throws Exception {
    TrackingOptions o = new TrackingOptions().setServer("tls-up");
    try (Harness h = Harness.start(o, tls(), TlsTrackedTest::echo)) {
      TrackedClient client = TrackedClient.create(h.vertx, new TrackedClientOptions().setName("tls-client")
        .setSsl(true).setTrustOptions(TestTls.get().trust()).setHostnameVerificationAlgorithm("HTTPS"));
      TrackedSocket ts = Harness.await(client.connect(h.port(), "127.0.0.1"));
      byte[] stream = Bytes.random(100_000, 13);
      ByteArrayOutputStream back = new ByteArrayOutputStream();
      CompletableFuture<List<Future<WriteReceipt>>> written = new CompletableFuture<>();
      ts.context().runOnContext(v -> {
        ts.handler(b -> {
          synchronized (back) {
            back.writeBytes(b.getBytes());
          }
        });
        written.complete(SoftFailureTest.writeChunks(ts, stream, 30_000));
      });
      List<Future<WriteReceipt>> fs = written.get(10, TimeUnit.SECONDS);
      await().atMost(WAIT).until(() -> {
        synchronized (back) {
          return back.size() >= stream.length;
        }
      });
      Bytes.assertSameStream(stream, back.toByteArray());
      await().atMost(WAIT).until(() -> fs.stream().allMatch(Future::succeeded));
      assertThat(fs.get(fs.size() - 1).result().end()).isEqualTo(stream.length);
      CompletableFuture<LedgerSnapshot> ledger = new CompletableFuture<>();
      ts.context().runOnContext(v -> ledger.complete(ts.ledger()));
      assertThat(ledger.get(10, TimeUnit.SECONDS)).isEqualTo(new LedgerSnapshot(stream.length, stream.length, 0, 0, 0));
    }
  }

  @Test
  void withTrustPathAClientWithoutACertificateIsRefusedAndOneWithItIsServed() throws Exception {
    TestTls t = TestTls.get();
    TrackingOptions o = new TrackingOptions().setServer("tls-mutual");
    NetServerOptions net = t.serverRequiringClientCert().applyTo(new NetServerOptions());
    try (Harness h = Harness.start(o, net, TlsTrackedTest::echo);
         LogCapture log = new LogCapture(TlsHandshakeLog.class, Level.DEBUG)) {
      // without a client certificate: the handshake fails (TLS 1.3: the client may only see it on read)
      try (Socket raw = new Socket()) {
        raw.connect(new InetSocketAddress("127.0.0.1", h.port()), 5_000);
        raw.setSoTimeout((int) WAIT.toMillis());
        boolean refused;
        try (Socket s = t.handshake(raw, false)) {
          s.getOutputStream().write(1);
          refused = s.getInputStream().read() < 0;
        } catch (IOException e) {
          refused = true;
        }
        assertThat(refused).isTrue();
      }
      await().atMost(WAIT).until(() -> log.lines(Level.INFO).size() == 1);
      assertThat(log.lines(Level.INFO).get(0)).contains("tls-mutual").contains("TLS handshake");
      // with it: served
      try (Socket raw = new Socket()) {
        raw.connect(new InetSocketAddress("127.0.0.1", h.port()), 5_000);
        raw.setSoTimeout((int) WAIT.toMillis());
        try (Socket s = t.handshake(raw, true)) {
          s.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
          byte[] two = s.getInputStream().readNBytes(2);
          assertThat(new String(two, StandardCharsets.US_ASCII)).isEqualTo("ok");
        }
      }
      assertThat(h.accept().socket().id()).startsWith("tls-mutual-");
    }
  }
}
