#!/usr/bin/env bash
# Descriptor exhaustion at the real hard limit: one node (the fat jar) runs with its descriptor limit
# at `ulimit -Hn`; client A holds HOLD connections (default: the hard limit - 1,000) and echoes on a
# sample every second; client B then asks for EXTRA more (default 1,500), more than the node has
# descriptors for. Expected, and checked:
#   - A's connections are served throughout (no sample echo fails);
#   - the node logs one "cannot accept connections on" WARN for the episode, no Netty stack trace;
#   - RESOURCE_EXHAUSTED/ACCEPT is on /events and tether_accept_refused_total counts the refusals;
#   - B's extra clients learn at once (their connect or echo fails) rather than hang;
#   - once B is gone, a new connection is echoed and the node logs "accepting connections again".
# Prints a verdict and exits 1 on any violation. Bounded: A holds HOLD_S seconds (default 40).
#
#   scripts/exhaust.sh                 # HOLD=hard-1000 EXTRA=1500 HOLD_S=40
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

HARD=$(ulimit -Hn)
HOLD=${HOLD:-$((HARD - 1000))}
EXTRA=${EXTRA:-1500}
HOLD_S=${HOLD_S:-40}
OUT=${OUT:-target/exhaust/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
log() { echo "[exhaust $(date +%H:%M:%S)] $*" >&2; }

ensure_jar
CP=target/tether.jar
free_port() { java -cp "$CP" dev.tether.tools.Conns --free-port; }
PORT=$(free_port)
HTTP=$(free_port)
cat >"$OUT/node.json" <<EOF
{"node": "exhaust", "http": {"host": "127.0.0.1", "port": $HTTP}, "bridge": {"enabled": false},
 "servers": {"echo": {"verticle": "echo", "host": "127.0.0.1", "port": $PORT, "maxConnections": $((HARD * 2))}}}
EOF
( ulimit -n "$HARD"; exec java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
    -Dio.netty.tryReflectionSetAccessible=true -Dlogback.configurationFile=conf/logback.xml \
    -jar target/tether.jar -conf "$OUT/node.json" -options conf/vertx.json ) >"$OUT/node.log" 2>&1 &
NODE=$!
PIDS="$NODE"
trap 'kill $PIDS 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q ' ready' "$OUT/node.log" 2>/dev/null && break
  kill -0 "$NODE" 2>/dev/null || { log "node died:"; tail -20 "$OUT/node.log" >&2; exit 1; }
  sleep 0.2
done
log "node pid $NODE: echo on $PORT, descriptor limit $HARD; A holds $HOLD for ${HOLD_S}s, B asks for $EXTRA more"

( ulimit -n "$HARD"; exec java -XX:+UseSerialGC -Xmx512m -cp "$CP" dev.tether.tools.Conns --port "$PORT" \
    --conns "$HOLD" --sources 1 --sample 200 --hold-s "$HOLD_S" --label A ) >"$OUT/a.log" 2>&1 &
A=$!
PIDS="$PIDS $A"
for _ in $(seq 1 600); do
  grep -q '^OPEN ' "$OUT/a.log" 2>/dev/null && break
  kill -0 "$A" 2>/dev/null || break
  sleep 0.2
done
grep '^OPEN ' "$OUT/a.log" >&2 || { log "client A did not open its connections"; tail -5 "$OUT/a.log" >&2; exit 1; }

# B: more than the node has descriptors left; its clients are refused (closed at once) and must not hang
set +e
( ulimit -n "$HARD"; exec java -XX:+UseSerialGC -Xmx256m -cp "$CP" dev.tether.tools.Conns --port "$PORT" \
    --conns "$EXTRA" --sources 2 --sample 0 --timeout-s 10 --label B ) >"$OUT/b.log" 2>&1
B_RC=$?
set -e
log "client B exited $B_RC: $(grep -m1 '^CONNS\|^OPEN' "$OUT/b.log" || tail -1 "$OUT/b.log")"
EVENTS=$(curl -s "http://127.0.0.1:$HTTP/events?kind=RESOURCE_EXHAUSTED")
REFUSED=$(curl -s "http://127.0.0.1:$HTTP/metrics" | grep '^tether_accept_refused_total' || true)

wait "$A"
A_RC=$?
PIDS="$NODE"
# A has closed its connections: a newcomer is served
NEW=$(java -cp "$CP" dev.tether.tools.Conns --port "$PORT" --conns 1 --sample 1 --label C 2>&1 | grep '^CONNS' || true)
for _ in $(seq 1 50); do
  grep -q 'accepting connections again on' "$OUT/node.log" && break
  sleep 0.2
done

fail=0
check() { if eval "$2"; then printf '  %-58s ok\n' "$1"; else printf '  %-58s FAILED\n' "$1"; fail=1; fi; }
echo "# scripts/exhaust.sh HOLD=$HOLD EXTRA=$EXTRA HOLD_S=$HOLD_S, descriptor hard limit $HARD, $(date -u '+%Y-%m-%d %H:%M UTC')"
grep '^CONNS' "$OUT/a.log" | sed 's/^/  A: /'
grep '^CONNS' "$OUT/b.log" | sed 's/^/  B: /' || true
echo "  newcomer after: ${NEW:-none}"
echo "  refused: ${REFUSED:-none}"
check "A: every connection opened and echoed, sample echo held" '[ "$A_RC" = 0 ]'
check "B: refused (not every extra connection served)" '[ "$B_RC" != 0 ]'
check "one WARN for the episode" '[ "$(grep -c "cannot accept connections on" "$OUT/node.log")" = 1 ]'
check "RESOURCE_EXHAUSTED/ACCEPT on /events" 'grep -q "\"direction\":\"ACCEPT\"" <<<"$EVENTS"'
check "tether_accept_refused_total counts refusals" 'grep -qE "\} [1-9]" <<<"$REFUSED"'
check "no Netty stack trace in the node log" '! grep -q "at io.netty\|reached at the tail" "$OUT/node.log"'
check "a newcomer is served after the episode" 'grep -q "failed=0 sampleFailed=0" <<<"$NEW"'
check "the node logs the end of the episode" 'grep -q "accepting connections again on" "$OUT/node.log"'
echo "  logs: $OUT"
[ "$fail" = 0 ] && echo "VERDICT: PASS" || echo "VERDICT: FAIL"
exit "$fail"
