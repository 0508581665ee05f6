#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Many pods per engine: N network namespaces (an address each) registered one by one with
# podfenced enforcing 10,000 rules: registration latency p50/p99 as the count grows, the
# engine's RSS and fds, how long a policy change takes to reach every pod, and CYCLES
# register/unregister cycles (fds and RSS before and after). Measured numbers only.
# Usage: top_builddir=BUILD [PERF=FILE] bench/bench-pods.sh [N [CYCLES]]   (or `make bench-pods`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-1000}
CYCLES=${2:-2000}
engine_need

gen() { # FILE ACTION: 40 policies of 250 rules for other namespaces, one for the bench pods
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
out = open(sys.argv[1], "w")
def policy(name, ns, prio, applies, rules):
    out.write("---\napiVersion: podfence.io/v1alpha1\nkind: FencePolicy\n")
    out.write("metadata: {name: %s, namespace: %s}\nspec:\n  priority: %d\n" % (name, ns, prio))
    out.write("  appliesTo: [%s]\n  egress:\n" % applies)
    out.writelines(rules)
k = 0
for p in range(40):
    rules = []
    for i in range(250):
        a, b = divmod(k, 250)
        rules.append("  - action: %s\n    to: [{cidr: 10.200.%d.%d/32}]\n    ports: [{port: %d}]\n"
                     % (("Deny", "Allow")[k % 2], a, b, 1000 + i))
        k += 1
    policy("filler-%d" % p, "others", 10 + p, "{kind: Namespace, name: others}", rules)
policy("bench", "bench", 1000, "{kind: Namespace, name: bench}",
       ["  - action: %s\n    to: [{cidr: 10.99.0.1}]\n    ports: [{port: 80}]\n" % sys.argv[2]])
PYEOF
}
gen "$TMP/allow.yaml" Allow
gen "$TMP/deny.yaml" Deny
load_policies "$TMP/allow.yaml" || fail "loading the policies"

t0=$(date +%s%N)
: >"$TMP/netns.batch"
# N pods, and 8 more for the register/unregister cycles
for i in $(seq 1 $((N + 8))); do echo "netns add pfn$TID-$i" >>"$TMP/netns.batch"; done
ip -batch "$TMP/netns.batch" || fail "creating namespaces"
for i in $(seq 1 $((N + 8))); do
	on_exit "ip netns del pfn$TID-$i"
	ip -n "pfn$TID-$i" addr add "10.$((50 + i / 62500)).$(((i / 250) % 250)).$((i % 250 + 1))/32" dev lo
done
echo "setup: $((N + 8)) namespaces in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2

# The hook's pods: 16 more netns, each holding a process for the state's pid, and a bundle.
hook_pods pfh 16 10.49.0.
export BENCH_HOOK="$PODFENCE_HOOK" BENCH_HOOK_STATE="$STATE" BENCH_HOOK_PIDS="$HOOK_PIDS" BENCH_HOOK_BUNDLE="$TMP/hb"
start_engine
# PERF=FILE: a perf profile of the engine over the whole run (perf report -i FILE).
if [ -n "${PERF:-}" ]; then
	perf record -q -F 499 -g -p "$ENGINE_PID" -o "$PERF" 2>/dev/null &
	perf_pid=$!
	on_exit "kill -INT $perf_pid; wait $perf_pid"
fi
"$PY" "$top_srcdir/bench/bench-pods.py" "$SOCK" "pfn$TID-" "$N" "$CYCLES" "$ENGINE_PID" \
	"$ENGINE_POLICY_LOAD" "$DB" "$TMP/allow.yaml" "$TMP/deny.yaml" || fail "bench-pods.py"
