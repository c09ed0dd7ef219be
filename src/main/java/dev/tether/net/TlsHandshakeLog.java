package dev.tether.net;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.DelegatingSslContext;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SSLEngineOptions;
import io.vertx.core.spi.tls.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.Set;

/**
 * One log line per failed TLS handshake on a server, naming the server and the remote address: a
 * plaintext client on a TLS port, an untrusted or missing client certificate, a handshake timeout.
 *
 * <p>Vert.x closes such a connection before any {@code NetSocket} exists and reports the cause,
 * without the remote address, to the server's exception handler only (nothing is logged when none
 * is set); Netty logs nothing above DEBUG. So this hooks in where the remote is known: the SSL
 * engine options of the server's {@link NetServerOptions} are wrapped so that every
 * {@link SslHandler} Vert.x creates (with the peer's host and port in its engine) gets a listener on
 * its handshake future. Everything else (the context, its caching, the engine) stays Vert.x's and
 * Netty's; only public API is used (Vert.x's {@link SslContextFactory} SPI, Netty's
 * {@link DelegatingSslContext}).
 *
 * <p>Levels: INFO for a failed handshake; DEBUG for a connection closed or reset under the
 * handshake (a port probe, a health check's TCP connect, a proxy's reset): nothing was rejected.
 */
public final class TlsHandshakeLog {

  private static final Logger log = LoggerFactory.getLogger(TlsHandshakeLog.class);
  /** Longest cause message logged (a NotSslRecordException carries a hex dump of what was received). */
  private static final int MAX_MESSAGE = 160;

  private TlsHandshakeLog() {
  }

  /**
   * When {@code options} has TLS on, wraps its SSL engine options (Vert.x's default JDK engine when
   * none is set) so that failed handshakes are logged as {@code "<server>: TLS handshake with
   * <remote> failed ..."}. Idempotent; does nothing without TLS.
   */
  public static <T extends NetServerOptions> T install(T options, String server) {
    if (options.isSsl() && !(options.getSslEngineOptions() instanceof Logging)) {
      SSLEngineOptions base = options.getSslEngineOptions();
      options.setSslEngineOptions(new Logging(base == null ? new JdkSSLEngineOptions() : base, server));
    }
    return options;
  }

  static void failed(String server, SSLEngine engine, Throwable cause) {
    String remote = engine.getPeerHost() == null ? "an unknown peer" : engine.getPeerHost() + ":" + engine.getPeerPort();
    if (lostConnection(cause)) {
      log.debug("{}: connection from {} lost during the TLS handshake: {}", server, remote, cause.toString());
      return;
    }
    log.info("{}: TLS handshake with {} failed, connection closed: {}", server, remote, reason(cause));
  }

  /** Closed or reset under the handshake (a port probe, a health check, a proxy's reset): not a TLS problem. */
  private static boolean lostConnection(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ClosedChannelException || (t instanceof java.io.IOException && !(t instanceof SSLException))) {
        return true;
      }
    }
    return false;
  }

  private static String reason(Throwable cause) {
    if (cause instanceof NotSslRecordException) {
      return "not a TLS record (a plaintext client on a TLS port?)";
    }
    if (cause instanceof SslHandshakeTimeoutException) {
      return "handshake timed out";
    }
    Throwable t = cause;
    while (t.getCause() != null && t.getCause() != t && !(t instanceof SSLException)) {
      t = t.getCause();
    }
    String m = t.getMessage() == null ? "" : t.getMessage();
    if (m.length() > MAX_MESSAGE) {
      m = m.substring(0, MAX_MESSAGE) + "...";
    }
    return t.getClass().getSimpleName() + (m.isEmpty() ? "" : ": " + m);
  }

  /** Vert.x's engine options, with the contexts they make wrapped. */
  private static final class Logging extends SSLEngineOptions {
    private final SSLEngineOptions delegate;
    private final String server;

    Logging(SSLEngineOptions delegate, String server) {
      super(delegate);
      this.delegate = delegate;
      this.server = server;
    }

    @Override
    public SSLEngineOptions copy() {
      return new Logging(delegate.copy(), server).setUseWorkerThread(getUseWorkerThread());
    }

    @Override
    public SslContextFactory sslContextFactory() {
      return new Factory(delegate.sslContextFactory(), server);
    }
  }

  /** Configures the delegate; wraps what it creates. */
  private static final class Factory implements SslContextFactory {
    private final SslContextFactory delegate;
    private final String server;

    Factory(SslContextFactory delegate, String server) {
      this.delegate = delegate;
      this.server = server;
    }

    @Override
    public SslContextFactory useAlpn(boolean useAlpn) {
      delegate.useAlpn(useAlpn);
      return this;
    }

    @Override
    public SslContextFactory clientAuth(ClientAuth clientAuth) {
      delegate.clientAuth(clientAuth);
      return this;
    }

    @Override
    public SslContextFactory forClient(boolean forClient) {
      delegate.forClient(forClient);
      return this;
    }

    @Override
    public SslContextFactory keyMananagerFactory(KeyManagerFactory kmf) {
      delegate.keyMananagerFactory(kmf);
      return this;
    }

    @Override
    public SslContextFactory trustManagerFactory(TrustManagerFactory tmf) {
      delegate.trustManagerFactory(tmf);
      return this;
    }

    @Override
    public SslContextFactory enabledCipherSuites(Set<String> enabledCipherSuites) {
      delegate.enabledCipherSuites(enabledCipherSuites);
      return this;
    }

    @Override
    public SslContextFactory applicationProtocols(List<String> applicationProtocols) {
      delegate.applicationProtocols(applicationProtocols);
      return this;
    }

    @Override
    public SslContextFactory serverName(String serverName) {
      delegate.serverName(serverName);
      return this;
    }

    @Override
    public SslContext create() throws SSLException {
      SslContext context = delegate.create();
      return context.isClient() ? context : new Context(context, server);
    }
  }

  /** Each handler it makes reports its failed handshake. */
  private static final class Context extends DelegatingSslContext {
    private final String server;

    Context(SslContext delegate, String server) {
      super(delegate);
      this.server = server;
    }

    @Override
    protected void initEngine(SSLEngine engine) {
      // the engine is the delegate's, configured by it
    }

    @Override
    protected void initHandler(SslHandler handler) {
      super.initHandler(handler);
      SSLEngine engine = handler.engine();
      handler.handshakeFuture().addListener(f -> {
        if (!f.isSuccess()) {
          failed(server, engine, f.cause());
        }
      });
    }
  }
}
