package dev.tether.examples.pubsub;

import io.vertx.core.buffer.Buffer;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Topics and their subscribers, for the connections of one {@link PubSubVerticle} instance.
 *
 * <p>Threading: confined to the verticle's event loop (every connection of the instance is handled
 * there), so plain collections do.
 */
final class Broker {

  private final Map<String, Set<PubSubConnection>> byTopic = new HashMap<>();

  void subscribe(String topic, PubSubConnection c) {
    byTopic.computeIfAbsent(topic, t -> new LinkedHashSet<>()).add(c);
  }

  void unsubscribe(String topic, PubSubConnection c) {
    Set<PubSubConnection> subs = byTopic.get(topic);
    if (subs != null && subs.remove(c) && subs.isEmpty()) {
      byTopic.remove(topic);
    }
  }

  /**
   * Offers {@code frame} (one whole {@code MSG} line) to every subscriber of {@code topic}, in
   * subscription order, and makes {@code from} wait for each subscriber this put over its
   * high-water mark.
   *
   * @return the number of subscribers whose stream the message entered
   */
  int publish(PubSubConnection from, String topic, Buffer frame) {
    Set<PubSubConnection> subs = byTopic.get(topic);
    if (subs == null) {
      return 0;
    }
    int n = 0;
    // a snapshot: a write may complete futures (and run their callbacks) before it returns
    for (PubSubConnection s : subs.toArray(new PubSubConnection[0])) {
      if (s.offer(frame)) {
        n++;
      }
      if (s != from && s.holdsUpPublishers()) {
        from.waitFor(s);
      }
    }
    return n;
  }

  /** Topics with at least one subscriber. */
  int topics() {
    return byTopic.size();
  }
}
