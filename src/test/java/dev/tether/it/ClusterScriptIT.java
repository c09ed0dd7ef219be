package dev.tether.it;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code scripts/cluster.sh} with the packaged jar, as an operator runs it: two node processes
 * ({@code start 2}), {@code status} naming both members on both nodes, a {@code kill -9} of node-2
 * reported as NODE_LOST on node-1, and {@code stop}. Its own cluster name, Hazelcast ports and node
 * ports (found free now) and its own directory, so it runs beside anything.
 */
class ClusterScriptIT {

  private final Path dir = Path.of("target", "cluster-it");
  private Map<String, String> env;

  @AfterEach
  void stop() throws Exception {
    if (env != null) {
      run(env, 60, "stop"); // bounded: TERM, then KILL after TETHER_STOP_TIMEOUT_S
    }
  }

  @Test
  void startTwoNodesSeeBothMembersLoseOneAndStop() throws Exception {
    int offset = freeOffset();
    env = Map.of(
      "TETHER_CLUSTER_DIR", dir.toString(),
      "TETHER_CLUSTER_NAME", "tether-it-" + UUID.randomUUID(),
      "TETHER_HZ_PORT", String.valueOf(freeRange(10)),
      "TETHER_PORT_OFFSET", String.valueOf(offset),
      "TETHER_START_TIMEOUT_S", "120",
      "TETHER_STOP_TIMEOUT_S", "15");

    Result start = run(env, 180, "start", "2");
    assertThat(start.rc).as("start 2:%n%s", start.out).isZero();
    assertThat(start.out).contains("node-1 UP members=[node-1, node-2]", "node-2 UP members=[node-1, node-2]");

    Result status = run(env, 60, "status");
    assertThat(status.rc).isZero();
    assertThat(status.out).containsPattern("node-1 +\\d+ +yes +" + (8080 + offset) + " +UP +node-1,node-2");
    assertThat(status.out).containsPattern("node-2 +\\d+ +yes +" + (8180 + offset) + " +UP +node-1,node-2");

    // a crash: node-2's JVM killed outright; node-1 (the only survivor) reports it once
    long pid2 = Long.parseLong(Files.readString(dir.resolve("node-2.pid")).trim());
    ProcessHandle node2 = ProcessHandle.of(pid2).orElseThrow();
    assertThat(node2.info().commandLine().orElse("")).contains("tether.jar");
    node2.destroyForcibly();
    node2.onExit().get(30, TimeUnit.SECONDS);
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    URI lost = URI.create("http://127.0.0.1:" + (8080 + offset) + "/events?kind=NODE_LOST");
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
      JsonObject body = new JsonObject(http.send(HttpRequest.newBuilder(lost).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString()).body());
      assertThat(body.getJsonArray("events")).hasSize(1);
      JsonObject e = body.getJsonArray("events").getJsonObject(0);
      assertThat(e.getString("node")).isEqualTo("node-2");
      assertThat(e.getString("reportedBy")).isEqualTo("node-1");
      assertThat(e.getBoolean("graceful")).isFalse();
    });
    assertThat(run(env, 60, "status").out).containsPattern("node-1 +\\d+ +yes +\\d+ +UP +node-1\\n")
      .containsPattern("node-2 +\\d+ +no ");

    Result stop = run(env, 60, "stop");
    assertThat(stop.rc).isZero();
    assertThat(stop.out).contains("node-1: SIGTERM", "stopped");
    long pid1 = Long.parseLong(start.out.lines().filter(l -> l.startsWith("node-1: pid ")).findFirst().orElseThrow()
      .split(" ")[2].replace(",", ""));
    assertThat(ProcessHandle.of(pid1).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(run(env, 60, "status").out).containsPattern("node-1 +- +no ");
    env = null;
  }

  private record Result(int rc, String out) { }

  private static Result run(Map<String, String> env, int timeoutS, String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(new java.util.ArrayList<>(List.of("scripts/cluster.sh")));
    pb.command().addAll(List.of(args));
    pb.environment().putAll(env);
    pb.redirectErrorStream(true);
    Path out = Files.createTempFile("cluster-sh", ".out");
    pb.redirectOutput(out.toFile());
    Process p = pb.start();
    try {
      if (!p.waitFor(timeoutS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("scripts/cluster.sh " + String.join(" ", args) + " took over " + timeoutS + " s:\n"
          + Files.readString(out, StandardCharsets.UTF_8));
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** An offset for the node ports (7000..7002 and 8080, plus 100 for node-2) under which all are free. */
  private static int freeOffset() throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      // node ports stay below 40000, the Hazelcast range (freeRange) above it: the two never overlap
      int offset = ThreadLocalRandom.current().nextInt(10, 290) * 100 + ThreadLocalRandom.current().nextInt(1, 90);
      boolean free = true;
      for (int node = 0; node < 2 && free; node++) {
        for (int port : new int[] {7000, 7001, 7002, 8080}) {
          free &= free(port + offset + 100 * node);
        }
      }
      if (free) {
        return offset;
      }
    }
    throw new IOException("no free port offset found");
  }

  private static int freeRange(int n) throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int base = ThreadLocalRandom.current().nextInt(40_000, 60_000);
      boolean free = true;
      for (int p = base; p < base + n && free; p++) {
        free = free(p);
      }
      if (free) {
        return base;
      }
    }
    throw new IOException("no free port range found");
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress("127.0.0.1", port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
