package dev.tether.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The {@code RESULT} lines of a {@code scripts/bench.sh} results file, read for {@link BenchSummary}
 * and {@link BenchChart}: trials in run order, the last attempt of each (workload, pair, role), and
 * the paired ratios of one role to another.
 *
 * <p>Roles are {@code A} (the candidate), {@code B} (the baseline) and, in the default mode since the
 * raw Netty anchor, {@code C} ({@code netty}); files written before that have A and B only. A pair
 * counts for the ratio X/Y when the last attempts of its X and Y trials are both valid, whatever
 * happened to its third trial.
 */
final class BenchResults {

  /** Issue 10's goals against the raw Netty anchor: information, never a gate. */
  static final double GOAL_CPU = 1.05;
  /** Heap bytes per message within 2x Netty, at 1 KiB messages only (workload {@code w1k}). */
  static final double GOAL_ALLOC = 2.0;
  static final Set<String> GOAL_ALLOC_WORKLOADS = Set.of("w1k");

  /** What a ratio is held against: a gate (bench.sh's target), a goal (printed, not a gate), or nothing. */
  enum Kind { GATE, GOAL, INFO }

  /**
   * One ratio {@code num/den} of roles, with its targets for CPU and bytes per message ({@code NaN}:
   * none; a gate without a target, as in {@code bench.sh session}, still says "information").
   */
  record Check(String num, String den, Kind kind, double cpuTarget, Map<String, Double> allocTargets) {

    double allocTarget(String workload) {
      return allocTargets.getOrDefault(workload, allocTargets.getOrDefault("*", Double.NaN));
    }
  }

  /** The ratios of one {@link Check} for one workload, pair by pair (pairs where both trials are valid). */
  record Ratios(String workload, Check check, String numVariant, String denVariant, List<Integer> pairs,
                List<Double> cpu, List<Double> elCpu, List<Double> alloc, List<Double> allocAll, int dropped) {

    String name() {
      return numVariant + "/" + denVariant;
    }
  }

  private final List<Map<String, String>> rows;
  /** workload|pair|role -> last attempt */
  private final Map<String, Map<String, String>> last = new HashMap<>();
  /** workload -> role -> variant, workloads in order of first appearance */
  private final Map<String, Map<String, String>> variants = new LinkedHashMap<>();
  private final Map<String, Set<Integer>> pairs = new HashMap<>();

  BenchResults(List<Map<String, String>> rows) {
    this.rows = Collections.unmodifiableList(rows);
    for (Map<String, String> r : rows) {
      String w = r.get("workload");
      last.put(w + "|" + r.get("pair") + "|" + r.get("role"), r);
      variants.computeIfAbsent(w, k -> new TreeMap<>()).putIfAbsent(r.get("role"), r.get("variant"));
      try {
        pairs.computeIfAbsent(w, k -> new TreeSet<>()).add(Integer.parseInt(r.get("pair")));
      } catch (NumberFormatException e) {
        // a line without a pair number cannot be paired
      }
    }
  }

  static BenchResults read(Path file) throws IOException {
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
      if (m.containsKey("workload") && m.containsKey("role")) {
        rows.add(m);
      }
    }
    return new BenchResults(rows);
  }

  /** Every trial, in run order. */
  List<Map<String, String>> rows() {
    return rows;
  }

  boolean isEmpty() {
    return rows.isEmpty();
  }

  /** Workloads in order of first appearance. */
  List<String> workloads() {
    return new ArrayList<>(variants.keySet());
  }

  /** The roles present in any workload, sorted (A, B, C). */
  Set<String> roles() {
    Set<String> roles = new TreeSet<>();
    variants.values().forEach(m -> roles.addAll(m.keySet()));
    return roles;
  }

  String variant(String workload, String role) {
    return variants.getOrDefault(workload, Map.of()).getOrDefault(role, role);
  }

  /** The transports named by the trials ({@code transport=} of their label); "not recorded" before TRANSPORT. */
  Set<String> transports() {
    Set<String> t = new LinkedHashSet<>();
    for (Map<String, String> r : rows) {
      t.add(r.getOrDefault("transport", "not recorded"));
    }
    return t;
  }

  /**
   * What is compared: A/B against bench.sh's targets (the gate), and with a role C (the raw Netty
   * anchor) A/C against issue 10's goals and B/C as information.
   */
  List<Check> checks(double cpuTarget, double allocTarget) {
    List<Check> checks = new ArrayList<>();
    checks.add(new Check("A", "B", Kind.GATE, cpuTarget, Map.of("*", allocTarget)));
    if (roles().contains("C")) {
      // issue 10's goals hold against the raw Netty anchor only (C is another transport in the transports mode)
      boolean anchor = variants.values().stream().anyMatch(m -> "netty".equals(m.get("C")));
      Map<String, Double> goalAlloc = new HashMap<>();
      GOAL_ALLOC_WORKLOADS.forEach(w -> goalAlloc.put(w, GOAL_ALLOC));
      checks.add(anchor ? new Check("A", "C", Kind.GOAL, GOAL_CPU, goalAlloc)
        : new Check("A", "C", Kind.INFO, Double.NaN, Map.of()));
      checks.add(new Check("B", "C", Kind.INFO, Double.NaN, Map.of()));
    }
    return checks;
  }

  /** The paired ratios of {@code check} in {@code workload}. */
  Ratios ratios(String workload, Check check) {
    List<Integer> valid = new ArrayList<>();
    List<Double> cpu = new ArrayList<>();
    List<Double> elCpu = new ArrayList<>();
    List<Double> alloc = new ArrayList<>();
    List<Double> allocAll = new ArrayList<>();
    int dropped = 0;
    for (int p : pairs.getOrDefault(workload, Set.of())) {
      Map<String, String> a = trial(workload, p, check.num());
      Map<String, String> b = trial(workload, p, check.den());
      if (a == null && b == null) {
        continue;
      }
      // information: the allocation ratio over every pair, disturbed ones included (bytes per
      // message move little with CPU contention, unless it makes the server batch messages)
      if (a != null && b != null && !Double.isNaN(d(a, "allocBPerMsg")) && !Double.isNaN(d(b, "allocBPerMsg"))) {
        allocAll.add(d(a, "allocBPerMsg") / d(b, "allocBPerMsg"));
      }
      if (a == null || b == null || !valid(a) || !valid(b)) {
        dropped++;
        continue;
      }
      valid.add(p);
      cpu.add(d(a, "cpuUsPerMsg") / d(b, "cpuUsPerMsg"));
      elCpu.add(d(a, "elCpuUsPerMsg") / d(b, "elCpuUsPerMsg"));
      alloc.add(d(a, "allocBPerMsg") / d(b, "allocBPerMsg"));
    }
    return new Ratios(workload, check, variant(workload, check.num()), variant(workload, check.den()), valid, cpu,
      elCpu, alloc, allocAll, dropped);
  }

  /** The last attempt of the trial of {@code role} in pair {@code pair}, or null. */
  Map<String, String> trial(String workload, int pair, String role) {
    return last.get(workload + "|" + pair + "|" + role);
  }

  static boolean valid(Map<String, String> r) {
    return "1".equals(r.get("valid"));
  }

  static double d(Map<String, String> r, String key) {
    String v = r.get(key);
    try {
      return v == null ? Double.NaN : Double.parseDouble(v);
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  static double median(List<Double> values) {
    return median(values.stream().mapToDouble(Double::doubleValue).sorted().toArray());
  }
}
