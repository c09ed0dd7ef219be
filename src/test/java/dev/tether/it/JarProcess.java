package dev.tether.it;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** {@code target/tether.jar} in a child JVM, started the way {@code scripts/run.sh} starts it, with its output kept. */
final class JarProcess implements AutoCloseable {

  final Process process;
  final List<String> output = new CopyOnWriteArrayList<>();

  private JarProcess(Process process) {
    this.process = process;
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

  static JarProcess start(Path conf, String... jvmArgs) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-Dlogback.configurationFile=conf/logback.xml", "-jar", "target/tether.jar",
      "-conf", conf.toString(), "-options", "conf/vertx.json"));
    return new JarProcess(new ProcessBuilder(cmd).redirectErrorStream(true).start());
  }

  /**
   * Like {@link #start}, with the child's descriptor limit set to {@code maxDescriptors} ({@code ulimit -n} in a
   * shell that then becomes the JVM, so {@code process.pid()} is the JVM's).
   */
  static JarProcess startWithDescriptorLimit(int maxDescriptors, Path conf, String... jvmArgs) throws IOException {
    StringBuilder cmd = new StringBuilder("ulimit -n " + maxDescriptors + " && exec");
    List<String> args = new ArrayList<>();
    args.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    args.addAll(List.of(jvmArgs));
    args.addAll(List.of("-Dlogback.configurationFile=conf/logback.xml", "-jar", "target/tether.jar",
      "-conf", conf.toString(), "-options", "conf/vertx.json"));
    for (String a : args) {
      cmd.append(" '").append(a.replace("'", "'\\''")).append('\'');
    }
    return new JarProcess(new ProcessBuilder("bash", "-c", cmd.toString()).redirectErrorStream(true).start());
  }

  boolean printed(String text) {
    return output.stream().anyMatch(l -> l.contains(text));
  }

  long count(String text) {
    return output.stream().filter(l -> l.contains(text)).count();
  }

  String log() {
    return String.join("\n", output);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Replaces every "port" in a configuration with a free port. */
  static void movePorts(Object node) throws IOException {
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

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
