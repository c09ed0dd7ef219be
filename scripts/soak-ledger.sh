#!/usr/bin/env bash
# Soak the ledger against adversarial users: runs AdversarialUserProperties for TRIES schedules
# (default 10000) on real loopback connections, then prints one summary line (tries, elapsed time,
# failures, master seed). Each failing schedule is printed in full with the option that runs it
# alone. Exit code: Maven's (0 when every schedule kept the ledger's guarantees).
#   scripts/soak-ledger.sh                  # 10,000 schedules from the default master seed
#   TRIES=2000 SEED=42 scripts/soak-ledger.sh
#   SCHEDULE=0x14892bcd86733f51 REPEAT=50 scripts/soak-ledger.sh   # one schedule, again and again
#   scripts/soak-ledger.sh -o               # extra arguments go to Maven (here: offline)
# Environment: TRIES, SEED (master seed), SCHEDULE and REPEAT, MAX_FAILURES (stop after this many
# failing schedules, default 10). The whole log is kept in target/soak-ledger-<time>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIES=${TRIES:-10000}
args=(-B test -Dtest=AdversarialUserProperties -Dsurefire.failIfNoSpecifiedTests=false
  -Dsurefire.timeout=0 -Dtether.soak.tries="$TRIES" -Dtether.soak.maxFailures="${MAX_FAILURES:-10}")
[ -n "${SEED:-}" ] && args+=(-Dtether.soak.seed="$SEED")
[ -n "${SCHEDULE:-}" ] && args+=(-Dtether.soak.schedule="$SCHEDULE" -Dtether.soak.repeat="${REPEAT:-1}")

mkdir -p target
log="target/soak-ledger-$(date +%Y%m%d-%H%M%S).log"
start=$(date +%s)
set +e
scripts/mvnw "${args[@]}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

summary=$(grep -m1 '^adversarial users:' "$log" || true)
echo
grep -h 'run it alone:' "$log" | sort -u | sed 's/^ */failing: /' || true
echo "soak-ledger: tries=${SCHEDULE:+${REPEAT:-1}x $SCHEDULE}${SCHEDULE:-$TRIES} elapsed=${elapsed}s exit=$rc" \
  "| ${summary:-no summary: the build failed before the property ran} | log $log"
exit "$rc"
