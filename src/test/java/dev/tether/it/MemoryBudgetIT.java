package dev.tether.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The node in a small heap (-Xmx96m: the default budget is half of it) with 60 session clients
 * that each send 2 MiB and never acknowledge, 120 MiB of retained echoes offered in all: without the
 * budget that heap runs out. With it: no OutOfMemoryError, the largest sessions are shed with
 * SESSION_EXPIRED events carrying their retained bytes, one log line each and the meter, and every
 * other client has every echo, in order, byte for byte.
 *
 * <p>{@code memory.highMark} is 1.0 here: back-pressure (tested in-process by
 * SessionMemoryBudgetTest and MemoryBudgetSocketTest) would hold paused clients that never
 * acknowledge until their idle timeout; this test wants each client to end as served or shed.
 */
class MemoryBudgetIT {

  static final int CLIENTS = 60;
  static final int FRAMES = 128;
  static final int PAYLOAD = 16 * 1024;
  static final byte HELLO = 0x01;
  static final byte DATA = 0x03;
  static final byte ERROR = 0x07;

  /** One raw session client: a writer and a reader thread; records what it got. */
  static final class Client {
    final int n;
    final Socket socket;
    final AtomicInteger echoes = new AtomicInteger();
    volatile int errorCode;
    volatile String errorMessage;
    volatile boolean ended;
    volatile String problem;

    Client(int n, int port) throws IOException {
      this.n = n;
      this.socket = new Socket("127.0.0.1", port);
      Thread w = new Thread(this::write, "mem-it-writer-" + n);
      Thread r = new Thread(this::read, "mem-it-reader-" + n);
      w.setDaemon(true);
      r.setDaemon(true);
      w.start();
      r.start();
    }

    static byte[] payload(int conn, int seq) {
      byte[] b = new byte[PAYLOAD];
      for (int i = 0; i < b.length; i++) {
        b[i] = (byte) (conn * 31 + seq * 7 + i);
      }
      return b;
    }

    void write() {
      try {
        OutputStream out = socket.getOutputStream();
        ByteBuffer hello = ByteBuffer.allocate(4 + 1 + 16 + 8).putInt(1 + 16 + 8).put(HELLO).put(new byte[16]).putLong(0);
        out.write(hello.array());
        for (int seq = 1; seq <= FRAMES; seq++) {
          ByteBuffer f = ByteBuffer.allocate(4 + 1 + 8 + PAYLOAD).putInt(1 + 8 + PAYLOAD).put(DATA).putLong(seq)
            .put(payload(n, seq));
          out.write(f.array());
        }
        out.flush();
      } catch (IOException e) {
        // shed: the node closed the connection under our writes
      }
    }

    void read() {
      try (DataInputStream in = new DataInputStream(socket.getInputStream())) {
        while (true) {
          int len = in.readInt();
          byte type = in.readByte();
          byte[] body = new byte[len - 1];
          in.readFully(body);
          if (type == DATA) {
            int seq = (int) ByteBuffer.wrap(body, 0, 8).getLong();
            int expect = echoes.incrementAndGet();
            if (seq != expect || !Arrays.equals(Arrays.copyOfRange(body, 8, body.length), payload(n, seq))) {
              problem = "echo " + expect + " was seq " + seq + " or differed";
            }
          } else if (type == ERROR) {
            ByteBuffer b = ByteBuffer.wrap(body);
            errorCode = b.getShort() & 0xffff;
            errorMessage = new String(body, 2, body.length - 2, java.nio.charset.StandardCharsets.UTF_8);
          }
        }
      } catch (EOFException e) {
        ended = true;
      } catch (IOException e) {
        ended = true;
      }
    }

    boolean served() {
      return echoes.get() == FRAMES && errorCode == 0;
    }

    boolean shed() {
      return ended && errorCode == 201;
    }
  }

  @Test
  void aSmallHeapWithManyNeverAckingSessionsShedsInsteadOfRunningOut(@TempDir Path dir) throws Exception {
    int session = JarProcess.freePort();
    int http = JarProcess.freePort();
    JsonObject conf = new JsonObject()
      .put("node", "mem")
      .put("http", new JsonObject().put("port", http))
      .put("bridge", new JsonObject().put("enabled", false))
      .put("memory", new JsonObject().put("highMark", 1.0).put("lowMark", 0.9))
      .put("servers", new JsonObject().put("session", new JsonObject()
        .put("verticle", "session").put("port", session).put("maxRetainedBytes", 64 << 20).put("sessionTtlMs", 1000)
        // a session the echo paused (its write queue full) does not read, so it learns that its client left only
        // by the idle timeout: 15 s here (default 120 s) so the books can be seen back at zero within the test
        .put("idleTimeoutMs", 15_000)));
    Path file = dir.resolve("mem.json");
    Files.writeString(file, conf.encode());
    try (JarProcess jar = JarProcess.start(file, "-Xmx96m", "-XX:+UseSerialGC")) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      assertThat(jar.process.isAlive()).as("output:%n%s", jar.log()).isTrue();
      String budgetLine = jar.output.stream().filter(l -> l.contains("memory budget: limit")).findFirst().orElseThrow();
      Matcher m = Pattern.compile("limit (\\d+) bytes").matcher(budgetLine);
      assertThat(m.find()).isTrue();
      long limit = Long.parseLong(m.group(1));
      assertThat(limit).isBetween(40L << 20, 50L << 20); // half of a 96 MiB heap

      List<Client> clients = new ArrayList<>();
      try {
        for (int i = 0; i < CLIENTS; i++) {
          clients.add(new Client(i + 1, session));
        }
        // every client ends as served (all its echoes) or shed (ERROR 201, closed)
        try {
          await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
            .until(() -> clients.stream().allMatch(c -> c.served() || c.shed()) || !jar.process.isAlive());
        } catch (org.awaitility.core.ConditionTimeoutException e) {
          StringBuilder states = new StringBuilder();
          for (Client c : clients) {
            if (!c.served() && !c.shed()) {
              states.append(String.format("%n  client %d: echoes %d/%d, error %d %s, ended %s, problem %s", c.n,
                c.echoes.get(), FRAMES, c.errorCode, c.errorMessage, c.ended, c.problem));
            }
          }
          throw new AssertionError("clients neither served nor shed:" + states + "\nnode output:\n" + jar.log(), e);
        }
        assertThat(jar.process.isAlive()).as("output:%n%s", jar.log()).isTrue();
        assertThat(jar.log()).doesNotContain("OutOfMemoryError");
        long shed = clients.stream().filter(Client::shed).count();
        long served = clients.stream().filter(Client::served).count();
        assertThat(served + shed).isEqualTo(CLIENTS);
        // 120 MiB offered into a budget of ~46 MiB: at least 40 % had to go, and some were served
        assertThat(shed).isGreaterThanOrEqualTo(CLIENTS * 4 / 10);
        assertThat(served).isGreaterThan(0);
        for (Client c : clients) {
          assertThat(c.problem).as("client %d", c.n).isNull();
          if (c.shed()) {
            assertThat(c.errorMessage).contains("shed by the node memory budget");
          }
        }
        // one log line per shedding
        assertThat(jar.count("shedding session")).isEqualTo(shed);
        System.out.printf("MemoryBudgetIT: -Xmx96m, budget %d bytes, %d clients x %d x %d B never acknowledged: %d served,"
          + " %d shed, no OutOfMemoryError%n", limit, CLIENTS, FRAMES, PAYLOAD, served, shed);

        HttpClient http1 = HttpClient.newHttpClient();
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
          String metrics = get(http1, http, "/metrics");
          assertThat(metrics).contains("tether_memory_shed_total{kind=\"session\"} " + shed + ".0");
          assertThat(metrics).contains("tether_memory_limit_bytes " + (double) limit);
          Matcher used = Pattern.compile("(?m)^tether_memory_used_bytes ([0-9.E]+)$").matcher(metrics);
          assertThat(used.find()).isTrue();
          assertThat(Double.parseDouble(used.group(1))).isLessThanOrEqualTo(limit);
          JsonArray events = new JsonObject(get(http1, http, "/events?kind=SESSION_EXPIRED&type=failure&limit=1000"))
            .getJsonArray("events");
          assertThat(events).hasSize((int) shed);
          for (Object o : events) {
            JsonObject e = (JsonObject) o;
            assertThat(e.getString("message")).contains("shed by the node memory budget");
            // a shed session had retained at least one echo, encoded: header + seq + payload
            assertThat(e.getLong("requested")).isPositive().isEqualTo(e.getLong("unsent"));
            assertThat(e.getLong("requested") % (4 + 1 + 8 + PAYLOAD)).isZero();
          }
        });
      } finally {
        for (Client c : clients) {
          c.socket.close();
        }
      }
      // the clients gone, their sessions expire (sessionTtlMs) and the budget empties
      HttpClient http2 = HttpClient.newHttpClient();
      await().atMost(Duration.ofSeconds(75)).untilAsserted(() -> {
        String metrics = get(http2, http, "/metrics");
        assertThat(metrics).as("memory meters: %s%nnode output:%n%s", metrics.lines()
            .filter(l -> l.startsWith("tether_memory") || l.startsWith("tether_connections")).toList(), jar.log())
          .containsPattern("(?m)^tether_memory_used_bytes 0.0$");
      });
      // the node still serves a new session
      Client late = new Client(99, session);
      try {
        await().atMost(Duration.ofSeconds(30)).until(late::served);
        assertThat(late.problem).isNull();
      } finally {
        late.socket.close();
      }
    }
  }

  /**
   * The control, run by hand ({@code -Dit.test=MemoryBudgetIT -Dmem.it.control=true}): the same load with
   * the budget out of the way (8 GiB) runs the 96 MiB heap out of memory.
   */
  @Test
  @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "mem.it.control", matches = "true")
  void withoutTheBudgetTheSameLoadRunsOutOfHeap(@TempDir Path dir) throws Exception {
    int session = JarProcess.freePort();
    JsonObject conf = new JsonObject()
      .put("node", "mem-control")
      .put("http", new JsonObject().put("enabled", false))
      .put("monitor", new JsonObject().put("enabled", false))
      .put("bridge", new JsonObject().put("enabled", false))
      .put("memory", new JsonObject().put("limitBytes", 8L << 30))
      .put("servers", new JsonObject().put("session", new JsonObject()
        .put("verticle", "session").put("port", session).put("maxRetainedBytes", 64 << 20)));
    Path file = dir.resolve("control.json");
    Files.writeString(file, conf.encode());
    try (JarProcess jar = JarProcess.start(file, "-Xmx96m", "-XX:+UseSerialGC")) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      List<Client> clients = new ArrayList<>();
      try {
        for (int i = 0; i < CLIENTS; i++) {
          clients.add(new Client(i + 1, session));
        }
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
          .until(() -> jar.printed("OutOfMemoryError") || clients.stream().allMatch(Client::served));
        long served = clients.stream().filter(Client::served).count();
        System.out.printf("MemoryBudgetIT control: budget 8 GiB, %d served, OutOfMemoryError: %s%n", served,
          jar.printed("OutOfMemoryError"));
        assertThat(jar.printed("OutOfMemoryError")).as("output:%n%s", jar.log()).isTrue();
      } finally {
        for (Client c : clients) {
          c.socket.close();
        }
      }
    }
  }

  private static String get(HttpClient client, int port, String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
      HttpResponse.BodyHandlers.ofString()).body();
  }
}
