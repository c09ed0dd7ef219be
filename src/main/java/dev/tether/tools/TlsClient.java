package dev.tether.tools;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/** The client side of TLS for the command-line tools, on the JDK alone. */
final class TlsClient {

  private TlsClient() {
  }

  /**
   * A context trusting the PEM certificates in {@code trustPem} (e.g. the node's self-signed
   * development certificate), or the JVM's default trust store when it is null.
   */
  static SSLContext context(String trustPem) throws IOException {
    try {
      if (trustPem == null) {
        return SSLContext.getDefault();
      }
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      try (InputStream in = Files.newInputStream(Path.of(trustPem))) {
        int n = 0;
        for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          ks.setCertificateEntry("trusted-" + n++, c);
        }
        if (n == 0) {
          throw new IOException("no certificate in " + trustPem);
        }
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot trust " + trustPem + ": " + e.getMessage(), e);
    }
  }

  /** TLS over the connected {@code raw} socket, the server's name checked against its certificate. */
  static SSLSocket wrap(Socket raw, String host, String trustPem) throws IOException {
    SSLSocket s = (SSLSocket) context(trustPem).getSocketFactory().createSocket(raw, host, raw.getPort(), true);
    SSLParameters p = s.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    s.setSSLParameters(p);
    s.startHandshake();
    return s;
  }
}
