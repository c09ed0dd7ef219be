package dev.tether.tools;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A seeded fuzzer for the session protocol server. Input {@code i} of seed {@code s} is always the same
 * bytes ({@link #generate}): a valid session stream (HELLO, DATA, ACK, PING, BYE) mutated one to three
 * times (bit flips, truncation, length fields set huge/negative/zero/off by one, duplicated, reordered
 * or dropped frames, unknown or server-only types, bad seqs, inserted garbage), or plain random bytes, or
 * now and then the valid stream untouched. Each input goes on a fresh connection, in one write or in
 * several ("several inputs on one connection": the decoder must reassemble), then either the client
 * half-closes (FIN) or, for a few, holds the connection open and waits for the server to end it by
 * itself (hello or idle time-out).
 *
 * <p>Every outcome is classified ({@link Outcome}): an ERROR frame then a close, a valid reply then a
 * close, a plain close, a reset. Violations: a connection open and silent past the deadline
 * ({@code STUCK}), a reply that is not a well-formed server frame sequence ({@code BAD_REPLY}: garbage,
 * a client-only frame type, a frame after ERROR, an incomplete frame before a clean end), a refused
 * connection, or the periodic good session ({@link #goodSession}) not echoed exactly.
 *
 * <p>Threads: inputs run on a fixed pool of blocking workers; counters are atomic; nothing else is
 * shared.
 */
public final class Fuzz {

  // frame types (docs/protocol.md); duplicated here so the tool does not need the library's internals
  static final byte HELLO = 1;
  static final byte WELCOME = 2;
  static final byte DATA = 3;
  static final byte ACK = 4;
  static final byte PING = 5;
  static final byte PONG = 6;
  static final byte ERROR = 7;
  static final byte BYE = 8;

  /** How one input ended. The first four are acceptable; the rest are violations. */
  public enum Outcome {
    /** The server sent an ERROR frame (last) and closed. */
    ERROR_CLOSE,
    /** The server sent only valid frames (WELCOME, DATA, ACK, PONG, BYE) and closed after our FIN or by itself. */
    REPLY_CLOSE,
    /** The server closed without sending anything. */
    CLOSE,
    /** The connection was reset (RST), possibly after some valid frames. */
    RESET,
    /** Open and silent past the deadline. */
    STUCK,
    /** Bytes from the server that are not a well-formed sequence of server frames. */
    BAD_REPLY,
    /** Could not connect. */
    CONNECT_FAILED;

    public boolean violation() {
      return ordinal() >= STUCK.ordinal();
    }
  }

  /** One generated input: its bytes, where to split the writes, whether to hold the connection open. */
  public record Input(long index, String kind, byte[] bytes, int[] splits, boolean holdOpen) {
  }

  /** What one input produced. */
  public record Result(Outcome outcome, int errorCode, int frames, String detail) {
  }

  private Fuzz() {
  }

  // ---------------------------------------------------------------------------------------------
  // Generation

  /** The input {@code index} of {@code seed}: deterministic. */
  public static Input generate(long seed, long index, int maxFrameBytes) {
    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + 1);
    int pick = r.nextInt(100);
    String kind;
    byte[] bytes;
    if (pick < 12) {
      kind = "random";
      bytes = new byte[r.nextInt(pick < 3 ? 8 : 2048)];
      r.nextBytes(bytes);
    } else if (pick < 17) {
      kind = "valid";
      bytes = concat(validStream(r, maxFrameBytes));
    } else {
      List<byte[]> frames = validStream(r, maxFrameBytes);
      StringBuilder k = new StringBuilder();
      int n = 1 + r.nextInt(3);
      for (int i = 0; i < n; i++) {
        k.append(i == 0 ? "" : "+").append(mutate(r, frames, maxFrameBytes));
      }
      bytes = concat(frames);
      // some byte-level mutations after framing
      if (r.nextInt(5) == 0) {
        k.append("+").append(byteMutation(r, bytes));
      }
      if (r.nextInt(10) == 0) {
        bytes = Arrays.copyOf(bytes, bytes.length == 0 ? 0 : r.nextInt(bytes.length));
        k.append("+truncate");
      }
      kind = k.toString();
    }
    int[] splits = new int[0];
    if (bytes.length > 1 && r.nextInt(4) == 0) {
      splits = r.ints(1 + r.nextInt(6), 1, bytes.length).sorted().distinct().toArray();
    }
    boolean holdOpen = r.nextInt(40) == 0;
    return new Input(index, kind, bytes, splits, holdOpen);
  }

  /** HELLO (new session, or a resume of a random id), DATA 1..n, ACKs, PINGs, sometimes BYE. */
  static List<byte[]> validStream(SplittableRandom r, int maxFrameBytes) {
    List<byte[]> frames = new ArrayList<>();
    byte[] id = new byte[16];
    if (r.nextInt(10) == 0) {
      r.nextBytes(id); // a resume of a session this server never knew: ERROR 200
    }
    frames.add(ByteBuffer.allocate(4 + 25).putInt(25).put(HELLO).put(id).putLong(0).array());
    int n = r.nextInt(8);
    for (int s = 1; s <= n; s++) {
      byte[] payload = new byte[r.nextInt(r.nextInt(20) == 0 ? Math.min(maxFrameBytes - 9, 70_000) : 200)];
      r.nextBytes(payload);
      frames.add(ByteBuffer.allocate(13 + payload.length).putInt(9 + payload.length).put(DATA).putLong(s).put(payload)
        .array());
      if (r.nextInt(4) == 0) {
        frames.add(longFrame(PING, r.nextLong()));
      }
      if (r.nextInt(4) == 0) {
        frames.add(longFrame(ACK, 0)); // the server may not have sent anything yet: 0 is always valid
      }
    }
    if (r.nextInt(5) == 0) {
      frames.add(new byte[] {0, 0, 0, 1, BYE});
    }
    return frames;
  }

  static byte[] longFrame(byte type, long v) {
    return ByteBuffer.allocate(13).putInt(9).put(type).putLong(v).array();
  }

  /** One frame-level mutation of {@code frames}, in place; returns its name. */
  static String mutate(SplittableRandom r, List<byte[]> frames, int maxFrameBytes) {
    int i = r.nextInt(frames.size());
    byte[] f = frames.get(i);
    switch (r.nextInt(11)) {
      case 0 -> {
        if (f.length < 4) {
          return "length-skipped";
        }
        int[] lengths = {Integer.MAX_VALUE, maxFrameBytes + 1, -1, Integer.MIN_VALUE, 0, f.length - 4 + 1,
          f.length - 4 - 1, 1, r.nextInt()};
        ByteBuffer.wrap(f).putInt(0, lengths[r.nextInt(lengths.length)]);
        return "length";
      }
      case 1 -> {
        byte[] types = {0, 9, 0x42, (byte) 0xff, WELCOME, PONG, ERROR, HELLO, DATA, ACK, PING, BYE};
        if (f.length > 4) {
          f[4] = types[r.nextInt(types.length)];
        }
        return "type";
      }
      case 2 -> {
        frames.add(i, f.clone());
        return "duplicate";
      }
      case 3 -> {
        int j = r.nextInt(frames.size());
        frames.set(i, frames.get(j));
        frames.set(j, f);
        return "reorder";
      }
      case 4 -> {
        if (frames.size() > 1) {
          frames.remove(i);
        }
        return "drop";
      }
      case 5 -> {
        // a bad seq in a DATA or ACK (or the HELLO's last-received)
        long[] seqs = {0, -1, Long.MAX_VALUE, Long.MIN_VALUE, 2, 1_000_000, r.nextLong()};
        int at = f.length >= 29 && f[4] == HELLO ? 21 : 5;
        if (f.length >= at + 8) {
          ByteBuffer.wrap(f).putLong(at, seqs[r.nextInt(seqs.length)]);
        }
        return "seq";
      }
      case 6 -> {
        byte[] junk = new byte[1 + r.nextInt(64)];
        r.nextBytes(junk);
        frames.add(r.nextInt(frames.size() + 1), junk);
        return "insert";
      }
      case 7 -> {
        frames.set(i, Arrays.copyOf(f, r.nextInt(f.length + 1)));
        return "shorten";
      }
      case 8 -> {
        // a frame longer than its type allows, with a consistent length field
        byte[] g = Arrays.copyOf(f, Math.max(5, f.length + 1 + r.nextInt(16)));
        ByteBuffer.wrap(g).putInt(0, g.length - 4);
        frames.set(i, g);
        return "lengthen";
      }
      case 9 -> {
        // a huge length with little behind it (a peer announcing more than it sends)
        frames.add(ByteBuffer.allocate(5).putInt(maxFrameBytes - r.nextInt(16)).put(DATA).array());
        return "announce";
      }
      default -> {
        frames.add(r.nextInt(frames.size() + 1), longFrame(r.nextBoolean() ? WELCOME : ERROR, r.nextLong()));
        return "server-type";
      }
    }
  }

  /** Bit flips or random byte overwrites; returns its name. */
  static String byteMutation(SplittableRandom r, byte[] bytes) {
    if (bytes.length == 0) {
      return "none";
    }
    int n = 1 + r.nextInt(4);
    for (int k = 0; k < n; k++) {
      int at = r.nextInt(bytes.length);
      if (r.nextBoolean()) {
        bytes[at] ^= (byte) (1 << r.nextInt(8));
      } else {
        bytes[at] = (byte) r.nextInt(256);
      }
    }
    return "bitflip";
  }

  static byte[] concat(List<byte[]> parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] out = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Sending and classifying

  /**
   * Sends {@code in} on a fresh connection and classifies what comes back. Blocking; {@code deadlineMs}
   * bounds the whole exchange.
   */
  public static Result send(String host, int port, Input in, int deadlineMs) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMs);
    byte[] reply = new byte[0];
    int got = 0;
    try (Socket s = new Socket()) {
      s.setTcpNoDelay(true);
      try {
        s.connect(new InetSocketAddress(host, port), deadlineMs);
      } catch (ConnectException e) {
        return new Result(Outcome.CONNECT_FAILED, -1, 0, e.getMessage());
      }
      OutputStream out = s.getOutputStream();
      InputStream inp = s.getInputStream();
      boolean writeFailed = false;
      try {
        int from = 0;
        for (int cut : in.splits()) {
          out.write(in.bytes(), from, cut - from);
          out.flush();
          from = cut;
        }
        out.write(in.bytes(), from, in.bytes().length - from);
        out.flush();
        if (!in.holdOpen()) {
          s.shutdownOutput();
        }
      } catch (SocketException e) {
        writeFailed = true; // the server closed or reset while we wrote: read what it said before
      }
      reply = new byte[4096];
      while (true) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return classify(Arrays.copyOf(reply, got), Outcome.STUCK, in);
        }
        s.setSoTimeout((int) Math.max(1, left));
        int n;
        try {
          n = inp.read(reply, got, reply.length - got);
        } catch (SocketTimeoutException e) {
          return classify(Arrays.copyOf(reply, got), Outcome.STUCK, in);
        } catch (SocketException e) {
          return classify(Arrays.copyOf(reply, got), Outcome.RESET, in);
        }
        if (n < 0) {
          return classify(Arrays.copyOf(reply, got), writeFailed ? Outcome.RESET : null, in);
        }
        got += n;
        if (got == reply.length) {
          if (reply.length >= (4 << 20)) {
            return new Result(Outcome.BAD_REPLY, -1, 0, "more than 4 MiB of reply");
          }
          reply = Arrays.copyOf(reply, reply.length * 2);
        }
      }
    } catch (IOException e) {
      return classify(Arrays.copyOf(reply, got), Outcome.RESET, in);
    }
  }

  /**
   * Classifies the bytes the server sent before the connection ended as {@code end} (null: a clean
   * end-of-stream). Every byte must form a well-formed server frame; an ERROR must be the last frame.
   */
  static Result classify(byte[] reply, Outcome end, Input in) {
    ByteBuffer b = ByteBuffer.wrap(reply);
    int frames = 0;
    int errorCode = -1;
    while (b.remaining() >= 4) {
      int len = b.getInt(b.position());
      if (len < 1 || len > (1 << 20) + 9) {
        return new Result(Outcome.BAD_REPLY, errorCode, frames, "bad length " + len + " at " + b.position());
      }
      if (b.remaining() < 4 + len) {
        break;
      }
      byte type = b.get(b.position() + 4);
      if (errorCode != -1) {
        return new Result(Outcome.BAD_REPLY, errorCode, frames, "frame type " + type + " after ERROR " + errorCode);
      }
      boolean sizeOk = switch (type) {
        case WELCOME -> len == 25;
        case ACK, PONG -> len == 9;
        case DATA -> len >= 9;
        case ERROR -> len >= 3 && len <= 3 + 1000;
        case BYE -> len == 1;
        default -> false;
      };
      if (!sizeOk) {
        return new Result(Outcome.BAD_REPLY, errorCode, frames, "server frame type " + type + " of " + len + " bytes");
      }
      if (type == ERROR) {
        errorCode = b.getShort(b.position() + 5) & 0xffff;
      }
      frames++;
      b.position(b.position() + 4 + len);
    }
    if (b.remaining() > 0 && end == null) {
      return new Result(Outcome.BAD_REPLY, errorCode, frames, b.remaining() + " bytes of an incomplete frame before FIN");
    }
    if (end == Outcome.STUCK) {
      return new Result(Outcome.STUCK, errorCode, frames, "open and silent after " + frames + " frames ("
        + (in.holdOpen() ? "held open" : "after FIN") + ")");
    }
    if (end == Outcome.RESET) {
      return new Result(Outcome.RESET, errorCode, frames, "");
    }
    if (errorCode != -1) {
      return new Result(Outcome.ERROR_CLOSE, errorCode, frames, "");
    }
    return new Result(frames > 0 ? Outcome.REPLY_CLOSE : Outcome.CLOSE, -1, frames, "");
  }

  /**
   * A good session on a fresh connection: HELLO, {@code n} DATA, each echoed exactly (seq and bytes),
   * then ACK and BYE answered by BYE and a close. Returns null when all is well, else what went wrong.
   */
  public static String goodSession(String host, int port, long seed, int n, int timeoutMs) {
    SplittableRandom r = new SplittableRandom(seed);
    List<byte[]> sent = new ArrayList<>();
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), timeoutMs);
      s.setSoTimeout(timeoutMs);
      s.setTcpNoDelay(true);
      OutputStream out = s.getOutputStream();
      java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
      out.write(ByteBuffer.allocate(29).putInt(25).put(HELLO).put(new byte[16]).putLong(0).array());
      for (int i = 1; i <= n; i++) {
        byte[] p = new byte[1 + r.nextInt(300)];
        r.nextBytes(p);
        sent.add(p);
        out.write(ByteBuffer.allocate(13 + p.length).putInt(9 + p.length).put(DATA).putLong(i).put(p).array());
      }
      out.flush();
      int echoed = 0;
      boolean welcomed = false;
      while (echoed < n) {
        int len = in.readInt();
        if (len < 1 || len > (1 << 20) + 9) {
          return "good session: bad frame length " + len;
        }
        byte[] body = new byte[len];
        in.readFully(body);
        switch (body[0]) {
          case WELCOME -> welcomed = true;
          case DATA -> {
            long seq = ByteBuffer.wrap(body).getLong(1);
            byte[] p = Arrays.copyOfRange(body, 9, body.length);
            if (!welcomed || seq != echoed + 1 || !Arrays.equals(p, sent.get(echoed))) {
              return "good session: echo " + (echoed + 1) + " wrong (seq " + seq + ", " + p.length + " bytes, welcomed "
                + welcomed + ")";
            }
            echoed++;
          }
          case ACK, PONG -> { }
          default -> {
            return "good session: unexpected frame type " + body[0] + (body[0] == ERROR && len >= 3
              ? " code " + (ByteBuffer.wrap(body).getShort(1) & 0xffff) + " "
              + new String(body, 3, len - 3, StandardCharsets.UTF_8) : "");
          }
        }
      }
      out.write(longFrame(ACK, n));
      out.write(new byte[] {0, 0, 0, 1, BYE});
      out.flush();
      while (true) {
        int len = in.readInt();
        byte[] body = new byte[len];
        in.readFully(body);
        if (body[0] == BYE) {
          return in.read() == -1 ? null : "good session: bytes after BYE";
        }
        if (body[0] != ACK && body[0] != PONG) {
          return "good session: unexpected frame type " + body[0] + " before BYE";
        }
      }
    } catch (IOException e) {
      return "good session: " + e;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // A run

  /** What to run. */
  public record Options(String host, int port, long inputs, long seed, int concurrency, int deadlineMs,
                        int holdOpenDeadlineMs, int maxFrameBytes, long goodEvery) {
  }

  /** The counts of a run. */
  public static final class Report {
    public final Map<Outcome, LongAdder> outcomes = new EnumMap<>(Outcome.class);
    public final Map<Integer, LongAdder> errorCodes = new ConcurrentHashMap<>();
    public final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
    public final AtomicLong violationCount = new AtomicLong();
    public final LongAdder bytesSent = new LongAdder();
    public final LongAdder goodSessions = new LongAdder();
    public final LongAdder goodSessionFailures = new LongAdder();
    public long inputs;
    public long elapsedMs;

    Report() {
      for (Outcome o : Outcome.values()) {
        outcomes.put(o, new LongAdder());
      }
    }

    public long count(Outcome o) {
      return outcomes.get(o).sum();
    }

    void violation(String v) {
      if (violationCount.incrementAndGet() <= 50) {
        violations.add(v);
      }
    }

    public boolean clean() {
      return violationCount.get() == 0;
    }

    public double inputsPerSecond() {
      return elapsedMs == 0 ? 0 : inputs * 1000.0 / elapsedMs;
    }

    /** The outcome table, one line each. */
    public String table() {
      StringBuilder sb = new StringBuilder();
      sb.append(String.format("%-16s %10s%n", "outcome", "inputs"));
      for (Outcome o : Outcome.values()) {
        sb.append(String.format("%-16s %10d%s%n", o, count(o), o.violation() && count(o) > 0 ? "   VIOLATION" : ""));
      }
      sb.append("ERROR codes: ").append(new TreeMap<>(errorCodes).toString().replaceAll("=", ": ")).append('\n');
      sb.append(String.format("good sessions: %d, failed: %d%n", goodSessions.sum(), goodSessionFailures.sum()));
      return sb.toString();
    }
  }

  /** Runs {@code o.inputs()} inputs with {@code o.concurrency()} workers; a good session every {@code goodEvery}. */
  public static Report run(Options o, java.util.function.LongConsumer progress) throws InterruptedException {
    Report rep = new Report();
    AtomicLong next = new AtomicLong();
    long start = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(o.concurrency(), r -> {
      Thread t = new Thread(r, "fuzz");
      t.setDaemon(true);
      return t;
    });
    for (int w = 0; w < o.concurrency(); w++) {
      pool.execute(() -> {
        long i;
        while ((i = next.getAndIncrement()) < o.inputs()) {
          Input in;
          Result res;
          try {
            in = generate(o.seed(), i, o.maxFrameBytes());
            res = send(o.host(), o.port(), in, in.holdOpen() ? o.holdOpenDeadlineMs() : o.deadlineMs());
          } catch (RuntimeException e) {
            rep.violation("input " + i + " (seed " + o.seed() + "): the fuzzer itself failed: " + e);
            continue;
          }
          rep.outcomes.get(res.outcome()).increment();
          rep.bytesSent.add(in.bytes().length);
          if (res.errorCode() >= 0) {
            rep.errorCodes.computeIfAbsent(res.errorCode(), k -> new LongAdder()).increment();
          }
          if (res.outcome().violation()) {
            rep.violation("input " + i + " (seed " + o.seed() + ", " + in.kind() + ", " + in.bytes().length + " bytes"
              + (in.holdOpen() ? ", held open" : "") + "): " + res.outcome() + " " + res.detail());
          }
          if (o.goodEvery() > 0 && i % o.goodEvery() == 0) {
            String bad = goodSession(o.host(), o.port(), o.seed() ^ i, 20, o.deadlineMs());
            rep.goodSessions.increment();
            if (bad != null) {
              rep.goodSessionFailures.increment();
              rep.violation("after input " + i + ": " + bad);
            }
          }
          if (progress != null) {
            progress.accept(i);
          }
        }
      });
    }
    pool.shutdown();
    while (!pool.awaitTermination(1, TimeUnit.SECONDS)) {
      if (progress != null) {
        progress.accept(-1);
      }
    }
    rep.inputs = o.inputs();
    rep.elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    String bad = goodSession(o.host(), o.port(), o.seed(), 50, o.deadlineMs());
    rep.goodSessions.increment();
    if (bad != null) {
      rep.goodSessionFailures.increment();
      rep.violation("after the run: " + bad);
    }
    return rep;
  }

  // ---------------------------------------------------------------------------------------------
  // Node checks (scripts/fuzz.sh)

  /** Lines of a node's log that show an exception escaping to Netty or a stack trace. */
  public static List<String> escapes(Path log) throws IOException {
    List<String> out = new ArrayList<>();
    if (log == null || !Files.exists(log)) {
      return out;
    }
    for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
      if (line.contains("reached at the tail of the pipeline") || line.contains("exceptionCaught")
        || line.startsWith("\tat ") || line.matches("^\\S+ \\S+ ERROR .*")) {
        out.add(line);
        if (out.size() >= 20) {
          break;
        }
      }
    }
    return out;
  }

  /** The node's heap in use (bytes) from its /metrics, after asking it to collect garbage (jcmd), or -1. */
  public static long heapAfterGc(HttpClient http, String host, int httpPort, long pid) {
    if (pid > 0) {
      try {
        Process p = new ProcessBuilder("jcmd", Long.toString(pid), "GC.run").redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (IOException | InterruptedException e) {
        // no jcmd: the figure is then whatever the heap holds
      }
    }
    return metricSum(http, host, httpPort, "jvm_memory_used_bytes", "area=\"heap\"");
  }

  /** The sum of a Prometheus metric's samples whose labels contain {@code labelFilter}, or -1. */
  public static long metricSum(HttpClient http, String host, int httpPort, String name, String labelFilter) {
    try {
      HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + httpPort + "/metrics"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      return metricSum(resp.body(), name, labelFilter);
    } catch (IOException | InterruptedException e) {
      return -1;
    }
  }

  static long metricSum(String text, String name, String labelFilter) {
    double sum = 0;
    boolean found = false;
    for (String line : text.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        if (labelFilter != null && !line.contains(labelFilter)) {
          continue;
        }
        String[] p = line.trim().split(" ");
        sum += Double.parseDouble(p[p.length - 1]);
        found = true;
      }
    }
    return found ? (long) sum : -1;
  }

  // ---------------------------------------------------------------------------------------------

  static final String USAGE = """
    usage: Fuzz --port P [--host 127.0.0.1] [--inputs 100000] [--seed 1] [--concurrency 32]
                [--deadline-ms 5000] [--hold-open-deadline-ms 8000] [--max-frame-bytes 1048576]
                [--good-every 1000] [--http-port H] [--pid PID] [--node-log FILE] [--max-heap-growth-mb 64]
    Sends seeded mutated and random session-protocol inputs to a running session server, one connection
    each, classifies the outcomes and exits 1 on a violation (stuck connection, bad reply, good session
    not echoed, an exception in the node's log, heap growth over the bound after a GC).""";

  public static void main(String[] argv) throws Exception {
    Args a;
    try {
      a = new Args(argv, Set.of("host", "port", "inputs", "seed", "concurrency", "deadline-ms", "hold-open-deadline-ms",
        "max-frame-bytes", "good-every", "http-port", "pid", "node-log", "max-heap-growth-mb"), USAGE);
      if (a.number("port", -1) < 0) {
        throw new Args.UsageException("--port is required\n" + USAGE);
      }
    } catch (Args.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    String host = a.string("host", "127.0.0.1");
    Options o = new Options(host, (int) a.number("port", -1), a.number("inputs", 100_000), a.number("seed", 1),
      (int) a.number("concurrency", 32), (int) a.number("deadline-ms", 5000), (int) a.number("hold-open-deadline-ms", 8000),
      (int) a.number("max-frame-bytes", 1 << 20), a.number("good-every", 1000));
    int httpPort = (int) a.number("http-port", -1);
    long pid = a.number("pid", -1);
    Path log = a.string("node-log", null) == null ? null : Path.of(a.string("node-log", null));
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    // warm up with a few hundred inputs so the baseline heap includes loaded classes and JIT state
    long warm = Math.min(2000, o.inputs() / 10);
    if (warm > 0) {
      run(new Options(host, o.port(), warm, o.seed() + 1_000_003, o.concurrency(), o.deadlineMs(), o.holdOpenDeadlineMs(),
        o.maxFrameBytes(), 0), null);
    }
    long heapBefore = httpPort > 0 ? heapAfterGc(http, host, httpPort, pid) : -1;
    System.out.printf("fuzz: %,d inputs, seed %d, %d connections at once, against %s:%d%n", o.inputs(), o.seed(),
      o.concurrency(), host, o.port());
    AtomicLong lastPrint = new AtomicLong(System.nanoTime());
    AtomicLong done = new AtomicLong();
    long t0 = System.nanoTime();
    Report rep = run(o, i -> {
      if (i >= 0) {
        done.incrementAndGet();
      }
      long now = System.nanoTime();
      long last = lastPrint.get();
      if (now - last > TimeUnit.SECONDS.toNanos(5) && lastPrint.compareAndSet(last, now)) {
        System.out.printf("  %,d inputs, %.0f/s%n", done.get(), done.get() * 1e9 / (now - t0));
      }
    });
    System.out.println();
    System.out.print(rep.table());
    System.out.printf("inputs: %,d in %.1f s = %,.0f inputs/s (%,d bytes sent)%n", rep.inputs, rep.elapsedMs / 1000.0,
      rep.inputsPerSecond(), rep.bytesSent.sum());
    List<String> problems = new ArrayList<>(rep.violations);
    if (rep.violationCount.get() > rep.violations.size()) {
      problems.add("... " + (rep.violationCount.get() - rep.violations.size()) + " more violations");
    }
    if (httpPort > 0) {
      // sessions opened by the inputs expire after the node's sessionTtlMs; give them time, then measure
      long connections = -1;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < until) {
        connections = metricSum(http, host, httpPort, "tether_connections", null);
        if (connections == 0) {
          break;
        }
        Thread.sleep(200); // polling a remote node: no event to wait on
      }
      System.out.printf("open tracked connections after the run: %d%n", connections);
      if (connections != 0) {
        problems.add("tracked connections still open after the run: " + connections);
      }
      long heapAfter = heapAfterGc(http, host, httpPort, pid);
      long bound = a.number("max-heap-growth-mb", 64) << 20;
      System.out.printf("node heap after GC: before %,d B, after %,d B, growth %,d B (bound %,d B)%n", heapBefore,
        heapAfter, heapAfter - heapBefore, bound);
      if (heapBefore > 0 && heapAfter > 0 && heapAfter - heapBefore > bound) {
        problems.add("heap grew by " + (heapAfter - heapBefore) + " bytes");
      }
    }
    List<String> escapes = escapes(log);
    System.out.printf("exceptions in the node's log: %d%n", escapes.size());
    for (String e : escapes) {
      problems.add("node log: " + e);
    }
    if (problems.isEmpty()) {
      System.out.println("verdict: PASS");
      System.exit(0);
    }
    System.out.println("verdict: FAIL");
    for (String p : problems) {
      System.out.println("  " + p);
    }
    System.exit(1);
  }
}
