package dev.tether.tools;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * The helper behind {@code scripts/cluster.sh}: per-node configuration for a local cluster, and the
 * bounded waits and status of its nodes (no jq or curl needed, only the jar).
 *
 * <pre>
 * ClusterConf nodes  --count N --in conf/tether.json --dir target/cluster [--port-offset 0]
 *     writes DIR/node-I.json for I = 1..N: node name node-I, every non-zero port + offset + 100*(I-1)
 * ClusterConf xml    --in conf/cluster.xml --out FILE [--cluster-name NAME] [--port FIRST]
 *     the Hazelcast configuration with another cluster name and/or member ports FIRST.. (same count)
 * ClusterConf wait   --dir target/cluster --nodes node-1[,node-2..] --members M [--timeout-s 120]
 *     until each node's /health is UP and names M members; fails at once when a node's process died
 * ClusterConf status --dir target/cluster
 *     one line per node: pid, alive, HTTP port, /health status and cluster members
 * </pre>
 * Exit codes: 0 done, 1 the wait timed out or a process died, 2 bad usage.
 */
public final class ClusterConf {

  /** Ports of node I are those of the template plus this step times (I - 1). */
  public static final int PORT_STEP = 100;

  private ClusterConf() {
  }

  public static void main(String[] argv) {
    try {
      if (argv.length == 0) {
        throw new Args.UsageException(usage());
      }
      String[] rest = java.util.Arrays.copyOfRange(argv, 1, argv.length);
      int rc = switch (argv[0]) {
        case "nodes" -> nodes(new Args(rest, Set.of("count", "in", "dir", "port-offset"), usage()));
        case "xml" -> xml(new Args(rest, Set.of("in", "out", "cluster-name", "port"), usage()));
        case "wait" -> await(new Args(rest, Set.of("dir", "nodes", "members", "timeout-s"), usage()));
        case "status" -> status(new Args(rest, Set.of("dir"), usage()));
        default -> throw new Args.UsageException("unknown command " + argv[0] + "\n" + usage());
      };
      System.exit(rc);
    } catch (Args.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      System.err.println("cluster: " + e);
      System.exit(2);
    }
  }

  private static String usage() {
    return "usage: ClusterConf nodes --count N --in conf/tether.json --dir DIR [--port-offset 0]\n"
      + "       ClusterConf xml --in conf/cluster.xml --out FILE [--cluster-name NAME] [--port FIRST]\n"
      + "       ClusterConf wait --dir DIR --nodes node-1,node-2 --members M [--timeout-s 120]\n"
      + "       ClusterConf status --dir DIR";
  }

  // ---------------------------------------------------------------------------------------------
  // nodes

  private static int nodes(Args a) throws IOException {
    int count = (int) a.number("count", -1);
    if (count < 1 || count > 10) {
      throw new Args.UsageException("--count: 1..10 nodes (conf/cluster.xml lists 10 member ports)");
    }
    JsonObject template = new JsonObject(Files.readString(Path.of(a.string("in", "conf/tether.json"))));
    Path dir = Path.of(a.string("dir", "target/cluster"));
    Files.createDirectories(dir);
    int offset = (int) a.number("port-offset", 0);
    for (int i = 1; i <= count; i++) {
      String name = "node-" + i;
      JsonObject conf = node(template, name, offset + PORT_STEP * (i - 1));
      Files.writeString(dir.resolve(name + ".json"), conf.encodePrettily() + "\n");
      System.out.println(name + " http " + httpPort(conf));
    }
    return 0;
  }

  /** {@code template} with node name {@code name} and every non-zero port moved by {@code offset}. */
  public static JsonObject node(JsonObject template, String name, int offset) {
    JsonObject conf = template.copy().put("node", name);
    for (String section : List.of("http", "bridge")) {
      move(conf.getJsonObject(section), section, offset);
    }
    JsonObject servers = conf.getJsonObject("servers", new JsonObject());
    for (String s : servers.fieldNames()) {
      move(servers.getJsonObject(s), "servers." + s, offset);
    }
    return conf;
  }

  private static void move(JsonObject section, String where, int offset) {
    if (section == null || !(section.getValue("port") instanceof Number p) || p.intValue() == 0) {
      return; // absent (its default is moved by whoever adds it) or 0 (a free port anyway)
    }
    int port = p.intValue() + offset;
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(where + ".port " + p + " + " + offset + " is not a port");
    }
    section.put("port", port);
  }

  /** The HTTP port of a node configuration (8080 when {@code http.port} is absent). */
  static int httpPort(JsonObject conf) {
    JsonObject http = conf.getJsonObject("http", new JsonObject());
    return http.getInteger("port", 8080);
  }

  // ---------------------------------------------------------------------------------------------
  // xml

  private static int xml(Args a) throws Exception {
    var factory = DocumentBuilderFactory.newInstance();
    factory.setExpandEntityReferences(false);
    Document doc = factory.newDocumentBuilder().parse(Path.of(a.string("in", "conf/cluster.xml")).toFile());
    String name = a.string("cluster-name", null);
    if (name != null) {
      if (!name.matches("[A-Za-z0-9_.-]+")) {
        throw new Args.UsageException("--cluster-name: letters, digits, '.', '_' or '-'");
      }
      only(doc, "cluster-name").setTextContent(name);
    }
    String port = a.string("port", null);
    if (port != null) {
      int first = (int) a.number("port", 5701);
      Element portElement = only(doc, "port");
      portElement.setTextContent(String.valueOf(first));
      NodeList members = doc.getElementsByTagName("member");
      List<Node> list = new ArrayList<>();
      for (int i = 0; i < members.getLength(); i++) {
        list.add(members.item(i));
      }
      for (int i = 0; i < list.size(); i++) {
        list.get(i).setTextContent("127.0.0.1:" + (first + i));
      }
      portElement.setAttribute("port-count", String.valueOf(Math.max(list.size(), 1)));
    }
    var transformer = TransformerFactory.newInstance().newTransformer();
    transformer.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
    transformer.transform(new DOMSource(doc), new StreamResult(Path.of(a.string("out", null)).toFile()));
    return 0;
  }

  private static Element only(Document doc, String tag) {
    NodeList l = doc.getElementsByTagName(tag);
    if (l.getLength() != 1) {
      throw new IllegalArgumentException("expected one <" + tag + "> in the Hazelcast configuration, found " + l.getLength());
    }
    return (Element) l.item(0);
  }

  // ---------------------------------------------------------------------------------------------
  // wait, status

  /** One node of a local cluster as scripts/cluster.sh left it in DIR. */
  record NodeFiles(String name, long pid, boolean alive, int httpPort) {

    static NodeFiles read(Path dir, String name) throws IOException {
      Path pidFile = dir.resolve(name + ".pid");
      long pid = -1;
      if (Files.exists(pidFile)) {
        try {
          pid = Long.parseLong(Files.readString(pidFile).trim());
        } catch (NumberFormatException e) {
          pid = -1;
        }
      }
      long p = pid;
      boolean alive = p > 0 && ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false);
      int http = ClusterConf.httpPort(new JsonObject(Files.readString(dir.resolve(name + ".json"))));
      return new NodeFiles(name, pid, alive, http);
    }
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  /** {@code /health} of a node: its JSON, or null when it does not answer within 2 s. */
  static JsonObject health(int port) {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
        .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
      return new JsonObject(r.body());
    } catch (IOException | RuntimeException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  static List<String> members(JsonObject health) {
    JsonObject c = health == null ? null : health.getJsonObject("cluster");
    JsonArray m = c == null ? null : c.getJsonArray("members");
    List<String> out = new ArrayList<>();
    if (m != null) {
      m.forEach(x -> out.add(String.valueOf(x)));
    }
    return out;
  }

  private static int await(Args a) throws Exception {
    Path dir = Path.of(a.string("dir", "target/cluster"));
    List<String> names = List.of(a.string("nodes", "").split(","));
    int members = (int) a.number("members", 1);
    long deadline = System.nanoTime() + Duration.ofSeconds(a.number("timeout-s", 120)).toNanos();
    TreeMap<String, String> last = new TreeMap<>();
    while (true) {
      boolean all = true;
      for (String n : names) {
        NodeFiles f = NodeFiles.read(dir, n);
        if (!f.alive()) {
          System.err.println(n + " (pid " + f.pid() + ") is not running; see " + dir.resolve(n + ".log"));
          return 1;
        }
        JsonObject h = health(f.httpPort());
        List<String> m = members(h);
        boolean ok = h != null && "UP".equals(h.getString("status")) && m.size() == members;
        last.put(n, h == null ? "no answer on " + f.httpPort() : h.getString("status") + " members=" + m);
        all &= ok;
      }
      if (all) {
        last.forEach((n, s) -> System.out.println(n + " " + s));
        return 0;
      }
      if (System.nanoTime() - deadline > 0) {
        System.err.println("timed out waiting for " + members + " member(s) on " + names + ": " + last);
        return 1;
      }
      Thread.sleep(250); // polling interval of a bounded wait on other processes
    }
  }

  private static int status(Args a) throws IOException {
    Path dir = Path.of(a.string("dir", "target/cluster"));
    List<String> names = new ArrayList<>();
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        files.map(p -> p.getFileName().toString()).filter(f -> f.matches("node-\\d+\\.json"))
          .map(f -> f.substring(0, f.length() - ".json".length()))
          .sorted((x, y) -> Integer.compare(Integer.parseInt(x.substring(5)), Integer.parseInt(y.substring(5))))
          .forEach(names::add);
      }
    }
    if (names.isEmpty()) {
      System.out.println("no cluster nodes in " + dir);
      return 0;
    }
    System.out.printf("%-8s %-8s %-6s %-6s %-6s %s%n", "node", "pid", "alive", "http", "health", "cluster members");
    for (String n : names) {
      NodeFiles f = NodeFiles.read(dir, n);
      JsonObject h = f.alive() ? health(f.httpPort()) : null;
      System.out.printf("%-8s %-8s %-6s %-6d %-6s %s%n", n, f.pid() > 0 ? String.valueOf(f.pid()) : "-",
        f.alive() ? "yes" : "no", f.httpPort(), h == null ? "-" : h.getString("status"),
        h == null ? "-" : String.join(",", members(h)));
    }
    return 0;
  }
}
