package dev.tether.it;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
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
      ClusterScript.run(env, 60, "stop"); // bounded: TERM, then KILL after TETHER_STOP_TIMEOUT_S
    }
  }

  @Test
  void startTwoNodesSeeBothMembersLoseOneAndStop() throws Exception {
    int offset = ClusterScript.freeOffset(2);
    env = Map.of(
      "TETHER_CLUSTER_DIR", dir.toString(),
      "TETHER_CLUSTER_NAME", "tether-it-" + UUID.randomUUID(),
      "TETHER_HZ_PORT", String.valueOf(ClusterScript.freeRange(10)),
      "TETHER_PORT_OFFSET", String.valueOf(offset),
      "TETHER_START_TIMEOUT_S", "120",
      "TETHER_STOP_TIMEOUT_S", "15");

    ClusterScript.Result start = ClusterScript.run(env, 180, "start", "2");
    assertThat(start.rc()).as("start 2:%n%s", start.out()).isZero();
    assertThat(start.out()).contains("node-1 UP members=[node-1, node-2]", "node-2 UP members=[node-1, node-2]");

    ClusterScript.Result status = ClusterScript.run(env, 60, "status");
    assertThat(status.rc()).isZero();
    assertThat(status.out()).containsPattern("node-1 +\\d+ +yes +" + (8080 + offset) + " +UP +node-1,node-2");
    assertThat(status.out()).containsPattern("node-2 +\\d+ +yes +" + (8180 + offset) + " +UP +node-1,node-2");

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
    assertThat(ClusterScript.run(env, 60, "status").out()).containsPattern("node-1 +\\d+ +yes +\\d+ +UP +node-1\\n")
      .containsPattern("node-2 +\\d+ +no ");

    ClusterScript.Result stop = ClusterScript.run(env, 60, "stop");
    assertThat(stop.rc()).isZero();
    assertThat(stop.out()).contains("node-1: SIGTERM", "stopped");
    long pid1 = Long.parseLong(start.out().lines().filter(l -> l.startsWith("node-1: pid ")).findFirst().orElseThrow()
      .split(" ")[2].replace(",", ""));
    assertThat(ProcessHandle.of(pid1).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(ClusterScript.run(env, 60, "status").out()).containsPattern("node-1 +- +no ");
    env = null;
  }
}
