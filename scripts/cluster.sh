#!/usr/bin/env bash
# A local Tether cluster on this machine (loopback only); see docs/cluster.md.
#
#   scripts/cluster.sh start N     start node-1..node-N (N <= 10), node I on every port of
#                                  conf/tether.json + 100*(I-1): echo 7000/7100/.., session 7001/7101/..,
#                                  bridge 7002/7102/.., HTTP 8080/8180/..; returns when every node's
#                                  /health is UP and names N members
#   scripts/cluster.sh status      each node's pid, whether it runs, /health status and cluster members
#   scripts/cluster.sh stop        SIGTERM to every node, SIGKILL to those still running after the bound
#
# Files under TETHER_CLUSTER_DIR (default target/cluster): node-I.json (its configuration, generated
# from conf/tether.json), node-I.log, node-I.pid, cluster.xml (conf/cluster.xml with the name and
# ports below).
# Environment: TETHER_CLUSTER_NAME (default tether), TETHER_HZ_PORT (first Hazelcast member port,
# default 5701), TETHER_PORT_OFFSET (added to every node port, default 0),
# TETHER_START_TIMEOUT_S (default 120), TETHER_STOP_TIMEOUT_S (default 20), TETHER_JAVA_OPTS.
# Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
dir=${TETHER_CLUSTER_DIR:-target/cluster}
name=${TETHER_CLUSTER_NAME:-tether}
hz_port=${TETHER_HZ_PORT:-5701}
offset=${TETHER_PORT_OFFSET:-0}
start_timeout=${TETHER_START_TIMEOUT_S:-120}
stop_timeout=${TETHER_STOP_TIMEOUT_S:-20}

usage() { echo "usage: scripts/cluster.sh start N | status | stop" >&2; exit 2; }

tool() { java -Dlogback.configurationFile=conf/logback.xml -cp "$jar" dev.tether.tools.ClusterConf "$@"; }

# the pid of a node we started, if that process still runs our jar (a recycled pid is not ours)
running_pid() {
  local f=$1 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "tether.jar" || return 1
  echo "$pid"
}

start_node() {
  local i=$1
  TETHER_CONF="$dir/node-$i.json" TETHER_CLUSTER_XML="$dir/cluster.xml" \
    nohup scripts/run.sh --cluster > "$dir/node-$i.log" 2>&1 < /dev/null &
  echo $! > "$dir/node-$i.pid"
  echo "node-$i: pid $!, log $dir/node-$i.log"
}

start() {
  local n=${1:-}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 10 ] || { echo "start: N must be 1..10" >&2; exit 2; }
  mkdir -p "$dir"
  for f in "$dir"/node-*.pid; do
    if [ -e "$f" ] && pid=$(running_pid "$f"); then
      echo "a node is already running ($f: pid $pid); run scripts/cluster.sh stop first" >&2
      exit 1
    fi
  done
  rm -f "$dir"/node-*.pid "$dir"/node-*.json "$dir"/node-*.log
  ensure_jar
  tool xml --in conf/cluster.xml --out "$dir/cluster.xml" --cluster-name "$name" --port "$hz_port"
  tool nodes --count "$n" --in "${TETHER_CONF:-conf/tether.json}" --dir "$dir" --port-offset "$offset" > /dev/null
  # node-1 first, so that it is the oldest member and the others join it (no simultaneous first start)
  start_node 1
  tool wait --dir "$dir" --nodes node-1 --members 1 --timeout-s "$start_timeout" > /dev/null || started_badly
  for ((i = 2; i <= n; i++)); do
    start_node "$i"
  done
  local all=node-1
  for ((i = 2; i <= n; i++)); do all="$all,node-$i"; done
  tool wait --dir "$dir" --nodes "$all" --members "$n" --timeout-s "$start_timeout" || started_badly
}

started_badly() {
  echo "the cluster did not come up; logs in $dir (scripts/cluster.sh status; scripts/cluster.sh stop cleans up)" >&2
  exit 1
}

stop() {
  local pids=() f pid
  for f in "$dir"/node-*.pid; do
    [ -e "$f" ] || continue
    if pid=$(running_pid "$f"); then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && echo "$(basename "$f" .pid): SIGTERM to $pid"
    fi
  done
  local deadline=$((SECONDS + stop_timeout)) alive
  while :; do
    alive=()
    for pid in ${pids[@]+"${pids[@]}"}; do
      kill -0 "$pid" 2>/dev/null && alive+=("$pid")
    done
    [ ${#alive[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      for pid in "${alive[@]}"; do
        echo "pid $pid still running after ${stop_timeout}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      done
      break
    fi
    sleep 0.2
  done
  rm -f "$dir"/node-*.pid
  echo "stopped"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  status) [ -f "$jar" ] || ensure_jar; tool status --dir "$dir" ;;
  stop) stop ;;
  *) usage ;;
esac
