package dev.tether.it;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Descriptor exhaustion reaches the node's HTTP server and event-bus bridge too (issue 9 item 1): with every
 * descriptor taken by idle echo clients, a newcomer on HTTP and one on the bridge are closed at once (never
 * left waiting), each listening socket logs one WARN and one INFO for its episode, no Netty stack trace, and
 * the events are {@code RESOURCE_EXHAUSTED}/{@code ACCEPT} of servers {@code http} and {@code bridge}.
 */
class ListenerExhaustionIT {

  static final int LIMIT = 200;

  @Test
  void httpAndBridgeAcceptFailuresAreEvents(@TempDir Path dir) throws Exception {
    int echo = JarProcess.freePort();
    int http = JarProcess.freePort();
    int bridge = JarProcess.freePort();
    JsonObject conf = new JsonObject()
      .put("node", "fd2")
      .put("http", new JsonObject().put("host", "127.0.0.1").put("port", http))
      .put("bridge", new JsonObject().put("host", "127.0.0.1").put("port", bridge))
      .put("servers", new JsonObject().put("echo", new JsonObject()
        .put("verticle", "echo").put("host", "127.0.0.1").put("port", echo)));
    Path file = dir.resolve("fd2.json");
    Files.writeString(file, conf.encode());
    try (JarProcess jar = JarProcess.startWithDescriptorLimit(LIMIT, file)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      assertThat(jar.process.isAlive()).as("output:%n%s", jar.log()).isTrue();
      int used = Objects.requireNonNull(new File("/proc/" + jar.process.pid() + "/fd").list()).length;
      List<Socket> extra = new ArrayList<>();
      try {
        for (int i = 0; i < LIMIT - used + 40; i++) {
          Socket s = new Socket();
          s.connect(new InetSocketAddress("127.0.0.1", echo), 5000);
          extra.add(s);
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> jar.printed("echo: cannot accept connections on"));
        for (int port : new int[] {http, bridge}) {
          try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            // closed at once (end of stream or reset), never left waiting: a time-out fails the test
            try {
              assertThat(s.getInputStream().read()).isEqualTo(-1);
            } catch (java.net.SocketException reset) {
              // closed with a reset
            }
          }
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> jar.printed("http: cannot accept connections on")
          && jar.printed("bridge: cannot accept connections on"));
      } finally {
        for (Socket s : extra) {
          s.close();
        }
      }
      HttpClient client = HttpClient.newHttpClient();
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
        String body = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http
          + "/events?kind=RESOURCE_EXHAUSTED")).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString()).body();
        List<String> servers = new JsonObject(body).getJsonArray("events").stream().map(JsonObject.class::cast)
          .filter(e -> "ACCEPT".equals(e.getString("direction"))).map(e -> e.getString("server")).toList();
        assertThat(servers).contains("echo", "http", "bridge");
      });
      // the first accept after the episode ends it (one INFO): a bridge client now
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", bridge), 5000);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> jar.printed("http: accepting connections again on")
        && jar.printed("bridge: accepting connections again on"));
      assertThat(jar.count("http: cannot accept connections on")).as(jar.log()).isEqualTo(1);
      assertThat(jar.count("bridge: cannot accept connections on")).as(jar.log()).isEqualTo(1);
      assertThat(jar.log()).doesNotContain("reached at the tail of the pipeline")
        .doesNotContain("java.io.IOException: Too many open files")
        .doesNotContain("at io.netty.");
    }
  }
}
