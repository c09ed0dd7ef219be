package dev.tether.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The packaged {@code target/tether.jar} started the way {@code scripts/run.sh} starts it, with
 * {@code conf/tether.json} (every port moved to a free one so the test can run beside anything).
 */
class FatJarIT {

  private Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Replaces every "port" in the configuration with a free port. */
  private static void movePorts(Object node) throws IOException {
    if (node instanceof JsonObject o) {
      for (String key : o.fieldNames()) {
        Object v = o.getValue(key);
        if ("port".equals(key) && v instanceof Number) {
          o.put(key, freePort());
        } else {
          movePorts(v);
        }
      }
    } else if (node instanceof JsonArray a) {
      for (Object v : a) {
        movePorts(v);
      }
    }
  }

  private void start(Path conf) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
      "-Dlogback.configurationFile=conf/logback.xml", "-jar", "target/tether.jar", "-conf", conf.toString(),
      "-options", "conf/vertx.json")
      .redirectErrorStream(true);
    process = pb.start();
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          output.add(line);
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "jar-output");
    t.setDaemon(true);
    t.start();
  }

  @Test
  void theJarStartsWithTheShippedConfigurationAndEchoes(@TempDir Path dir) throws Exception {
    JsonObject conf = new JsonObject(Files.readString(Path.of("conf/tether.json")));
    movePorts(conf);
    Path file = dir.resolve("tether.json");
    Files.writeString(file, conf.encodePrettily());
    start(file);
    await().atMost(Duration.ofSeconds(60)).until(() -> output.stream().anyMatch(l -> l.contains(" ready"))
      || !process.isAlive());
    assertThat(process.isAlive()).as("process alive; output:%n%s", String.join("\n", output)).isTrue();

    int port = conf.getJsonObject("servers").getJsonObject("echo").getInteger("port");
    byte[] msg = "hello tether\n".getBytes(StandardCharsets.UTF_8);
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(msg);
      out.flush();
      byte[] back = s.getInputStream().readNBytes(msg.length);
      assertThat(back).isEqualTo(msg);
    }
  }

  @Test
  void aBadConfigurationStopsStartUpWithAMessageNamingTheKey(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("bad.json");
    Files.writeString(file, "{\"servers\": {\"echo\": {\"verticle\": \"echo\", \"port\": " + freePort()
      + ", \"maxPendingByte\": 5}}}");
    start(file);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).isNotZero();
    await().atMost(Duration.ofSeconds(5)).until(() -> output.stream()
      .anyMatch(l -> l.contains("invalid configuration: servers.echo.maxPendingByte: unknown key")));
  }
}
