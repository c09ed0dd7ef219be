package dev.tether.verticles;

import dev.tether.Tether;
import dev.tether.cluster.ClusterView;
import dev.tether.config.ObservabilityConfig;
import dev.tether.event.Addresses;
import dev.tether.event.FailureKind;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.metrics.TetherRecorder;
import dev.tether.monitor.EventRing;
import dev.tether.net.AcceptGuard;
import dev.tether.net.LedgerBooks;
import dev.tether.net.TlsHandshakeLog;
import dev.tether.net.ListeningServers;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.PrometheusRequestHandler;
import io.vertx.micrometer.backends.BackendRegistries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The node's monitoring verticle: subscribes to {@value Addresses#FAILURE} and
 * {@value Addresses#RECOVERY} (plain consumers, so clustered nodes' events arrive too), keeps the
 * recent events and exact counts in an {@link EventRing}, and serves the node's HTTP endpoints on a
 * core {@link HttpServer}:
 * <ul>
 *   <li>{@code GET /metrics}: Prometheus text of the registry Tether records into;</li>
 *   <li>{@code GET /health}: each configured server and whether it listens; 503 when one does not;</li>
 *   <li>{@code GET /events?kind=&node=&type=&limit=}: recent events as JSON, newest first;</li>
 *   <li>{@code GET /events/stream}: the same live, as server-sent events (bounded clients);</li>
 *   <li>{@code GET /nodes}: the cluster's nodes as this node sees them: live or lost, sessions,
 *       failure counts (the dashboard's per-node panel);</li>
 *   <li>{@code GET /books}: the closed connections' ledger sums per server ({@link LedgerBooks});</li>
 *   <li>{@code GET /}: the dashboard (static files from the jar, no external assets).</li>
 * </ul>
 *
 * <p>Configuration: the whole {@code conf/tether.json}; it reads {@code http} ({@code http.tls}:
 * HTTPS, see {@link dev.tether.net.TlsOptions}), {@code monitor} and the names of {@code servers}. Deploy one instance per node.
 *
 * <p>Threading: every field below is accessed exclusively from this verticle's event loop (the
 * consumers, the HTTP server and the timer all run on its context).
 */
public class MonitorVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(MonitorVerticle.class);

  /** Dashboard files, served from the classpath (the jar). */
  private static final Map<String, String> ASSETS = Map.of(
    "/", "index.html",
    "/index.html", "index.html",
    "/app.js", "app.js",
    "/style.css", "style.css");
  private static final String ASSET_DIR = "dev/tether/monitor/dashboard/";
  /** Largest {@code limit} accepted by {@code /events}. */
  public static final int MAX_LIMIT = 10_000;
  /** The parameters {@code /events} takes; other endpoints take none. */
  private static final Set<String> EVENTS_PARAMS = Set.of("limit", "kind", "node", "type");
  /** Accepted values of {@code /events?kind=}. */
  private static final Set<String> KINDS = java.util.Arrays.stream(FailureKind.values()).map(Enum::name)
    .collect(java.util.stream.Collectors.toUnmodifiableSet());
  /** Default number of events {@code /events} returns. */
  public static final int DEFAULT_LIMIT = 100;
  /** A live client gets at least one message this often, even with no new events. */
  private static final long HEARTBEAT_MS = 1000;
  /** Bound on the lost nodes remembered for the per-node panel. */
  private static final int MAX_LOST = 256;

  // State accessed exclusively from this verticle's event loop
  private ObservabilityConfig obs;
  private EventRing ring;
  private HttpServer http;
  private Handler<HttpServerRequest> metricsHandler;
  private final Map<String, Buffer> assets = new HashMap<>();
  private final Set<HttpServerResponse> clients = new LinkedHashSet<>();
  /** Entries received since the last push, newest last, at most maxEventsPerPush. */
  private final ArrayDeque<JsonObject> unpushed = new ArrayDeque<>();
  private long skipped;
  private long lastPush;
  private long timer = -1;
  private final List<MessageConsumer<JsonObject>> consumers = new ArrayList<>();
  /** Node name -> its latest NODE_LOST event (until it is a live member again it shows as lost). */
  private final Map<String, JsonObject> lost = new java.util.TreeMap<>();
  private volatile int actualPort = -1;

  @Override
  public Future<?> start() {
    try {
      obs = ObservabilityConfig.fromJson(config());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new IllegalArgumentException("invalid configuration: " + e.getMessage(), e));
    }
    List<Future<?>> ready = new ArrayList<>();
    if (obs.monitor().enabled()) {
      ring = new EventRing(obs.monitor().ringSize());
      MessageConsumer<JsonObject> f = vertx.eventBus().consumer(Addresses.FAILURE, this::onFailure);
      MessageConsumer<JsonObject> r = vertx.eventBus().consumer(Addresses.RECOVERY, this::onRecovery);
      consumers.add(f);
      consumers.add(r);
      ready.add(f.completion());
      ready.add(r.completion());
    }
    if (obs.http().enabled()) {
      metricsHandler = metricsHandler();
      if (obs.monitor().enabled()) {
        for (String file : new LinkedHashSet<>(ASSETS.values())) {
          ready.add(vertx.fileSystem().readFile(ASSET_DIR + file).onSuccess(b -> assets.put(file, b)));
        }
        timer = vertx.setPeriodic(obs.monitor().pushIntervalMs(), t -> push(false));
      }
      HttpServerOptions options = new HttpServerOptions()
        .setHost(obs.http().host()).setPort(obs.http().port()).setCompressionSupported(false);
      if (obs.http().tls() != null) {
        obs.http().tls().applyTo(options); // http.tls: HTTPS
      }
      TlsHandshakeLog.install(options, "http");
      http = vertx.createHttpServer(options);
      http.requestHandler(this::handle);
      ready.add(http.listen().onSuccess(s -> {
        actualPort = s.actualPort();
        AcceptGuard.install(vertx, s, "http", "http"); // descriptor exhaustion: an event, not a Netty stack trace
        log.info("monitoring HTTP on {}://{}:{}/ (metrics {}, monitor {})", options.isSsl() ? "https" : "http",
          obs.http().host(), actualPort, metricsHandler != null ? "on" : "off", obs.monitor().enabled() ? "on" : "off");
      }));
    }
    return Future.all(ready);
  }

  @Override
  public Future<?> stop() {
    if (timer != -1) {
      vertx.cancelTimer(timer);
    }
    for (HttpServerResponse c : clients) {
      c.end();
    }
    clients.clear();
    return http == null ? Future.succeededFuture() : http.close();
  }

  /** The HTTP port actually bound (useful with port 0), or -1 when not listening. */
  public int actualPort() {
    return actualPort;
  }

  /** The registry Tether's recorder writes to, else Vert.x's, else none (metrics off). */
  private Handler<HttpServerRequest> metricsHandler() {
    TetherRecorder recorder = Tether.of(vertx).recorder();
    MeterRegistry registry = recorder instanceof MicrometerRecorder mr ? mr.registry() : BackendRegistries.getDefaultNow();
    if (registry instanceof PrometheusMeterRegistry p) {
      return PrometheusRequestHandler.create(p);
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  private void onFailure(Message<JsonObject> msg) {
    if (msg.body() == null) {
      return;
    }
    JsonObject e = msg.body();
    if (FailureKind.NODE_LOST.name().equals(e.getValue("kind")) && e.getValue("node") instanceof String n
      && (lost.containsKey(n) || lost.size() < MAX_LOST)) {
      lost.put(n, e);
    }
    queue(ring.addFailure(e, System.currentTimeMillis()));
  }

  private void onRecovery(Message<JsonObject> msg) {
    if (msg.body() == null) {
      return;
    }
    queue(ring.addRecovery(msg.body()));
  }

  private void queue(JsonObject entry) {
    if (clients.isEmpty()) {
      return;
    }
    if (unpushed.size() == obs.monitor().maxEventsPerPush()) {
      unpushed.removeFirst();
      skipped++;
    }
    unpushed.addLast(entry);
  }

  /** Sends what arrived since the last push to every live client; a heartbeat when nothing did. */
  private void push(boolean force) {
    long now = System.currentTimeMillis();
    if (clients.isEmpty() || (!force && unpushed.isEmpty() && now - lastPush < HEARTBEAT_MS)) {
      return;
    }
    lastPush = now;
    JsonArray events = new JsonArray();
    for (var it = unpushed.descendingIterator(); it.hasNext(); ) {
      events.add(it.next());
    }
    unpushed.clear();
    JsonObject counts = ring.counts(now);
    JsonObject update = new JsonObject().put("counts", counts).put("events", events).put("skipped", skipped)
      .put("nodes", nodes(counts));
    skipped = 0;
    Buffer frame = sse("update", update);
    for (HttpServerResponse c : new ArrayList<>(clients)) {
      if (c.writeQueueFull()) {
        continue; // a slow client misses this update; counts in the next one are still exact
      }
      c.write(frame);
    }
  }

  private static Buffer sse(String event, JsonObject data) {
    return Buffer.buffer("event: " + event + "\ndata: " + data.encode() + "\n\n");
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private void handle(HttpServerRequest req) {
    if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
      req.response().setStatusCode(405).putHeader(HttpHeaders.ALLOW, "GET, HEAD").end();
      return;
    }
    String path = req.path();
    Map<String, String> query;
    try {
      // strict: a bad path or parameter is a 400 naming it, never a 500 or an ignored parameter
      QueryCheck.path(path);
      query = QueryCheck.params(req.query(), path.equals("/events") ? EVENTS_PARAMS : Set.of());
    } catch (QueryCheck.Bad bad) {
      json(req.response(), 400, new JsonObject().put("error", bad.getMessage()).put("parameter", bad.parameter));
      return;
    }
    switch (path) {
      case "/metrics" -> metrics(req);
      case "/health" -> health(req);
      case "/events" -> events(req, query);
      case "/events/stream" -> stream(req);
      case "/nodes" -> nodes(req);
      case "/books" -> json(req.response(), 200, LedgerBooks.of(vertx).toJson().put("node", Tether.of(vertx).node()));
      default -> asset(req, path);
    }
  }

  private void metrics(HttpServerRequest req) {
    if (metricsHandler == null) {
      json(req.response(), 404, new JsonObject().put("error", "metrics are off"));
    } else {
      metricsHandler.handle(req);
    }
  }

  private void health(HttpServerRequest req) {
    JsonObject servers = new JsonObject();
    boolean up = true;
    ListeningServers listening = ListeningServers.of(vertx);
    JsonObject configured = config().getJsonObject("servers", new JsonObject());
    for (String name : configured.fieldNames()) {
      JsonObject sc = configured.getJsonObject(name);
      boolean enabled = sc.getBoolean("enabled", true);
      int instances = listening.instances(name);
      JsonObject s = new JsonObject().put("enabled", enabled).put("listening", instances > 0).put("instances", instances)
        .put("connections", listening.connections(name));
      JsonObject at = listening.address(name);
      if (at != null) {
        s.put("host", at.getString("host")).put("port", at.getInteger("port"));
      }
      if (enabled && instances == 0) {
        up = false;
      }
      servers.put(name, s);
    }
    json(req.response(), up ? 200 : 503, new JsonObject()
      .put("status", up ? "UP" : "DOWN")
      .put("node", Tether.of(vertx).node())
      .put("servers", servers)
      .put("cluster", ClusterView.of(vertx).health(Tether.of(vertx).node())));
  }

  private void nodes(HttpServerRequest req) {
    if (ring == null) {
      json(req.response(), 404, new JsonObject().put("error", "the monitor is off"));
      return;
    }
    String self = Tether.of(vertx).node();
    json(req.response(), 200, new JsonObject()
      .put("node", self)
      .put("cluster", ClusterView.of(vertx).health(self))
      .put("nodes", nodes(ring.counts(System.currentTimeMillis()))));
  }

  /**
   * The per-node panel: every live member (oldest first), then every other node this monitor has
   * events of or saw lost (by name). {@code status}: {@code live} (a member now), {@code lost} (a
   * NODE_LOST was seen and it has not come back), else {@code unknown} (not a member, no NODE_LOST
   * seen: it left before this monitor started, say). Failure counts are those this monitor received.
   */
  private JsonArray nodes(JsonObject counts) {
    String self = Tether.of(vertx).node();
    JsonObject byNode = counts.getJsonObject("byNode");
    Map<String, JsonObject> out = new java.util.LinkedHashMap<>();
    for (ClusterView.Member m : ClusterView.of(vertx).members(self)) {
      if (m.node() != null && !out.containsKey(m.node())) {
        out.put(m.node(), new JsonObject().put("node", m.node()).put("status", "live").put("self", m.self())
          .put("member", m.member()).put("address", m.address()).put("sessions", m.sessions()));
      }
    }
    java.util.TreeSet<String> others = new java.util.TreeSet<>(byNode.fieldNames());
    others.addAll(lost.keySet());
    for (String n : others) {
      if (!out.containsKey(n)) {
        out.put(n, new JsonObject().put("node", n).put("status", lost.containsKey(n) ? "lost" : "unknown")
          .put("self", n.equals(self)));
      }
    }
    JsonArray list = new JsonArray();
    for (JsonObject o : out.values()) {
      String n = o.getString("node");
      JsonObject kinds = byNode.getJsonObject(n, new JsonObject());
      long failures = 0;
      for (String k : kinds.fieldNames()) {
        failures += kinds.getLong(k);
      }
      o.put("failures", failures).put("byKind", kinds);
      JsonObject l = lost.get(n);
      if (l != null) {
        o.put("lost", new JsonObject().put("time", l.getValue("time")).put("member", l.getValue("member"))
          .put("reportedBy", l.getValue("reportedBy")).put("sessionsHeld", l.getValue("sessionsHeld"))
          .put("sessionsTakenOver", l.getValue("sessionsTakenOver")).put("sessionsLost", l.getValue("sessionsLost"))
          .put("graceful", l.getValue("graceful")));
      }
      list.add(o);
    }
    return list;
  }

  private void events(HttpServerRequest req, Map<String, String> query) {
    if (ring == null) {
      json(req.response(), 404, new JsonObject().put("error", "the monitor is off"));
      return;
    }
    int limit;
    String kind;
    String node;
    String type;
    try {
      Integer l = QueryCheck.intWithin(query, "limit", 1, MAX_LIMIT);
      limit = l == null ? DEFAULT_LIMIT : l;
      kind = QueryCheck.oneOf(query, "kind", KINDS);
      node = QueryCheck.nonEmpty(query, "node");
      type = QueryCheck.oneOf(query, "type", Set.of("failure", "recovery"));
    } catch (QueryCheck.Bad bad) {
      json(req.response(), 400, new JsonObject().put("error", bad.getMessage()).put("parameter", bad.parameter));
      return;
    }
    List<JsonObject> list = ring.newest(limit, kind, node, type);
    json(req.response(), 200, new JsonObject()
      .put("events", new JsonArray(new ArrayList<>(list)))
      .put("counts", ring.counts(System.currentTimeMillis())));
  }

  private void stream(HttpServerRequest req) {
    if (ring == null) {
      json(req.response(), 404, new JsonObject().put("error", "the monitor is off"));
      return;
    }
    HttpServerResponse resp = req.response();
    if (req.method() == HttpMethod.HEAD) {
      resp.putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream; charset=utf-8").end();
      return;
    }
    if (clients.size() >= obs.http().maxSseClients()) {
      json(resp, 503, new JsonObject().put("error", "too many live clients (http.maxSseClients)"));
      return;
    }
    clients.add(resp);
    resp.closeHandler(v -> clients.remove(resp));
    resp.exceptionHandler(e -> clients.remove(resp));
    resp.setChunked(true)
      .putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream; charset=utf-8")
      .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache");
    JsonArray latest = new JsonArray(new ArrayList<>(ring.newest(obs.monitor().maxEventsPerPush(), null, null, null)));
    JsonObject counts = ring.counts(System.currentTimeMillis());
    resp.write(sse("snapshot", new JsonObject()
      .put("node", Tether.of(vertx).node())
      .put("counts", counts)
      .put("events", latest)
      .put("nodes", nodes(counts))));
  }

  private void asset(HttpServerRequest req, String path) {
    String file = ASSETS.get(path);
    Buffer body = file == null ? null : assets.get(file);
    if (body == null) {
      json(req.response(), 404, new JsonObject().put("error", "not found: " + path));
      return;
    }
    String type = file.endsWith(".js") ? "text/javascript; charset=utf-8"
      : file.endsWith(".css") ? "text/css; charset=utf-8" : "text/html; charset=utf-8";
    req.response().putHeader(HttpHeaders.CONTENT_TYPE, type)
      .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
      .end(body);
  }

  private static void json(HttpServerResponse resp, int status, JsonObject body) {
    resp.setStatusCode(status)
      .putHeader(HttpHeaders.CONTENT_TYPE, "application/json; charset=utf-8")
      .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
      .end(body.encode());
  }
}
