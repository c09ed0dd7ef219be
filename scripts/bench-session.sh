#!/usr/bin/env bash
# Session-protocol benchmark (< 3 min): echo messages delivered per second healthy vs through a
# chaos proxy resetting every connection every 100 ms, alternated over 3 pairs, with the median
# ratio (target >= 0.5), and the resume latency p50/p99. Extra arguments go to the tool, e.g.
#   scripts/bench-session.sh --pairs 5 --phase-s 8 --clients 8 --max-payload 1024 --reset-ms 100
# Builds target/tether.jar when missing or stale. Exit code 1 if any phase lost or duplicated data.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
exec timeout 180 java ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml \
  -DTETHER_LOG_LEVEL="${TETHER_LOG_LEVEL:-ERROR}" \
  -cp "$jar" dev.tether.tools.SessionBench "$@"
