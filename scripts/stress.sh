#!/usr/bin/env bash
# Session-protocol stress: N session clients through a chaos proxy (resets, cuts, stalls) for T
# seconds against a session echo server (in-process unless --server-port is given), then a verdict:
# sent, received, lost, duplicated, out of order, resumes, throughput. Exit code 1 on any loss,
# duplicate, reordering, corruption or failed session; 2 on a usage error.
#   scripts/stress.sh --clients 10 --seconds 20 --seed 1
# Options: see `scripts/stress.sh --help`. Builds target/tether.jar when missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
exec java ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml \
  -DTETHER_LOG_LEVEL="${TETHER_LOG_LEVEL:-ERROR}" \
  -cp "$jar" dev.tether.tools.Stress "$@"
