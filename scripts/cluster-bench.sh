#!/usr/bin/env bash
# Cross-node event latency (docs/cluster.md, "Performance"): two clustered Vert.x instances in one
# JVM, a private loopback cluster built from conf/cluster.xml; node A publishes failure events on
# tether.failure at a steady rate, consumers on node B and on node A record publish-to-receive times.
# Usage: scripts/cluster-bench.sh [--events 20000] [--warmup 2000] [--rate 2000] [--cluster-xml conf/cluster.xml]
#
# Sessions (docs/cluster.md, "Sessions that move: figures"): throughput with replication backup vs none,
# takeover latency from a live owner, failover time from a crash to the first message on a survivor:
#        scripts/cluster-bench.sh sessions [--pairs 3] [--phase-s 5] [--clients 8] [--max-payload 1024]
#                                          [--takeovers 200] [--rounds 8]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
tool=dev.tether.tools.ClusterLatency
if [ "${1:-}" = sessions ]; then
  tool=dev.tether.tools.SessionFailoverBench
  shift
fi
exec java --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
  --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens java.management/sun.management=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
  ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml -Dhazelcast.logging.type=slf4j \
  -cp "$jar" $tool "$@"
