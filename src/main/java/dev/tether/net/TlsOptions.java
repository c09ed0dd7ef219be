package dev.tether.net;

import io.vertx.core.http.ClientAuth;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * TLS for a server from PEM files: the {@code tls} object of {@code servers.<name>}, {@code bridge}
 * and {@code http} in {@code conf/tether.json}:
 *
 * <pre>{@code
 * "tls": {"certPath": "conf/tls/dev-cert.pem", "keyPath": "conf/tls/dev-key.pem",
 *         "trustPath": "conf/tls/clients.pem"}      // optional: require client certificates
 * }</pre>
 *
 * {@code enabled} (default true) switches it off without removing the paths. It is carried out by
 * Vert.x's own options ({@link #applyTo}): {@code ssl}, {@link PemKeyCertOptions},
 * {@link PemTrustOptions} and {@link ClientAuth#REQUIRED} when {@code trustPath} is given.
 *
 * <p>{@link #fromJson} checks the files up front, with messages naming the key: a missing or
 * unreadable file, a certificate file without a certificate, an encrypted or missing key, a key that
 * does not belong to the certificate, a trust file without certificates. Immutable.
 */
public final class TlsOptions {

  /** The keys of a {@code tls} object. */
  public static final Set<String> KEYS = Set.of("enabled", "certPath", "keyPath", "trustPath");

  private static final Pattern PEM = Pattern.compile(
    "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----");

  private final boolean enabled;
  private final String certPath;
  private final String keyPath;
  private final String trustPath;

  private TlsOptions(boolean enabled, String certPath, String keyPath, String trustPath) {
    this.enabled = enabled;
    this.certPath = certPath;
    this.keyPath = keyPath;
    this.trustPath = trustPath;
  }

  /**
   * TLS with the certificate (chain) in {@code certPath} and its private key in {@code keyPath}
   * (PEM; PKCS#8 or PKCS#1, unencrypted). The files are read when the server starts; use
   * {@link #validate} to check them first.
   */
  public static TlsOptions pem(String certPath, String keyPath) {
    return new TlsOptions(true, Objects.requireNonNull(certPath, "certPath"), Objects.requireNonNull(keyPath, "keyPath"),
      null);
  }

  /** The same, also requiring a client certificate issued by (or equal to) one in {@code trustPath}. */
  public TlsOptions withTrustPath(String trustPath) {
    return new TlsOptions(enabled, certPath, keyPath, trustPath);
  }

  /** The same, switched on or off. */
  public TlsOptions withEnabled(boolean enabled) {
    return new TlsOptions(enabled, certPath, keyPath, trustPath);
  }

  public boolean enabled() {
    return enabled;
  }

  public String certPath() {
    return certPath;
  }

  public String keyPath() {
    return keyPath;
  }

  /** PEM certificates a client certificate must chain to, or null (no client certificate asked for). */
  public String trustPath() {
    return trustPath;
  }

  /**
   * Parses and checks a {@code tls} value ({@code null}: no TLS, returns null).
   *
   * @param where the key's full name in messages, e.g. {@code servers.echo.tls}
   * @throws IllegalArgumentException naming the key at fault
   */
  public static TlsOptions fromJson(Object value, String where) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof JsonObject json)) {
      throw new IllegalArgumentException(where + ": must be an object {\"certPath\": PEM, \"keyPath\": PEM"
        + " [, \"trustPath\": PEM]}, got " + value);
    }
    for (String key : json.fieldNames()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException(where + "." + key + ": unknown key; allowed: " + new TreeSet<>(KEYS));
      }
    }
    Object e = json.getValue("enabled");
    if (e != null && !(e instanceof Boolean)) {
      throw new IllegalArgumentException(where + ".enabled: must be true or false, got " + e);
    }
    boolean enabled = e == null || (Boolean) e;
    String cert = path(json, "certPath", where);
    String key = path(json, "keyPath", where);
    String trust = path(json, "trustPath", where);
    TlsOptions tls = new TlsOptions(enabled, cert, key, trust);
    if (enabled) {
      tls.validate(where);
    }
    return tls;
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject();
    if (!enabled) {
      json.put("enabled", false);
    }
    if (certPath != null) {
      json.put("certPath", certPath);
    }
    if (keyPath != null) {
      json.put("keyPath", keyPath);
    }
    if (trustPath != null) {
      json.put("trustPath", trustPath);
    }
    return json;
  }

  /**
   * Turns TLS on in Vert.x's server options {@code o} (any {@link NetServerOptions}: a tracked
   * server's, the bridge's, an {@code HttpServerOptions}); does nothing when not enabled.
   */
  public <T extends NetServerOptions> T applyTo(T o) {
    if (!enabled) {
      return o;
    }
    o.setSsl(true);
    o.setKeyCertOptions(new PemKeyCertOptions().setCertPath(certPath).setKeyPath(keyPath));
    if (trustPath != null) {
      o.setTrustOptions(new PemTrustOptions().addCertPath(trustPath));
      o.setClientAuth(ClientAuth.REQUIRED);
    }
    return o;
  }

  /**
   * Checks the files: readable, PEM, a certificate and a matching unencrypted private key, trusted
   * certificates when {@code trustPath} is set.
   *
   * @throws IllegalArgumentException naming {@code where.certPath}, {@code where.keyPath} or
   *                                  {@code where.trustPath}
   */
  public void validate(String where) {
    if (certPath == null || keyPath == null) {
      String missing = certPath == null ? "certPath" : "keyPath";
      throw new IllegalArgumentException(where + "." + missing + ": missing; TLS needs a certificate (certPath) and its"
        + " private key (keyPath), PEM files (scripts/gen-dev-cert.sh makes a development pair)"
        + (trustPath != null ? "; trustPath alone only says which client certificates to accept" : ""));
    }
    String certPem = read(certPath, where + ".certPath");
    Collection<? extends Certificate> certs = certificates(certPem, certPath, where + ".certPath");
    String keyPem = read(keyPath, where + ".keyPath");
    checkKey(keyPem, (X509Certificate) certs.iterator().next(), where);
    if (trustPath != null) {
      certificates(read(trustPath, where + ".trustPath"), trustPath, where + ".trustPath");
    }
  }

  private static String path(JsonObject json, String key, String where) {
    Object v = json.getValue(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s) || s.isBlank()) {
      throw new IllegalArgumentException(where + "." + key + ": must be a file path (non-empty string), got " + v);
    }
    return s;
  }

  private static String read(String file, String key) {
    Path p = Path.of(file);
    if (!Files.exists(p)) {
      throw new IllegalArgumentException(key + ": no such file: " + p.toAbsolutePath());
    }
    if (!Files.isRegularFile(p)) {
      throw new IllegalArgumentException(key + ": not a file: " + p.toAbsolutePath());
    }
    try {
      return Files.readString(p, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException(key + ": cannot read " + p.toAbsolutePath() + ": " + e, e);
    }
  }

  private static Collection<? extends Certificate> certificates(String pem, String file, String key) {
    if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
      throw new IllegalArgumentException(key + ": no PEM certificate (-----BEGIN CERTIFICATE-----) in " + file);
    }
    try {
      Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509")
        .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
      if (certs.isEmpty()) {
        throw new IllegalArgumentException(key + ": no certificate could be read from " + file);
      }
      return certs;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(key + ": unreadable certificate in " + file + ": " + e.getMessage(), e);
    }
  }

  /** The key must be an unencrypted PEM private key; a PKCS#8 one must belong to the certificate. */
  private void checkKey(String pem, X509Certificate cert, String where) {
    String key = where + ".keyPath";
    Matcher m = PEM.matcher(pem);
    while (m.find()) {
      String type = m.group(1);
      if (type.equals("ENCRYPTED PRIVATE KEY") || (type.endsWith("PRIVATE KEY") && m.group(2).contains("ENCRYPTED"))) {
        throw new IllegalArgumentException(key + ": the private key in " + keyPath + " is encrypted; Vert.x's PEM"
          + " options read unencrypted keys only (openssl pkey -in KEY -out PLAIN)");
      }
      if (type.equals("PRIVATE KEY")) {
        byte[] der;
        try {
          der = Base64.getMimeDecoder().decode(m.group(2));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(key + ": unreadable private key in " + keyPath + ": " + e.getMessage(), e);
        }
        if (!belongsTo(der, cert.getPublicKey())) {
          throw new IllegalArgumentException(key + ": the private key in " + keyPath
            + " does not belong to the certificate in " + certPath + " (" + cert.getSubjectX500Principal() + ")");
        }
        return;
      }
      if (type.endsWith("PRIVATE KEY")) {
        return; // PKCS#1 (RSA PRIVATE KEY) or SEC1 (EC PRIVATE KEY): Vert.x reads it; not matched here
      }
    }
    throw new IllegalArgumentException(key + ": no PEM private key (-----BEGIN PRIVATE KEY-----) in " + keyPath);
  }

  /** Whether the PKCS#8 key {@code der} signs what {@code pub} verifies. */
  private boolean belongsTo(byte[] der, PublicKey pub) {
    String alg = pub.getAlgorithm();
    String sigAlg = switch (alg) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "Ed448", "EdDSA" -> alg;
      default -> null;
    };
    if (sigAlg == null) {
      return true; // an algorithm we do not check here; the TLS stack will
    }
    try {
      PrivateKey k = KeyFactory.getInstance(alg.startsWith("Ed") ? "EdDSA" : alg).generatePrivate(new PKCS8EncodedKeySpec(der));
      byte[] probe = "tether".getBytes(StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(sigAlg);
      s.initSign(k);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(pub);
      s.update(probe);
      return s.verify(sig);
    } catch (GeneralSecurityException e) {
      return false; // not a key of the certificate's algorithm, or unreadable
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TlsOptions t && enabled == t.enabled && Objects.equals(certPath, t.certPath)
      && Objects.equals(keyPath, t.keyPath) && Objects.equals(trustPath, t.trustPath);
  }

  @Override
  public int hashCode() {
    return Objects.hash(enabled, certPath, keyPath, trustPath);
  }

  @Override
  public String toString() {
    return "tls" + toJson().encode();
  }
}
