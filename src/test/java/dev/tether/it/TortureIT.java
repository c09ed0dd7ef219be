package dev.tether.it;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * scripts/torture.sh at small scale: a node under {@code ulimit -n 256} hit for 15 s by everything at once
 * passes with every verdict row ok; the same run with a violation fed in ({@code --inject bad-echo}: one good
 * echo client's check sees a wrong byte) fails with exit code 1 and says which row.
 */
class TortureIT {

  record Run(int exit, String output) {
  }

  static Run torture(String... extra) throws IOException, InterruptedException {
    List<String> cmd = new java.util.ArrayList<>(List.of("scripts/torture.sh", "--seconds", "15", "--fd-limit", "256",
      "--slow-readers", "2", "--resetters", "1", "--fuzzers", "2", "--good-echo", "2", "--good-sessions", "2"));
    cmd.addAll(List.of(extra));
    Process p = new ProcessBuilder(cmd).directory(Path.of("").toAbsolutePath().toFile()).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
    return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  @Test
  void aSmallTortureRunPassesAndAFedViolationFails() throws Exception {
    Run good = torture("--seed", "3");
    assertThat(good.output()).as(good.output()).contains("verdict: PASS", "books of echo", "books of session",
      "/health answered throughout", "every good session exact");
    assertThat(good.exit()).as(good.output()).isZero();
    assertThat(good.output()).doesNotContain("FAIL");

    Run bad = torture("--seed", "3", "--inject", "bad-echo");
    assertThat(bad.exit()).as(bad.output()).isEqualTo(1);
    assertThat(bad.output()).contains("verdict: FAIL");
    assertThat(bad.output().lines().filter(l -> l.startsWith("good echo clients exact")).findFirst().orElseThrow())
      .contains("FAIL", "1 wrong or stalled");
  }
}
