package dev.tether.guide;

import dev.tether.event.Action;
import dev.tether.event.Addresses;
import dev.tether.event.Decision;
import dev.tether.event.Direction;
import dev.tether.event.FailureEvent;
import dev.tether.event.FailureKind;
import dev.tether.examples.pubsub.PubSubVerticle;
import dev.tether.examples.pubsub.ResendOrDropPolicy;
import dev.tether.examples.pubsub.ResendOrDropPolicyFactory;
import dev.tether.net.ListeningServers;
import dev.tether.recovery.Policies;
import dev.tether.recovery.RecoveryPolicy;
import dev.tether.recovery.RecoveryPolicyFactory;
import dev.tether.verticles.MainVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The guide's example (docs/guide.md, examples/pubsub) as a user runs it: deployed through Tether's
 * MainVerticle with the example's own conf/tether.json (servers on free ports), driven over real
 * sockets on 127.0.0.1.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PubSubGuideTest {

  /** The example's configuration, as {@code java -jar ... -conf conf/tether.json} reads it. */
  private static final Path CONF = Path.of("examples/pubsub/conf/tether.json");
  private static final String POLICY = ResendOrDropPolicy.NAME;

  private Vertx vertx;
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();
  private final List<JsonObject> outcomes = new CopyOnWriteArrayList<>();
  private final List<LineClient> clients = new ArrayList<>();
  private final List<ExecutorService> executors = new ArrayList<>();

  @AfterEach
  void stop() {
    clients.forEach(LineClient::close);
    executors.forEach(ExecutorService::shutdownNow);
    if (vertx != null) {
      join(vertx.close());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The protocol

  @Test
  void messagesArriveInOrderAtEverySubscriber() throws Exception {
    int port = start(exampleConf(new JsonObject()));
    LineClient a = connect(port);
    LineClient b = connect(port);
    LineClient pub = connect(port);
    a.send("SUB news\n");
    a.expect("OK SUB news");
    b.send("SUB news\r\n"); // \r\n works too
    b.expect("OK SUB news");

    int n = 500;
    StringBuilder batch = new StringBuilder();
    for (int i = 0; i < n; i++) {
      batch.append("PUB news message ").append(i).append('\n');
    }
    pub.send(batch.toString()); // pipelined: one write, many commands
    for (int i = 0; i < n; i++) {
      pub.expect("OK PUB news 2");
    }
    for (int i = 0; i < n; i++) {
      a.expect("MSG news message " + i);
      b.expect("MSG news message " + i);
    }

    b.send("UNSUB news\n");
    b.expect("OK UNSUB news");
    pub.send("PUB news after\n");
    pub.expect("OK PUB news 1");
    a.expect("MSG news after");
    b.send("SUB other\n");
    b.expect("OK SUB other"); // the next thing b got: nothing of news after it left
  }

  @Test
  void mistakesAreAnsweredWithErrAndTheConnectionStays() throws Exception {
    int port = start(exampleConf(new JsonObject()));
    LineClient c = connect(port);
    c.send("FOO bar\nSUB\nSUB bad!topic\nUNSUB news\nPUB news\nPUB\n\n");
    c.expect("ERR unknown command 'FOO' (SUB, UNSUB, PUB)");
    c.expect("ERR usage: SUB <topic>");
    c.expect("ERR bad topic 'bad!topic': 1-128 of A-Z a-z 0-9 . _ : / -");
    c.expect("ERR not subscribed to 'news'");
    c.expect("ERR usage: PUB <topic> <message>");
    c.expect("ERR usage: PUB <topic> <message>");
    c.send("SUB news\n"); // the empty line was ignored; still in business
    c.expect("OK SUB news");
    c.send("PUB news \n"); // an empty message is a message
    c.expect("MSG news ");
    c.expect("OK PUB news 1");
  }

  @Test
  void anOversizedLineGetsErrAndClosesThatConnectionOnly() throws Exception {
    int port = start(exampleConf(new JsonObject()));
    LineClient sub = connect(port);
    LineClient pub = connect(port);
    sub.send("SUB news\n");
    sub.expect("OK SUB news");

    LineClient big = connect(port);
    big.send("PUB news " + "x".repeat(2000) + "\n");
    big.expect("ERR line too long (max 1024 bytes)");
    assertThat(big.closedByServer()).isTrue();

    LineClient endless = connect(port); // no newline at all: cut off as soon as it passes the limit
    endless.send("PUB news " + "y".repeat(20_000));
    endless.expect("ERR line too long (max 1024 bytes)");
    assertThat(endless.closedByServer()).isTrue();

    LineClient fits = connect(port); // exactly the limit is fine
    String line = "PUB news " + "z".repeat(1024 - "PUB news ".length());
    fits.send(line + "\n");
    fits.expect("OK PUB news 1");
    sub.expect("MSG news " + "z".repeat(1024 - "PUB news ".length()));

    pub.send("PUB news still here\n");
    pub.expect("OK PUB news 1");
    sub.expect("MSG news still here");
  }

  // ---------------------------------------------------------------------------------------------
  // Back-pressure: a subscriber that stops reading

  @Test
  void aSubscriberThatStopsReadingCostsBoundedMemoryAndIsToldWhatItLost() throws Exception {
    int port = start(exampleConf(new JsonObject()
      .put("highWaterMark", 8192).put("maxPendingBytes", 65536).put("writeTimeoutMs", 2000)
      .put("sendBufferSize", 4096)));
    LineClient fast = connect(port);
    LineClient slow = connect(port, 4096);
    LineClient pub = connect(port);
    fast.send("SUB news\n");
    fast.expect("OK SUB news");
    slow.send("SUB news\n");
    slow.expect("OK SUB news");

    int n = 5000;
    // threads of their own: these block, and the common pool may have a single worker
    ExecutorService threads = Executors.newFixedThreadPool(3);
    executors.add(threads);
    CompletableFuture<List<String>> fastGot = CompletableFuture.supplyAsync(() -> fast.lines(n), threads);
    CompletableFuture<List<String>> acks = CompletableFuture.supplyAsync(() -> pub.lines(n), threads);
    CompletableFuture<Void> publishing = CompletableFuture.runAsync(() -> {
      for (int i = 0; i < n; i += 100) {
        StringBuilder batch = new StringBuilder();
        for (int j = i; j < i + 100; j++) {
          batch.append("PUB news m").append(j).append('\n');
        }
        pub.send(batch.toString()); // blocks while the server does not read us: back-pressure
      }
    }, threads);
    publishing.get(60, TimeUnit.SECONDS);
    assertThat(acks.get(60, TimeUnit.SECONDS)).allMatch(l -> l.startsWith("OK PUB news "));

    // the reader kept up: it got everything, in order
    List<String> got = fastGot.get(60, TimeUnit.SECONDS);
    for (int i = 0; i < n; i++) {
      assertThat(got.get(i)).isEqualTo("MSG news m" + i);
    }

    // the one that did not: a prefix, then LOST <k>, everything accounted for, in order, no gap unexplained
    long delivered = 0;
    long lost = 0;
    int last = -1;
    while (delivered + lost < n) {
      String l = slow.line();
      if (l.startsWith("LOST ")) {
        lost += Long.parseLong(l.substring(5));
      } else {
        assertThat(l).startsWith("MSG news m");
        int i = Integer.parseInt(l.substring("MSG news m".length()));
        assertThat(i).isGreaterThan(last);
        last = i;
        delivered++;
      }
    }
    assertThat(delivered + lost).isEqualTo(n);
    assertThat(lost).isPositive();
    assertThat(delivered).isPositive();

    // what Tether saw: the write timeout (publishers stopped waiting), the overflow (the cap held),
    // and our policy's decision on it: drop, and carry on
    await().atMost(Duration.ofSeconds(10)).until(() -> failures.stream().anyMatch(kind("WRITE_TIMEOUT")));
    await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.stream().anyMatch(
      kind("WRITE_QUEUE_OVERFLOW").and(o -> POLICY.equals(o.getString("policy")) && "DROP".equals(o.getString("action")))));
    assertThat(failures).noneMatch(kind("WRITE_QUEUE_OVERFLOW").negate().and(kind("WRITE_TIMEOUT").negate()));

    // and the slow one is back in business
    pub.send("PUB news caught up\n");
    slow.expect("MSG news caught up");
  }

  // ---------------------------------------------------------------------------------------------
  // The recovery policy: found by ServiceLoader, resends, then drops

  @Test
  void thePolicyIsFoundByServiceLoaderAndValidatesItsKeys() {
    assertThat(Policies.names()).contains(POLICY);
    assertThat(ServiceLoader.load(RecoveryPolicyFactory.class).stream().map(ServiceLoader.Provider::type))
      .contains(ResendOrDropPolicyFactory.class);

    RecoveryPolicy p = Policies.create(new JsonObject().put("policy", POLICY).put("maxAttempts", 2), "soft");
    assertThat(p).isInstanceOf(ResendOrDropPolicy.class);
    assertThat(((ResendOrDropPolicy) p).maxAttempts()).isEqualTo(2);
    assertThat(Policies.create(POLICY, "soft").name()).isEqualTo(POLICY);

    assertThatThrownBy(() -> Policies.create(new JsonObject().put("policy", POLICY).put("maxAtempts", 2),
      "servers.pubsub.policies.soft"))
      .hasMessageStartingWith("servers.pubsub.policies.soft.maxAtempts: unknown key for policy '" + POLICY + "'");
    assertThatThrownBy(() -> Policies.create(new JsonObject().put("policy", POLICY).put("initialDelayMs", 0),
      "servers.pubsub.policies.soft"))
      .hasMessageStartingWith("servers.pubsub.policies.soft.initialDelayMs: must be >= 1");
    assertThatThrownBy(() -> Policies.create(new JsonObject().put("policy", POLICY).put("maxDelayMs", "soon"),
      "servers.pubsub.policies.soft"))
      .hasMessageStartingWith("servers.pubsub.policies.soft.maxDelayMs: must be a whole number");
  }

  @Test
  void aBadPolicyKeyStopsTheNodeNamingTheKey() {
    JsonObject conf = exampleConf(new JsonObject().put("policies", new JsonObject()
      .put("soft", new JsonObject().put("policy", POLICY).put("maxAtempts", 3))));
    assertThatThrownBy(() -> start(conf))
      .hasStackTraceContaining("servers.pubsub.policies.soft.maxAtempts: unknown key");
  }

  @Test
  void thePolicyDecides() {
    ResendOrDropPolicy p = new ResendOrDropPolicy(10, 1000, 3);
    Decision first = p.decide(event(FailureKind.WRITE_FAILED, 100, 0, 1, true));
    assertThat(first.action()).isEqualTo(Action.RESEND);
    assertThat(first.delayMs()).isBetween(5L, 10L);
    assertThat(p.decide(event(FailureKind.RESOURCE_EXHAUSTED, 100, 0, 3, true)).delayMs()).isBetween(20L, 40L);
    // budget spent: whole messages are dropped, a cut one closes
    Decision spent = p.decide(event(FailureKind.WRITE_FAILED, 100, 0, 4, true));
    assertThat(spent.action()).isEqualTo(Action.DROP);
    assertThat(spent.escalated()).isTrue();
    assertThat(p.decide(event(FailureKind.WRITE_INCOMPLETE, 100, 40, 4, true)).action()).isEqualTo(Action.CLOSE);
    assertThat(p.decide(event(FailureKind.WRITE_QUEUE_OVERFLOW, 100, 0, 1, true)).action()).isEqualTo(Action.DROP);
    assertThat(p.decide(event(FailureKind.WRITE_TIMEOUT, 100, 0, 1, true)).action()).isEqualTo(Action.DROP);
    assertThat(p.decide(event(FailureKind.WRITE_FAILED, 100, 20, 1, false)).action()).isEqualTo(Action.CLOSE);
    assertThat(new ResendOrDropPolicy(10, 1000, 0).decide(event(FailureKind.WRITE_FAILED, 100, 0, 1, true)).action())
      .isEqualTo(Action.DROP);
  }

  @Test
  void anInjectedSoftFailureIsResentByThePolicy() throws Exception {
    // every connection's second write is refused once (the fault injector): a subscriber's first message
    int port = start(exampleConf(new JsonObject()
      .put("faults", new JsonObject().put("enabled", true).put("failWrites", new JsonArray().add(2)))
      .put("policies", new JsonObject().put("soft", new JsonObject().put("initialDelayMs", 5).put("maxDelayMs", 20)))));
    LineClient sub = connect(port);
    LineClient pub = connect(port);
    sub.send("SUB news\n");
    sub.expect("OK SUB news"); // its write 1
    StringBuilder batch = new StringBuilder();
    for (int i = 0; i < 50; i++) {
      batch.append("PUB news m").append(i).append('\n');
    }
    pub.send(batch.toString());
    for (int i = 0; i < 50; i++) {
      sub.expect("MSG news m" + i); // m0 was refused, held with what followed, and resent: nothing missing
    }
    for (int i = 0; i < 50; i++) {
      pub.expect("OK PUB news 1"); // its own second write (an OK) was resent too
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.stream().filter(o ->
      POLICY.equals(o.getString("policy")) && "RESEND".equals(o.getString("action")) && "OK".equals(o.getString("result"))
        && "pubsub".equals(o.getString("server"))).count() == 2);
    assertThat(failures).allMatch(kind("WRITE_FAILED").and(f -> f.getBoolean("soft") && f.getInteger("attempt") == 1));
  }

  @Test
  void whenTheResendsFailTooThePolicyDropsAndTheSubscriberIsToldLost() throws Exception {
    // writes 2 to 5 of every connection are refused: the first message and its three resends
    int port = start(exampleConf(new JsonObject()
      .put("faults", new JsonObject().put("enabled", true).put("failWrites", new JsonArray().add(2).add(3).add(4).add(5)))
      .put("policies", new JsonObject().put("soft", new JsonObject()
        .put("initialDelayMs", 5).put("maxDelayMs", 20).put("maxAttempts", 3)))));
    LineClient sub = connect(port);
    LineClient pub = connect(port);
    sub.send("SUB news\n");
    sub.expect("OK SUB news");
    pub.send("PUB news m1\n");
    pub.expect("OK PUB news 1");
    sub.expect("LOST 1"); // at-most-once, but never silently
    pub.send("PUB news m2\n");
    sub.expect("MSG news m2"); // the connection carried on

    Predicate<JsonObject> ours = o -> POLICY.equals(o.getString("policy"));
    await().atMost(Duration.ofSeconds(10)).until(() -> outcomes.stream().anyMatch(ours.and(o ->
      "DROP".equals(o.getString("action")) && "FAILED".equals(o.getString("result")) && o.getLong("bytes") == 12)));
    assertThat(failures.stream().filter(f -> f.getInteger("attempt") == 4)).isNotEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Deployment

  @Test
  void theBrokerRunsOnOneEventLoopOnly() {
    assertThatThrownBy(() -> start(exampleConf(new JsonObject().put("instances", 2))))
      .hasStackTraceContaining("servers.pubsub.instances: must be 1");
  }

  @Test
  void throughConfTetherJsonItTakesSettingsOfItsOwnAndTyposStillStopTheNode() throws Exception {
    int port = start(exampleConf(new JsonObject().put("maxLineBytes", 16)));
    LineClient c = connect(port);
    c.send("PUB a 0123456789A\n"); // 17 bytes
    c.expect("ERR line too long (max 16 bytes)");
    assertThat(c.closedByServer()).isTrue();
    join(vertx.close());
    // MainVerticle leaves a verticle's own keys to it; the verticle rejects what it does not know
    assertThatThrownBy(() -> start(exampleConf(new JsonObject().put("maxLineByts", 16))))
      .hasStackTraceContaining("servers.pubsub.maxLineByts: unknown key");
  }

  @Test
  void deployedDirectlyItTakesSettingsOfItsOwn() throws Exception {
    vertx = Vertx.vertx();
    PubSubVerticle v = new PubSubVerticle();
    join(vertx.deployVerticle(v, new DeploymentOptions().setConfig(new JsonObject()
      .put("name", "tiny").put("port", 0).put("maxLineBytes", 16).put("maxSubscriptions", 1))));
    LineClient c = connect(v.actualPort());
    c.send("SUB a\nSUB b\n");
    c.expect("OK SUB a");
    c.expect("ERR too many subscriptions (max 1)");
    c.send("PUB a 0123456789\n"); // 16 bytes: fits
    c.expect("MSG a 0123456789");
    c.expect("OK PUB a 1");
    c.send("PUB a 0123456789A\n"); // 17 bytes
    c.expect("ERR line too long (max 16 bytes)");
    assertThat(c.closedByServer()).isTrue();
  }

  // ---------------------------------------------------------------------------------------------

  /** The example's conf/tether.json with every server on a free port, {@code pubsub} deep-merged with {@code changes}. */
  private static JsonObject exampleConf(JsonObject changes) {
    JsonObject conf;
    try {
      conf = new JsonObject(Files.readString(CONF));
    } catch (IOException e) {
      throw new AssertionError("cannot read the example's configuration " + CONF.toAbsolutePath(), e);
    }
    conf.put("node", "guide-test");
    JsonObject servers = conf.getJsonObject("servers");
    for (String name : servers.fieldNames()) {
      servers.getJsonObject(name).put("port", 0);
    }
    servers.getJsonObject("pubsub").mergeIn(changes, true);
    return conf;
  }

  /** Deploys MainVerticle with {@code conf}, as the launcher does; returns the pub/sub server's port. */
  private int start(JsonObject conf) {
    vertx = Vertx.vertx();
    vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body()));
    vertx.eventBus().<JsonObject>consumer(Addresses.RECOVERY, m -> outcomes.add(m.body()));
    join(vertx.deployVerticle(MainVerticle.class.getName(), new DeploymentOptions().setConfig(conf)));
    return ListeningServers.of(vertx).address("pubsub").getInteger("port");
  }

  private LineClient connect(int port) throws IOException {
    return connect(port, -1);
  }

  private LineClient connect(int port, int receiveBuffer) throws IOException {
    LineClient c = new LineClient(port, receiveBuffer);
    clients.add(c);
    return c;
  }

  private static FailureEvent event(FailureKind kind, long requested, long flushed, int attempt, boolean soft) {
    return new FailureEvent("e", 0, "n", "pubsub", "pubsub", "pubsub-1", "127.0.0.1:1", kind, Direction.WRITE,
      requested, flushed, requested - flushed, flushed, "cause", "message", attempt, soft);
  }

  private static Predicate<JsonObject> kind(String kind) {
    return e -> kind.equals(e.getString("kind"));
  }

  private static <T> T join(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A blocking line client on 127.0.0.1; every read gives up after 20 s. */
  private static final class LineClient implements AutoCloseable {

    private final Socket socket;
    private final BufferedReader in;
    private final OutputStream out;

    LineClient(int port, int receiveBuffer) throws IOException {
      socket = new Socket();
      if (receiveBuffer > 0) {
        socket.setReceiveBufferSize(receiveBuffer);
      }
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      socket.setSoTimeout(20_000);
      in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      out = socket.getOutputStream();
    }

    void send(String s) {
      try {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    String line() throws IOException {
      String l = in.readLine();
      if (l == null) {
        throw new AssertionError("the server closed the connection");
      }
      return l;
    }

    void expect(String line) throws IOException {
      assertThat(line()).isEqualTo(line);
    }

    /** The next {@code n} lines. */
    List<String> lines(int n) {
      List<String> got = new ArrayList<>(n);
      try {
        while (got.size() < n) {
          got.add(line());
        }
      } catch (IOException e) {
        throw new IllegalStateException("after " + got.size() + " lines", e);
      }
      return got;
    }

    /** True when the server closed the connection (end of stream, or a reset), false when it sent more. */
    boolean closedByServer() throws IOException {
      try {
        return in.readLine() == null;
      } catch (SocketException e) {
        return true;
      }
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
