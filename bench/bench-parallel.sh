#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Many pods at once: P client pods (each its own netns and veth) connecting in parallel, N
# sequential connects each, to one server; the aggregate connection rate (every connect over
# the wall time) with (a) no rule, (b) podfenced with verdict reuse off (every SYN judged)
# and (c) with reuse on (the default: repeated destinations accepted in each pod's kernel),
# rounds interleaved; plus the queue drops podfenced saw. Measured numbers and ratios only.
# Usage: top_builddir=BUILD bench/bench-parallel.sh [P [N [ROUNDS]]]   (or `make bench-parallel`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
P=${1:-16}
N=${2:-2000}
ROUNDS=${3:-3}
CONNECT=$top_builddir/bench/connect-bench
engine_need
[ -x "$CONNECT" ] || skip "build bench/connect-bench first"

connect_server
pods=()
for i in $(seq 1 "$P"); do add_pod "$i"; pods+=("$POD"); done
load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: clients, namespace: bench}
spec:
  appliesTo: [{kind: Namespace, name: bench}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Deny
YAML
sqlite3 "$DB" ".backup '$TMP/reuse.db'"
start_engine --verdict-reuse 0
E1_PID=$ENGINE_PID
SOCK2=$TMP/run2/podfenced.sock
DB=$TMP/reuse.db SOCK=$SOCK2 STATE=$TMP/state2 start_engine
ENGINE_PID=$E1_PID

# All clients at once; prints the aggregate rate: all their connects over the wall time from
# the first start to the last exit (a client's own rate would leave out the others' time).
burst() {
	local i pids=() t0 t1
	t0=$(date +%s%N)
	for i in $(seq 0 $((P - 1))); do
		# Below the server: 16 busy clients on few CPUs would starve its accept loop, and a
		# full accept queue drops SYNs (1 s retransmits): that would measure the scheduler.
		ip netns exec "${pods[$i]}" nice -n 10 "$CONNECT" run 10.99.0.1 80 "$N" 200 >"$TMP/out$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fail "a client failed"; done
	t1=$(date +%s%N)
	echo $((P * (N + 200) * 1000000000 / (t1 - t0)))
}
drops() { SOCK=$1 status_field 'sum(p["queue"]["dropped"] + p["queue"]["user_dropped"] for p in s["pods"])'; }
run_a() { res[a$r]=$(burst); }
run_b() {
	local i
	for i in $(seq 0 $((P - 1))); do register "${pods[$i]}" bench "c$i" "cb$i"; done
	res[b$r]=$(burst)
	dropped_b=$((dropped_b + $(drops "$SOCK")))
	for i in $(seq 0 $((P - 1))); do unregister "cb$i" >/dev/null; done
}
run_c() {
	local i
	for i in $(seq 0 $((P - 1))); do SOCK=$SOCK2 register "${pods[$i]}" bench "c$i" "cc$i"; done
	res[c$r]=$(burst)
	dropped_c=$((dropped_c + $(drops "$SOCK2")))
	for i in $(seq 0 $((P - 1))); do SOCK=$SOCK2 unregister "cc$i" >/dev/null; done
}
declare -A res
dropped_b=0 dropped_c=0
orders=("a b c" "b c a" "c a b")
for r in $(seq 1 "$ROUNDS"); do
	o=${orders[$(((r - 1) % 3))]}
	for m in $o; do "run_$m"; done
	echo "round $r ($o): a ${res[a$r]} b ${res[b$r]} c ${res[c$r]} conn/s" >&2
done
med() { for r in $(seq 1 "$ROUNDS"); do echo "${res[$1$r]}"; done | sort -n | sed -n "$(((ROUNDS + 1) / 2))p"; }
a=$(med a) b=$(med b) c=$(med c)
echo "$P client pods in parallel, $N sequential connects each, $ROUNDS rounds, medians of the aggregate rate"
printf '%-40s %10s\n' "" "conn/s"
printf '%-40s %10s\n' "no rule" "$a" "podfenced, reuse off (every SYN judged)" "$b" "podfenced, reuse on (repeated dst)" "$c"
"$PY" -c "print('ratio b/a %.2f  c/a %.2f' % ($b / $a, $c / $a))"
echo "queue drops (kernel, all pods, all rounds): reuse off $dropped_b, reuse on $dropped_c"
