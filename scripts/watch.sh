#!/usr/bin/env bash
# Prints a Tether node's failure and recovery events live, read from its TCP event-bus bridge.
# Usage: scripts/watch.sh [--host 127.0.0.1] [--port 7002] [--json] [--address tether.failure]...
# Builds target/tether.jar first when it is missing or stale (like scripts/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
exec java ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml -cp "$jar" dev.tether.tools.Watch "$@"
