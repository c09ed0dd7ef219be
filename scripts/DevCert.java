import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * Makes self-signed development key pairs for TLS on 127.0.0.1 and localhost, with nothing but a
 * JDK 17: an RSA 2048 key (PKCS#8 PEM, {@code NAME-key.pem}, mode 600) and an X.509 v3 certificate
 * (PEM, {@code NAME-cert.pem}) for {@code CN=<cn>} with subjectAltName {@code DNS:localhost,
 * IP:127.0.0.1}, built and signed here with java.security (no BouncyCastle, no keytool).
 *
 * <pre>
 *   java scripts/DevCert.java [--days N] [--cn NAME] DIR [NAME ...]     (NAME defaults to "dev")
 * </pre>
 *
 * Run by scripts/gen-dev-cert.sh when openssl is missing, and by the tests (TestTls) to make their
 * own pairs. For development and tests only: the key is not protected.
 */
public class DevCert {

  public static void main(String[] args) throws Exception {
    int days = 825;
    String cn = "localhost";
    List<String> rest = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--days" -> days = Integer.parseInt(args[++i]);
        case "--cn" -> cn = args[++i];
        case "-h", "--help" -> {
          System.out.println("usage: java DevCert.java [--days N] [--cn NAME] DIR [NAME ...]");
          return;
        }
        default -> rest.add(args[i]);
      }
    }
    if (rest.isEmpty()) {
      System.err.println("usage: java DevCert.java [--days N] [--cn NAME] DIR [NAME ...]");
      System.exit(2);
    }
    Path dir = Path.of(rest.get(0));
    Files.createDirectories(dir);
    List<String> names = rest.size() > 1 ? rest.subList(1, rest.size()) : List.of("dev");
    for (String name : names) {
      write(dir, name, cn, days);
    }
  }

  /** Writes {@code dir/name-cert.pem} and {@code dir/name-key.pem}. */
  public static void write(Path dir, String name, String cn, int days) throws Exception {
    KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
    gen.initialize(2048);
    KeyPair pair = gen.generateKeyPair();
    byte[] der = certificate(pair, cn, days);
    // check it reads back as a certificate, as any TLS stack will read it
    X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
      .generateCertificate(new java.io.ByteArrayInputStream(der));
    cert.verify(pair.getPublic());
    Path certFile = dir.resolve(name + "-cert.pem");
    Path keyFile = dir.resolve(name + "-key.pem");
    Files.writeString(certFile, pem("CERTIFICATE", der));
    Files.deleteIfExists(keyFile);
    Files.createFile(keyFile);
    try {
      Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: leave the default permissions
    }
    Files.writeString(keyFile, pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
    String sha256 = HexFormat.ofDelimiter(":").withUpperCase()
      .formatHex(MessageDigest.getInstance("SHA-256").digest(der));
    System.out.println("wrote " + certFile + " and " + keyFile + " (CN=" + cn
      + ", DNS:localhost, IP:127.0.0.1, valid until " + cert.getNotAfter().toInstant() + ", SHA-256 " + sha256 + ")");
  }

  /** A self-signed X.509 v3 certificate (DER) for {@code pair}. */
  static byte[] certificate(KeyPair pair, String cn, int days) throws Exception {
    byte[] sha256WithRsa = seq(oid("1.2.840.113549.1.1.11"), new byte[] {0x05, 0x00});
    byte[] name = seq(set(seq(oid("2.5.4.3"), tlv(0x0C, cn.getBytes(StandardCharsets.UTF_8)))));
    Instant now = Instant.now();
    byte[] validity = seq(time(now.minus(Duration.ofHours(1))), time(now.plus(Duration.ofDays(days))));
    byte[] san = seq(tlv(0x82, "localhost".getBytes(StandardCharsets.US_ASCII)), tlv(0x87, new byte[] {127, 0, 0, 1}));
    byte[] extensions = tlv(0xA3, seq(
      // basicConstraints cA=true, as openssl req -x509 makes it: the certificate is its own trust anchor
      seq(oid("2.5.29.19"), tlv(0x04, seq(new byte[] {0x01, 0x01, (byte) 0xFF}))),
      seq(oid("2.5.29.17"), tlv(0x04, san))));
    byte[] serial = integer(new BigInteger(63, new SecureRandom()).add(BigInteger.ONE));
    byte[] tbs = seq(tlv(0xA0, integer(BigInteger.TWO)), serial, sha256WithRsa, name, validity, name,
      pair.getPublic().getEncoded(), extensions);
    Signature s = Signature.getInstance("SHA256withRSA");
    s.initSign(pair.getPrivate());
    s.update(tbs);
    byte[] sig = s.sign();
    byte[] bits = new byte[sig.length + 1];
    System.arraycopy(sig, 0, bits, 1, sig.length);
    return seq(tbs, sha256WithRsa, tlv(0x03, bits));
  }

  static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
      + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
      + "\n-----END " + type + "-----\n";
  }

  // ---- DER, just what a certificate needs ---------------------------------------------------------

  static byte[] tlv(int tag, byte[]... parts) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      body.writeBytes(p);
    }
    int n = body.size();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    if (n < 128) {
      out.write(n);
    } else {
      byte[] len = BigInteger.valueOf(n).toByteArray();
      int skip = len[0] == 0 ? 1 : 0;
      out.write(0x80 | (len.length - skip));
      out.write(len, skip, len.length - skip);
    }
    out.writeBytes(body.toByteArray());
    return out.toByteArray();
  }

  static byte[] seq(byte[]... parts) {
    return tlv(0x30, parts);
  }

  static byte[] set(byte[]... parts) {
    return tlv(0x31, parts);
  }

  static byte[] integer(BigInteger v) {
    return tlv(0x02, v.toByteArray());
  }

  static byte[] oid(String dotted) {
    String[] p = dotted.split("\\.");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(Integer.parseInt(p[0]) * 40 + Integer.parseInt(p[1]));
    for (int i = 2; i < p.length; i++) {
      long v = Long.parseLong(p[i]);
      byte[] tmp = new byte[10];
      int k = tmp.length;
      tmp[--k] = (byte) (v & 0x7F);
      while ((v >>>= 7) > 0) {
        tmp[--k] = (byte) (0x80 | (v & 0x7F));
      }
      out.write(tmp, k, tmp.length - k);
    }
    return tlv(0x06, out.toByteArray());
  }

  /** UTCTime before 2050, GeneralizedTime from then on (RFC 5280, 4.1.2.5). */
  static byte[] time(Instant t) {
    boolean utc = t.atZone(ZoneOffset.UTC).getYear() < 2050;
    String s = DateTimeFormatter.ofPattern(utc ? "yyMMddHHmmss'Z'" : "yyyyMMddHHmmss'Z'")
      .withZone(ZoneOffset.UTC).format(t);
    return tlv(utc ? 0x17 : 0x18, s.getBytes(StandardCharsets.US_ASCII));
  }
}
