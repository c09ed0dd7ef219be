package dev.tether.tools;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * BenchSummary on recorded results: the 2-role files of the earlier runs (docs/bench-results) give
 * exactly the figures their recorded summaries show, and the 3-role files of the raw Netty anchor
 * (two smoke runs of {@code scripts/bench.sh}, 2 s windows, kept as test data; their figures mean
 * nothing) give the tracked/netty and plain/netty ratios of their RESULT lines.
 */
class BenchSummaryTest {

  static final Path RECORDED = Path.of("docs/bench-results/default-20261128-142205.results.txt");
  static final Path RECORDED_SUMMARY = Path.of("docs/bench-results/default-20261128-142205.txt");

  static Path resource(String name) throws URISyntaxException {
    return Path.of(BenchSummaryTest.class.getResource(name).toURI());
  }

  static String summary(Path results, double cpu, double alloc) throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
      BenchSummary.print(BenchResults.read(results), cpu, alloc, out);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  /** The lines from the one starting with {@code from} on, trailing blanks cut. */
  static List<String> from(List<String> lines, String from) {
    int i = 0;
    while (i < lines.size() && !lines.get(i).startsWith(from)) {
      i++;
    }
    return lines.subList(i, lines.size()).stream().map(String::stripTrailing).collect(Collectors.toList());
  }

  @Test
  void aTwoRoleFileGivesTheFiguresOfItsRecordedSummary() throws Exception {
    List<String> out = Arrays.asList(summary(RECORDED, 1.05, 1.10).split("\n"));
    List<String> recorded = Files.readAllLines(RECORDED_SUMMARY);
    assertThat(from(out, "Gate figures")).isNotEmpty().isEqualTo(from(recorded, "Gate figures"));
    assertThat(out).contains("Transport: not recorded")
      .noneMatch(l -> l.contains("netty") || l.contains("(goal)"));
  }

  @Test
  void threeRolesAddTheNettyAnchorAsGoalsAndInformation() throws Exception {
    Path file = resource("smoke-epoll.results.txt");
    Map<String, double[]> v = figures(file);
    String out = summary(file, 1.05, 1.10);

    assertThat(out).contains("Transport: epoll");
    // the gate stays tracked/plain
    assertThat(out).containsPattern(line("w64", "server CPU us/msg tracked/plain", "<=1.05", 1,
      v.get("tracked")[0] / v.get("plain")[0]) + "  (meets|MISSES) target");
    // tracked/netty against the goals: CPU everywhere, bytes only at 1 KiB (w1k), so information at w64
    assertThat(out).containsPattern(line("w64", "(goal) server CPU us/msg tracked/netty", "<=1.05", 1,
      v.get("tracked")[0] / v.get("netty")[0]) + "  (meets goal|misses goal \\(not a gate\\))");
    assertThat(out).containsPattern(line("w64", "(info) event-loop B/msg tracked/netty", "-", 1,
      v.get("tracked")[1] / v.get("netty")[1]));
    assertThat(out).containsPattern(line("w64", "(info) server CPU us/msg plain/netty", "-", 1,
      v.get("plain")[0] / v.get("netty")[0]));
    assertThat(out).containsPattern(line("w64", "(info) event-loop B/msg plain/netty", "-", 1,
      v.get("plain")[1] / v.get("netty")[1]));
    assertThat(out).contains("Side by side").doesNotContain("MISSES goal");
    // the per-variant table has the three variants
    List<String> perVariant = from(Arrays.asList(out.split("\n")), "Per variant");
    assertThat(perVariant).anyMatch(l -> l.startsWith("w64        tracked "))
      .anyMatch(l -> l.startsWith("w64        plain "))
      .anyMatch(l -> l.startsWith("w64        netty "));
  }

  @Test
  void aDiscardedNettyTrialDropsOnlyTheRatiosItIsPartOf() throws Exception {
    // in this smoke run all three netty attempts were discarded (CPU used by another build)
    String out = summary(resource("smoke-nio.results.txt"), 1.05, 1.10);
    assertThat(out).containsPattern("w64 +server CPU us/msg tracked/plain +<=1.05 +1 ");
    assertThat(out).containsPattern("w64 +\\(goal\\) server CPU us/msg tracked/netty +<=1.05 +0 +- +- +NO VALID PAIRS");
    assertThat(out).contains("w64        tracked/netty: 1 pair(s) dropped", "w64        plain/netty: 1 pair(s) dropped");
    List<String> perVariant = from(Arrays.asList(out.split("\n")), "Per variant");
    assertThat(perVariant).noneMatch(l -> l.startsWith("w64        netty "));
  }

  /** A regex for one ratio line of the summary. */
  static String line(String w, String figure, String target, int pairs, double median) {
    String m = String.format(Locale.ROOT, "%.3f", median);
    return Pattern.quote(w) + " +" + Pattern.quote(figure) + " +" + Pattern.quote(target) + " +" + pairs + " +"
      + Pattern.quote(m) + " +" + Pattern.quote(m + ".." + m);
  }

  /** variant -> {cpuUsPerMsg, allocBPerMsg} of the last attempt, read with a regex of its own. */
  static Map<String, double[]> figures(Path file) throws Exception {
    Pattern p = Pattern.compile("variant=(\\S+) .*cpuUsPerMsg=(\\S+) .*allocBPerMsg=(\\S+)");
    Map<String, double[]> out = new HashMap<>();
    for (String l : Files.readAllLines(file)) {
      Matcher m = p.matcher(l);
      if (l.startsWith("RESULT ") && m.find()) {
        out.put(m.group(1), new double[] {Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3))});
      }
    }
    return out;
  }
}
