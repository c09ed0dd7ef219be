package dev.tether.net;

import dev.tether.fault.FaultPlan;
import dev.tether.recovery.PolicySet;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.TrustOptions;

/**
 * The options of a {@link TrackedClient}: Vert.x's {@link NetClientOptions} plus the tracking keys
 * ({@code name}, {@code protocol}, {@code writeTimeoutMs}, {@code maxPendingBytes},
 * {@code highWaterMark}, {@code decisionTimeoutMs}, {@code policies}, {@code faults}), with the
 * same defaults as a server's.
 *
 * <p>TLS is Vert.x's own: {@code setSsl(true)}, {@code setTrustOptions} (e.g. a
 * {@code PemTrustOptions} with the server's certificate, or its CA), {@code setKeyCertOptions} for a
 * client certificate, and {@code setHostnameVerificationAlgorithm} ({@code "HTTPS"} checks the
 * server's name against its certificate; Vert.x 5 asks for it to be set). Counts are in plaintext
 * bytes, exact under TLS as in plaintext (docs/architecture.md, "TLS").
 */
public class TrackedClientOptions extends NetClientOptions {

  public static final String DEFAULT_NAME = "client";

  private TrackingOptions tracking;

  public TrackedClientOptions() {
    super();
    tracking = new TrackingOptions().setServer(DEFAULT_NAME);
  }

  public TrackedClientOptions(TrackedClientOptions other) {
    super(other);
    tracking = new TrackingOptions(other.tracking);
  }

  public TrackedClientOptions(JsonObject json) {
    super(json);
    String name = json.getValue("name") instanceof String s ? s : DEFAULT_NAME;
    Object protocol = json.getValue("protocol");
    tracking = TrackingOptions.fromJson(json, "clients." + name).setServer(name)
      .setProtocol(protocol instanceof String p ? p : "raw");
  }

  @Override
  public JsonObject toJson() {
    return super.toJson().mergeIn(tracking.toJson())
      .put("name", tracking.server()).put("protocol", tracking.protocol());
  }

  public TrackingOptions tracking() {
    return tracking;
  }

  public TrackedClientOptions setTracking(TrackingOptions tracking) {
    this.tracking = new TrackingOptions(tracking);
    return this;
  }

  public String getName() {
    return tracking.server();
  }

  /** The name used in events, metrics and connection ids ({@code <name>-<n>}). */
  public TrackedClientOptions setName(String name) {
    tracking.setServer(name);
    return this;
  }

  public TrackedClientOptions setProtocol(String protocol) {
    tracking.setProtocol(protocol);
    return this;
  }

  public TrackedClientOptions setWriteTimeoutMs(long ms) {
    tracking.setWriteTimeoutMs(ms);
    return this;
  }

  public TrackedClientOptions setMaxPendingBytes(long bytes) {
    tracking.setMaxPendingBytes(bytes);
    return this;
  }

  public TrackedClientOptions setHighWaterMark(long bytes) {
    tracking.setHighWaterMark(bytes);
    return this;
  }

  public TrackedClientOptions setPolicies(PolicySet policies) {
    tracking.setPolicies(policies);
    return this;
  }

  public TrackedClientOptions setPolicies(JsonObject policies) {
    tracking.setPolicies(policies, "clients." + tracking.server() + ".policies");
    return this;
  }

  public TrackedClientOptions setFaults(FaultPlan faults) {
    tracking.setFaults(faults);
    return this;
  }

  // covariant returns for the TLS setters, so chains keep this type

  @Override
  public TrackedClientOptions setSsl(boolean ssl) {
    super.setSsl(ssl);
    return this;
  }

  @Override
  public TrackedClientOptions setTrustOptions(TrustOptions options) {
    super.setTrustOptions(options);
    return this;
  }

  @Override
  public TrackedClientOptions setKeyCertOptions(KeyCertOptions options) {
    super.setKeyCertOptions(options);
    return this;
  }

  @Override
  public TrackedClientOptions setTrustAll(boolean trustAll) {
    super.setTrustAll(trustAll);
    return this;
  }

  @Override
  public TrackedClientOptions setHostnameVerificationAlgorithm(String algorithm) {
    super.setHostnameVerificationAlgorithm(algorithm);
    return this;
  }
}
