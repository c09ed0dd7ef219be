#!/usr/bin/env bash
# Runs a Tether node in the foreground with conf/tether.json and conf/logback.xml.
# Builds target/tether.jar first when it is missing or older than any source.
# Extra arguments go to the Vert.x launcher, e.g. scripts/run.sh -cluster
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_jar
# Let Netty manage direct memory itself (no JDK cleaner): when the pool is exhausted an allocation
# fails at once with OutOfDirectMemoryError (reported as RESOURCE_EXHAUSTED), instead of the JDK's
# reserve-GC-sleep-retry that stalls an event loop for ~0.5 s per attempt. Cap it with
# TETHER_JAVA_OPTS=-Dio.netty.maxDirectMemory=<bytes>.
exec java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
  -Dio.netty.tryReflectionSetAccessible=true \
  ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml \
  -Dhazelcast.logging.type=slf4j \
  -jar "$jar" -conf conf/tether.json -options conf/vertx.json "$@"
