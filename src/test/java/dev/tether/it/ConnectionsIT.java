package dev.tether.it;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A few thousand connections held on one fat-jar node (issue 10, item 6; the 19,000-connection run is a
 * benchmark, {@code scripts/conns.sh}, see docs/performance.md). The client is {@code dev.tether.tools.Conns}
 * from the same jar, in a process of its own with its own descriptor limit: it opens every connection,
 * echoes once on each (byte for byte), echoes again on a sample and then holds them. While they are held:
 * {@code /health} and {@code /metrics} count exactly that many connections of the echo server, and a new
 * connection is still served. When the client dies (every socket closed by the kernel at once), the counts
 * return to 0 and nothing was refused.
 */
class ConnectionsIT {

  static final int CONNECTIONS = 3_000;
  /** The node's and the client's descriptor limit: the connections plus the JVM's own. */
  static final int DESCRIPTORS = CONNECTIONS + 1_000;

  @Test
  void thousandsOfIdleConnectionsAreHeldCountedAndServed(@TempDir Path dir) throws Exception {
    long hard = hardLimit();
    Assumptions.assumeTrue(hard < 0 || hard >= DESCRIPTORS,
      "the descriptor hard limit (" + hard + ") is below " + DESCRIPTORS);
    int echo = JarProcess.freePort();
    int http = JarProcess.freePort();
    JsonObject conf = new JsonObject()
      .put("node", "conns")
      .put("http", new JsonObject().put("host", "127.0.0.1").put("port", http))
      .put("bridge", new JsonObject().put("enabled", false))
      .put("servers", new JsonObject().put("echo", new JsonObject()
        .put("verticle", "echo").put("host", "127.0.0.1").put("port", echo).put("maxConnections", CONNECTIONS + 10)));
    Path file = dir.resolve("conns.json");
    Files.writeString(file, conf.encode());
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (JarProcess jar = JarProcess.startWithDescriptorLimit(DESCRIPTORS, file)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      assertThat(jar.process.isAlive()).as("output:%n%s", jar.log()).isTrue();
      assertThat(connections(client, http)).isZero();

      Process conns = startConns(echo, http);
      List<String> out = new CopyOnWriteArrayList<>();
      drain(conns.getInputStream(), out);
      try {
        await().atMost(Duration.ofSeconds(90))
          .until(() -> out.stream().anyMatch(l -> l.startsWith("OPEN ")) || !conns.isAlive());
        String open = out.stream().filter(l -> l.startsWith("OPEN ")).findFirst()
          .orElseThrow(() -> new AssertionError("the client ended before holding: " + out + "\nnode:\n" + jar.log()));
        // every connection opened and echoed once, a sample echoed twice more, and /health saw them all
        assertThat(value(open, "opened")).as(open).isEqualTo(CONNECTIONS);
        assertThat(value(open, "failed")).as(open).isZero();
        assertThat(value(open, "sampleFailed")).as(open).isZero();
        assertThat(value(open, "healthConns")).as(open).isEqualTo(CONNECTIONS);

        // held: counted exactly, by /health and by the gauge, and a newcomer is still served
        assertThat(connections(client, http)).isEqualTo(CONNECTIONS);
        assertThat(gauge(client, http)).isEqualTo(CONNECTIONS);
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", echo), 5_000);
          s.setSoTimeout(10_000);
          byte[] msg = "one more than the held ones\n".getBytes(StandardCharsets.US_ASCII);
          s.getOutputStream().write(msg);
          assertThat(s.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
          assertThat(connections(client, http)).isEqualTo(CONNECTIONS + 1);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> connections(client, http) == CONNECTIONS);
      } finally {
        // the client dies with every connection open: the kernel closes them all at once
        conns.destroyForcibly();
        assertThat(conns.waitFor(20, TimeUnit.SECONDS)).isTrue();
      }
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
        .until(() -> connections(client, http) == 0 && gauge(client, http) == 0);
      assertThat(jar.log()).doesNotContain("refusing connection").doesNotContain("cannot accept connections");
    }
  }

  private static Process startConns(int echo, int http) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cmd = "ulimit -n " + DESCRIPTORS + " && exec '" + java + "' -Xmx256m -cp target/tether.jar dev.tether.tools.Conns"
      + " --port " + echo + " --conns " + CONNECTIONS + " --sample 300 --hold-s 120 --timeout-s 30"
      + " --health http://127.0.0.1:" + http + "/health";
    return new ProcessBuilder("bash", "-c", cmd).redirectErrorStream(true).start();
  }

  private static void drain(InputStream in, List<String> out) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String l;
        while ((l = r.readLine()) != null) {
          out.add(l);
        }
      } catch (IOException ignored) {
        // the client ended
      }
    }, "conns-output");
    t.setDaemon(true);
    t.start();
  }

  private static long value(String line, String key) {
    Matcher m = Pattern.compile("\\b" + key + "=(-?\\d+)").matcher(line);
    assertThat(m.find()).as("%s in %s", key, line).isTrue();
    return Long.parseLong(m.group(1));
  }

  /** The echo server's open connections in {@code /health}. */
  private static long connections(HttpClient client, int http) throws Exception {
    JsonObject health = new JsonObject(get(client, http, "/health"));
    return health.getJsonObject("servers").getJsonObject("echo").getLong("connections");
  }

  /** {@code tether_connections{server="echo"}} in {@code /metrics}. */
  private static long gauge(HttpClient client, int http) throws Exception {
    Matcher m = Pattern.compile("(?m)^tether_connections\\{[^}]*server=\"echo\"[^}]*\\} ([0-9.eE+]+)$")
      .matcher(get(client, http, "/metrics"));
    assertThat(m.find()).as("tether_connections gauge of echo").isTrue();
    return (long) Double.parseDouble(m.group(1));
  }

  private static String get(HttpClient client, int http, String path) throws Exception {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + path))
      .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    return r.body();
  }

  /** {@code ulimit -Hn} of a shell like the ones the node and client run in; -1 when unlimited. */
  private static long hardLimit() throws IOException, InterruptedException {
    Process p = new ProcessBuilder("bash", "-c", "ulimit -Hn").redirectErrorStream(true).start();
    String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
    p.waitFor(10, TimeUnit.SECONDS);
    return s.equals("unlimited") ? -1 : Long.parseLong(s);
  }
}
