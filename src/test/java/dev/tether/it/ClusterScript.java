package dev.tether.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Runs {@code scripts/cluster.sh} for the multi-process tests, and finds ports its nodes may use. */
final class ClusterScript {

  record Result(int rc, String out) { }

  private ClusterScript() {
  }

  /** {@code scripts/cluster.sh args} with {@code env}; fails with its output if it takes over {@code timeoutS}. */
  static Result run(Map<String, String> env, int timeoutS, String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of("scripts/cluster.sh")));
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

  /**
   * An offset for the node ports (7000..7002 and 8080, plus 100 per node) under which all are free for
   * {@code nodes} nodes. Node ports stay below 40000, the Hazelcast range ({@link #freeRange}) above it: the
   * two never overlap.
   */
  static int freeOffset(int nodes) throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int offset = ThreadLocalRandom.current().nextInt(10, 290) * 100 + ThreadLocalRandom.current().nextInt(1, 90);
      boolean free = true;
      for (int node = 0; node < nodes && free; node++) {
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

  /** The first of {@code n} consecutive free ports between 40000 and 60000. */
  static int freeRange(int n) throws IOException {
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
