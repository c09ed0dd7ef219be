package dev.tether.it;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.net.Socket;
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
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real resource exhaustion: the node runs with direct memory capped at 3 MiB (Netty's own cap, with
 * the same flags {@code scripts/run.sh} passes so an exhausted pool fails fast instead of stalling the
 * event loop in the JDK's reserve-and-retry). Thirty-two peers push data and never read: the
 * transport cannot allocate buffers to read into. Each connection reports {@code RESOURCE_EXHAUSTED}
 * (direction READ) once and is closed by its policy; the node keeps serving once memory is free.
 */
class DirectMemoryExhaustionIT {

  static final String[] FAIL_FAST_DIRECT_MEMORY = {
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true"};

  @Test
  void cappedDirectMemoryIsReportedPerConnectionAndTheNodeRecovers(@TempDir Path dir) throws Exception {
    int echo = JarProcess.freePort();
    int http = JarProcess.freePort();
    JsonObject conf = new JsonObject()
      .put("node", "dm")
      .put("http", new JsonObject().put("port", http))
      .put("bridge", new JsonObject().put("enabled", false))
      .put("servers", new JsonObject().put("echo", new JsonObject()
        .put("verticle", "echo").put("port", echo)
        .put("highWaterMark", 16 << 20).put("maxPendingBytes", 32 << 20)));
    Path file = dir.resolve("dm.json");
    Files.writeString(file, conf.encode());
    List<String> jvm = new ArrayList<>(List.of(FAIL_FAST_DIRECT_MEMORY));
    jvm.add("-Dio.netty.maxDirectMemory=" + (3 << 20));
    try (JarProcess jar = JarProcess.start(file, jvm.toArray(String[]::new))) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      assertThat(jar.process.isAlive()).as("output:%n%s", jar.log()).isTrue();

      byte[] chunk = new byte[64 * 1024];
      new Random(1).nextBytes(chunk);
      List<Socket> peers = new ArrayList<>();
      try {
        for (int i = 0; i < 32; i++) {
          Socket s = new Socket("127.0.0.1", echo);
          s.setSoTimeout(2_000);
          peers.add(s);
        }
        for (Socket s : peers) {
          OutputStream out = s.getOutputStream();
          try {
            for (int k = 0; k < 4; k++) {
              out.write(chunk);
            }
          } catch (java.io.IOException closedByServer) {
            // the node closed this connection after its allocation failure: expected
          }
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> jar.printed("RESOURCE_EXHAUSTED (hard)"));
      } finally {
        for (Socket s : peers) {
          s.close();
        }
      }
      String line = jar.output.stream().filter(l -> l.contains("RESOURCE_EXHAUSTED (hard)")).findFirst().orElseThrow();
      assertThat(line).contains("OutOfDirectMemoryError", "requested=0");
      // one report per connection at most, however often Netty retried the read
      assertThat(jar.count("RESOURCE_EXHAUSTED (hard)")).isLessThanOrEqualTo(32);

      HttpClient client = HttpClient.newHttpClient();
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        String metrics = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).containsPattern(
          "tether_failures_total\\{[^}]*direction=\"READ\"[^}]*kind=\"RESOURCE_EXHAUSTED\"[^}]*\\} [1-9]");
      });
      // the peers are gone, their memory is back: a new connection is served
      byte[] msg = "still here\n".getBytes(StandardCharsets.UTF_8);
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        try (Socket s = new Socket("127.0.0.1", echo)) {
          s.setSoTimeout(3_000);
          s.getOutputStream().write(msg);
          assertThat(s.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
        }
      });
    }
  }
}
