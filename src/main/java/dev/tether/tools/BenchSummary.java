package dev.tether.tools;

import dev.tether.tools.BenchResults.Check;
import dev.tether.tools.BenchResults.Kind;
import dev.tether.tools.BenchResults.Ratios;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.tether.tools.BenchResults.d;
import static dev.tether.tools.BenchResults.median;

/**
 * Summarises the {@code RESULT} lines {@code scripts/bench.sh} collected: pairs the candidate (role
 * {@code A}: tracked, or tracked with metrics on) with the baseline (role {@code B}: plain, or
 * tracked with metrics off) of the same pair number and workload, keeps the pairs whose two trials
 * (last attempt of each) are valid, and prints the median and range of the paired ratios A/B of the
 * gate figures. When the run has a third role {@code C} (the raw Netty anchor of the default mode),
 * it also prints A/C against issue 10's goals ("(goal)": CPU/msg within 1.05x Netty, bytes/msg within
 * 2x Netty at 1 KiB; never a gate) and B/C as information, then the three side by side. Last, the
 * information-only figures per variant.
 *
 * <pre>java dev.tether.tools.BenchSummary results.txt cpuTarget allocTarget</pre>
 * (a target of {@code info}: no target, the gate ratios are printed without a verdict)
 */
public final class BenchSummary {

  private static final String FORMAT = "%-10s %-48s %-7s %5d %8.3f %17s  %s%n";
  private static final String FORMAT_EMPTY = "%-10s %-48s %-7s %5d %8s %17s  %s%n";

  private BenchSummary() {
  }

  public static void main(String[] args) throws IOException {
    Path file = Path.of(args[0]);
    // "info": no target, the gate lines are printed as information
    double cpuTarget = args.length > 1 ? target(args[1]) : 1.05;
    double allocTarget = args.length > 2 ? target(args[2]) : 1.10;
    BenchResults results = BenchResults.read(file);
    if (results.isEmpty()) {
      System.out.println("no results in " + file);
      return;
    }
    print(results, cpuTarget, allocTarget, System.out);
  }

  /** True when the variants name their transports (VARIANT@TRANSPORT: the transports mode). */
  private static boolean perVariant(BenchResults results) {
    return results.rows().stream().anyMatch(r -> r.getOrDefault("variant", "").contains("@"));
  }

  static void print(BenchResults results, double cpuTarget, double allocTarget, PrintStream out) {
    Set<String> transports = results.transports();
    out.println();
    out.println("Transport: " + String.join(", ", transports)
      + (transports.size() > 1 && !perVariant(results) ? "  WARNING: the trials of this file ran on different transports" : ""));
    out.println();
    out.println("Trials (in run order; valid=0 means discarded):");
    out.printf(Locale.ROOT, "%-10s %4s %-16s %3s %5s %-28s %8s %8s %8s %7s %7s %7s %7s %6s %6s %-13s %8s%n",
      "workload", "pair", "variant", "try", "valid", "why", "cpuUs/m", "elUs/m", "allocB/m", "fgn0%", "fgn1%",
      "p50us", "p99us", "late%", "blkd%", "note", "flatMB/s");
    for (Map<String, String> r : results.rows()) {
      out.printf(Locale.ROOT, "%-10s %4s %-16s %3s %5s %-28s %8s %8s %8s %7s %7s %7s %7s %6.2f %6.2f %-13s %8s%n",
        r.get("workload"), r.get("pair"), r.get("variant"), r.get("attempt"), r.get("valid"), r.get("why"),
        r.get("cpuUsPerMsg"), r.get("elCpuUsPerMsg"), r.get("allocBPerMsg"), r.get("foreign0"), r.get("foreign1"),
        r.get("p50us"), r.get("p99us"), 100 * d(r, "lateFrac"), 100 * d(r, "blockedFrac"), r.get("note"),
        r.get("flatMBps"));
    }

    List<Check> checks = results.checks(cpuTarget, allocTarget);
    // trials that belong to a valid pair of some check: the per-variant figures are taken over them
    Set<String> counted = new LinkedHashSet<>();

    out.println();
    out.println("Gate figures: paired ratios " + "candidate/baseline over valid pairs");
    out.printf(Locale.ROOT, "%-10s %-48s %-7s %5s %8s %17s  %s%n", "workload", "figure", "target", "pairs",
      "median", "range", "verdict");
    Check gate = checks.get(0);
    for (String w : results.workloads()) {
      Ratios r = results.ratios(w, gate);
      count(counted, r);
      line(out, w, "server CPU us/msg " + r.name(), gate.cpuTarget(), r.pairs().size(), r.cpu());
      line(out, w, "event-loop B/msg " + r.name(), gate.allocTarget(w), r.pairs().size(), r.alloc());
      line(out, w, "(info) event-loop CPU us/msg", Double.NaN, r.pairs().size(), r.elCpu());
      line(out, w, "(info) B/msg, all pairs incl. disturbed", Double.NaN, r.allocAll().size(), r.allocAll());
      if (r.dropped() > 0) {
        out.printf(Locale.ROOT, "%-10s %d pair(s) dropped (a trial discarded or missing)%n", w, r.dropped());
      }
    }

    if (checks.size() > 1) {
      out.println();
      out.println((perVariant(results) ? "Against the third variant (C): paired ratios"
        : "Against the raw Netty anchor: paired ratios") + " over the pairs whose two trials are valid. "
        + "(goal) = issue 10's goal, NOT a gate; (info) = no target.");
      out.printf(Locale.ROOT, "%-10s %-48s %-7s %5s %8s %17s  %s%n", "workload", "figure", "target", "pairs",
        "median", "range", "verdict");
      for (String w : results.workloads()) {
        for (Check c : checks.subList(1, checks.size())) {
          Ratios r = results.ratios(w, c);
          count(counted, r);
          String cpuTag = tag(c.kind(), c.cpuTarget());
          String allocTag = tag(c.kind(), c.allocTarget(w));
          line(out, w, cpuTag + " server CPU us/msg " + r.name(), c.cpuTarget(), r.pairs().size(), r.cpu());
          line(out, w, allocTag + " event-loop B/msg " + r.name(), c.allocTarget(w), r.pairs().size(), r.alloc());
          if (r.dropped() > 0) {
            out.printf(Locale.ROOT, "%-10s %s: %d pair(s) dropped (a trial discarded or missing)%n", w, r.name(),
              r.dropped());
          }
        }
      }
      out.println();
      out.println("Side by side: median ratio (valid pairs)");
      StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-10s %-20s", "workload", "figure"));
      for (Check c : checks) {
        head.append(String.format(Locale.ROOT, " %-26s", results.variant(results.workloads().get(0), c.num()) + "/"
          + results.variant(results.workloads().get(0), c.den())));
      }
      out.println(head.toString().stripTrailing());
      for (String w : results.workloads()) {
        StringBuilder cpu = new StringBuilder(String.format(Locale.ROOT, "%-10s %-20s", w, "server CPU us/msg"));
        StringBuilder alloc = new StringBuilder(String.format(Locale.ROOT, "%-10s %-20s", w, "event-loop B/msg"));
        for (Check c : checks) {
          Ratios r = results.ratios(w, c);
          cpu.append(String.format(Locale.ROOT, " %-26s", cell(r.cpu(), c.cpuTarget())));
          alloc.append(String.format(Locale.ROOT, " %-26s", cell(r.alloc(), c.allocTarget(w))));
        }
        out.println(cpu.toString().stripTrailing());
        out.println(alloc.toString().stripTrailing());
      }
    }

    out.println();
    out.println("Per variant over the valid pairs: median [min..max]. Latency and flat-out throughput are "
      + "information only (they swing 2-8x here).");
    out.printf(Locale.ROOT, "%-10s %-16s %-24s %-24s %-22s %-22s %-22s %-24s%n", "workload", "variant",
      "server CPU us/msg", "event-loop B/msg", "p50 us", "p99 us", "server CPU %", "flat-out MB/s");
    for (String w : results.workloads()) {
      for (String role : results.roles()) {
        List<Map<String, String>> rs = new ArrayList<>();
        for (String key : counted) {
          String[] k = key.split("\\|");
          if (k[0].equals(w) && k[2].equals(role)) {
            rs.add(results.trial(w, Integer.parseInt(k[1]), role));
          }
        }
        if (rs.isEmpty()) {
          continue;
        }
        out.printf(Locale.ROOT, "%-10s %-16s %-24s %-24s %-22s %-22s %-22s %-24s%n", w,
          rs.get(0).get("variant"), stat(rs, "cpuUsPerMsg", 3), stat(rs, "allocBPerMsg", 0), stat(rs, "p50us", 0),
          stat(rs, "p99us", 0), stat(rs, "serverCpuPct", 1), stat(rs, "flatMBps", 0));
      }
    }
  }

  private static void count(Set<String> counted, Ratios r) {
    for (int p : r.pairs()) {
      counted.add(r.workload() + "|" + p + "|" + r.check().num());
      counted.add(r.workload() + "|" + p + "|" + r.check().den());
    }
  }

  private static String tag(Kind kind, double target) {
    return kind == Kind.GOAL && !Double.isNaN(target) ? "(goal)" : "(info)";
  }

  /** "1.023 (5) <=1.05": median, valid pairs, target. */
  private static String cell(List<Double> ratios, double target) {
    String t = Double.isNaN(target) ? "" : " <=" + target;
    if (ratios.isEmpty()) {
      return "- (0)" + t;
    }
    return String.format(Locale.ROOT, "%.3f (%d)%s", median(ratios), ratios.size(), t);
  }

  private static double target(String arg) {
    return arg.equals("info") ? Double.NaN : Double.parseDouble(arg);
  }

  private static void line(PrintStream out, String w, String figure, double target, int pairs, List<Double> ratios) {
    // a gate figure without a target (bench.sh session) says "info"; the (info) lines say "-"
    boolean goal = figure.startsWith("(goal)");
    String noTarget = figure.startsWith("(info)") ? "-" : "info";
    if (ratios.isEmpty()) {
      out.printf(Locale.ROOT, FORMAT_EMPTY, w, figure,
        Double.isNaN(target) ? noTarget : "<=" + target, 0, "-", "-", "NO VALID PAIRS");
      return;
    }
    double[] v = ratios.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double med = median(v);
    String verdict = Double.isNaN(target) ? (noTarget.equals("info") ? "information (no target)" : "")
      : goal ? (med <= target ? "meets goal" : "misses goal (not a gate)")
      : med <= target ? "meets target" : "MISSES target";
    out.printf(Locale.ROOT, FORMAT, w, figure,
      Double.isNaN(target) ? noTarget : "<=" + target, pairs, med,
      String.format(Locale.ROOT, "%.3f..%.3f", v[0], v[v.length - 1]), verdict);
  }

  private static String stat(List<Map<String, String>> rs, String key, int decimals) {
    double[] v = rs.stream().mapToDouble(r -> d(r, key)).sorted().toArray();
    String f = "%." + decimals + "f";
    return String.format(Locale.ROOT, f + " [" + f + ".." + f + "]", median(v), v[0], v[v.length - 1]);
  }
}
