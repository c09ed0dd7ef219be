package dev.tether.net;

import dev.tether.config.ServerConfig;
import dev.tether.config.TetherConfig;
import dev.tether.support.TestTls;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** The {@code tls} key: parsed, checked up front with messages naming the key, carried by Vert.x's options. */
class TlsOptionsTest {

  private final TestTls t = TestTls.get();

  private JsonObject tls() {
    return new JsonObject().put("certPath", t.cert.toString()).put("keyPath", t.key.toString());
  }

  private static JsonObject server(JsonObject tls) {
    return new JsonObject().put("verticle", "echo").put("port", 0).put("tls", tls);
  }

  private static void rejected(JsonObject tls, String... parts) {
    assertThatThrownBy(() -> ServerConfig.fromJson("echo", server(tls), Set.of()))
      .isInstanceOf(IllegalArgumentException.class).message().contains(parts);
    assertThatThrownBy(() -> new TrackedServerOptions(server(tls).put("name", "echo")))
      .isInstanceOf(IllegalArgumentException.class).message().contains(parts);
  }

  @Test
  void aServerWithTlsGetsVertxsOwnPemOptions() {
    ServerConfig c = ServerConfig.fromJson("echo", server(tls()), Set.of());
    TrackedServerOptions o = c.trackedServerOptions();
    assertThat(o.isSsl()).isTrue();
    assertThat(o.getKeyCertOptions()).isInstanceOf(PemKeyCertOptions.class);
    assertThat(((PemKeyCertOptions) o.getKeyCertOptions()).getCertPaths()).containsExactly(t.cert.toString());
    assertThat(((PemKeyCertOptions) o.getKeyCertOptions()).getKeyPaths()).containsExactly(t.key.toString());
    assertThat(o.getTrustOptions()).isNull();
    assertThat(o.getClientAuth()).isEqualTo(ClientAuth.NONE);
    assertThat(c.netServerOptions().isSsl()).isTrue();

    TrackedServerOptions mutual = new TrackedServerOptions(server(tls().put("trustPath", t.clientCert.toString()))
      .put("name", "echo"));
    assertThat(mutual.getClientAuth()).isEqualTo(ClientAuth.REQUIRED);
    assertThat(((PemTrustOptions) mutual.getTrustOptions()).getCertPaths()).containsExactly(t.clientCert.toString());
  }

  @Test
  void theJsonFormAndTheCopiesRoundTrip() {
    TrackedServerOptions o = new TrackedServerOptions().setName("secure").setPort(9443)
      .setTls(t.serverRequiringClientCert());
    JsonObject json = o.toJson();
    assertThat(json.getJsonObject("tls")).isEqualTo(new JsonObject().put("certPath", t.cert.toString())
      .put("keyPath", t.key.toString()).put("trustPath", t.clientCert.toString()));
    assertThat(json.getBoolean("ssl")).isTrue();
    TrackedServerOptions back = new TrackedServerOptions(json);
    assertThat(back.toJson()).isEqualTo(json);
    assertThat(back.getTls()).isEqualTo(o.getTls());
    assertThat(new TrackedServerOptions(o).toJson()).isEqualTo(json);

    TrackedClientOptions client = new TrackedClientOptions().setName("up").setSsl(true)
      .setTrustOptions(t.trust()).setHostnameVerificationAlgorithm("HTTPS");
    TrackedClientOptions clientBack = new TrackedClientOptions(client.toJson());
    assertThat(clientBack.toJson()).isEqualTo(client.toJson());
    assertThat(clientBack.isSsl()).isTrue();
    assertThat(clientBack.getHostnameVerificationAlgorithm()).isEqualTo("HTTPS");
  }

  @Test
  void disabledTlsIsKeptButNotCheckedNorApplied() {
    JsonObject off = new JsonObject().put("enabled", false).put("certPath", "no/such/cert.pem").put("keyPath", "no/such/key.pem");
    ServerConfig c = ServerConfig.fromJson("echo", server(off), Set.of());
    assertThat(c.netServerOptions().isSsl()).isFalse();
    TrackedServerOptions o = new TrackedServerOptions(server(off).put("name", "echo"));
    assertThat(o.isSsl()).isFalse();
    assertThat(o.toJson().getJsonObject("tls")).isEqualTo(off);
  }

  @Test
  void missingFilesNameTheirKey(@TempDir Path dir) {
    rejected(tls().put("certPath", dir.resolve("nope.pem").toString()), "servers.echo.tls.certPath", "no such file",
      "nope.pem");
    rejected(tls().put("keyPath", dir.toString()), "servers.echo.tls.keyPath", "not a file");
    rejected(tls().put("trustPath", dir.resolve("clients.pem").toString()), "servers.echo.tls.trustPath", "no such file");
  }

  @Test
  void anUnreadableFileNamesItsKey(@TempDir Path dir) throws Exception {
    assumeFalse("root".equals(System.getProperty("user.name")), "root reads files whatever their permissions");
    Path locked = Files.copy(t.key, dir.resolve("locked-key.pem"));
    Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
    rejected(tls().put("keyPath", locked.toString()), "servers.echo.tls.keyPath", "cannot read");
  }

  @Test
  void badContentsAndCombinationsNameTheirKey(@TempDir Path dir) throws Exception {
    rejected(tls().put("certPath", t.key.toString()), "servers.echo.tls.certPath", "no PEM certificate");
    rejected(tls().put("keyPath", t.cert.toString()), "servers.echo.tls.keyPath", "no PEM private key");
    rejected(tls().put("keyPath", t.clientKey.toString()), "servers.echo.tls.keyPath", "does not belong to the certificate");
    Path encrypted = Files.writeString(dir.resolve("enc.pem"),
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n");
    rejected(tls().put("keyPath", encrypted.toString()), "servers.echo.tls.keyPath", "encrypted");
    rejected(new JsonObject().put("certPath", t.cert.toString()), "servers.echo.tls.keyPath", "missing");
    rejected(new JsonObject().put("trustPath", t.clientCert.toString()), "servers.echo.tls.certPath", "missing",
      "trustPath alone");
    rejected(tls().put("certFile", "x"), "servers.echo.tls.certFile", "unknown key");
    rejected(tls().put("enabled", "yes"), "servers.echo.tls.enabled");
    rejected(tls().put("certPath", ""), "servers.echo.tls.certPath");
    assertThatThrownBy(() -> ServerConfig.fromJson("echo", server(null).put("tls", "on"), Set.of()))
      .hasMessageContaining("servers.echo.tls: must be an object");
  }

  @Test
  void httpAndBridgeTakeTlsToo() {
    JsonObject conf = new JsonObject()
      .put("http", new JsonObject().put("tls", tls()))
      .put("bridge", new JsonObject().put("tls", tls().put("trustPath", t.clientCert.toString())));
    TetherConfig c = TetherConfig.fromJson(conf);
    assertThat(c.observability().http().tls()).isEqualTo(t.server());
    assertThat(c.observability().bridge().tls()).isEqualTo(t.serverRequiringClientCert());
    assertThat(TetherConfig.fromJson(new JsonObject()).observability().http().tls()).isNull();

    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("http", new JsonObject()
      .put("tls", tls().put("keyPath", "missing-key.pem")))))
      .hasMessageContaining("http.tls.keyPath: no such file");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("bridge", new JsonObject()
      .put("tls", new JsonObject().put("certPath", t.cert.toString())))))
      .hasMessageContaining("bridge.tls.keyPath: missing");
    assertThatThrownBy(() -> TetherConfig.fromJson(new JsonObject().put("servers", new JsonObject()
      .put("session", new JsonObject().put("verticle", "session").put("port", 0)
        .put("tls", tls().put("certPath", t.clientKey.toString()))))))
      .hasMessageContaining("servers.session.tls.certPath: no PEM certificate");
  }
}
