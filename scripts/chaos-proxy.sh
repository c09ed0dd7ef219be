#!/usr/bin/env bash
# A fault-injecting TCP proxy on loopback: resets connections (RST) after random lifetimes, cuts
# them after K bytes, stalls them; seeded and bounded in time.
#   scripts/chaos-proxy.sh --listen-port 7101 --target-port 7001 --reset-ms 50-500 --duration-s 60
# Options: see `scripts/chaos-proxy.sh --help`. Builds target/tether.jar when missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
exec java ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml \
  -DTETHER_LOG_LEVEL="${TETHER_LOG_LEVEL:-WARN}" \
  -cp "$jar" dev.tether.tools.ChaosProxy "$@"
