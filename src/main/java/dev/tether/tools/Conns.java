package dev.tether.tools;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Holds many idle connections on an echo server and measures, from outside the server's process,
 * what each one costs it in heap. The tool behind {@code scripts/conns.sh}.
 *
 * <ol>
 *   <li>With {@code --pid}: a class histogram of the server ({@code jcmd PID GC.class_histogram},
 *       which runs a full GC first and counts live objects only) before any connection.</li>
 *   <li>Opens {@code --conns} connections in batches (connect every one of a batch, write a small
 *       message on each, read every echo back byte for byte), from source addresses
 *       {@code 127.0.0.1 .. 127.0.0.<sources>} in turn, so more than one source address's ephemeral
 *       ports can be used.</li>
 *   <li>Checks that echo is still served on a sample of the idle connections, then takes the second
 *       histogram: {@code (heap(N) - heap(0)) / N} is the live heap per idle connection after one
 *       echo, and the classes whose bytes grew most say what it is made of.</li>
 *   <li>Optionally holds them {@code --hold-s} seconds, echoing on a sample every second (echo must be
 *       served throughout), then closes them all and takes a third histogram (what is left behind).</li>
 * </ol>
 *
 * Prints one {@code CONNS} summary line (key=value) for scripts, the table of classes, and exits 0
 * when every connection was opened and echoed, 1 otherwise, 2 on a usage error. Connections use
 * blocking NIO channels on the main thread only (no thread per connection), so the client costs one
 * descriptor and a few hundred bytes of its own heap per connection.
 */
public final class Conns {

  static final String USAGE = """
    usage: conns --port P [--host 127.0.0.1] [--conns 1000] [--sources 1] [--size 32] [--batch 256]
                 [--pid SERVER_PID] [--sample 200] [--hold-s 0] [--top 15] [--label TEXT] [--timeout-s 20]
      --sources K   bind connection i to 127.0.0.(1 + i % K): K source addresses, ~28k ports each
      --pid PID     measure the server's live heap out of process with jcmd (full GC + class histogram)
      --sample M    connections echoed again after all are open (and every second while holding)
      --health URL  the node's /health: its echo server's connection count is read at N and after closing""";

  private static final Pattern HISTO = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)");
  private static final Pattern TOTAL = Pattern.compile("^Total\\s+(\\d+)\\s+(\\d+)");

  private Conns() {
  }

  /** Live heap of a process: total bytes and instances, and bytes/instances per class. */
  record Histogram(long bytes, long instances, Map<String, long[]> classes) {
  }

  public static void main(String[] argv) throws Exception {
    if (argv.length == 1 && argv[0].equals("--free-port")) {
      try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        System.out.println(s.getLocalPort());
      }
      return;
    }
    Args a;
    try {
      a = new Args(argv, Set.of("port", "host", "conns", "sources", "size", "batch", "pid", "sample", "hold-s",
        "top", "label", "timeout-s", "health"), USAGE);
      if (a.number("port", 0) <= 0) {
        throw new Args.UsageException("--port is required\n" + USAGE);
      }
    } catch (Args.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    String host = a.string("host", "127.0.0.1");
    int port = (int) a.number("port", 0);
    int n = (int) a.number("conns", 1000);
    int sources = (int) a.number("sources", 1);
    int size = (int) a.number("size", 32);
    int batch = (int) a.number("batch", 256);
    long pid = a.number("pid", 0);
    int sample = (int) a.number("sample", 200);
    long holdS = a.number("hold-s", 0);
    int top = (int) a.number("top", 15);
    String label = a.string("label", "");
    String health = a.string("health", null);
    int timeoutMs = (int) TimeUnit.SECONDS.toMillis(a.number("timeout-s", 20));
    if (n < 1 || sources < 1 || sources > 250 || size < 1 || size > 65536 || batch < 1) {
      System.err.println("out of range: conns >= 1, sources 1..250, size 1..65536, batch >= 1\n" + USAGE);
      System.exit(2);
      return;
    }

    Histogram h0 = pid > 0 ? histogram(pid) : null;
    long rss0 = pid > 0 ? rssKb(pid) : -1;
    if (h0 != null) {
      log("server pid %d: %,d B live heap in %,d objects before any connection, RSS %,d KiB", pid, h0.bytes,
        h0.instances, rss0);
    }

    List<SocketChannel> open = new ArrayList<>(n);
    long t0 = System.nanoTime();
    int failed = 0;
    String firstError = null;
    try {
      for (int from = 0; from < n; from += batch) {
        int to = Math.min(n, from + batch);
        List<SocketChannel> fresh = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
          try {
            SocketChannel ch = SocketChannel.open();
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (sources > 1) {
              ch.bind(new InetSocketAddress("127.0.0." + (1 + i % sources), 0));
            }
            ch.connect(new InetSocketAddress(host, port));
            ch.socket().setSoTimeout(timeoutMs);
            fresh.add(ch);
          } catch (IOException e) {
            failed++;
            if (firstError == null) {
              firstError = "connect " + i + ": " + e;
            }
          }
        }
        // one echo on each connection of the batch: all written first, then all read back
        for (int k = 0; k < fresh.size(); k++) {
          write(fresh.get(k), message(from + k, size));
        }
        for (int k = 0; k < fresh.size(); k++) {
          SocketChannel ch = fresh.get(k);
          try {
            expect(ch, message(from + k, size), timeoutMs);
            open.add(ch);
          } catch (IOException e) {
            failed++;
            if (firstError == null) {
              firstError = "echo " + (from + k) + ": " + e;
            }
            ch.close();
          }
        }
        if (failed > 0) {
          break;
        }
        if ((to / batch) % 20 == 0 || to == n) {
          log("%,d connections open and echoed (%.1f s)", open.size(), (System.nanoTime() - t0) / 1e9);
        }
      }
      double openS = (System.nanoTime() - t0) / 1e9;
      if (failed > 0) {
        log("FAILED after %,d connections: %s", open.size(), firstError);
      }
      int sampleFailed = echoSample(open, sample, size, timeoutMs, 1);
      long healthN = health == null ? -1 : healthConnections(health);
      Histogram hN = pid > 0 ? histogram(pid) : null;
      long rssN = pid > 0 ? rssKb(pid) : -1;
      int sampleAfter = echoSample(open, sample, size, timeoutMs, 2);
      sampleFailed += sampleAfter;
      // for a caller that watches the server while the connections are held (ConnectionsIT)
      System.out.println("OPEN opened=" + open.size() + " failed=" + failed + " sampleFailed=" + sampleFailed
        + (health == null ? "" : " healthConns=" + healthN) + (holdS > 0 ? " holding=" + holdS + "s" : ""));
      System.out.flush();
      // hold: echo on a fresh sample every second, so "served throughout" is checked, not assumed
      long holdEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(holdS);
      int round = 3;
      while (System.nanoTime() < holdEnd) {
        Thread.sleep(1000);
        sampleFailed += echoSample(open, sample, size, timeoutMs, round++);
      }
      int held = open.size();
      for (SocketChannel ch : open) {
        ch.close();
      }
      open.clear();
      Histogram hClosed = null;
      if (pid > 0 || health != null) {
        // the server sees the closes asynchronously: give it a moment before the last histogram
        Thread.sleep(2000);
      }
      long healthClosed = health == null ? -1 : healthConnections(health);
      if (pid > 0) {
        hClosed = histogram(pid);
      }

      StringBuilder line = new StringBuilder("CONNS ").append(label.isBlank() ? "" : label + " ")
        .append("conns=").append(n).append(" opened=").append(held).append(" failed=").append(failed)
        .append(" sampleFailed=").append(sampleFailed).append(" openS=").append(String.format(Locale.ROOT, "%.1f", openS))
        .append(" sources=").append(sources).append(" size=").append(size);
      if (h0 != null && hN != null && held > 0) {
        long delta = hN.bytes - h0.bytes;
        line.append(" heap0=").append(h0.bytes).append(" heapN=").append(hN.bytes)
          .append(" heapPerConn=").append(delta / held)
          .append(" objectsPerConn=").append(String.format(Locale.ROOT, "%.1f", (hN.instances - h0.instances) / (double) held))
          .append(" rssPerConnKiB=").append(String.format(Locale.ROOT, "%.2f", (rssN - rss0) / (double) held));
        if (hClosed != null) {
          line.append(" heapClosed=").append(hClosed.bytes)
            .append(" leftPerConn=").append((hClosed.bytes - h0.bytes) / held);
        }
      }
      if (health != null) {
        line.append(" healthConns=").append(healthN).append(" healthConnsClosed=").append(healthClosed);
      }
      if (firstError != null) {
        line.append(" error=\"").append(firstError.replace('"', '\'')).append('"');
      }
      System.out.println(line);
      if (h0 != null && hN != null && held > 0) {
        printTop(h0, hN, held, top);
      }
      System.exit(failed == 0 && sampleFailed == 0 && held == n ? 0 : 1);
    } finally {
      for (SocketChannel ch : open) {
        try {
          ch.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }
  }

  /** Echoes on {@code sample} connections spread over all of them; returns how many failed. */
  private static int echoSample(List<SocketChannel> open, int sample, int size, int timeoutMs, int round)
    throws IOException {
    if (open.isEmpty() || sample <= 0) {
      return 0;
    }
    int step = Math.max(1, open.size() / sample);
    int failed = 0;
    int done = 0;
    for (int i = (round * 7) % step; i < open.size() && done < sample; i += step, done++) {
      byte[] m = message(1_000_000 * round + i, size);
      try {
        write(open.get(i), m);
        expect(open.get(i), m, timeoutMs);
      } catch (IOException e) {
        failed++;
        if (failed == 1) {
          log("echo on connection %d failed (round %d): %s", i, round, e);
        }
      }
    }
    return failed;
  }

  /** {@code size} bytes that name the connection: "c<i>:" then filler. */
  static byte[] message(int i, int size) {
    byte[] m = new byte[size];
    Arrays.fill(m, (byte) ('a' + i % 26));
    byte[] tag = ("c" + i + ":").getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(tag, 0, m, 0, Math.min(tag.length, size));
    return m;
  }

  private static void write(SocketChannel ch, byte[] m) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(m);
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /** Reads exactly {@code m.length} bytes (the socket's SO_TIMEOUT bounds each read) and compares them. */
  private static void expect(SocketChannel ch, byte[] m, int timeoutMs) throws IOException {
    byte[] got = new byte[m.length];
    int off = 0;
    // a blocking channel ignores SO_TIMEOUT: read through the socket's stream, which honours it
    var in = ch.socket().getInputStream();
    while (off < got.length) {
      int r = in.read(got, off, got.length - off);
      if (r < 0) {
        throw new IOException("closed by the server after " + off + " of " + m.length + " echoed bytes");
      }
      off += r;
    }
    if (!Arrays.equals(got, m)) {
      throw new IOException("echo differs: sent " + new String(m, StandardCharsets.US_ASCII) + ", got "
        + new String(got, StandardCharsets.US_ASCII));
    }
  }

  /** The echo server's {@code connections} in the node's {@code /health}, or -1 when absent. */
  static long healthConnections(String url) throws IOException, InterruptedException {
    java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
    String body = c.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url))
        .timeout(java.time.Duration.ofSeconds(20)).build(), java.net.http.HttpResponse.BodyHandlers.ofString())
      .body();
    Matcher m = Pattern.compile("\"echo\"\\s*:\\s*\\{[^}]*\"connections\"\\s*:\\s*(\\d+)").matcher(body);
    if (!m.find()) {
      log("no echo connection count in %s", body);
      return -1;
    }
    return Long.parseLong(m.group(1));
  }

  /** {@code jcmd PID GC.class_histogram}: a full GC, then live objects by class. */
  static Histogram histogram(long pid) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("jcmd", Long.toString(pid), "GC.class_histogram").redirectErrorStream(true).start();
    Map<String, long[]> classes = new HashMap<>();
    long bytes = -1;
    long instances = -1;
    StringBuilder all = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String l;
      while ((l = r.readLine()) != null) {
        if (all.length() < 2000) {
          all.append(l).append('\n');
        }
        Matcher m = HISTO.matcher(l);
        if (m.find()) {
          classes.merge(m.group(3), new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))},
            (x, y) -> new long[] {x[0] + y[0], x[1] + y[1]});
          continue;
        }
        Matcher t = TOTAL.matcher(l);
        if (t.find()) {
          instances = Long.parseLong(t.group(1));
          bytes = Long.parseLong(t.group(2));
        }
      }
    }
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0 || bytes < 0) {
      throw new IOException("jcmd " + pid + " GC.class_histogram failed:\n" + all);
    }
    return new Histogram(bytes, instances, classes);
  }

  /** Resident set of a process in KiB (information: it includes direct buffers and malloc, not socket buffers). */
  static long rssKb(long pid) {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (l.startsWith("VmRSS:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }

  /** The classes whose live bytes grew most between the two histograms, per connection. */
  private static void printTop(Histogram h0, Histogram hN, int conns, int top) {
    record Row(String name, long bytes, long instances) {
    }
    List<Row> rows = new ArrayList<>();
    for (Map.Entry<String, long[]> e : hN.classes.entrySet()) {
      long[] before = h0.classes.getOrDefault(e.getKey(), new long[2]);
      long db = e.getValue()[1] - before[1];
      long di = e.getValue()[0] - before[0];
      if (db != 0) {
        rows.add(new Row(e.getKey(), db, di));
      }
    }
    rows.sort((x, y) -> Long.compare(y.bytes, x.bytes));
    System.out.printf(Locale.ROOT, "%-70s %10s %10s%n", "class (live heap grown between 0 and N connections)",
      "B/conn", "obj/conn");
    long shown = 0;
    for (int i = 0; i < Math.min(top, rows.size()); i++) {
      Row r = rows.get(i);
      shown += r.bytes;
      System.out.printf(Locale.ROOT, "%-70s %10.1f %10.2f%n", r.name, r.bytes / (double) conns,
        r.instances / (double) conns);
    }
    long total = hN.bytes - h0.bytes;
    System.out.printf(Locale.ROOT, "%-70s %10.1f%n", "(other classes)", (total - shown) / (double) conns);
    System.out.printf(Locale.ROOT, "%-70s %10.1f%n", "total", total / (double) conns);
  }

  private static void log(String format, Object... args) {
    System.err.printf(Locale.ROOT, "[conns] " + format + "%n", args);
  }
}
