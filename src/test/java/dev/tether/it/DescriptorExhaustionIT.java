package dev.tether.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real descriptor exhaustion: the node runs under {@code ulimit -n 256} with only the echo server. More
 * clients connect than it has descriptors for; accepting fails with EMFILE. Expected: one WARN for the
 * episode and no Netty stack trace; connections established before keep being served; clients waiting in
 * the backlog are closed at once (reserve descriptor); once the extra clients leave, a new connection is
 * accepted and echoed, one INFO ends the episode, and {@code RESOURCE_EXHAUSTED}/{@code ACCEPT} is on
 * {@code /events} and in {@code /metrics}.
 */
class DescriptorExhaustionIT {

  static final int LIMIT = 256;

  @Test
  void exhaustedDescriptorsAreAnEventAndAcceptingResumes(@TempDir Path dir) throws Exception {
    int echo = JarProcess.freePort();
    int http = JarProcess.freePort();
    JsonObject conf = new JsonObject()
      .put("node", "fd")
      .put("http", new JsonObject().put("host", "127.0.0.1").put("port", http))
      .put("bridge", new JsonObject().put("enabled", false))
      .put("servers", new JsonObject().put("echo", new JsonObject()
        .put("verticle", "echo").put("host", "127.0.0.1").put("port", echo)));
    Path file = dir.resolve("fd.json");
    Files.writeString(file, conf.encode());
    try (JarProcess jar = JarProcess.startWithDescriptorLimit(LIMIT, file)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      assertThat(jar.process.isAlive()).as("output:%n%s", jar.log()).isTrue();
      File fds = new File("/proc/" + jar.process.pid() + "/fd");
      int used = Objects.requireNonNull(fds.list(), "no /proc/<pid>/fd").length;
      assertThat(used).as("descriptors in use at start").isLessThan(LIMIT - 20);

      List<Socket> before = new ArrayList<>();
      List<Socket> extra = new ArrayList<>();
      try {
        for (int i = 0; i < 4; i++) {
          before.add(echoed(connect(echo), "before-" + i));
        }
        // more than the node has descriptors left for
        for (int i = 0; i < LIMIT - used + 40; i++) {
          extra.add(connect(echo));
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> jar.printed("cannot accept connections on"));
        String warn = jar.output.stream().filter(l -> l.contains("cannot accept connections on")).findFirst()
          .orElseThrow();
        assertThat(warn).contains("WARN", "echo", "Too many open files", "descriptor limit " + LIMIT);

        // established connections are still served
        for (int i = 0; i < before.size(); i++) {
          echoed(before.get(i), "during-" + i);
        }
        // the last client waits in the backlog: it is closed at once rather than left unserved
        Socket last = extra.get(extra.size() - 1);
        last.setSoTimeout(10_000);
        assertThat(learns(last, jar)).as("a backlog client learns at once").isIn("closed", "reset");
        // still exhausted: Netty retries accepting (once a second) and newcomers keep learning at once
        for (int i = 0; i < 3; i++) {
          Socket late = connect(echo);
          extra.add(late);
          // closed at once while exhausted; served if a descriptor happens to be free (another thread of the
          // node closed one): never left waiting
          assertThat(learns(late, jar)).as("late client %d", i).isIn("closed", "reset", "served");
        }
      } finally {
        for (Socket s : extra) {
          s.close();
        }
      }

      // descriptors are free again: a new connection is accepted and echoed
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
        try (Socket s = connect(echo)) {
          echoed(s, "after");
        }
      });
      await().atMost(Duration.ofSeconds(10)).until(() -> jar.printed("accepting connections again on"));
      String info = jar.output.stream().filter(l -> l.contains("accepting connections again on")).findFirst()
        .orElseThrow();
      assertThat(info).contains("INFO", "echo", "refused");
      for (int i = 0; i < before.size(); i++) {
        echoed(before.get(i), "after-" + i);
      }

      HttpClient client = HttpClient.newHttpClient();
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        String body = get(client, http, "/events?kind=RESOURCE_EXHAUSTED");
        JsonArray events = eventsOf(body);
        JsonObject accept = events.stream().map(JsonObject.class::cast)
          .filter(e -> "ACCEPT".equals(e.getString("direction"))).findFirst().orElse(null);
        assertThat(accept).as("RESOURCE_EXHAUSTED/ACCEPT in %s", body).isNotNull();
        assertThat(accept.getString("server")).isEqualTo("echo");
        assertThat(accept.getLong("requested")).isGreaterThanOrEqualTo(1);
        assertThat(accept.getString("message")).contains("Too many open files");
      });
      // at most one event a second, however many connections were refused
      List<Long> times = eventsOf(get(client, http, "/events?kind=RESOURCE_EXHAUSTED")).stream()
        .map(JsonObject.class::cast).filter(e -> "ACCEPT".equals(e.getString("direction")))
        .map(e -> e.getLong("time")).sorted().toList();
      for (int i = 1; i < times.size(); i++) {
        assertThat(times.get(i) - times.get(i - 1)).as("event times %s", times).isGreaterThanOrEqualTo(900);
      }
      String metrics = get(client, http, "/metrics");
      assertThat(metrics).containsPattern(
        "tether_failures_total\\{[^}]*direction=\"ACCEPT\"[^}]*kind=\"RESOURCE_EXHAUSTED\"[^}]*\\} [1-9]");
      assertThat(metrics).containsPattern("tether_accept_refused_total\\{[^}]*reason=\"shed\"[^}]*\\} [1-9]");

      // one WARN per episode, and no Netty stack trace
      assertThat(jar.count("cannot accept connections on")).as(jar.log()).isEqualTo(1);
      assertThat(jar.log()).doesNotContain("reached at the tail of the pipeline")
        .doesNotContain("java.io.IOException: Too many open files")
        .doesNotContain("at io.netty.");
      for (Socket s : before) {
        s.close();
      }
    }
  }

  /**
   * What a client learns within its read time-out after sending a line: "closed" (end of stream), "reset",
   * or "served" (the line echoed). A time-out fails with the node's output for the diagnosis.
   */
  private static String learns(Socket s, JarProcess jar) throws IOException {
    byte[] msg = "ping\n".getBytes(StandardCharsets.UTF_8);
    try {
      try {
        s.getOutputStream().write(msg);
      } catch (java.net.SocketException closedAlready) {
        return "reset";
      }
      byte[] got = s.getInputStream().readNBytes(msg.length);
      return got.length == 0 ? "closed" : java.util.Arrays.equals(got, msg) ? "served" : "got " + got.length + " bytes";
    } catch (SocketTimeoutException e) {
      throw new AssertionError("nothing within " + s.getSoTimeout() + " ms; node output:\n" + jar.log(), e);
    } catch (java.net.SocketException e) {
      return "reset";
    }
  }

  private static Socket connect(int port) throws IOException {
    Socket s = new Socket("127.0.0.1", port);
    s.setSoTimeout(5_000);
    return s;
  }

  private static Socket echoed(Socket s, String text) throws IOException {
    byte[] msg = (text + "\n").getBytes(StandardCharsets.UTF_8);
    s.getOutputStream().write(msg);
    try {
      assertThat(s.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
    } catch (SocketTimeoutException e) {
      throw new AssertionError("no echo of " + text, e);
    }
    return s;
  }

  private static String get(HttpClient client, int port, String path) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
      .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static JsonArray eventsOf(String body) {
    String trimmed = body.trim();
    if (trimmed.startsWith("[")) {
      return new JsonArray(trimmed);
    }
    JsonObject o = new JsonObject(trimmed);
    return o.getJsonArray("events", new JsonArray());
  }
}
