#!/usr/bin/env bash
# The guide's example (docs/guide.md) end to end, the way a user project outside this build does it:
#   1. install the Tether library (dev.tether:tether) into the local Maven repository;
#   2. build the user project examples/pubsub against the installed jar (its own pom, this wrapper);
#   3. start its server in the background: java -jar with Tether's MainVerticle and the example's
#      conf/tether.json, every port replaced by 0 (no port can be taken already) and the fault
#      injector refusing each connection's 3rd write once (the example's recovery policy resends it);
#   4. drive a pub/sub exchange over bash's /dev/tcp: two subscribers, a publisher, mistakes, an
#      oversized line;
#   5. print a verdict; exit 0 when every check passed, 1 when one failed (2 on a usage error).
# The server is stopped on exit, whatever happens. Runs from any directory.
#   scripts/example.sh                        # all of it
#   TETHER_SKIP_INSTALL=1 scripts/example.sh  # the library is installed already: skip step 1
set -euo pipefail

case "${1:-}" in
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "usage: scripts/example.sh (no arguments; TETHER_SKIP_INSTALL=1 skips installing the library)" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
example="$root/examples/pubsub"
jar="$example/target/tether-pubsub.jar"
work="$(mktemp -d "${TMPDIR:-/tmp}/tether-example.XXXXXX")"
log="$work/server.log"
server_pid=""

cleanup() {
  local rc=$?
  exec 3<&- 4<&- 5<&- 6<&- 7<&- 2>/dev/null || true
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "example: FAIL (line $LINENO: $BASH_COMMAND)" >&2' ERR
trap '' PIPE # a write to a connection the server closed fails (and is reported) instead of killing us

step() { printf '\n== %s\n' "$*"; }

# --- 1. the library ---------------------------------------------------------------------------
if [ "${TETHER_SKIP_INSTALL:-}" = 1 ]; then
  step "1. using the installed dev.tether:tether (TETHER_SKIP_INSTALL=1)"
else
  step "1. installing dev.tether:tether (scripts/mvnw install -DskipTests)"
  scripts/mvnw -B -q install -DskipTests
fi

# --- 2. the user project ----------------------------------------------------------------------
step "2. building examples/pubsub against it (scripts/mvnw -f examples/pubsub/pom.xml package)"
scripts/mvnw -B -q -f "$example/pom.xml" package
ls -l "$jar" | awk '{print "   " $5 " bytes  " $NF}'

# --- 3. the server ----------------------------------------------------------------------------
step "3. starting the server (java -jar tether-pubsub.jar -conf <the example's conf, ports 0, faults on>)"
conf="$work/tether.json"
faults_off='"faults": { "enabled": false }'
faults_on='"faults": { "enabled": true, "failWrites": [3] }'
grep -qF "$faults_off" "$example/conf/tether.json" \
  || { echo "examples/pubsub/conf/tether.json has no line '$faults_off' any more: update scripts/example.sh" >&2; exit 1; }
sed -E 's/"port": *[0-9]+/"port": 0/' "$example/conf/tether.json" | sed "s/$faults_off/$faults_on/" > "$conf"
grep -qF "$faults_on" "$conf" || { echo "could not switch the fault injector on in $conf" >&2; exit 1; }
# DEBUG: the recovery verticle then logs which policy decided each failure
(cd "$example" && PUBSUB_LOG_LEVEL=DEBUG exec java -jar "$jar" -conf "$conf") > "$log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 300); do # up to 60 s
  port="$(sed -n 's/.*pubsub (pub\/sub) listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)"
  [ -n "$port" ] && grep -q "node .* ready" "$log" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited during start-up:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.2
done
if [ -z "$port" ]; then
  echo "the server did not report its port within 60 s:" >&2; cat "$log" >&2; exit 1
fi
sed 's/^/   | /' "$log"

# --- 4. the exchange --------------------------------------------------------------------------
step "4. a pub/sub exchange on 127.0.0.1:$port"
failed=0
checks=0
declare -A fd=([sub-a]=3 [sub-b]=4 [pub]=5 [big]=6)

send() { # who line
  if printf '%s\n' "$2" 2>/dev/null >&"${fd[$1]}"; then
    printf '   %-6s -> %s\n' "$1" "$(shorten "$2")"
  else
    printf '   %-6s -> %s   FAILED: the connection is gone\n' "$1" "$(shorten "$2")"
    failed=1
  fi
}
shorten() { local s="$1"; [ ${#s} -gt 60 ] && s="${s:0:40}... (${#1} bytes)"; printf '%s' "$s"; }
recv() { # who -> the next line, or <closed> / <timeout>
  local line rc=0
  IFS= read -r -t 10 line <&"${fd[$1]}" || rc=$?
  if [ $rc -eq 0 ]; then printf '%s' "$line"
  elif [ $rc -gt 128 ]; then printf '<timeout>'
  else printf '<closed>'; fi
}
expect() { # who expected
  local got
  got="$(recv "$1")"
  checks=$((checks + 1))
  if [ "$got" = "$2" ]; then
    printf '   %-6s <- %s\n' "$1" "$(shorten "$got")"
  else
    printf '   %-6s <- %s   FAILED: expected %s\n' "$1" "$(shorten "$got")" "$(shorten "$2")"
    failed=1
  fi
}

exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port"
send sub-a "SUB news";  expect sub-a "OK SUB news"
send sub-b "SUB news";  expect sub-b "OK SUB news"
for i in 1 2 3; do
  send pub "PUB news hello $i"; expect pub "OK PUB news 2"
done
for i in 1 2 3; do expect sub-a "MSG news hello $i"; done
for i in 1 2 3; do expect sub-b "MSG news hello $i"; done
send pub "SUB news!";            expect pub "ERR bad topic 'news!': 1-128 of A-Z a-z 0-9 . _ : / -"
send pub "HELLO";                expect pub "ERR unknown command 'HELLO' (SUB, UNSUB, PUB)"
send sub-b "UNSUB news";         expect sub-b "OK UNSUB news"
send pub "PUB news only a now";  expect pub "OK PUB news 1"
expect sub-a "MSG news only a now"

exec 6<>"/dev/tcp/127.0.0.1/$port"
send big "PUB news $(printf 'x%.0s' $(seq 2000))"
expect big "ERR line too long (max 1024 bytes)"
expect big "<closed>"
send pub "PUB news still here";  expect pub "OK PUB news 1"
expect sub-a "MSG news still here"
exec 3<&- 4<&- 5<&- 6<&-

# --- 5. the verdict ---------------------------------------------------------------------------
step "5. verdict"
decided="$(grep -c 'WRITE_FAILED on pubsub-[0-9]*: RESEND by pubsub-resend-or-drop' "$log" || true)"
resent="$(grep -c 'recovery of WRITE_FAILED on pubsub-[0-9]* by pubsub-resend-or-drop: RESEND [0-9]* bytes -> OK' "$log" || true)"
problems="$(grep -E ' (ERROR|WARN) ' "$log" | grep -v 'WRITE_FAILED (soft) .*InjectedWriteFault' || true)"
if [ "$decided" -lt 1 ] || [ "$resent" -ne "$decided" ]; then
  echo "   FAILED: expected injected failures decided RESEND by pubsub-resend-or-drop and resent (decided $decided, resent $resent)"
  failed=1
fi
if [ -n "$problems" ]; then
  echo "   FAILED: the server logged problems other than the injected faults:"; echo "$problems" | sed 's/^/   | /'; failed=1
fi
echo "   server log, from the exchange on:"
sed -n '/Succeeded in deploying/,$p' "$log" | tail -n +2 | sed 's/^/   | /'
if [ $failed -eq 0 ]; then
  echo "example: PASS: $checks replies as expected (2 subscribers got every message in order; errors answered;"
  echo "         an oversized line got ERR and only its connection closed); $resent injected write failure(s)"
  echo "         resent by the example's pubsub-resend-or-drop policy, loaded by ServiceLoader from the fat jar"
else
  echo "example: FAIL (see above)"
  exit 1
fi
