#!/usr/bin/env bash
# Cross-node event latency (docs/cluster.md, "Performance"): two clustered Vert.x instances in one
# JVM, a private loopback cluster built from conf/cluster.xml; node A publishes failure events on
# tether.failure at a steady rate, consumers on node B and on node A record publish-to-receive times.
# Usage: scripts/cluster-bench.sh [--events 20000] [--warmup 2000] [--rate 2000] [--cluster-xml conf/cluster.xml]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
exec java --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
  --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens java.management/sun.management=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
  ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml -Dhazelcast.logging.type=slf4j \
  -cp "$jar" dev.tether.tools.ClusterLatency "$@"
