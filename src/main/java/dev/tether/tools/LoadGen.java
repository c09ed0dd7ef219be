package dev.tether.tools;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed-rate loopback load generator for {@code scripts/bench.sh} (tcpkali and netperf are not
 * available here). One thread, non-blocking sockets:
 *
 * <ul>
 *   <li>{@code conns} connections to 127.0.0.1:{@code port}; message {@code k} of connection
 *   {@code c} is due at {@code t0 + c*period/conns + k*period}, {@code period = conns/rate}, and is
 *   written with its own {@code write} call (one write per message: the server echoes it with one
 *   write too, unless TCP coalesced it);</li>
 *   <li>latency of a message = time its last echoed byte arrived minus its <em>scheduled</em> send
 *   time (so a late sender shows up as latency: no coordinated omission);</li>
 *   <li>after {@code warmup} seconds it asks the server's control port for a snapshot of the
 *   event-loop CPU time and allocated bytes and the process CPU time, again after {@code seconds}
 *   more, and divides the differences by the messages sent in between;</li>
 *   <li>over the same window it reads {@code /proc/stat} to see how much of CPU {@code serverCpu}
 *   and {@code loadCpu} was used by other processes or stolen by the hypervisor, and counts how
 *   many messages went out more than {@code maxLateMs} after their scheduled time. The trial is
 *   marked {@code valid=0} when either went over its limit. Messages that were late because their
 *   connection's socket would not take more bytes (the server did not read: back-pressure) are
 *   counted apart ({@code blockedFrac}, {@code note=server-behind}): that is the server's cost,
 *   not a disturbance;</li>
 *   <li>then, as information only, a flat-out phase of {@code flatout} seconds with at most
 *   {@code window} messages in flight per connection.</li>
 * </ul>
 *
 * <p>{@code --tls PEM} speaks TLS to the server (trusting that certificate): each connection does
 * its handshake before the clock starts, each message is encrypted into its own record(s) and
 * written with one {@code write} (see {@link LoadGenTls}); the figures stay in plaintext messages.
 *
 * <p>{@code --protocol session} speaks the session protocol (docs/protocol.md) instead of raw bytes:
 * each connection sends HELLO (new session) and waits for WELCOME before the schedule starts; each
 * message is one DATA frame (13-byte frame header + a payload of {@code size} bytes, written with
 * one {@code write}); the echoed DATA frame with sequence number {@code k} completes message
 * {@code k-1} of its connection (latency as above); incoming WELCOME, DATA, ACK, PING and PONG are
 * parsed (ACK/PING/PONG ignored, ERROR or BYE ends the run); and the server's DATA is acknowledged
 * cumulatively with one ACK frame (its own {@code write}) as soon as {@code ack-every} (16) frames are
 * unacknowledged or the oldest unacknowledged one is {@code ack-ms} (5) ms old. Messages and byte
 * figures count payload bytes only; the frame headers are on top.
 *
 * <p>Prints one line {@code RESULT <label> key=value ...}. Every phase has a deadline; the process
 * exits after {@code warmup + seconds + flatout + 30} seconds at the latest.
 */
public final class LoadGen {

  private static final int HIST_MAX_US = 1_000_000;

  // session protocol (--protocol session)
  private static final int DATA_HEADER = 4 + 1 + 8;
  private static final byte T_HELLO = 0x01;
  private static final byte T_WELCOME = 0x02;
  private static final byte T_DATA = 0x03;
  private static final byte T_ACK = 0x04;
  private static final byte T_PING = 0x05;
  private static final byte T_PONG = 0x06;
  private static final byte T_ERROR = 0x07;
  private static final byte T_BYE = 0x08;
  private static final int MAX_FRAME = 1 << 20;
  private static boolean session;
  private static int ackEvery = 16;
  private static long ackNs = 5_000_000;
  private static long acksSent;

  private LoadGen() {
  }

  private static final class Conn {
    final SocketChannel ch;
    /** TLS over {@link #ch} ({@code --tls}), or null. */
    final LoadGenTls tls;
    final long phase;
    final ByteBuffer out;
    long nextMsg;          // index of the next message to send
    long sentBytes;
    long recvBytes;
    boolean writing;       // a message is partly written
    long unblockedAt;      // when the last partly written message was finally written
    // session protocol only
    final ByteBuffer ack;  // the ACK frame being written (position = limit when none)
    final byte[] hdr = new byte[4 + 1 + 16 + 8];
    int hdrLen;            // bytes of the current frame's head collected in hdr
    int frameLen = -1;     // L of the current frame, -1 while its length is incomplete
    int skip;              // bytes of the current frame still to skip (DATA payload)
    boolean welcomed;
    long lastRecvSeq;      // highest DATA seq received from the server
    int unacked;           // DATA frames received since the last ACK
    long firstUnackedAt;

    Conn(SocketChannel ch, LoadGenTls tls, long phase, ByteBuffer msg) {
      this.ch = ch;
      this.tls = tls;
      this.phase = phase;
      if (session) {
        // own copy: the sequence number in the header changes per message
        this.out = ByteBuffer.allocateDirect(DATA_HEADER + msg.remaining());
        this.out.putInt(1 + 8 + msg.remaining()).put(T_DATA).putLong(0).put(msg.duplicate()).flip();
        this.ack = ByteBuffer.allocateDirect(DATA_HEADER);
        this.ack.position(this.ack.limit());
      } else {
        this.out = msg.duplicate();
        this.ack = null;
      }
      this.out.position(this.out.limit());
    }

    int write(ByteBuffer src) throws IOException {
      return tls == null ? ch.write(src) : tls.write(src);
    }

    int read(ByteBuffer dst) throws IOException {
      return tls == null ? ch.read(dst) : tls.read(dst);
    }

    /** Rewinds the message buffer for message {@code nextMsg} (DATA seq = nextMsg + 1). */
    void nextMessage() {
      out.clear();
      if (session) {
        out.putLong(5, nextMsg + 1);
      }
    }

    /**
     * Session protocol: finishes a partly written ACK and sends a new one when due. Returns false
     * while an ACK is partly written (no DATA may be written then). Never splits a DATA frame.
     */
    boolean ack(long now) throws IOException {
      if (!session || writing) {
        return true;
      }
      if (ack.hasRemaining()) {
        write(ack);
        if (ack.hasRemaining()) {
          return false;
        }
        unblockedAt = now;
      }
      if (unacked > 0 && (unacked >= ackEvery || now - firstUnackedAt >= ackNs)) {
        ack.clear();
        ack.putInt(0, 9).put(4, T_ACK).putLong(5, lastRecvSeq);
        unacked = 0;
        acksSent++;
        write(ack);
        return !ack.hasRemaining();
      }
      return true;
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = parse(args);
    int port = Integer.parseInt(req(a, "port"));
    int ctl = Integer.parseInt(req(a, "ctl"));
    int conns = Integer.parseInt(a.getOrDefault("conns", "50"));
    int size = Integer.parseInt(a.getOrDefault("size", "1024"));
    double rate = Double.parseDouble(a.getOrDefault("rate", "100000"));
    double warmup = Double.parseDouble(a.getOrDefault("warmup", "8"));
    double seconds = Double.parseDouble(a.getOrDefault("seconds", "10"));
    double flatout = Double.parseDouble(a.getOrDefault("flatout", "3"));
    int window = Integer.parseInt(a.getOrDefault("window", "16"));
    int serverCpu = Integer.parseInt(a.getOrDefault("server-cpu", "0"));
    int loadCpu = Integer.parseInt(a.getOrDefault("load-cpu", "1"));
    double maxForeign = Double.parseDouble(a.getOrDefault("max-foreign", "10"));
    double maxSteal = Double.parseDouble(a.getOrDefault("max-steal", "10"));
    double maxLateMs = Double.parseDouble(a.getOrDefault("max-late-ms", "2"));
    double maxLateFrac = Double.parseDouble(a.getOrDefault("max-late-frac", "0.01"));
    String label = a.getOrDefault("label", "");
    boolean quit = a.containsKey("quit");
    String protocol = a.getOrDefault("protocol", "raw");
    // --tls PEM: TLS to the server, trusting that certificate
    javax.net.ssl.SSLContext tlsContext = a.containsKey("tls") ? TlsClient.context(a.get("tls")) : null;
    if (!protocol.equals("raw") && !protocol.equals("session")) {
      System.err.println("LoadGen: --protocol raw|session, got " + protocol);
      System.exit(2);
    }
    session = protocol.equals("session");
    ackEvery = Integer.parseInt(a.getOrDefault("ack-every", "16"));
    ackNs = (long) (Double.parseDouble(a.getOrDefault("ack-ms", "5")) * 1e6);

    long hardDeadline = System.nanoTime() + sec(warmup + seconds + flatout + 30);
    Thread watchdog = new Thread(() -> {
      long left;
      while ((left = hardDeadline - System.nanoTime()) > 0) {
        LockSupport.parkNanos(left);
      }
      System.err.println("LoadGen: hard deadline reached, exiting");
      Runtime.getRuntime().halt(4);
    }, "loadgen-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    ByteBuffer msg = ByteBuffer.allocateDirect(size);
    for (int i = 0; i < size; i++) {
      msg.put((byte) ('a' + i % 26));
    }
    msg.flip();

    long period = Math.round(conns * 1e9 / rate);
    Selector selector = Selector.open();
    Conn[] cs = new Conn[conns];
    InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    for (int c = 0; c < conns; c++) {
      SocketChannel ch = SocketChannel.open();
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      ch.socket().connect(target, 5000);
      LoadGenTls tls = tlsContext == null ? null
        : LoadGenTls.handshake(ch, tlsContext, "127.0.0.1", port, size + DATA_HEADER);
      ch.configureBlocking(false);
      cs[c] = new Conn(ch, tls, (long) c * period / conns, msg);
      ch.register(selector, SelectionKey.OP_READ, cs[c]);
    }
    if (session) {
      handshake(selector, cs, size);
    }

    try (Socket control = new Socket()) {
      control.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), ctl), 5000);
      control.setSoTimeout(10_000);
      control.setTcpNoDelay(true);
      BufferedReader cin = new BufferedReader(new InputStreamReader(control.getInputStream(), StandardCharsets.US_ASCII));
      Writer cout = new OutputStreamWriter(control.getOutputStream(), StandardCharsets.US_ASCII);

      ByteBuffer in = ByteBuffer.allocateDirect(256 * 1024);
      long[] hist = new long[HIST_MAX_US + 1];
      long t0 = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
      long tW = t0 + sec(warmup);
      long tE = tW + sec(seconds);
      long maxLateNs = (long) (maxLateMs * 1e6);

      // a first snapshot half-way through the warm-up loads the classes both sides need for it, so
      // that the real ones do not stall the sender
      long tP = t0 + sec(warmup / 2);
      boolean primed = false;
      Snap s0 = null;
      Snap s1 = null;
      long sentInWindow = 0;
      long lateInWindow = 0;
      long lateBlocked = 0;
      long maxLate = 0;
      long totalSent = 0;
      long totalRecvMsgs = 0;
      long scheduledInWindow = 0;

      // ---- fixed-rate phase: warm-up and measured window
      long now;
      long prevIter = System.nanoTime();
      long maxGap = 0;
      long gaps1ms = 0;
      while ((now = System.nanoTime()) < tE + TimeUnit.MILLISECONDS.toNanos(1)) {
        if (now >= tW && s0 != null) {
          long gap = now - prevIter;
          maxGap = Math.max(maxGap, gap);
          if (gap > 1_000_000) {
            gaps1ms++;
          }
        }
        prevIter = now;
        if (!primed && now >= tP) {
          primed = true;
          snap(cin, cout, serverCpu, loadCpu, totalSent, totalRecvMsgs);
          now = System.nanoTime();
        }
        if (s0 == null && now >= tW) {
          s0 = snap(cin, cout, serverCpu, loadCpu, totalSent, totalRecvMsgs);
          now = System.nanoTime();
          prevIter = now;
        }
        long nextDue = Long.MAX_VALUE;
        for (Conn c : cs) {
          if (c.writing) {
            c.write(c.out);
            if (c.out.hasRemaining()) {
              continue;
            }
            c.writing = false;
            c.unblockedAt = now;
          }
          if (!c.ack(now)) {
            continue;
          }
          for (int burst = 0; burst < 1000; burst++) {
            long due = t0 + c.phase + c.nextMsg * period;
            if (due > now || due >= tE) {
              nextDue = Math.min(nextDue, due);
              break;
            }
            long late = now - due;
            if (due >= tW) {
              sentInWindow++;
              if (late > maxLateNs) {
                if (due < c.unblockedAt) {
                  // due while the server was not taking this connection's bytes: back-pressure
                  lateBlocked++;
                } else {
                  lateInWindow++;
                }
              }
              maxLate = Math.max(maxLate, late);
            }
            c.nextMessage();
            c.write(c.out);
            c.nextMsg++;
            totalSent++;
            if (c.out.hasRemaining()) {
              c.writing = true;
              break;
            }
          }
        }
        if (s0 != null && s1 == null && now >= tE) {
          s1 = snap(cin, cout, serverCpu, loadCpu, totalSent, totalRecvMsgs);
        }
        totalRecvMsgs += read(selector, in, cs, size, period, t0, tW, tE, hist, true);
        long wait = nextDue - System.nanoTime();
        if (wait > 30_000) {
          LockSupport.parkNanos(Math.min(wait - 10_000, 50_000));
        }
      }
      if (s1 == null) {
        s1 = snap(cin, cout, serverCpu, loadCpu, totalSent, totalRecvMsgs);
      }
      for (Conn c : cs) {
        scheduledInWindow += countDue(t0 + c.phase, period, tW, tE);
      }
      // ---- let the last echoes arrive (bounded)
      long drainEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      while (System.nanoTime() < drainEnd && totalRecvMsgs < totalSent) {
        totalRecvMsgs += read(selector, in, cs, size, period, t0, tW, tE, hist, true);
        long drainNow = System.nanoTime();
        for (Conn c : cs) {
          c.ack(drainNow);
        }
        LockSupport.parkNanos(20_000);
      }
      long echoedAfterDrain = totalRecvMsgs;

      // ---- flat-out phase (information only): window messages in flight per connection
      double flatMBps = 0;
      double flatMsgps = 0;
      if (flatout > 0) {
        long recvStart = 0;
        for (Conn c : cs) {
          recvStart += c.recvBytes;
        }
        long fStart = System.nanoTime();
        long fEnd = fStart + sec(flatout);
        long limit = (long) window * size;
        while (System.nanoTime() < fEnd) {
          long fNow = System.nanoTime();
          for (Conn c : cs) {
            for (int burst = 0; burst < window; burst++) {
              if (c.writing) {
                c.write(c.out);
                if (c.out.hasRemaining()) {
                  break;
                }
                c.writing = false;
              }
              if (!c.ack(fNow)) {
                break;
              }
              if (c.sentBytes - c.recvBytes >= limit) {
                break;
              }
              c.nextMessage();
              c.write(c.out);
              c.nextMsg++;
              c.sentBytes += size;
              if (c.out.hasRemaining()) {
                c.writing = true;
                break;
              }
            }
          }
          read(selector, in, cs, size, period, t0, tW, tE, hist, false);
        }
        long recvEnd = 0;
        for (Conn c : cs) {
          recvEnd += c.recvBytes;
        }
        double dt = (System.nanoTime() - fStart) / 1e9;
        flatMBps = (recvEnd - recvStart) / dt / 1e6;
        flatMsgps = (recvEnd - recvStart) / (double) size / dt;
      }
      if (quit) {
        cout.write("quit\n");
        cout.flush();
        cin.readLine();
      }
      for (Conn c : cs) {
        c.ch.close();
      }
      selector.close();

      // ---- figures
      long msgs = s1.sent - s0.sent;
      double ms = msgs == 0 ? Double.NaN : msgs;
      double wallS = (s1.wallNs - s0.wallNs) / 1e9;
      double busy0 = s1.cpu[0].busy() - s0.cpu[0].busy();
      double busy1 = s1.cpu[1].busy() - s0.cpu[1].busy();
      double total0 = Math.max(1, s1.cpu[0].total() - s0.cpu[0].total());
      double total1 = Math.max(1, s1.cpu[1].total() - s0.cpu[1].total());
      double jiffy = 1e9 / 100.0; // USER_HZ
      double serverCpuNs = s1.srv.get("procCpuNs") - s0.srv.get("procCpuNs");
      double loadCpuNs = s1.ownCpuNs - s0.ownCpuNs;
      double steal0 = 100.0 * (s1.cpu[0].steal - s0.cpu[0].steal) / total0;
      double steal1 = 100.0 * (s1.cpu[1].steal - s0.cpu[1].steal) / total1;
      double foreign0 = 100.0 * Math.max(0, busy0 * jiffy - serverCpuNs) / (total0 * jiffy);
      double foreign1 = 100.0 * Math.max(0, busy1 * jiffy - loadCpuNs) / (total1 * jiffy);
      double lateFrac = sentInWindow == 0 ? 1 : lateInWindow / (double) sentInWindow;
      double blockedFrac = sentInWindow == 0 ? 0 : lateBlocked / (double) sentInWindow;
      double sentFrac = scheduledInWindow == 0 ? 0 : sentInWindow / (double) scheduledInWindow;
      StringBuilder why = new StringBuilder();
      if (s0.cpu[0].total() == 0) {
        why.append("no-/proc/stat,");
      }
      if (foreign0 > maxForeign) {
        why.append("foreign-cpu").append(serverCpu).append(',');
      }
      if (foreign1 > maxForeign) {
        why.append("foreign-cpu").append(loadCpu).append(',');
      }
      if (steal0 > maxSteal || steal1 > maxSteal) {
        why.append("steal,");
      }
      if (lateFrac > maxLateFrac || sentFrac < 0.99) {
        why.append("loadgen-behind,");
      }
      if (echoedAfterDrain < totalSent) {
        why.append("echo-missing,");
      }
      // not a reason to discard: the server did not keep up with the offered rate (its own cost)
      String note = blockedFrac > maxLateFrac ? "server-behind" : "-";
      long[] pct = percentiles(hist, 0.50, 0.99, 0.999, 1.0);
      String out = String.format(Locale.ROOT,
        "RESULT %s valid=%d why=%s msgs=%d wallS=%.3f rate=%.0f cpuUsPerMsg=%.4f elCpuUsPerMsg=%.4f allocBPerMsg=%.1f"
          + " gcCount=%d gcMs=%d serverCpuPct=%.1f loadCpuPct=%.1f foreign0=%.1f foreign1=%.1f steal0=%.1f steal1=%.1f"
          + " lateFrac=%.5f blockedFrac=%.5f note=%s loopGapMaxMs=%.2f loopGaps1ms=%d maxLateMs=%.2f p50us=%d p99us=%d p999us=%d maxUs=%d flatMBps=%.1f flatMsgps=%.0f"
          + " protocol=%s acks=%d",
        label, why.length() == 0 ? 1 : 0, why.length() == 0 ? "-" : why.substring(0, why.length() - 1),
        msgs, wallS, msgs / wallS,
        serverCpuNs / 1e3 / ms,
        (s1.srv.get("elCpuNs") - s0.srv.get("elCpuNs")) / 1e3 / ms,
        (s1.srv.get("elAllocBytes") - s0.srv.get("elAllocBytes")) / ms,
        (long) (s1.srv.get("gcCount") - s0.srv.get("gcCount")), (long) (s1.srv.get("gcMs") - s0.srv.get("gcMs")),
        100.0 * serverCpuNs / (wallS * 1e9), 100.0 * loadCpuNs / (wallS * 1e9),
        foreign0, foreign1, steal0, steal1, lateFrac, blockedFrac, note, maxGap / 1e6, gaps1ms, maxLate / 1e6,
        pct[0], pct[1], pct[2], pct[3], flatMBps, flatMsgps, protocol, acksSent);
      System.out.println(out);
    }
    System.exit(0);
  }

  private static long countDue(long first, long period, long from, long to) {
    // messages k >= 0 with from <= first + k*period < to
    long kFrom = from <= first ? 0 : (from - first + period - 1) / period;
    long kTo = to <= first ? 0 : (to - first + period - 1) / period;
    return Math.max(0, kTo - kFrom);
  }

  /** Reads what is ready; records the latency of each completed message scheduled in the window. */
  private static long read(Selector selector, ByteBuffer in, Conn[] cs, int size, long period, long t0, long tW,
                           long tE, long[] hist, boolean record) throws IOException {
    if (selector.selectNow() == 0) {
      return 0;
    }
    long completed = 0;
    long now = System.nanoTime();
    Iterator<SelectionKey> it = selector.selectedKeys().iterator();
    while (it.hasNext()) {
      SelectionKey k = it.next();
      it.remove();
      Conn c = (Conn) k.attachment();
      for (int reads = 0; reads < 64; reads++) {
        in.clear();
        int n = c.read(in);
        if (n <= 0) {
          if (n < 0) {
            throw new IOException("server closed a connection");
          }
          break;
        }
        if (session) {
          in.flip();
          completed += frames(c, in, size, period, t0, tW, tE, hist, record, now);
          if (n < in.capacity()) {
            break;
          }
          continue;
        }
        long before = c.recvBytes / size;
        c.recvBytes += n;
        long after = c.recvBytes / size;
        completed += after - before;
        if (record) {
          for (long m = before; m < after; m++) {
            long due = t0 + c.phase + m * period;
            if (due >= tW && due < tE) {
              long us = Math.max(0, (now - due) / 1000);
              hist[(int) Math.min(us, HIST_MAX_US)]++;
            }
          }
        }
        if (n < in.capacity()) {
          break;
        }
      }
    }
    return completed;
  }

  /**
   * Session protocol: parses the frames in {@code in} (any split), returns the DATA frames completed.
   * Keeps only the frame head (length, type, up to 24 bytes of fields); a DATA payload is skipped.
   */
  private static long frames(Conn c, ByteBuffer in, int size, long period, long t0, long tW, long tE, long[] hist,
                             boolean record, long now) throws IOException {
    long completed = 0;
    // each pass consumes at least one byte or completes a frame
    for (int guard = 0; guard <= 2 * in.capacity() + 2 && in.hasRemaining(); guard++) {
      if (c.skip > 0) {
        int n = Math.min(c.skip, in.remaining());
        in.position(in.position() + n);
        c.skip -= n;
        if (c.skip == 0) {
          completed += frameDone(c, size, period, t0, tW, tE, hist, record, now);
        }
        continue;
      }
      int want = c.frameLen < 0 ? 5 : 4 + Math.min(c.frameLen, c.hdr.length - 4);
      int n = Math.min(want - c.hdrLen, in.remaining());
      in.get(c.hdr, c.hdrLen, n);
      c.hdrLen += n;
      if (c.hdrLen < want) {
        break;
      }
      if (c.frameLen < 0) {
        int len = ((c.hdr[0] & 0xff) << 24) | ((c.hdr[1] & 0xff) << 16) | ((c.hdr[2] & 0xff) << 8) | (c.hdr[3] & 0xff);
        if (len < 1 || len > MAX_FRAME) {
          throw new IOException("bad frame length " + len);
        }
        c.frameLen = len;
        if (4 + Math.min(len, c.hdr.length - 4) > c.hdrLen) {
          continue;
        }
      }
      c.skip = c.frameLen - (c.hdrLen - 4);
      if (c.skip == 0) {
        completed += frameDone(c, size, period, t0, tW, tE, hist, record, now);
      }
    }
    // a frame cut at the end of the buffer is continued by the next read (state kept in c)
    return completed;
  }

  private static long frameDone(Conn c, int size, long period, long t0, long tW, long tE, long[] hist,
                                boolean record, long now) throws IOException {
    int len = c.frameLen;
    byte type = c.hdr[4];
    c.hdrLen = 0;
    c.frameLen = -1;
    switch (type) {
      case T_WELCOME -> {
        c.welcomed = true;
        return 0;
      }
      case T_DATA -> {
        long seq = 0;
        for (int i = 5; i < 13; i++) {
          seq = (seq << 8) | (c.hdr[i] & 0xff);
        }
        int payload = len - 9;
        if (payload != size) {
          throw new IOException("echoed DATA of " + payload + " bytes, expected " + size);
        }
        if (seq != c.lastRecvSeq + 1) {
          throw new IOException("DATA seq " + seq + " after " + c.lastRecvSeq);
        }
        c.lastRecvSeq = seq;
        if (c.unacked++ == 0) {
          c.firstUnackedAt = now;
        }
        c.recvBytes += payload;
        if (record) {
          long due = t0 + c.phase + (seq - 1) * period;
          if (due >= tW && due < tE) {
            long us = Math.max(0, (now - due) / 1000);
            hist[(int) Math.min(us, HIST_MAX_US)]++;
          }
        }
        return 1;
      }
      case T_ACK, T_PING, T_PONG -> {
        return 0;
      }
      case T_ERROR -> throw new IOException("server sent ERROR " + (((c.hdr[5] & 0xff) << 8) | (c.hdr[6] & 0xff)));
      case T_BYE -> throw new IOException("server sent BYE");
      default -> throw new IOException("unknown frame type " + type);
    }
  }

  /** Session protocol: HELLO (new session) on every connection, then waits (10 s at most) for every WELCOME. */
  private static void handshake(Selector selector, Conn[] cs, int size) throws IOException {
    for (Conn c : cs) {
      ByteBuffer hello = ByteBuffer.allocate(4 + 1 + 16 + 8);
      hello.putInt(1 + 16 + 8).put(T_HELLO).put(new byte[16]).putLong(0).flip();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (hello.hasRemaining()) {
        c.write(hello);
        if (System.nanoTime() > end) {
          throw new IOException("HELLO not written in 5 s");
        }
      }
    }
    ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int welcomed = 0;
    while (welcomed < cs.length) {
      if (System.nanoTime() > end) {
        throw new IOException("only " + welcomed + " of " + cs.length + " connections got WELCOME in 10 s");
      }
      read(selector, in, cs, size, 1, 0, 0, 0, null, false);
      welcomed = 0;
      for (Conn c : cs) {
        welcomed += c.welcomed ? 1 : 0;
      }
      LockSupport.parkNanos(200_000);
    }
  }

  private static long[] percentiles(long[] hist, double... ps) {
    long total = 0;
    for (long h : hist) {
      total += h;
    }
    long[] out = new long[ps.length];
    for (int i = 0; i < ps.length; i++) {
      long want = Math.max(1, (long) Math.ceil(ps[i] * total));
      long seen = 0;
      out[i] = -1;
      for (int us = 0; us < hist.length && total > 0; us++) {
        seen += hist[us];
        if (seen >= want) {
          out[i] = us;
          break;
        }
      }
    }
    return out;
  }

  private static final class CpuTimes {
    long user, nice, system, idle, iowait, irq, softirq, steal;

    long busy() {
      return user + nice + system + irq + softirq + steal;
    }

    long total() {
      return busy() + idle + iowait;
    }
  }

  private static final class Snap {
    Map<String, Double> srv;
    CpuTimes[] cpu;
    long ownCpuNs;
    long wallNs;
    long sent;
    long recv;
  }

  private static Snap snap(BufferedReader cin, Writer cout, int cpuA, int cpuB, long sent, long recv) throws IOException {
    Snap s = new Snap();
    s.cpu = new CpuTimes[] {cpu(cpuA), cpu(cpuB)};
    s.ownCpuNs = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    s.wallNs = System.nanoTime();
    cout.write("snap\n");
    cout.flush();
    String line = cin.readLine();
    if (line == null || !line.startsWith("SNAP ")) {
      throw new IOException("bad control answer: " + line);
    }
    s.srv = new HashMap<>();
    for (String kv : line.substring(5).trim().split(" ")) {
      int eq = kv.indexOf('=');
      s.srv.put(kv.substring(0, eq), Double.parseDouble(kv.substring(eq + 1)));
    }
    s.sent = sent;
    s.recv = recv;
    return s;
  }

  private static CpuTimes cpu(int n) {
    CpuTimes t = new CpuTimes();
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/stat"));
      for (String l : lines) {
        if (l.startsWith("cpu" + n + " ")) {
          String[] f = l.trim().split("\\s+");
          t.user = Long.parseLong(f[1]);
          t.nice = Long.parseLong(f[2]);
          t.system = Long.parseLong(f[3]);
          t.idle = Long.parseLong(f[4]);
          t.iowait = Long.parseLong(f[5]);
          t.irq = Long.parseLong(f[6]);
          t.softirq = Long.parseLong(f[7]);
          t.steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: no disturbance figures, the trial is marked
    }
    return t;
  }

  private static long sec(double s) {
    return (long) (s * 1e9);
  }

  private static String req(Map<String, String> a, String k) {
    String v = a.get(k);
    if (v == null) {
      System.err.println("LoadGen: --" + k + " is required");
      System.exit(2);
    }
    return v;
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String k = args[i];
      if (!k.startsWith("--")) {
        System.err.println("LoadGen: unexpected argument " + k);
        System.exit(2);
      }
      k = k.substring(2);
      if (k.equals("quit")) {
        m.put(k, "true");
      } else if (i + 1 < args.length) {
        m.put(k, args[++i]);
      }
    }
    return m;
  }
}
