package dev.tether.net;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.TreeMap;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The closed books of every tracked connection of one Vert.x instance, per server: when a connection's
 * close is finished its ledger's final figures (accepted, flushed, unsent, and what was still pending) are
 * added here. A tool (scripts/torture.sh) can then check, over every connection a node ever closed, that
 * {@code accepted == flushed + unsent}, that nothing was pending after a close, and that the sums equal
 * the metric totals ({@code tether_written_bytes_total}, {@code tether_unsent_bytes_total}); served as
 * {@code GET /books} by the monitoring verticle.
 *
 * <p>Threading: written from every connection's event loop (adders), read from any thread.
 */
public final class LedgerBooks {

  private static final Map<Vertx, LedgerBooks> INSTANCES = new WeakHashMap<>();

  private final Map<String, Totals> byServer = new ConcurrentHashMap<>();

  private LedgerBooks() {
  }

  /** The books of {@code vertx} (created on first use). */
  public static LedgerBooks of(Vertx vertx) {
    synchronized (INSTANCES) {
      return INSTANCES.computeIfAbsent(vertx, v -> new LedgerBooks());
    }
  }

  /** A connection of {@code server} finished closing with these final ledger figures. */
  void closed(String server, long accepted, long flushed, long unsent, long pending) {
    Totals t = byServer.computeIfAbsent(server, s -> new Totals());
    t.connections.increment();
    t.accepted.add(accepted);
    t.flushed.add(flushed);
    t.unsent.add(unsent);
    t.pending.add(pending);
    if (pending != 0 || accepted != flushed + unsent) {
      t.unbalanced.increment();
    }
  }

  /**
   * Per server: {@code closedConnections}, {@code accepted}, {@code flushed}, {@code unsent},
   * {@code pendingAfterClose} (sum of what was pending when each close finished: 0 when the books
   * balance) and {@code unbalanced} (connections whose own books did not balance).
   */
  public JsonObject toJson() {
    JsonObject servers = new JsonObject();
    for (Map.Entry<String, Totals> e : new TreeMap<>(byServer).entrySet()) {
      Totals t = e.getValue();
      servers.put(e.getKey(), new JsonObject()
        .put("closedConnections", t.connections.sum())
        .put("accepted", t.accepted.sum())
        .put("flushed", t.flushed.sum())
        .put("unsent", t.unsent.sum())
        .put("pendingAfterClose", t.pending.sum())
        .put("unbalanced", t.unbalanced.sum()));
    }
    return new JsonObject().put("servers", servers);
  }

  private static final class Totals {
    final LongAdder connections = new LongAdder();
    final LongAdder accepted = new LongAdder();
    final LongAdder flushed = new LongAdder();
    final LongAdder unsent = new LongAdder();
    final LongAdder pending = new LongAdder();
    final LongAdder unbalanced = new LongAdder();
  }
}
