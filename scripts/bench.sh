#!/usr/bin/env bash
# Tether benchmark: tracked echo vs plain Vert.x echo vs raw Netty echo, paired trials, fresh JVM per trial.
#
#   scripts/bench.sh            tracked (EchoVerticle, metrics recorder off) vs plain (PlainEchoVerticle)
#                               vs netty (raw Netty echo, dev.tether.tools.NettyEcho: the anchor)
#   scripts/bench.sh metrics    tracked with metrics ON vs tracked with metrics OFF
#   scripts/bench.sh session    session-protocol echo (SessionVerticle) vs tracked raw echo; no target ("info")
#   scripts/bench.sh tls        tracked echo over TLS vs tracked echo in plaintext; no target ("info")
#                               (a self-signed pair in target/bench-tls, made once with scripts/DevCert.java)
#   scripts/bench.sh jmh        JMH micro-benchmarks of the write ledger (-prof gc)
#   scripts/bench.sh transports the same echo on epoll (A) vs nio (B) vs io_uring (C), paired, no target ("info");
#                               TVARIANT=tracked (default) or session: which echo (session: LoadGen --protocol session)
#   scripts/bench.sh quick      one pair (tracked, plain, netty) of each default workload, short windows (a smoke test)
#
# Environment overrides:
#   PAIRS (default 5)          SECONDS (measured seconds per trial, 10)   WARMUP (6)
#   FLATOUT (flat-out phase, information only, 2)   BUDGET (no new trial after that many s, 600; 900 with netty)
#   RETRIES (re-runs of a disturbed trial, 2)
#   QUIET_PCT / QUIET_WAIT (before each trial, wait up to QUIET_WAIT s (30) for the CPUs to be
#                           under QUIET_PCT % busy (15))
#   MAX_FOREIGN (% of CPU 0 or 1 used by other processes that discards a trial, 10)
#   MAX_LATE_FRAC (share of messages sent > 2 ms late, load generator's fault, that discards, 0.10)
#   ECHO_CONF (tracking options of the tracked echo, JSON)   WORKLOADS ("w1k w64"; tls: "w1k25 w64")
#   SERVER_HEAP (server -Xms/-Xmx, 256m, same for both variants)
#   OUT (results directory)    JMH_ARGS (extra arguments for org.openjdk.jmh.Main)
#   TRANSPORT (nio | epoll | io_uring, default nio): the Netty transport of every variant of the run
#   NETTY_ALLOC (pooled | default, default pooled): read allocator of the netty variant,
#               PooledByteBufAllocator.DEFAULT or ByteBufAllocator.DEFAULT (Vert.x's: adaptive in Netty 4.2)
#
# Writes OUT/results.txt (one RESULT line per trial), OUT/summary.txt and OUT/chart.svg (the paired
# ratios, dots per pair, median, targets).
#
# Needs JDK 17 and, for pinning, util-linux taskset (without it the run is unpinned and says so).
# Everything is loopback; every trial has a deadline.
set -euo pipefail
cd "$(dirname "$0")/.."

# SECONDS is special in bash (seconds since the shell started): read the override from the environment.
MEASURE_S=$(printenv SECONDS || echo 10)
MODE=${1:-default}
PAIRS=${PAIRS:-5}
WARMUP=${WARMUP:-6}
FLATOUT=${FLATOUT:-2}
MAX_FOREIGN=${MAX_FOREIGN:-10}
MAX_LATE_FRAC=${MAX_LATE_FRAC:-0.10}
RETRIES=${RETRIES:-2}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-30}
# Tracking options of the tracked echo. The default highWaterMark (256 KiB) is NOT used: with it the
# tracked echo can stay paused for ever (see docs/performance.md, "Known problems"); 4 MiB keeps the
# pause out of the measured path without changing the per-write cost.
ECHO_CONF=${ECHO_CONF:-'{"highWaterMark":4194304,"maxPendingBytes":67108864}'}
TRANSPORT=${TRANSPORT:-nio}
case "$TRANSPORT" in
  nio|epoll|io_uring) ;;
  *) echo "bench: TRANSPORT is nio, epoll or io_uring, got $TRANSPORT" >&2; exit 2 ;;
esac
NETTY_ALLOC=${NETTY_ALLOC:-pooled}
case "$NETTY_ALLOC" in
  pooled|default) ;;
  *) echo "bench: NETTY_ALLOC is pooled or default, got $NETTY_ALLOC" >&2; exit 2 ;;
esac
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-target/bench/$MODE-$STAMP}

command -v java >/dev/null || { echo "bench: java (JDK 17) not found" >&2; exit 1; }

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# ---- build (fresh clone: target/ missing) -------------------------------------------------------
build_main() {
  local stamp=target/classes/dev/tether/tools/BenchServer.class
  if [ ! -f "$stamp" ] || [ -n "$(find pom.xml src/main verticles -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    log "compiling (scripts/mvnw -q -B -DskipTests compile) ..."
    scripts/mvnw -q -B -DskipTests compile >&2
  fi
  if [ ! -s target/runtime.classpath ] || [ pom.xml -nt target/runtime.classpath ]; then
    log "resolving the runtime classpath ..."
    scripts/mvnw -q -B dependency:build-classpath -Dmdep.outputFile=target/runtime.classpath \
      -Dmdep.includeScope=runtime >&2
  fi
  CP="target/classes:$(cat target/runtime.classpath)"
}

build_test() {
  local stamp=target/test-classes/META-INF/BenchmarkList
  if [ ! -f "$stamp" ] || [ -n "$(find pom.xml src verticles -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    log "compiling tests (scripts/mvnw -q -B -DskipTests test-compile) ..."
    scripts/mvnw -q -B -DskipTests test-compile >&2
  fi
  if [ ! -s target/test.classpath ] || [ pom.xml -nt target/test.classpath ]; then
    log "resolving the test classpath ..."
    scripts/mvnw -q -B dependency:build-classpath -Dmdep.outputFile=target/test.classpath >&2
  fi
  TCP="target/test-classes:target/classes:$(cat target/test.classpath)"
}

# ---- JMH -----------------------------------------------------------------------------------------
if [ "$MODE" = jmh ]; then
  build_test
  mkdir -p "$OUT"
  log "JMH: 1 fork, 3 x 1 s warm-up, 3 x 1 s measurement, -prof gc; output in $OUT/jmh.txt"
  # shellcheck disable=SC2086
  timeout 900 java -cp "$TCP" org.openjdk.jmh.Main -f 1 -wi 3 -w 1s -i 3 -r 1s -prof gc \
    -jvmArgsAppend "-XX:+UseParallelGC -Xms512m -Xmx512m" ${JMH_ARGS:-} 'dev.tether.bench.*' | tee "$OUT/jmh.txt"
  exit "${PIPESTATUS[0]}"
fi

# ---- paired echo trials --------------------------------------------------------------------------
# Roles: A the candidate, B the baseline (the gate is A/B), C (default and quick) the raw Netty anchor:
# A/C is held against issue 10's goals (information, not a gate), B/C is information.
C=""
case "$MODE" in
  default) A=tracked; B=plain; C=netty; CPU_TARGET=1.05; ALLOC_TARGET=1.10 ;;
  quick) A=tracked; B=plain; C=netty; CPU_TARGET=1.05; ALLOC_TARGET=1.10
         PAIRS=1; MEASURE_S=$(printenv SECONDS || echo 3); WARMUP=${WARMUP_QUICK:-3}; FLATOUT=1 ;;
  metrics) A=tracked-metrics; B=tracked-noop; CPU_TARGET=1.03; ALLOC_TARGET=1.03 ;;
  # the session echo, driven with the session protocol (LoadGen --protocol session), against the
  # tracked raw echo: no target is set, the ratios are information ("info")
  session) A=session; B=tracked; CPU_TARGET=info; ALLOC_TARGET=info ;;
  # TLS: the same tracked echo with servers.echo.tls, the load generator speaking TLS (LoadGen --tls);
  # the ratios are information: what encryption costs the server per message ("info")
  # w1k's 100k msg/s is more TLS than one load-generator CPU encrypts and decrypts: w1k25 by default
  tls) A=tracked-tls; B=tracked; CPU_TARGET=info; ALLOC_TARGET=info; WORKLOADS=${WORKLOADS:-"w1k25 w64"} ;;
  # transports: one echo variant (TVARIANT) on three transports in every pair, in rotating order;
  # BenchServer VARIANT@TRANSPORT; the ratios are information: epoll/nio, epoll/io_uring, nio/io_uring
  transports) TVARIANT=${TVARIANT:-tracked}
    case "$TVARIANT" in tracked|session|plain) ;; *) echo "bench: TVARIANT is tracked, session or plain" >&2; exit 2 ;; esac
    A=$TVARIANT@epoll; B=$TVARIANT@nio; C=$TVARIANT@io_uring; CPU_TARGET=info; ALLOC_TARGET=info ;;
  *) echo "usage: scripts/bench.sh [default|metrics|session|tls|transports|jmh|quick]" >&2; exit 2 ;;
esac
ROLES="A B"
[ -n "$C" ] && ROLES="A B C"
# no new trial after BUDGET seconds: 600 for two variants, 900 for three (30 trials of about 21 s)
BUDGET=${BUDGET:-$([ -n "$C" ] && echo 900 || echo 600)}
WORKLOADS=${WORKLOADS:-"w1k w64"}

build_main
TLS_DIR=target/bench-tls
if [ "$MODE" = tls ] && [ ! -s "$TLS_DIR/dev-key.pem" ]; then
  log "making a self-signed pair in $TLS_DIR (java scripts/DevCert.java) ..."
  java scripts/DevCert.java "$TLS_DIR" dev >&2
fi
mkdir -p "$OUT"
RESULTS="$OUT/results.txt"
: > "$RESULTS"

if command -v taskset >/dev/null 2>&1 && taskset -c 0,1 true 2>/dev/null; then
  PIN_SERVER="taskset -c 0"; PIN_LOAD="taskset -c 1"; PINNED=yes
else
  PIN_SERVER=""; PIN_LOAD=""; PINNED=no
  log "WARNING: taskset is missing or CPUs 0/1 are not available: running UNPINNED (figures are noisier)"
fi

# Same flags for every server trial. Pinned to one CPU the JVM would pick SerialGC: set it.
# SERVER_HEAP (256m): the session echo at w1k needs more (see docs/performance.md, session section)
SERVER_HEAP=${SERVER_HEAP:-256m}
SERVER_JVM="-XX:+UseParallelGC -XX:ParallelGCThreads=1 -XX:ActiveProcessorCount=1 -Xms$SERVER_HEAP -Xmx$SERVER_HEAP
 -XX:+AlwaysPreTouch -Dlogback.configurationFile=conf/logback.xml"
LOAD_JVM="-XX:+UseSerialGC -XX:ActiveProcessorCount=1 -Xms64m -Xmx64m"

workload_args() {
  case "$1" in
    w1k) echo "--conns 50 --size 1024 --rate 100000" ;;
    w64) echo "--conns 100 --size 64 --rate 20000" ;;
    w1k25) echo "--conns 50 --size 1024 --rate 25000" ;;
    *) echo "bench: unknown workload $1" >&2; exit 2 ;;
  esac
}

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# run_trial WORKLOAD PAIR VARIANT ROLE ATTEMPT -> appends a RESULT line; returns 0 if the trial is valid
run_trial() {
  local w=$1 p=$2 variant=$3 role=$4 attempt=$5
  local tag="$w-p$p-$variant-$attempt"
  local slog="$OUT/server-$tag.log" llog="$OUT/load-$tag.log"
  local limit
  limit=$(awk -v a="$WARMUP" -v b="$MEASURE_S" -v c="$FLATOUT" 'BEGIN { printf "%d", a + b + c + 60 }')
  # shellcheck disable=SC2086
  $PIN_SERVER java $SERVER_JVM "-Dbench.echoConf=$ECHO_CONF" "-Dbench.transport=$TRANSPORT" \
    "-Dbench.nettyAllocator=$NETTY_ALLOC" "-Dbench.tlsDir=$TLS_DIR" \
    -cp "$CP" dev.tether.tools.BenchServer "$variant" "$limit" >"$slog" 2>&1 &
  SERVER_PID=$!
  local ready="" i
  for i in $(seq 1 150); do
    ready=$(grep -m1 '^READY ' "$slog" 2>/dev/null || true)
    [ -n "$ready" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ready" ]; then
    log "server $variant did not start; see $slog"
    cleanup
    local rc=0
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    SERVER_PID=""
    if [ "$rc" = 2 ]; then
      # exit code 2: wrong usage or the transport is not available here; no retry helps
      grep '^BenchServer:' "$slog" >&2 || tail -5 "$slog" >&2
      log "stopping: BenchServer refused to run ($slog)"
      exit 1
    fi
    echo "RESULT workload=$w pair=$p variant=$variant role=$role attempt=$attempt valid=0 why=server-did-not-start" >>"$RESULTS"
    return 1
  fi
  local port ctl running
  read -r _ port ctl _ <<<"$ready"
  # the transport the server really runs (BenchServer refuses to run another than TRANSPORT)
  running=$(sed -n 's/.* transport=\([^ ]*\).*/\1/p' <<<"$ready")
  local extra="transport=${running:-unknown}"
  [ "$variant" = netty ] && extra="$extra nettyAlloc=$NETTY_ALLOC"
  local proto=raw tls=""
  [ "${variant%@*}" = session ] && proto=session
  [ "$variant" = tracked-tls ] && tls="--tls $TLS_DIR/dev-cert.pem"
  # shellcheck disable=SC2086,SC2046
  if ! $PIN_LOAD timeout "$limit" java $LOAD_JVM -cp "$CP" dev.tether.tools.LoadGen --port "$port" --ctl "$ctl" \
      --protocol "$proto" $tls $(workload_args "$w") --warmup "$WARMUP" --seconds "$MEASURE_S" --flatout "$FLATOUT" \
      --max-foreign "$MAX_FOREIGN" --max-late-frac "$MAX_LATE_FRAC" --quit \
      --label "workload=$w pair=$p variant=$variant role=$role attempt=$attempt pinned=$PINNED $extra" >"$llog" 2>&1; then
    log "load generator failed; see $llog"
  fi
  for i in $(seq 1 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  cleanup
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  local result
  result=$(grep -m1 '^RESULT ' "$llog" || true)
  if [ -z "$result" ]; then
    echo "RESULT workload=$w pair=$p variant=$variant role=$role attempt=$attempt $extra valid=0 why=no-result" >>"$RESULTS"
    return 1
  fi
  echo "$result" >>"$RESULTS"
  log "$(echo "$result" | awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^(workload|pair|variant|valid|why|cpuUsPerMsg|allocBPerMsg|foreign0|foreign1|lateFrac|blockedFrac|note|p99us)=/) printf "%s ", $i }')"
  case "$result" in *" valid=1 "*) return 0 ;; *) return 1 ;; esac
}

START=$(date +%s)
over_budget() { [ $(( $(date +%s) - START )) -ge "$BUDGET" ]; }

# wait_quiet: before a trial, wait (at most QUIET_WAIT seconds) until the other processes leave
# both CPUs mostly idle (under QUIET_PCT % busy over 1 s), so fewer trials have to be discarded.
cpu_busy_pct() {
  local a b
  a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat 2>/dev/null || echo "0 0")
  sleep 1
  b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat 2>/dev/null || echo "0 0")
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
    if (t <= 0) print 0; else printf "%d", 100 * (y[1] - x[1]) / t }'
}
wait_quiet() {
  local waited=0 busy
  while :; do
    busy=$(cpu_busy_pct)
    if [ "$busy" -lt "$QUIET_PCT" ]; then
      [ "$waited" -gt 0 ] && log "CPUs quiet (${busy}% busy) after ${waited}s"
      return 0
    fi
    if [ "$waited" -ge "$QUIET_WAIT" ] || over_budget; then
      log "CPUs still ${busy}% busy after ${waited}s: running the trial anyway"
      return 0
    fi
    sleep 2
    waited=$((waited + 3))
  done
}

log "mode=$MODE: $A (A) vs $B (B)${C:+ vs $C (C)}, transport $TRANSPORT, workloads: $WORKLOADS, $PAIRS pairs,"
log "warm-up ${WARMUP}s, measured ${MEASURE_S}s, flat-out ${FLATOUT}s, pinned=$PINNED, budget ${BUDGET}s; results in $RESULTS"
# trial order of pair p: two roles alternate (A B, B A, ...); three roles go through the six orders
# (A B C, C B A, B C A, A C B, C A B, B A C, ...) so that no variant is always first or last
ORDERS3=("A B C" "C B A" "B C A" "A C B" "C A B" "B A C")
STOPPED=""
for ((p = 0; p < PAIRS; p++)); do
  for w in $WORKLOADS; do
    if [ "$ROLES" = "A B C" ]; then
      order=${ORDERS3[$((p % 6))]}
    elif (( p % 2 == 0 )); then order="A B"; else order="B A"; fi
    for role in $order; do
      if over_budget; then STOPPED="pair $p of $w"; break 3; fi
      case "$role" in A) v=$A ;; B) v=$B ;; *) v=$C ;; esac
      # a disturbed trial is retried once, right away
      for ((attempt = 1; attempt <= 1 + RETRIES; attempt++)); do
        wait_quiet
        if run_trial "$w" "$p" "$v" "$role" "$attempt"; then break; fi
        if over_budget; then break; fi
      done
    done
  done
done
[ -n "$STOPPED" ] && log "budget of ${BUDGET}s used up: stopped before $STOPPED"

{
  echo "# scripts/bench.sh $MODE  PAIRS=$PAIRS SECONDS=$MEASURE_S WARMUP=$WARMUP FLATOUT=$FLATOUT pinned=$PINNED server heap=$SERVER_HEAP"
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(java -version 2>&1 | head -1)"
  echo "# tracked echo options: $ECHO_CONF"
  if [ "$MODE" = transports ]; then
    echo "# transports: $TVARIANT echo on epoll (A), nio (B), io_uring (C) in every pair (the Transport lines below list all three)"
  else
    echo "# transport: $TRANSPORT${C:+; netty anchor read allocator: $NETTY_ALLOC}"
  fi
  echo "# w1k = 50 connections x 1 KiB at 100k msg/s; w64 = 100 connections x 64 B at 20k msg/s; w1k25 = 50 x 1 KiB at 25k msg/s"
  [ "$MODE" = session ] && echo "# session: message = one DATA frame, payload of the workload's size + 13-byte frame header; client ACKs every 16 frames or 5 ms"
  [ "$MODE" = tls ] && echo "# tls: the same tracked echo with servers.echo.tls (JDK TLS engine; RSA 2048 self-signed), message = one TLS record each way; counts in plaintext messages"
  java -cp "$CP" dev.tether.tools.BenchSummary "$RESULTS" "$CPU_TARGET" "$ALLOC_TARGET"
} | tee "$OUT/summary.txt"
java -cp "$CP" dev.tether.tools.BenchChart "$RESULTS" "$OUT/chart.svg" "$CPU_TARGET" "$ALLOC_TARGET" \
  "$MODE $STAMP, TRANSPORT=$TRANSPORT, PAIRS=$PAIRS SECONDS=$MEASURE_S" >&2
log "took $(( $(date +%s) - START ))s; summary in $OUT/summary.txt, chart in $OUT/chart.svg"
