#!/usr/bin/env bash
# Fuzzes the session server: starts a node (session server only, short hello/idle/TTL times) from
# target/tether.jar, sends it N seeded hostile inputs (mutated valid session streams and random bytes,
# one connection each; dev.tether.tools.Fuzz), then prints inputs/s, the outcome table and a verdict.
# Exit code 1 on a violation: a connection left open and silent, a malformed reply, a good session not
# echoed exactly, an exception in the node's log, tracked connections left open, heap growth.
#   scripts/fuzz.sh [--inputs 100000] [--seed 1] [--concurrency 32] ...   (other options: Fuzz --help)
# Builds target/tether.jar when missing or stale. The node's log is kept in target/fuzz/node.log.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
dir=target/fuzz
mkdir -p "$dir"
log=$dir/node.log
cat > "$dir/fuzz.json" <<JSON
{
  "node": "fuzz",
  "http": { "host": "127.0.0.1", "port": 0 },
  "bridge": { "enabled": false },
  "servers": {
    "session": { "verticle": "session", "host": "127.0.0.1", "port": 0, "helloTimeoutMs": 1000,
                 "idleTimeoutMs": 1000, "sessionTtlMs": 1000, "maxSessions": 20000,
                 "policies": { "default": "resume", "PROTOCOL_ERROR": "close" } }
  }
}
JSON
java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
  -Dio.netty.tryReflectionSetAccessible=true -Xmx${FUZZ_NODE_XMX:-256m} ${TETHER_JAVA_OPTS:-} \
  -Dlogback.configurationFile=conf/logback.xml \
  -jar "$jar" -conf "$dir/fuzz.json" -options conf/vertx.json > "$log" 2>&1 &
node=$!
trap 'kill $node 2>/dev/null || true; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q " ready" "$log" && break
  kill -0 $node 2>/dev/null || { echo "fuzz.sh: the node did not start:" >&2; cat "$log" >&2; exit 3; }
  sleep 0.1
done
port=$(sed -n 's/.*session (session echo) listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
http=$(sed -n 's|.*monitoring HTTP on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
[ -n "$port" ] && [ -n "$http" ] || { echo "fuzz.sh: no ports in the node's log:" >&2; cat "$log" >&2; exit 3; }
echo "node pid $node: session server 127.0.0.1:$port, HTTP $http, log $log"
set +e
java ${FUZZ_JAVA_OPTS:-} -cp "$jar" dev.tether.tools.Fuzz --port "$port" --http-port "$http" --pid "$node" \
  --node-log "$log" "$@"
rc=$?
exit $rc
