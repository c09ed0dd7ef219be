#!/usr/bin/env bash
# Runs a Tether node in the foreground with conf/tether.json and conf/logback.xml.
# Builds target/tether.jar first when it is missing or older than any source.
#
#   scripts/run.sh                 a standalone node
#   scripts/run.sh --cluster       a clustered node: joins the Hazelcast cluster of conf/cluster.xml
#                                  (loopback only) with its event bus on 127.0.0.1; see docs/cluster.md
#
# Environment: TETHER_CONF (default conf/tether.json), TETHER_CLUSTER_XML (default conf/cluster.xml),
# TETHER_JAVA_OPTS (extra JVM options). Other arguments go to the Vert.x launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
conf=${TETHER_CONF:-conf/tether.json}
cluster=0
args=()
for a in "$@"; do
  if [ "$a" = "--cluster" ]; then cluster=1; else args+=("$a"); fi
done
jvm=()
launcher=()
if [ "$cluster" = 1 ]; then
  xml=${TETHER_CLUSTER_XML:-conf/cluster.xml}
  [ -f "$xml" ] || { echo "run.sh: no Hazelcast configuration at $xml" >&2; exit 2; }
  # vertx-hazelcast 5.0.7 reads the file named by vertx.hazelcast.config (a path, or classpath:NAME);
  # the --add-opens/exports are the ones Hazelcast asks for on Java 9+ (it runs slower without them)
  jvm=(-Dvertx.hazelcast.config="$xml"
       --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
       --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED
       --add-opens java.management/sun.management=ALL-UNNAMED
       --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED)
  launcher=(-cluster -cluster-host 127.0.0.1 -cluster-public-host 127.0.0.1)
fi
ensure_jar
# Let Netty manage direct memory itself (no JDK cleaner): when the pool is exhausted an allocation
# fails at once with OutOfDirectMemoryError (reported as RESOURCE_EXHAUSTED), instead of the JDK's
# reserve-GC-sleep-retry that stalls an event loop for ~0.5 s per attempt. Cap it with
# TETHER_JAVA_OPTS=-Dio.netty.maxDirectMemory=<bytes>.
exec java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
  -Dio.netty.tryReflectionSetAccessible=true \
  ${jvm[@]+"${jvm[@]}"} \
  ${TETHER_JAVA_OPTS:-} -Dlogback.configurationFile=conf/logback.xml \
  -Dhazelcast.logging.type=slf4j \
  -jar "$jar" -conf "$conf" -options conf/vertx.json ${launcher[@]+"${launcher[@]}"} ${args[@]+"${args[@]}"}
