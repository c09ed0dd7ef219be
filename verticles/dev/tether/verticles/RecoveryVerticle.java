package dev.tether.verticles;

import dev.tether.Tether;
import dev.tether.event.Addresses;
import dev.tether.event.Decision;
import dev.tether.event.FailureEvent;
import dev.tether.recovery.PolicySet;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;

/**
 * The node's recovery verticle: consumes {@code tether.recover.<node>} (a local consumer: sockets
 * and their retained bytes are node-local), picks the policy configured for the failure's server,
 * else for its protocol, else the default ({@code close}), and replies with a decision. The owning
 * verticle carries the decision out on its own event loop and publishes the outcome on
 * {@code tether.recovery}, since only it knows how the action ended.
 *
 * <p>Configuration: the whole {@code conf/tether.json}; it reads {@code servers.<name>.policies},
 * {@code recovery.protocols.<protocol>} and {@code recovery.default}.
 */
public class RecoveryVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(RecoveryVerticle.class);

  private final Map<String, PolicySet> byServer = new HashMap<>();
  private final Map<String, PolicySet> byProtocol = new HashMap<>();
  private PolicySet fallback;
  private MessageConsumer<JsonObject> consumer;

  @Override
  public Future<?> start() {
    JsonObject conf = config();
    try {
      JsonObject servers = conf.getJsonObject("servers", new JsonObject());
      for (String name : servers.fieldNames()) {
        JsonObject s = servers.getJsonObject(name);
        byServer.put(name, PolicySet.fromJson(s.getJsonObject("policies"), "servers." + name + ".policies"));
      }
      JsonObject recovery = conf.getJsonObject("recovery", new JsonObject());
      JsonObject protocols = recovery.getJsonObject("protocols", new JsonObject());
      for (String p : protocols.fieldNames()) {
        byProtocol.put(p, PolicySet.fromJson(protocols.getJsonObject(p), "recovery.protocols." + p));
      }
      fallback = PolicySet.fromJson(recovery.getJsonObject("default"), "recovery.default");
    } catch (IllegalArgumentException | ClassCastException e) {
      return Future.failedFuture(new IllegalArgumentException("invalid recovery configuration: " + e.getMessage(), e));
    }
    String address = Addresses.recover(Tether.of(vertx).node());
    consumer = vertx.eventBus().localConsumer(address, this::decide);
    return consumer.completion().onSuccess(v -> log.info("recovery verticle answering on {}", address));
  }

  private void decide(Message<JsonObject> msg) {
    FailureEvent event;
    try {
      event = FailureEvent.fromJson(msg.body());
    } catch (RuntimeException e) {
      log.warn("unreadable failure event {}: {}", msg.body(), e.getMessage());
      msg.fail(400, "unreadable failure event: " + e.getMessage());
      return;
    }
    PolicySet set = byServer.get(event.server());
    if (set == null) {
      set = byProtocol.getOrDefault(event.protocol(), fallback);
    }
    Decision d = set.decide(event); // guarded: a policy that throws counts as close, FAILED
    log.debug("{} on {}: {} by {}", event.kind(), event.connection(), d.action(), d.policy());
    msg.reply(d.toJson());
  }
}
