#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Flood benchmark: a quiet pod's connect latency (p50/p99 of N sequential connects to an Allow
# port) with and without another pod flooding its own queue with raw SYNs to a Deny port
# (bounded: FLOOD_MAX packets or FLOOD_S seconds, stopped when the quiet run ends), for one or
# two engines in the same run, rounds interleaved, medians printed side by side with ratios.
# Usage: top_builddir=BUILD bench/bench-flood.sh [N [ROUNDS]]   (or `make bench-flood`)
# Environment: PODFENCED=path (default BUILD/podfenced), and to compare another build in the
# same run PODFENCED_BASE=path with POLICY_LOAD_BASE=its tests/engine-policy-load (default:
# next to it). FLOOD_MAX=2000000 FLOOD_S=20. PIN=1: the flooder runs on
# the last CPU, everything else on the others, as a pod's CPU limit would keep it; PIN=0 (default) lets
# it compete for every CPU (then its own sending, not the engine, dominates the quiet pod's
# tail latency on a small machine).
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-3000}
ROUNDS=${2:-3}
FLOOD_MAX=${FLOOD_MAX:-2000000}
FLOOD_S=${FLOOD_S:-20}
CONNECT=$top_builddir/bench/connect-bench
NCPU=$(nproc)
PIN=${PIN:-0}
PIN_FLOOD=()
if [ "$PIN" = 1 ]; then
	need_cmd taskset
	PIN_FLOOD=(taskset -c "$((NCPU - 1))")
	taskset -pc "0-$((NCPU - 2))" $$ >/dev/null # the engine, server and quiet client inherit it
fi
engine_need
[ -x "$CONNECT" ] || skip "build bench/connect-bench first"
NEW=$PODFENCED
NEW_LOAD=$ENGINE_POLICY_LOAD
BASE=${PODFENCED_BASE:-}
BASE_LOAD=${POLICY_LOAD_BASE:-${BASE:+$(dirname "$BASE")/tests/engine-policy-load}}
if [ -n "$BASE" ]; then
	[ -x "$BASE" ] || fail "PODFENCED_BASE=$BASE is not an executable"
	[ -x "$BASE_LOAD" ] || fail "PODFENCED_BASE=$BASE: no policy loader at $BASE_LOAD (set POLICY_LOAD_BASE)"
fi

connect_server
add_pod 1; QUIET=$POD
add_pod 2; FLOOD=$POD
cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: fence, namespace: bench}
spec:
  priority: 100
  appliesTo: [{kind: Namespace, name: bench}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Deny
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 9000}]
YAML
ENGINES="new"
[ -z "$BASE" ] || ENGINES="new base"
for k in $ENGINES; do
	if [ "$k" = new ]; then bin=$NEW load=$NEW_LOAD; else bin=$BASE load=$BASE_LOAD; fi
	"$load" "$TMP/db-$k" test "$TMP/policy.yaml" || fail "$k: loading the policy"
done

# run_engine KIND: one engine up with both pods, quiet alone, quiet during a flood, down.
run_engine() {
	local k=$1 bin fl v0 v1
	if [ "$k" = new ]; then bin=$NEW; else bin=$BASE; fi
	PODFENCED=$bin DB=$TMP/db-$k
	: >"$ENGINE_LOG"
	start_engine --default-action Reject
	register "$QUIET" bench quiet c-quiet
	register "$FLOOD" bench flood c-flood
	res[$k-idle-$r]=$(ip netns exec "$QUIET" "$CONNECT" run 10.99.0.1 80 "$N" 200) || fail "$k: idle run"
	ip netns exec "$FLOOD" "${PIN_FLOOD[@]}" "$CONNECT" flood 10.1.2.2 10.99.0.1 9000 "$FLOOD_MAX" "$FLOOD_S" >"$TMP/flood.out" 2>&1 &
	fl=$!
	sleep 0.5 # the flood under way before the quiet pod starts
	v0=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "flood"][0]')
	res[$k-flood-$r]=$(ip netns exec "$QUIET" "$CONNECT" run 10.99.0.1 80 "$N" 200) || fail "$k: run under flood"
	v1=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "flood"][0]')
	kill -TERM "$fl"; wait "$fl" || true
	res[$k-flood-$r]="${res[$k-flood-$r]} flood_verdicts=$((v1 - v0)) $(cat "$TMP/flood.out")"
	unregister c-quiet >/dev/null; unregister c-flood >/dev/null
	kill -TERM "$ENGINE_PID"; wait "$ENGINE_PID" || true
}
declare -A res
for r in $(seq 1 "$ROUNDS"); do
	order=$ENGINES
	[ $((r % 2)) = 0 ] && [ -n "$BASE" ] && order="base new"
	for k in $order; do run_engine "$k"; done
	for k in $order; do echo "round $r $k: idle ${res[$k-idle-$r]} | flood ${res[$k-flood-$r]}" >&2; done
done

args=()
for k in "${!res[@]}"; do args+=("$k" "${res[$k]}"); done
echo "CPUs: $NCPU, flooder pinned: $PIN"
"$PY" - "$ROUNDS" "$N" "$ENGINES" "${args[@]}" <<'PYEOF'
import statistics, sys
rounds, n, engines = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split()
kv = sys.argv[4:]
res = {kv[i]: dict(f.split("=") for f in kv[i + 1].split() if "=" in f) for i in range(0, len(kv), 2)}
def med(key, field):
    return statistics.median(float(res["%s-%d" % (key, r)][field]) for r in range(1, rounds + 1))
print("quiet pod: N=%d sequential connects per run, %d rounds, medians; the other pod floods raw SYNs to a Deny port" % (n, rounds))
print("%-6s %10s %10s %10s %10s %9s %9s %12s %14s" % ("engine", "idle p50", "idle p99", "flood p50", "flood p99",
      "p50 x", "p99 x", "flood pps", "flood verdicts"))
for e in engines:
    i50, i99, f50, f99 = med(e + "-idle", "p50"), med(e + "-idle", "p99"), med(e + "-flood", "p50"), med(e + "-flood", "p99")
    print("%-6s %10.1f %10.1f %10.1f %10.1f %9.2f %9.2f %12.0f %14.0f" % (e, i50, i99, f50, f99, f50 / i50, f99 / i99,
          med(e + "-flood", "pps"), med(e + "-flood", "flood_verdicts")))
print("(latencies in us; 'x' = with flood / without)")
PYEOF
