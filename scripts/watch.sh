#!/usr/bin/env bash
# Prints a Tether node's failure and recovery events live, read from its TCP event-bus bridge.
# Usage: scripts/watch.sh [--host 127.0.0.1] [--port 7002] [--json] [--address tether.failure]...
# Builds target/tether.jar first when it is missing (like scripts/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/tether.jar
if [ ! -f "$jar" ]; then
  echo "building $jar ..." >&2
  scripts/mvnw -q -B -DskipTests package >&2
fi
exec java ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml -cp "$jar" dev.tether.tools.Watch "$@"
