package dev.tether.cluster;

import io.vertx.core.json.JsonObject;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A raw TCP event-bus bridge client on the test thread: 4-byte big-endian length + UTF-8 JSON. */
final class BridgeClient implements AutoCloseable {

  private final Socket socket = new Socket();
  private final DataOutputStream out;
  private final DataInputStream in;

  BridgeClient(int port, String... addresses) throws IOException {
    socket.setSoTimeout(15_000);
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    out = new DataOutputStream(socket.getOutputStream());
    in = new DataInputStream(socket.getInputStream());
    for (String a : addresses) {
      send(new JsonObject().put("type", "register").put("address", a));
    }
    List<JsonObject> before = sync();
    if (!before.isEmpty()) {
      throw new IllegalStateException("unexpected frames after registering: " + before);
    }
  }

  void send(JsonObject frame) throws IOException {
    byte[] b = frame.encode().getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
    out.flush();
  }

  JsonObject receive() throws IOException {
    int len = in.readInt();
    byte[] b = new byte[len];
    in.readFully(b);
    return new JsonObject(new String(b, StandardCharsets.UTF_8));
  }

  /** Reads {@code n} message frames (blocking, bounded by the socket timeout). */
  List<JsonObject> messages(int n) throws IOException {
    List<JsonObject> got = new ArrayList<>();
    while (got.size() < n) {
      JsonObject f = receive();
      if (!"message".equals(f.getString("type"))) {
        throw new IllegalStateException("unexpected frame " + f);
      }
      got.add(f);
    }
    return got;
  }

  /** Sends a ping and returns the frames that came before its pong. */
  List<JsonObject> sync() throws IOException {
    send(new JsonObject().put("type", "ping"));
    List<JsonObject> before = new ArrayList<>();
    for (JsonObject f = receive(); !"pong".equals(f.getString("type")); f = receive()) {
      before.add(f);
    }
    return before;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
