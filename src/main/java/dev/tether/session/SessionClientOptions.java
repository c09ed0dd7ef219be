package dev.tether.session;

import io.vertx.core.net.ClientSSLOptions;

/**
 * Settings of a {@link SessionClient}; every one has a default.
 *
 * <p>TLS: {@link #setSsl} on, with Vert.x's {@link ClientSSLOptions} for trust (e.g. a
 * {@code PemTrustOptions} with the server's certificate), a client certificate, and hostname
 * verification ({@code "HTTPS"} unless set: the server's certificate must name the host connected
 * to; {@code ""} turns the check off).
 */
public final class SessionClientOptions {

  private String host = "127.0.0.1";
  private int port = 7001;
  private long initialBackoffMs = 10;
  private long maxBackoffMs = 1_000;
  private long reconnectTimeoutMs = 30_000;
  private long connectTimeoutMs = 2_000;
  private long pingIntervalMs = 1_000;
  private long idleTimeoutMs = 5_000;
  private long maxUnackedBytes = 256L << 10;
  private int maxFrameBytes = SessionOptions.DEFAULT_MAX_FRAME_BYTES;
  private long closeTimeoutMs = 10_000;
  private long seed = System.nanoTime();
  private boolean ssl;
  private ClientSSLOptions sslOptions;
  /** Further servers ("host:port") to resume on, tried in turn after host:port. */
  private java.util.List<String> servers = new java.util.ArrayList<>();

  public SessionClientOptions() {
  }

  /** A copy of {@code other} (TLS settings copied too). */
  public SessionClientOptions(SessionClientOptions other) {
    host = other.host;
    port = other.port;
    initialBackoffMs = other.initialBackoffMs;
    maxBackoffMs = other.maxBackoffMs;
    reconnectTimeoutMs = other.reconnectTimeoutMs;
    connectTimeoutMs = other.connectTimeoutMs;
    pingIntervalMs = other.pingIntervalMs;
    idleTimeoutMs = other.idleTimeoutMs;
    maxUnackedBytes = other.maxUnackedBytes;
    maxFrameBytes = other.maxFrameBytes;
    closeTimeoutMs = other.closeTimeoutMs;
    seed = other.seed;
    ssl = other.ssl;
    sslOptions = other.sslOptions == null ? null : other.sslOptions.copy();
    servers = new java.util.ArrayList<>(other.servers);
  }

  /**
   * Adds a server (another node of the cluster) to resume on: the client starts with
   * {@link #host()}:{@link #port()} and moves to the next server of the list, in turn, when it
   * cannot connect, when a connection goes idle, or when a server answers ERROR 204 or 206.
   */
  public SessionClientOptions addServer(String host, int port) {
    servers.add(host + ":" + port);
    return this;
  }

  /** host:port first, then the servers added with {@link #addServer}. */
  public java.util.List<String> servers() {
    java.util.List<String> all = new java.util.ArrayList<>();
    all.add(host + ":" + port);
    all.addAll(servers);
    return all;
  }

  public String host() {
    return host;
  }

  public SessionClientOptions setHost(String host) {
    this.host = host;
    return this;
  }

  public int port() {
    return port;
  }

  public SessionClientOptions setPort(int port) {
    this.port = port;
    return this;
  }

  /** First reconnect delay; doubles per failed attempt up to {@link #maxBackoffMs()}, with jitter (50–100 %). */
  public long initialBackoffMs() {
    return initialBackoffMs;
  }

  public SessionClientOptions setInitialBackoffMs(long v) {
    this.initialBackoffMs = positive(v, "initialBackoffMs");
    return this;
  }

  public long maxBackoffMs() {
    return maxBackoffMs;
  }

  public SessionClientOptions setMaxBackoffMs(long v) {
    this.maxBackoffMs = positive(v, "maxBackoffMs");
    return this;
  }

  /** Without a successful resume for this long after losing the connection, the session is given up (loudly). */
  public long reconnectTimeoutMs() {
    return reconnectTimeoutMs;
  }

  public SessionClientOptions setReconnectTimeoutMs(long v) {
    this.reconnectTimeoutMs = positive(v, "reconnectTimeoutMs");
    return this;
  }

  public long connectTimeoutMs() {
    return connectTimeoutMs;
  }

  public SessionClientOptions setConnectTimeoutMs(long v) {
    this.connectTimeoutMs = positive(v, "connectTimeoutMs");
    return this;
  }

  /** A PING is sent this often while connected. */
  public long pingIntervalMs() {
    return pingIntervalMs;
  }

  public SessionClientOptions setPingIntervalMs(long v) {
    this.pingIntervalMs = positive(v, "pingIntervalMs");
    return this;
  }

  /** A connection that brings nothing (not even PONG) for this long is dropped and resumed. */
  public long idleTimeoutMs() {
    return idleTimeoutMs;
  }

  public SessionClientOptions setIdleTimeoutMs(long v) {
    this.idleTimeoutMs = positive(v, "idleTimeoutMs");
    return this;
  }

  /** {@link SessionClient#writeQueueFull()} is true at this many unacknowledged frame bytes. */
  public long maxUnackedBytes() {
    return maxUnackedBytes;
  }

  public SessionClientOptions setMaxUnackedBytes(long v) {
    this.maxUnackedBytes = positive(v, "maxUnackedBytes");
    return this;
  }

  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  public SessionClientOptions setMaxFrameBytes(int v) {
    if (v < 9) {
      throw new IllegalArgumentException("maxFrameBytes must be >= 9");
    }
    this.maxFrameBytes = v;
    return this;
  }

  /** How long {@link SessionClient#close()} waits for the server to acknowledge everything. */
  public long closeTimeoutMs() {
    return closeTimeoutMs;
  }

  public SessionClientOptions setCloseTimeoutMs(long v) {
    this.closeTimeoutMs = positive(v, "closeTimeoutMs");
    return this;
  }

  /** Seed of the backoff jitter. */
  public long seed() {
    return seed;
  }

  public SessionClientOptions setSeed(long seed) {
    this.seed = seed;
    return this;
  }

  /** Whether the client speaks TLS. */
  public boolean ssl() {
    return ssl;
  }

  public SessionClientOptions setSsl(boolean ssl) {
    this.ssl = ssl;
    return this;
  }

  /**
   * The TLS settings used when {@link #ssl()}: a copy of those given, hostname verification
   * {@code "HTTPS"} when they leave it unset (Vert.x's defaults: the JVM's trust store).
   */
  public ClientSSLOptions sslOptions() {
    ClientSSLOptions o = sslOptions == null ? new ClientSSLOptions() : sslOptions.copy();
    if (o.getHostnameVerificationAlgorithm() == null) {
      o.setHostnameVerificationAlgorithm("HTTPS");
    }
    return o;
  }

  /** Vert.x's client TLS settings (trust, client certificate, hostname verification); also turns {@link #ssl()} on. */
  public SessionClientOptions setSslOptions(ClientSSLOptions sslOptions) {
    this.sslOptions = sslOptions == null ? null : sslOptions.copy();
    this.ssl = sslOptions != null || ssl;
    return this;
  }

  private static long positive(long v, String name) {
    if (v <= 0) {
      throw new IllegalArgumentException(name + " must be > 0");
    }
    return v;
  }
}
