#!/usr/bin/env bash
# The torture test: starts one node (target/tether.jar, built when missing or stale) under a lowered
# `ulimit -n` and a modest heap, with a plain echo server, a TLS echo server (a dev certificate made for
# the run), a session server, the bridge and HTTP; then dev.tether.tools.Torture hits it for a bounded time
# with descriptor exhaustion, slow readers, resets, fuzz inputs, plaintext on TLS and bridge garbage while
# good echo, TLS echo, session and bridge clients check exactness and /health is polled; at the end it
# checks the books (/books against the metric totals) and prints a verdict table.
#   scripts/torture.sh [--seconds 60] [--fd-limit 512] [--xmx 256m] [Torture options: --seed, --idle, ...]
# Exit code 1 on any violation, 2 on a usage error, 3 when the node does not start.
# The node's log and configuration are kept in target/torture/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
seconds=60
fdlimit=512
xmx=256m
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --fd-limit) fdlimit=$2; shift 2 ;;
    --xmx) xmx=$2; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
ensure_jar
dir=target/torture
rm -rf "$dir"
mkdir -p "$dir"
log=$dir/node.log
scripts/gen-dev-cert.sh "$dir" torture >/dev/null
cat > "$dir/torture.json" <<JSON
{
  "node": "torture",
  "http": { "host": "127.0.0.1", "port": 0 },
  "bridge": { "enabled": true, "host": "127.0.0.1", "port": 0, "maxConnections": 64 },
  "servers": {
    "echo": { "verticle": "echo", "host": "127.0.0.1", "port": 0, "maxPendingBytes": 1048576,
              "highWaterMark": 262144, "writeTimeoutMs": 5000,
              "policies": { "default": "close" } },
    "echo-tls": { "verticle": "echo", "host": "127.0.0.1", "port": 0, "maxPendingBytes": 1048576,
                  "writeTimeoutMs": 5000,
                  "tls": { "certPath": "$dir/torture-cert.pem", "keyPath": "$dir/torture-key.pem" } },
    "session": { "verticle": "session", "host": "127.0.0.1", "port": 0, "helloTimeoutMs": 2000,
                 "idleTimeoutMs": 10000, "sessionTtlMs": 5000,
                 "policies": { "default": "resume", "PROTOCOL_ERROR": "close" } }
  }
}
JSON
(
  ulimit -n "$fdlimit"
  exec java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
    -Dio.netty.tryReflectionSetAccessible=true -Xmx"$xmx" ${TETHER_JAVA_OPTS:-} \
    -Dlogback.configurationFile=conf/logback.xml \
    -jar "$jar" -conf "$dir/torture.json" -options conf/vertx.json
) > "$log" 2>&1 &
node=$!
trap 'kill $node 2>/dev/null || true; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q " ready" "$log" && break
  kill -0 $node 2>/dev/null || { echo "torture.sh: the node did not start:" >&2; cat "$log" >&2; exit 3; }
  sleep 0.1
done
port_of() { sed -n "s/.* $1 (\(tracked echo\|session echo\)) listening on 127.0.0.1:\([0-9]*\).*/\2/p" "$log" | head -1; }
echo_port=$(port_of echo)
tls_port=$(port_of echo-tls)
session_port=$(port_of session)
http=$(sed -n 's|.*monitoring HTTP on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
bridge=$(sed -n 's|.*event-bus bridge on 127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)
for v in echo_port tls_port session_port http bridge; do
  [ -n "${!v}" ] || { echo "torture.sh: no $v in the node's log:" >&2; cat "$log" >&2; exit 3; }
done
echo "node pid $node (ulimit -n $fdlimit, -Xmx$xmx): echo $echo_port, TLS echo $tls_port, session $session_port," \
  "bridge $bridge, HTTP $http; log $log"
set +e
java ${TORTURE_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml -DTETHER_LOG_LEVEL=ERROR -cp "$jar" \
  dev.tether.tools.Torture --echo-port "$echo_port" --tls-port "$tls_port" --session-port "$session_port" \
  --bridge-port "$bridge" --http-port "$http" --trust "$dir/torture-cert.pem" --pid "$node" --node-log "$log" \
  --seconds "$seconds" --idle $((fdlimit + 64)) ${rest[@]+"${rest[@]}"}
exit $?
