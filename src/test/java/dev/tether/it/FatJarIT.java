package dev.tether.it;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The packaged {@code target/tether.jar} started the way {@code scripts/run.sh} starts it, with
 * {@code conf/tether.json} (every port moved to a free one so the test can run beside anything).
 */
class FatJarIT {

  @Test
  void theJarStartsWithTheShippedConfigurationAndEchoes(@TempDir Path dir) throws Exception {
    JsonObject conf = new JsonObject(Files.readString(Path.of("conf/tether.json")));
    JarProcess.movePorts(conf);
    Path file = dir.resolve("tether.json");
    Files.writeString(file, conf.encodePrettily());
    try (JarProcess jar = JarProcess.start(file)) {
      await().atMost(Duration.ofSeconds(60)).until(() -> jar.printed(" ready") || !jar.process.isAlive());
      assertThat(jar.process.isAlive()).as("process alive; output:%n%s", jar.log()).isTrue();

      int port = conf.getJsonObject("servers").getJsonObject("echo").getInteger("port");
      byte[] msg = "hello tether\n".getBytes(StandardCharsets.UTF_8);
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(msg);
        out.flush();
        assertThat(s.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
      }
    }
  }

  @Test
  void aBadConfigurationStopsStartUpWithAMessageNamingTheKey(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("bad.json");
    Files.writeString(file, "{\"servers\": {\"echo\": {\"verticle\": \"echo\", \"port\": " + JarProcess.freePort()
      + ", \"maxPendingByte\": 5}}}");
    try (JarProcess jar = JarProcess.start(file)) {
      assertThat(jar.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(jar.process.exitValue()).isNotZero();
      await().atMost(Duration.ofSeconds(5))
        .until(() -> jar.printed("invalid configuration: servers.echo.maxPendingByte: unknown key"));
    }
  }
}
