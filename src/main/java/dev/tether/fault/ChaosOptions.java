package dev.tether.fault;

/**
 * What a {@link ChaosProxy} does to the connections it carries. Every random choice comes from
 * {@code seed}. All durations in ms; 0 disables a fault.
 */
public final class ChaosOptions {

  private String host = "127.0.0.1";
  private int port;
  private String targetHost = "127.0.0.1";
  private int targetPort = 7001;
  private long seed = 1;
  private long resetMinMs;
  private long resetMaxMs;
  private double cutProbability;
  private long cutMinBytes = 1;
  private long cutMaxBytes = 1 << 20;
  private double stallProbability;
  private long stallMinMs = 100;
  private long stallMaxMs = 1_000;
  private long durationMs;

  public String host() {
    return host;
  }

  /** Where the proxy listens: loopback by default. */
  public ChaosOptions setHost(String host) {
    this.host = host;
    return this;
  }

  public int port() {
    return port;
  }

  /** Port to listen on; 0 picks a free one. */
  public ChaosOptions setPort(int port) {
    this.port = port;
    return this;
  }

  public String targetHost() {
    return targetHost;
  }

  public ChaosOptions setTargetHost(String targetHost) {
    this.targetHost = targetHost;
    return this;
  }

  public int targetPort() {
    return targetPort;
  }

  public ChaosOptions setTargetPort(int targetPort) {
    this.targetPort = targetPort;
    return this;
  }

  public long seed() {
    return seed;
  }

  public ChaosOptions setSeed(long seed) {
    this.seed = seed;
    return this;
  }

  public long resetMinMs() {
    return resetMinMs;
  }

  public long resetMaxMs() {
    return resetMaxMs;
  }

  /** Each connection is reset (RST, SO_LINGER 0, both sides) after a lifetime uniform in [min, max] ms; 0 = never. */
  public ChaosOptions setResetMs(long minMs, long maxMs) {
    if (minMs < 0 || maxMs < minMs) {
      throw new IllegalArgumentException("reset interval must satisfy 0 <= min <= max");
    }
    this.resetMinMs = minMs;
    this.resetMaxMs = maxMs;
    return this;
  }

  public double cutProbability() {
    return cutProbability;
  }

  public long cutMinBytes() {
    return cutMinBytes;
  }

  public long cutMaxBytes() {
    return cutMaxBytes;
  }

  /** With this probability a connection is cut (reset) after K bytes in one direction, K uniform in [min, max]. */
  public ChaosOptions setCut(double probability, long minBytes, long maxBytes) {
    if (!(probability >= 0 && probability <= 1) || minBytes < 0 || maxBytes < minBytes) {
      throw new IllegalArgumentException("cut: probability within [0,1] and 0 <= min <= max bytes");
    }
    this.cutProbability = probability;
    this.cutMinBytes = minBytes;
    this.cutMaxBytes = maxBytes;
    return this;
  }

  public double stallProbability() {
    return stallProbability;
  }

  public long stallMinMs() {
    return stallMinMs;
  }

  public long stallMaxMs() {
    return stallMaxMs;
  }

  /** With this probability a connection stops forwarding (both ways) for [min, max] ms at a random point. */
  public ChaosOptions setStall(double probability, long minMs, long maxMs) {
    if (!(probability >= 0 && probability <= 1) || minMs < 0 || maxMs < minMs) {
      throw new IllegalArgumentException("stall: probability within [0,1] and 0 <= min <= max ms");
    }
    this.stallProbability = probability;
    this.stallMinMs = minMs;
    this.stallMaxMs = maxMs;
    return this;
  }

  public long durationMs() {
    return durationMs;
  }

  /** The proxy closes itself (and every connection) after this long; 0 = until closed. */
  public ChaosOptions setDurationMs(long durationMs) {
    if (durationMs < 0) {
      throw new IllegalArgumentException("durationMs must be >= 0");
    }
    this.durationMs = durationMs;
    return this;
  }
}
