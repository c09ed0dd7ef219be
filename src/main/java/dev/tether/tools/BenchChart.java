package dev.tether.tools;

import dev.tether.tools.BenchResults.Check;
import dev.tether.tools.BenchResults.Kind;
import dev.tether.tools.BenchResults.Ratios;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Draws the paired ratios of a {@code scripts/bench.sh} results file as one SVG: one panel per
 * workload and figure (server CPU µs/msg, event-loop bytes/msg), in each panel one column per ratio
 * (tracked/plain, and with the raw Netty anchor tracked/netty and plain/netty), a dot per valid pair,
 * the median as a bar, the target as a red line (a gate) or an orange dashed line (a goal, not a
 * gate), and a grey line at 1.0 (no difference). Hand-written SVG text, no dependency.
 *
 * <pre>java dev.tether.tools.BenchChart results.txt chart.svg [cpuTarget allocTarget [title]]</pre>
 * (targets as for {@link BenchSummary}: a number, or {@code info} for none)
 */
public final class BenchChart {

  static final int PANEL_W = 400;
  static final int PANEL_H = 240;
  static final int GAP_X = 80;
  static final int GAP_Y = 90;
  static final int LEFT = 70;
  static final int TOP = 92;
  static final int BOTTOM = 60;

  private static final String GATE_COLOUR = "#c62828";
  private static final String GOAL_COLOUR = "#ef6c00";
  private static final String[] DOT_COLOURS = {"#1565c0", "#6a1b9a", "#2e7d32"};

  private BenchChart() {
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: BenchChart results.txt chart.svg [cpuTarget allocTarget [title]]");
      System.exit(2);
    }
    Path in = Path.of(args[0]);
    Path out = Path.of(args[1]);
    double cpuTarget = args.length > 2 ? target(args[2]) : 1.05;
    double allocTarget = args.length > 3 ? target(args[3]) : 1.10;
    String title = args.length > 4 ? args[4] : in.toString();
    BenchResults results = BenchResults.read(in);
    Files.writeString(out, svg(results, cpuTarget, allocTarget, title), StandardCharsets.UTF_8);
    System.out.println("chart: " + out);
  }

  /** The chart of {@code results} as SVG text. */
  static String svg(BenchResults results, double cpuTarget, double allocTarget, String title) {
    List<String> workloads = results.workloads();
    List<Check> checks = results.checks(cpuTarget, allocTarget);
    int rows = Math.max(1, workloads.size());
    int width = LEFT + 2 * PANEL_W + GAP_X + 40;
    int height = TOP + rows * PANEL_H + (rows - 1) * GAP_Y + BOTTOM + 60;
    StringBuilder s = new StringBuilder();
    s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", width, height, width, height));
    s.append(String.format(Locale.ROOT, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>%n",
      width, height));
    text(s, LEFT, 26, "start", 16, "bold", "Tether bench: " + title);
    text(s, LEFT, 46, "start", 12, "normal", "Paired ratios, one dot per valid pair; bar = median. Below 1.0: the "
      + "first variant costs less. Transport: " + String.join(", ", results.transports()) + ".");
    text(s, LEFT, 62, "start", 12, "normal", "Red line: target (gate of scripts/bench.sh). Orange dashed: "
      + "issue 10 goal against raw Netty, not a gate. Grey: 1.0.");
    if (workloads.isEmpty()) {
      text(s, LEFT, TOP + 20, "start", 14, "normal", "no results");
    }
    for (int row = 0; row < workloads.size(); row++) {
      String w = workloads.get(row);
      List<Ratios> ratios = new ArrayList<>();
      for (Check c : checks) {
        ratios.add(results.ratios(w, c));
      }
      int y0 = TOP + row * (PANEL_H + GAP_Y);
      panel(s, LEFT, y0, w + ": server CPU µs/msg, ratio", ratios, checks, true, w);
      panel(s, LEFT + PANEL_W + GAP_X, y0, w + ": event-loop bytes/msg, ratio", ratios, checks, false, w);
    }
    s.append("</svg>\n");
    return s.toString();
  }

  private static void panel(StringBuilder s, int x0, int y0, String title, List<Ratios> ratios, List<Check> checks,
                            boolean cpu, String workload) {
    // the y range: every dot, every target, and 1.0, with a margin
    double lo = 1.0;
    double hi = 1.0;
    for (int i = 0; i < ratios.size(); i++) {
      for (Point p : points(ratios.get(i), cpu)) {
        lo = Math.min(lo, p.ratio());
        hi = Math.max(hi, p.ratio());
      }
      double t = target(checks.get(i), cpu, workload);
      if (!Double.isNaN(t)) {
        lo = Math.min(lo, t);
        hi = Math.max(hi, t);
      }
    }
    // linear while the ratios stay close (the gate region); log when a panel spans more than 1.5x
    // (the raw Netty anchor can be several times cheaper in bytes), so that 1.1 stays readable
    boolean log = lo > 0 && hi / lo > 1.5;
    List<Double> ticks;
    java.util.function.DoubleUnaryOperator y;
    if (log) {
      double llo = Math.log10(lo) - 0.04;
      double lhi = Math.log10(hi) + 0.04;
      ticks = logTicks(Math.pow(10, llo), Math.pow(10, lhi));
      y = v -> y0 + PANEL_H - (Math.log10(v) - llo) / (lhi - llo) * PANEL_H;
    } else {
      double span = Math.max(hi - lo, 0.1);
      lo -= span * 0.12;
      hi += span * 0.12;
      double step = niceStep((hi - lo) / 5);
      double flo = Math.floor(lo / step) * step;
      double fhi = Math.ceil(hi / step) * step;
      ticks = new ArrayList<>();
      for (int k = 0; flo + k * step <= fhi + step / 2; k++) {
        ticks.add(flo + k * step);
      }
      y = v -> y0 + PANEL_H - (v - flo) / (fhi - flo) * PANEL_H;
    }

    text(s, x0, y0 - 10, "start", 13, "bold", title + (log ? " (log scale)" : ""));
    s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
      + "stroke=\"#9e9e9e\"/>%n", x0, y0, PANEL_W, PANEL_H));
    for (double t : ticks) {
      double yy = y.applyAsDouble(t);
      s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>%n",
        x0, yy, x0 + PANEL_W, yy));
      text(s, x0 - 6, yy + 4, "end", 11, "normal", tickLabel(t));
    }
    double one = y.applyAsDouble(1.0);
    s.append(String.format(Locale.ROOT, "<line class=\"one\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
      + "stroke=\"#757575\" stroke-width=\"1.5\"/>%n", x0, one, x0 + PANEL_W, one));

    double colW = (double) PANEL_W / ratios.size();
    for (int i = 0; i < ratios.size(); i++) {
      Ratios r = ratios.get(i);
      Check c = checks.get(i);
      double cx = x0 + colW * (i + 0.5);
      List<Point> vs = points(r, cpu);
      double t = target(c, cpu, workload);
      if (!Double.isNaN(t)) {
        boolean goal = c.kind() == Kind.GOAL;
        double ty = y.applyAsDouble(t);
        s.append(String.format(Locale.ROOT, "<line class=\"target %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            + "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>%n", goal ? "goal" : "gate", cx - colW * 0.45, ty,
          cx + colW * 0.45, ty, goal ? GOAL_COLOUR : GATE_COLOUR, goal ? " stroke-dasharray=\"6 4\"" : ""));
        text(s, cx - colW * 0.45, ty - 4, "start", 10, "normal", (goal ? "goal ≤" : "target ≤") + fmt(t),
          goal ? GOAL_COLOUR : GATE_COLOUR);
      }
      String colour = DOT_COLOURS[i % DOT_COLOURS.length];
      double spacing = Math.min(12, colW * 0.5 / Math.max(1, vs.size()));
      for (int k = 0; k < vs.size(); k++) {
        double dx = (k - (vs.size() - 1) / 2.0) * spacing;
        s.append(String.format(Locale.ROOT, "<circle class=\"pair\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" "
            + "fill-opacity=\"0.75\"><title>pair %d: %.3f</title></circle>%n", cx + dx,
          y.applyAsDouble(vs.get(k).ratio()), colour, vs.get(k).pair(), vs.get(k).ratio()));
      }
      if (!vs.isEmpty()) {
        double med = BenchResults.median(vs.stream().map(Point::ratio).toList());
        double my = y.applyAsDouble(med);
        s.append(String.format(Locale.ROOT, "<line class=\"median\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
          + "stroke=\"#212121\" stroke-width=\"3\"/>%n", cx - colW * 0.22, my, cx + colW * 0.22, my));
        text(s, cx + colW * 0.22 + 3, my + 4, "start", 11, "bold", fmt3(med));
      } else {
        text(s, cx, y0 + PANEL_H / 2.0, "middle", 11, "normal", "no valid pairs");
      }
      text(s, cx, y0 + PANEL_H + 16, "middle", 12, "normal", r.name());
      String kind = switch (c.kind()) {
        case GATE -> Double.isNaN(t) ? "no target" : "gate";
        case GOAL -> Double.isNaN(t) ? "information" : "goal";
        case INFO -> "information";
      };
      text(s, cx, y0 + PANEL_H + 31, "middle", 11, "normal", kind + ", " + vs.size() + " pair"
        + (vs.size() == 1 ? "" : "s"), "#616161");
    }
  }

  /** A drawn dot: the pair's number and its ratio. */
  private record Point(int pair, double ratio) {
  }

  /** The finite ratios of the figure, with their pair numbers. */
  private static List<Point> points(Ratios r, boolean cpu) {
    List<Point> out = new ArrayList<>();
    List<Double> src = cpu ? r.cpu() : r.alloc();
    for (int i = 0; i < src.size(); i++) {
      double v = src.get(i);
      if (!Double.isNaN(v) && !Double.isInfinite(v)) {
        out.add(new Point(r.pairs().get(i), v));
      }
    }
    return out;
  }

  private static double target(Check c, boolean cpu, String workload) {
    return cpu ? c.cpuTarget() : c.allocTarget(workload);
  }

  /** Ticks for a log axis from lo to hi: the densest of 1-2-5, 1-1.5-2-3-5-7 or 1..9 with at most 8. */
  static List<Double> logTicks(double lo, double hi) {
    double[][] sets = {{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9}, {1, 1.5, 2, 3, 5, 7}, {1, 2, 5}, {1}};
    List<Double> ticks = new ArrayList<>();
    for (double[] set : sets) {
      ticks = new ArrayList<>();
      for (int e = (int) Math.floor(Math.log10(lo)); e <= (int) Math.ceil(Math.log10(hi)); e++) {
        for (double m : set) {
          double t = m * Math.pow(10, e);
          if (t >= lo && t <= hi) {
            ticks.add(t);
          }
        }
      }
      if (ticks.size() <= 8) {
        return ticks;
      }
    }
    return ticks;
  }

  private static String tickLabel(double t) {
    String s = String.format(Locale.ROOT, "%.2f", t);
    // 1.50 -> 1.5, 2.00 -> 2, 0.25 stays
    s = s.replaceAll("0+$", "");
    return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
  }

  static double niceStep(double raw) {
    double mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (m * mag >= raw) {
        return m * mag;
      }
    }
    return 10 * mag;
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static String fmt3(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }

  private static double target(String arg) {
    return arg.equals("info") ? Double.NaN : Double.parseDouble(arg);
  }

  private static void text(StringBuilder s, double x, double y, String anchor, int size, String weight, String text) {
    text(s, x, y, anchor, size, weight, text, "#212121");
  }

  private static void text(StringBuilder s, double x, double y, String anchor, int size, String weight, String text,
                           String colour) {
    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" "
      + "font-weight=\"%s\" fill=\"%s\">%s</text>%n", x, y, anchor, size, weight, colour, escape(text)));
  }

  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (char ch : s.toCharArray()) {
      switch (ch) {
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '&' -> b.append("&amp;");
        case '"' -> b.append("&quot;");
        default -> b.append(ch);
      }
    }
    return b.toString();
  }
}
