package dev.tether.support;

import dev.tether.net.TlsOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.concurrent.TimeUnit;

/**
 * Key pairs made at test time, once per JVM, by the same generator scripts/gen-dev-cert.sh uses
 * without openssl ({@code java scripts/DevCert.java}, JDK only, offline): a server pair for
 * 127.0.0.1/localhost and a client pair for client-certificate tests. Plus the client side of the
 * JDK (an {@link SSLContext} trusting the server's certificate) for peers built on plain sockets.
 */
public final class TestTls {

  private static TestTls instance;

  public final Path dir;
  public final Path cert;
  public final Path key;
  public final Path clientCert;
  public final Path clientKey;

  private TestTls(Path dir) {
    this.dir = dir;
    this.cert = dir.resolve("server-cert.pem");
    this.key = dir.resolve("server-key.pem");
    this.clientCert = dir.resolve("client-cert.pem");
    this.clientKey = dir.resolve("client-key.pem");
  }

  /** The pairs of this JVM, made on first use. */
  public static synchronized TestTls get() {
    if (instance == null) {
      try {
        Path dir = Files.createTempDirectory("tether-tls");
        generate(dir, "server", "client");
        instance = new TestTls(dir);
      } catch (IOException e) {
        throw new AssertionError("cannot make test key pairs", e);
      }
    }
    return instance;
  }

  /** Runs {@code java scripts/DevCert.java dir names...} in a JVM of its own (the JDK running the tests). */
  public static void generate(Path dir, String... names) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String[] cmd = new String[3 + names.length];
    cmd[0] = java;
    cmd[1] = "scripts/DevCert.java";
    cmd[2] = dir.toString();
    System.arraycopy(names, 0, cmd, 3, names.length);
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      boolean done = p.waitFor(60, TimeUnit.SECONDS);
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!done || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new AssertionError("DevCert failed: " + out);
      }
    } catch (IOException e) {
      throw new AssertionError("cannot run DevCert", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** The server's {@code tls} settings. */
  public TlsOptions server() {
    return TlsOptions.pem(cert.toString(), key.toString());
  }

  /** The server's {@code tls} settings requiring the client certificate. */
  public TlsOptions serverRequiringClientCert() {
    return server().withTrustPath(clientCert.toString());
  }

  /** Vert.x trust options for clients: the server's (self-signed) certificate. */
  public PemTrustOptions trust() {
    return new PemTrustOptions().addCertPath(cert.toString());
  }

  public PemKeyCertOptions clientKeyCert() {
    return new PemKeyCertOptions().setCertPath(clientCert.toString()).setKeyPath(clientKey.toString());
  }

  /** A JDK client context trusting the server certificate, presenting the client pair if asked. */
  public SSLContext clientContext(boolean withClientCert) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("server", certificate(cert));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      KeyManagerFactory kmf = null;
      if (withClientCert) {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("client", privateKey(clientKey), new char[0], new Certificate[] {certificate(clientCert)});
        kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, new char[0]);
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx;
    } catch (Exception e) {
      throw new AssertionError("cannot make a client SSLContext", e);
    }
  }

  /**
   * A TLS client socket over {@code raw} (already connected), hostname verified against the
   * certificate (127.0.0.1 is in its subjectAltName), handshake done.
   */
  public SSLSocket handshake(Socket raw, boolean withClientCert) throws IOException {
    SSLSocket s = (SSLSocket) clientContext(withClientCert).getSocketFactory()
      .createSocket(raw, "127.0.0.1", raw.getPort(), true);
    SSLParameters params = s.getSSLParameters();
    params.setEndpointIdentificationAlgorithm("HTTPS");
    s.setSSLParameters(params);
    s.setUseClientMode(true);
    s.startHandshake();
    return s;
  }

  /** A connected TLS client socket (see {@link #handshake}). */
  public SSLSocket connect(int port) throws IOException {
    Socket raw = new Socket();
    raw.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    return handshake(raw, false);
  }

  private static Certificate certificate(Path pem) throws Exception {
    return CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));
  }

  private static PrivateKey privateKey(Path pem) throws Exception {
    String s = Files.readString(pem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(s)));
  }
}
