package dev.tether.monitor;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every endpoint with a bad parameter or a malformed path answers 400 with a JSON body naming what is
 * wrong, never 500 and never an ignored parameter; the requests go over a raw socket so that targets a
 * URI library would refuse (bad percent-escapes) reach the server as sent. Good requests still answer.
 */
class MonitorBadRequestTest {

  static MonitorNode node;

  @BeforeAll
  static void start() throws Exception {
    node = new MonitorNode(MonitorNode.echo(null), new JsonObject());
  }

  @AfterAll
  static void stop() throws Exception {
    node.close();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = ' ', value = {
    "/events?limit=abc limit",
    "/events?limit=-5 limit",
    "/events?limit=0 limit",
    "/events?limit=1000000000000 limit",
    "/events?limit=10001 limit",
    "/events?limit= limit",
    "/events?limit=1.5 limit",
    "/events?kind=NOPE kind",
    "/events?kind=write_failed kind",
    "/events?type=both type",
    "/events?node= node",
    "/events?limit=5&limit=6 limit",
    "/events?bogus=1 bogus",
    "/events?limit=%zz limit",
    "/events?%zz=1 query",
    "/events?=1 query",
    "/health?verbose=1 verbose",
    "/metrics?name[]=x name[]",
    "/nodes?x x",
    "/events/stream?limit=5 limit",
    "/?v=1 v",
    "/%zz path",
    "/events%00 path",
  })
  void badParameterIs400NamingIt(String target, String parameter) throws IOException {
    Reply r = get(target);
    assertThat(r.status).as("%s: %s", target, r.body).isEqualTo(400);
    assertThat(r.contentType).startsWith("application/json");
    JsonObject body = new JsonObject(r.body);
    assertThat(body.getString("parameter")).isEqualTo(parameter);
    assertThat(body.getString("error")).startsWith(parameter + ": ");
  }

  @Test
  void longQueryIs400() throws IOException {
    Reply r = get("/events?node=" + "n".repeat(3000));
    assertThat(r.status).isEqualTo(400);
    assertThat(new JsonObject(r.body).getString("parameter")).isEqualTo("query");
    Reply v = get("/events?node=" + "n".repeat(300));
    assertThat(v.status).isEqualTo(400);
    assertThat(new JsonObject(v.body).getString("parameter")).isEqualTo("node");
  }

  @Test
  void goodRequestsStillAnswer() throws IOException {
    assertThat(get("/events?limit=10000&kind=WRITE_FAILED&type=failure&node=x").status).isEqualTo(200);
    assertThat(get("/events?limit=1").status).isEqualTo(200);
    assertThat(get("/events?kind=PROTOCOL_ERROR&").status).isEqualTo(200);
    assertThat(get("/events").status).isEqualTo(200);
    assertThat(get("/health").status).isEqualTo(200);
    assertThat(get("/metrics").status).isEqualTo(200);
    assertThat(get("/nodes").status).isEqualTo(200);
    assertThat(get("/").status).isEqualTo(200);
    Reply missing = get("/nope");
    assertThat(missing.status).isEqualTo(404);
    assertThat(new JsonObject(missing.body).getString("error")).contains("/nope");
  }

  @Test
  void malformedRequestLineIsRefusedAndTheServerStaysUp() throws IOException {
    try (Socket s = new Socket("127.0.0.1", node.httpPort)) {
      s.getOutputStream().write("GARBAGE\u0001\u0002 \r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      s.setSoTimeout(10_000);
      String reply = new String(readAll(s.getInputStream()), StandardCharsets.ISO_8859_1);
      assertThat(reply).startsWith("HTTP/1.0 400");
    }
    assertThat(get("/health").status).isEqualTo(200);
  }

  record Reply(int status, String contentType, String body) {
  }

  static Reply get(String target) throws IOException {
    try (Socket s = new Socket("127.0.0.1", node.httpPort)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
      String text = new String(readAll(s.getInputStream()), StandardCharsets.UTF_8);
      int headEnd = text.indexOf("\r\n\r\n");
      String head = text.substring(0, headEnd);
      int status = Integer.parseInt(head.split(" ")[1]);
      String type = "";
      for (String line : head.split("\r\n")) {
        if (line.toLowerCase().startsWith("content-type:")) {
          type = line.substring(13).trim();
        }
      }
      return new Reply(status, type, text.substring(headEnd + 4));
    }
  }

  static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] b = new byte[8192];
    int n;
    while ((n = in.read(b)) > 0) {
      out.write(b, 0, n);
    }
    return out.toByteArray();
  }
}
