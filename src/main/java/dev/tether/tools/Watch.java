package dev.tether.tools;

import io.vertx.core.json.JsonObject;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints Tether's failure and recovery events as they happen, read from a node's TCP event-bus
 * bridge (default 127.0.0.1:7002). Needs nothing but a socket: each frame is a 4-byte big-endian
 * length followed by that many bytes of UTF-8 JSON.
 *
 * <pre>
 * scripts/watch.sh [--host H] [--port P] [--json] [--tls | --trust PEM] [--address tether.failure]...
 * </pre>
 * One line per event; {@code --json} prints the event bodies as JSON lines instead. A bridge with
 * {@code bridge.tls}: {@code --trust PEM} trusts that certificate (e.g. conf/tls/dev-cert.pem),
 * {@code --tls} the JVM's trust store; the host name is checked against the certificate.
 */
public final class Watch {

  /** Largest frame accepted from the bridge (events are small; this guards against garbage). */
  static final int MAX_FRAME = 1 << 20;

  private Watch() {
  }

  public static void main(String[] args) {
    String host = "127.0.0.1";
    int port = 7002;
    boolean json = false;
    boolean tls = false;
    String trust = null;
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--host" -> host = args[++i];
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--json" -> json = true;
        case "--tls" -> tls = true;
        case "--trust" -> {
          trust = args[++i];
          tls = true;
        }
        case "--address" -> addresses.add(args[++i]);
        case "-h", "--help" -> {
          System.out.println("usage: watch [--host 127.0.0.1] [--port 7002] [--json] [--tls | --trust PEM]"
            + " [--address tether.failure]...");
          return;
        }
        default -> {
          System.err.println("unknown argument: " + args[i]);
          System.exit(2);
        }
      }
    }
    if (addresses.isEmpty()) {
      addresses = List.of("tether.failure", "tether.recovery");
    }
    try {
      watch(host, port, addresses, json, tls, trust, System.out);
    } catch (IOException e) {
      System.err.println("watch: " + host + ":" + port + ": " + e);
      System.exit(1);
    }
  }

  /** Connects, registers to {@code addresses} and prints every frame until the bridge closes. */
  public static void watch(String host, int port, List<String> addresses, boolean json, PrintStream out)
    throws IOException {
    watch(host, port, addresses, json, false, null, out);
  }

  /** The same over TLS when {@code tls}, trusting {@code trustPem} (null: the JVM's trust store). */
  public static void watch(String host, int port, List<String> addresses, boolean json, boolean tls, String trustPem,
                           PrintStream out) throws IOException {
    try (Socket raw = new Socket()) {
      raw.connect(new InetSocketAddress(host, port), 5000);
      Socket socket = tls ? TlsClient.wrap(raw, host, trustPem) : raw;
      DataOutputStream o = new DataOutputStream(socket.getOutputStream());
      DataInputStream in = new DataInputStream(socket.getInputStream());
      for (String a : addresses) {
        write(o, new JsonObject().put("type", "register").put("address", a));
      }
      out.println("# watching " + String.join(", ", addresses) + " on " + host + ":" + port + (tls ? " (TLS)" : ""));
      out.flush();
      while (true) {
        JsonObject frame;
        try {
          frame = read(in);
        } catch (EOFException closed) {
          out.println("# bridge closed the connection");
          return;
        }
        out.println(json ? String.valueOf(frame.getValue("body")) : format(frame));
        out.flush();
      }
    }
  }

  /** Writes one frame: 4-byte big-endian length, then the JSON in UTF-8. */
  public static void write(DataOutputStream out, JsonObject frame) throws IOException {
    byte[] bytes = frame.encode().getBytes(StandardCharsets.UTF_8);
    out.writeInt(bytes.length);
    out.write(bytes);
    out.flush();
  }

  /** Reads one frame. */
  public static JsonObject read(DataInputStream in) throws IOException {
    int len = in.readInt();
    if (len < 0 || len > MAX_FRAME) {
      throw new IOException("bad frame length " + len);
    }
    byte[] bytes = new byte[len];
    in.readFully(bytes);
    return new JsonObject(new String(bytes, StandardCharsets.UTF_8));
  }

  /** One human-readable line for a bridge frame. */
  static String format(JsonObject frame) {
    String type = frame.getString("type");
    if (!"message".equals(type) && !"rec".equals(type)) {
      return "# " + frame.encode();
    }
    Object b = frame.getValue("body");
    if (!(b instanceof JsonObject e)) {
      return frame.getString("address") + " " + b;
    }
    String time = e.getValue("time") instanceof Number t ? java.time.Instant.ofEpochMilli(t.longValue()).toString() : "?";
    if (e.containsKey("failure")) {
      return String.format("%s RECOVERY %-20s %s/%s %s %s %s bytes=%s %s", time, e.getString("kind"),
        e.getString("node"), e.getString("connection"), e.getString("policy"), e.getString("action"),
        e.getString("result"), e.getValue("bytes"), e.getString("message") == null ? "" : e.getString("message"));
    }
    if ("NODE_LOST".equals(e.getString("kind"))) {
      return String.format("%s FAILURE  %-20s %s member=%s remote=%s held=%s takenOver=%s lost=%s graceful=%s reportedBy=%s",
        time, "NODE_LOST", e.getString("node"), e.getString("member"), e.getString("remote"), e.getValue("sessionsHeld"),
        e.getValue("sessionsTakenOver"), e.getValue("sessionsLost"), e.getValue("graceful"), e.getString("reportedBy"));
    }
    return String.format("%s FAILURE  %-20s %s/%s %s remote=%s requested=%s flushed=%s unsent=%s offset=%s %s",
      time, e.getString("kind"), e.getString("node"), e.getString("connection"), e.getString("direction"),
      e.getString("remote"), e.getValue("requested"), e.getValue("flushed"), e.getValue("unsent"),
      e.getValue("offset"), e.getString("cause") == null ? "" : e.getString("cause"));
  }
}
