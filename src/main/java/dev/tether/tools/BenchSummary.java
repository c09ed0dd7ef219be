package dev.tether.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Summarises the {@code RESULT} lines {@code scripts/bench.sh} collected: pairs the candidate (role
 * {@code A}: tracked, or tracked with metrics on) with the baseline (role {@code B}: plain, or
 * tracked with metrics off) of the same pair number and workload, keeps the pairs whose two trials
 * (last attempt of each) are valid, and prints the median and range of the paired ratios A/B of the
 * gate figures, then the information-only figures per variant.
 *
 * <pre>java dev.tether.tools.BenchSummary results.txt cpuTarget allocTarget</pre>
 * (a target of {@code info}: no target, the gate ratios are printed without a verdict)
 */
public final class BenchSummary {

  private BenchSummary() {
  }

  public static void main(String[] args) throws IOException {
    Path file = Path.of(args[0]);
    // "info": no target, the gate lines are printed as information
    double cpuTarget = args.length > 1 ? target(args[1]) : 1.05;
    double allocTarget = args.length > 2 ? target(args[2]) : 1.10;
    List<Map<String, String>> rows = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      if (!line.startsWith("RESULT ")) {
        continue;
      }
      Map<String, String> m = new LinkedHashMap<>();
      for (String kv : line.substring(7).trim().split("\\s+")) {
        int eq = kv.indexOf('=');
        if (eq > 0) {
          m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
      }
      rows.add(m);
    }
    if (rows.isEmpty()) {
      System.out.println("no results in " + file);
      return;
    }

    System.out.println();
    System.out.println("Trials (in run order; valid=0 means discarded):");
    System.out.printf(Locale.ROOT, "%-10s %4s %-16s %3s %5s %-28s %8s %8s %8s %7s %7s %7s %7s %6s %6s %-13s %8s%n",
      "workload", "pair", "variant", "try", "valid", "why", "cpuUs/m", "elUs/m", "allocB/m", "fgn0%", "fgn1%",
      "p50us", "p99us", "late%", "blkd%", "note", "flatMB/s");
    for (Map<String, String> r : rows) {
      System.out.printf(Locale.ROOT, "%-10s %4s %-16s %3s %5s %-28s %8s %8s %8s %7s %7s %7s %7s %6.2f %6.2f %-13s %8s%n",
        r.get("workload"), r.get("pair"), r.get("variant"), r.get("attempt"), r.get("valid"), r.get("why"),
        r.get("cpuUsPerMsg"), r.get("elCpuUsPerMsg"), r.get("allocBPerMsg"), r.get("foreign0"), r.get("foreign1"),
        r.get("p50us"), r.get("p99us"), 100 * d(r, "lateFrac"), 100 * d(r, "blockedFrac"), r.get("note"),
        r.get("flatMBps"));
    }

    // last attempt of each (workload, pair, role)
    Map<String, Map<String, String>> last = new HashMap<>();
    Map<String, String[]> variants = new LinkedHashMap<>();
    for (Map<String, String> r : rows) {
      last.put(r.get("workload") + "|" + r.get("pair") + "|" + r.get("role"), r);
      variants.computeIfAbsent(r.get("workload"), w -> new String[2])[r.get("role").equals("A") ? 0 : 1] = r.get("variant");
    }

    System.out.println();
    System.out.println("Gate figures: paired ratios " + "candidate/baseline over valid pairs");
    System.out.printf(Locale.ROOT, "%-10s %-48s %-7s %5s %8s %17s  %s%n", "workload", "figure", "target", "pairs",
      "median", "range", "verdict");
    Map<String, List<Map<String, String>>> validA = new TreeMap<>();
    Map<String, List<Map<String, String>>> validB = new TreeMap<>();
    for (Map.Entry<String, String[]> e : variants.entrySet()) {
      String w = e.getKey();
      List<Double> cpu = new ArrayList<>();
      List<Double> elCpu = new ArrayList<>();
      List<Double> alloc = new ArrayList<>();
      int pairs = 0;
      int dropped = 0;
      for (int p = 0; p < 1000; p++) {
        Map<String, String> a = last.get(w + "|" + p + "|A");
        Map<String, String> b = last.get(w + "|" + p + "|B");
        if (a == null && b == null) {
          continue;
        }
        if (a == null || b == null || !"1".equals(a.get("valid")) || !"1".equals(b.get("valid"))) {
          dropped++;
          continue;
        }
        pairs++;
        cpu.add(d(a, "cpuUsPerMsg") / d(b, "cpuUsPerMsg"));
        elCpu.add(d(a, "elCpuUsPerMsg") / d(b, "elCpuUsPerMsg"));
        alloc.add(d(a, "allocBPerMsg") / d(b, "allocBPerMsg"));
        validA.computeIfAbsent(w, k -> new ArrayList<>()).add(a);
        validB.computeIfAbsent(w, k -> new ArrayList<>()).add(b);
      }
      // information: the allocation ratio over every pair, disturbed ones included (bytes per
      // message move little with CPU contention, unless it makes the server batch messages)
      List<Double> allocAll = new ArrayList<>();
      for (int p = 0; p < 1000; p++) {
        Map<String, String> a = last.get(w + "|" + p + "|A");
        Map<String, String> b = last.get(w + "|" + p + "|B");
        if (a != null && b != null && !Double.isNaN(d(a, "allocBPerMsg")) && !Double.isNaN(d(b, "allocBPerMsg"))) {
          allocAll.add(d(a, "allocBPerMsg") / d(b, "allocBPerMsg"));
        }
      }
      String name = e.getValue()[0] + "/" + e.getValue()[1];
      line(w, "server CPU us/msg " + name, cpuTarget, pairs, cpu);
      line(w, "event-loop B/msg " + name, allocTarget, pairs, alloc);
      line(w, "(info) event-loop CPU us/msg", Double.NaN, pairs, elCpu);
      line(w, "(info) B/msg, all pairs incl. disturbed", Double.NaN, allocAll.size(), allocAll);
      if (dropped > 0) {
        System.out.printf(Locale.ROOT, "%-10s %d pair(s) dropped (a trial discarded or missing)%n", w, dropped);
      }
    }

    System.out.println();
    System.out.println("Per variant over the valid pairs: median [min..max]. Latency and flat-out throughput are "
      + "information only (they swing 2-8x here).");
    System.out.printf(Locale.ROOT, "%-10s %-16s %-24s %-24s %-22s %-22s %-22s %-24s%n", "workload", "variant",
      "server CPU us/msg", "event-loop B/msg", "p50 us", "p99 us", "server CPU %", "flat-out MB/s");
    for (String w : variants.keySet()) {
      for (Map<String, List<Map<String, String>>> side : List.of(validA, validB)) {
        List<Map<String, String>> rs = side.getOrDefault(w, List.of());
        if (rs.isEmpty()) {
          continue;
        }
        System.out.printf(Locale.ROOT, "%-10s %-16s %-24s %-24s %-22s %-22s %-22s %-24s%n", w,
          rs.get(0).get("variant"), stat(rs, "cpuUsPerMsg", 3), stat(rs, "allocBPerMsg", 0), stat(rs, "p50us", 0),
          stat(rs, "p99us", 0), stat(rs, "serverCpuPct", 1), stat(rs, "flatMBps", 0));
      }
    }
  }

  private static double target(String arg) {
    return arg.equals("info") ? Double.NaN : Double.parseDouble(arg);
  }

  private static void line(String w, String figure, double target, int pairs, List<Double> ratios) {
    // a gate figure without a target (bench.sh session) says "info"; the (info) lines say "-"
    String noTarget = figure.startsWith("(info)") ? "-" : "info";
    if (ratios.isEmpty()) {
      System.out.printf(Locale.ROOT, "%-10s %-48s %-7s %5d %8s %17s  %s%n", w, figure,
        Double.isNaN(target) ? noTarget : "<=" + target, 0, "-", "-", "NO VALID PAIRS");
      return;
    }
    double[] v = ratios.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double med = median(v);
    String verdict = Double.isNaN(target) ? (noTarget.equals("info") ? "information (no target)" : "")
      : med <= target ? "meets target" : "MISSES target";
    System.out.printf(Locale.ROOT, "%-10s %-48s %-7s %5d %8.3f %17s  %s%n", w, figure,
      Double.isNaN(target) ? noTarget : "<=" + target, pairs, med,
      String.format(Locale.ROOT, "%.3f..%.3f", v[0], v[v.length - 1]), verdict);
  }

  private static String stat(List<Map<String, String>> rs, String key, int decimals) {
    double[] v = rs.stream().mapToDouble(r -> d(r, key)).sorted().toArray();
    String f = "%." + decimals + "f";
    return String.format(Locale.ROOT, f + " [" + f + ".." + f + "]", median(v), v[0], v[v.length - 1]);
  }

  private static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static double d(Map<String, String> r, String key) {
    String v = r.get(key);
    try {
      return v == null ? Double.NaN : Double.parseDouble(v);
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }
}
