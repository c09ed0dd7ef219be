#!/usr/bin/env bash
# Connections held on one server, and the server's heap per idle connection, measured out of process.
#
#   scripts/conns.sh                       heap per idle connection after one echo, for each variant:
#                                          netty (raw Netty echo), plain (Vert.x NetSocket echo),
#                                          tracked (Tether's tracked echo, no metrics), node (the fat-jar
#                                          node: tracked echo + Vert.x and Tether metrics, monitor, ...)
#   CONNS=19000 VARIANTS=node HOLD_S=60 scripts/conns.sh
#                                          the near-the-hard-limit run: 19,000 connections on one node,
#                                          echo checked on a sample every second for 60 s
#
# For each variant: a fresh server JVM (BenchServer VARIANT, or target/tether.jar for node) with the
# descriptor limit raised to the hard limit; dev.tether.tools.Conns takes a class histogram of it
# (jcmd PID GC.class_histogram: full GC, live objects) at 0 connections, opens CONNS connections (one
# echo each, byte for byte), echoes again on a sample, takes a second histogram, optionally holds them
# HOLD_S seconds echoing on a sample every second, closes them and takes a third. Per connection:
# (heap(N) - heap(0)) / N, and the classes that grew most.
#
# Environment: CONNS (5000), VARIANTS ("netty plain tracked node"), HOLD_S (0), SIZE (32, bytes per
# echo), SAMPLE (200), TOP (15, classes shown), SOURCES (source addresses 127.0.0.1..K; default: one
# per 25,000 connections), TRANSPORT (nio|epoll|io_uring for the BenchServer variants, nio),
# SERVER_HEAP (512m, BenchServer variants), OUT (target/conns/<time>).
# Output: OUT/summary.txt (one CONNS line per variant, then a table), OUT/<variant>.txt (per class).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CONNS=${CONNS:-5000}
VARIANTS=${VARIANTS:-"netty plain tracked node"}
HOLD_S=${HOLD_S:-0}
SIZE=${SIZE:-32}
SAMPLE=${SAMPLE:-200}
TOP=${TOP:-15}
TRANSPORT=${TRANSPORT:-nio}
SERVER_HEAP=${SERVER_HEAP:-512m}
SOURCES=${SOURCES:-$(( (CONNS + 24999) / 25000 ))}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-target/conns/$STAMP}
HARD=$(ulimit -Hn)
log() { echo "[conns $(date +%H:%M:%S)] $*" >&2; }

command -v jcmd >/dev/null || { echo "conns: jcmd (JDK 17) not found" >&2; exit 1; }
if [ "$HARD" != unlimited ] && [ $((CONNS + 500)) -gt "$HARD" ]; then
  echo "conns: $CONNS connections need about $((CONNS + 500)) descriptors per process; the hard limit (ulimit -Hn) is $HARD" >&2
  exit 2
fi

# build: classes for BenchServer/Conns, the fat jar for the node variant
if [ ! -f target/classes/dev/tether/tools/Conns.class ] || \
   [ -n "$(find pom.xml src/main verticles -newer target/classes/dev/tether/tools/Conns.class -print -quit 2>/dev/null)" ]; then
  log "compiling (scripts/mvnw -q -B -DskipTests compile) ..."
  scripts/mvnw -q -B -DskipTests compile >&2
fi
if [ ! -s target/runtime.classpath ] || [ pom.xml -nt target/runtime.classpath ]; then
  scripts/mvnw -q -B dependency:build-classpath -Dmdep.outputFile=target/runtime.classpath -Dmdep.includeScope=runtime >&2
fi
CP="target/classes:$(cat target/runtime.classpath)"
case " $VARIANTS " in *" node "*) ensure_jar ;; esac

mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$OUT/lines.txt"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap cleanup EXIT

free_port() { java -cp "$CP" dev.tether.tools.Conns --free-port 2>/dev/null || python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server VARIANT LOG -> sets SERVER_PID, PORT (and HTTP for node)
start_server() {
  local v=$1 slog=$2 i
  PORT=""; HTTP=""
  if [ "$v" = node ]; then
    PORT=$(free_port); HTTP=$(free_port)
    local conf="$OUT/node.json"
    cat >"$conf" <<EOF
{"node": "conns", "http": {"host": "127.0.0.1", "port": $HTTP}, "bridge": {"enabled": false},
 "servers": {"echo": {"verticle": "echo", "host": "127.0.0.1", "port": $PORT, "maxConnections": $((CONNS + 100))}}}
EOF
    # as scripts/run.sh starts the node
    ( ulimit -n "$HARD"; exec java --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
        -Dio.netty.tryReflectionSetAccessible=true -Dlogback.configurationFile=conf/logback.xml \
        -jar target/tether.jar -conf "$conf" -options conf/vertx.json ) >"$slog" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 1 300); do
      grep -q ' ready' "$slog" 2>/dev/null && return 0
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
  else
    ( ulimit -n "$HARD"; exec java -XX:+UseParallelGC -Xms"$SERVER_HEAP" -Xmx"$SERVER_HEAP" \
        -Dlogback.configurationFile=conf/logback.xml "-Dbench.transport=$TRANSPORT" \
        "-Dbench.echoConf={\"maxConnections\":$((CONNS + 100))}" \
        -cp "$CP" dev.tether.tools.BenchServer "$v" 3600 ) >"$slog" 2>&1 &
    SERVER_PID=$!
    local ready=""
    for i in $(seq 1 300); do
      ready=$(grep -m1 '^READY ' "$slog" 2>/dev/null || true)
      if [ -n "$ready" ]; then
        PORT=$(awk '{ print $2 }' <<<"$ready")
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
  fi
  log "server $v did not start; see $slog"
  tail -20 "$slog" >&2
  return 1
}

RC=0
log "variants: $VARIANTS; $CONNS connections from $SOURCES source address(es), $SIZE-byte echo, hold ${HOLD_S}s, descriptor limit $HARD"
for v in $VARIANTS; do
  slog="$OUT/server-$v.log"
  start_server "$v" "$slog" || { RC=1; continue; }
  log "$v: server pid $SERVER_PID on port $PORT"
  set +e
  ( ulimit -n "$HARD"; exec java -XX:+UseSerialGC -Xmx512m -cp "$CP" dev.tether.tools.Conns --port "$PORT" \
      --conns "$CONNS" --sources "$SOURCES" --size "$SIZE" --pid "$SERVER_PID" --sample "$SAMPLE" \
      --hold-s "$HOLD_S" --top "$TOP" --label "variant=$v transport=$([ "$v" = node ] && echo node-default || echo "$TRANSPORT")" \
      ${HTTP:+--health "http://127.0.0.1:$HTTP/health"} ) >"$OUT/$v.txt" 2>"$OUT/conns-$v.log"
  rc=$?
  set -e
  [ "$rc" = 0 ] || { RC=1; log "$v: Conns exited $rc; see $OUT/conns-$v.log"; tail -5 "$OUT/conns-$v.log" >&2; }
  grep '^CONNS ' "$OUT/$v.txt" >>"$OUT/lines.txt" || true
  cat "$OUT/$v.txt" >&2
  cleanup
done

{
  echo "# scripts/conns.sh CONNS=$CONNS VARIANTS=\"$VARIANTS\" HOLD_S=$HOLD_S SIZE=$SIZE SOURCES=$SOURCES TRANSPORT=$TRANSPORT"
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(java -version 2>&1 | head -1), descriptor hard limit $HARD"
  echo "# heapPerConn = (live heap at N - live heap at 0) / N, jcmd GC.class_histogram (full GC), after one echo per connection"
  cat "$OUT/lines.txt"
  echo
  awk '
    { v = ""; h = ""; for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "variant") v = kv[2]; if (kv[1] == "heapPerConn") h = kv[2] }
      if (v != "" && h != "") { heap[v] = h; order[++n] = v } }
    END {
      printf "%-10s %14s %16s %16s\n", "variant", "B/conn", "over plain", "over netty"
      for (i = 1; i <= n; i++) { v = order[i]
        op = ("plain" in heap) ? sprintf("%+d", heap[v] - heap["plain"]) : "-"
        on = ("netty" in heap) ? sprintf("%+d", heap[v] - heap["netty"]) : "-"
        printf "%-10s %14d %16s %16s\n", v, heap[v], op, on }
    }' "$OUT/lines.txt"
} | tee "$SUMMARY"
log "summary in $SUMMARY, per-class tables in $OUT/<variant>.txt"
exit $RC
