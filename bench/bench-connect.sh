#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Connection benchmark, side by side in one run: sequential connection rate and p50/p99
# connect() latency from a client netns to a server netns, for
#   (a) no rule in the client netns,
#   (b) the same ruleset with bench/nfq-accept-all, a bare loop that accepts everything,
#   (c) podfenced enforcing an Allow policy among 10,000 other rules, with 100 other
#       registered namespaces, verdict reuse off (--verdict-reuse 0): every SYN is judged,
#       what a first connection to a destination costs,
#   (d) the same policies in a second podfenced with verdict reuse on (the default): the
#       first SYN is judged, the repeated ones are accepted by the pod's kernel.
# Also the CPU time the verdict process (b: the bare loop, c: podfenced, all its threads) spends
# per connection, which a loaded machine disturbs far less than latency.
# Rounds interleave a, b, c so drift hits all three alike; medians over rounds are reported.
# Usage: top_builddir=BUILD bench/bench-connect.sh [N [ROUNDS]]   (or `make bench-connect`)
# Environment: OTHERS=100 other registered namespaces, FILLER_POLICIES=40 policies of 250
# other rules each (half of them ahead of the Allow, for the client's namespace).
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-20000}
ROUNDS=${2:-3}
OTHERS=${OTHERS:-100}
CONNECT=$top_builddir/bench/connect-bench
ACCEPT_ALL=$top_builddir/bench/nfq-accept-all
engine_need
[ -x "$CONNECT" ] && [ -x "$ACCEPT_ALL" ] || skip "build bench/connect-bench and bench/nfq-accept-all first"

connect_server
add_pod 1
CLIENT=$POD

# 10,000 other rules: 20 policies of 250 rules ahead of the Allow (priority 10..29) that apply
# to the client's namespace but match other destinations, and 20 for the other namespaces.
"$PY" - "$TMP/policies.yaml" "${FILLER_POLICIES:-40}" <<'PYEOF'
import sys
out = open(sys.argv[1], "w")
def policy(name, ns, prio, applies, rules):
    out.write("---\napiVersion: podfence.io/v1alpha1\nkind: FencePolicy\n")
    out.write("metadata: {name: %s, namespace: %s}\nspec:\n  priority: %d\n" % (name, ns, prio))
    out.write("  appliesTo: [%s]\n  egress:\n" % applies)
    for r in rules:
        out.write(r)
k = 0
for p in range(int(sys.argv[2])):
    rules = []
    for i in range(250):
        a, b = divmod(k, 250)
        act = ("Deny", "Reject", "Alert", "Allow")[k % 4]
        rules.append("  - action: %s\n    to: [{cidr: 10.200.%d.%d/32}, {cidr: 10.%d.%d.0/24}]\n"
                     "    ports: [{port: %d, endPort: %d}]\n" % (act, a, b, 100 + a, b, 1000 + i, 1000 + i + p))
        k += 1
    if p < 20:
        policy("filler-%d" % p, "bench", 10 + p, "{kind: Namespace, name: bench}", rules)
    else:
        policy("other-%d" % p, "others", 10 + p, "{kind: Namespace, name: others}", rules)
policy("client-egress", "bench", 1000, "{kind: Pod, name: client}",
       ["  - action: Allow\n    to: [{cidr: 10.99.0.1}]\n    ports: [{port: 80}]\n", "  - action: Deny\n"])
PYEOF
load_policies "$TMP/policies.yaml" || fail "loading the policies"

# The second engine's store: the same policies, no pods (copied before any registers).
sqlite3 "$DB" ".backup '$TMP/reuse.db'"
start_engine --verdict-reuse 0
E1_PID=$ENGINE_PID
SOCK2=$TMP/run2/podfenced.sock
DB=$TMP/reuse.db SOCK=$SOCK2 STATE=$TMP/state2 start_engine
E2_PID=$ENGINE_PID
ENGINE_PID=$E1_PID
t0=$(date +%s%N)
for i in $(seq 1 "$OTHERS"); do
	ns=pbo$i-$TID
	mk_netns "$ns"
	ip -n "$ns" addr add "10.2.$((i / 250)).$((i % 250))/32" dev lo
	register "$ns" others "o$i" "c-o$i"
done
[ "$(status_field 's["n_pods"]')" = "$OTHERS" ] || fail "expected $OTHERS registered namespaces"
echo "setup: $OTHERS namespaces created and registered in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2

measure() { ip netns exec "$CLIENT" "$CONNECT" run 10.99.0.1 80 "$N" 500; }
# CPU time (ns, all threads) a process has used: a measure load on the machine hardly moves.
cpu_ns() { local t s=0; for t in /proc/"$1"/task/*/schedstat; do read -r ns _ <"$t"; s=$((s + ns)); done; echo "$s"; }
# measure_cpu PID: measure, and append the verdict process's CPU per connection (us).
measure_cpu() {
	local c0 out
	c0=$(cpu_ns "$1")
	out=$(measure) || return 1
	echo "$out cpu=$("$PY" -c "print('%.2f' % (($(cpu_ns "$1") - $c0) / 1000.0 / ($N + 500)))")"
}
run_a() {
	ip netns exec "$CLIENT" nft list tables | grep -q podfence && fail "a: table present"
	res[a$r]="$(measure) cpu=0" || fail "run a"
}
run_b() {
	local aa
	"$ACCEPT_ALL" --netns "/run/netns/$CLIENT" >"$TMP/aa.out" 2>"$TMP/aa.err" &
	aa=$!
	on_exit "kill $aa; wait $aa" # a run that fails leaves no loop behind
	wait_until 50 grep -q ready "$TMP/aa.out" || fail "nfq-accept-all did not start: $(cat "$TMP/aa.err")"
	res[b$r]=$(measure_cpu "$aa") || fail "run b"
	kill -TERM "$aa"; wait "$aa" || fail "nfq-accept-all: $(cat "$TMP/aa.err")"
	rm -f "$TMP/aa.out"
}
# A registration is enforced at once with the pod's own cache; the full build with its row
# follows on the engine's build thread. Measured after that build is in place: the CPU per
# connection is the verdicts', not a 10,000-rule load shared out over the run.
generation_gt() { [ "$(cache_generation)" -gt "$1" ]; }
register_built() {
	local g0
	g0=$(cache_generation)
	register "$@"
	wait_until 100 generation_gt "$g0" || fail "no build after registering $1"
}
run_c() {
	local v0 v1
	register_built "$CLIENT" bench client c-client
	v0=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "client"][0]')
	res[c$r]=$(measure_cpu "$ENGINE_PID") || fail "run c"
	v1=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "client"][0]')
	[ $((v1 - v0)) -ge "$N" ] || fail "c: only $((v1 - v0)) verdicts: not queued?"
	unregister c-client >/dev/null
}
run_d() {
	local v0 v1
	SOCK=$SOCK2 register_built "$CLIENT" bench client c-client
	v0=$(SOCK=$SOCK2 status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "client"][0]')
	res[d$r]=$(measure_cpu "$E2_PID") || fail "run d"
	v1=$(SOCK=$SOCK2 status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "client"][0]')
	# The first SYN (and any whose element was not in yet) is judged, the rest are not.
	[ $((v1 - v0)) -lt $((N / 10)) ] || fail "d: $((v1 - v0)) verdicts of $N: reuse not in effect?"
	SOCK=$SOCK2 unregister c-client >/dev/null
}
declare -A res
orders=("a b c d" "b c d a" "c d a b" "d a b c")
for r in $(seq 1 "$ROUNDS"); do
	# Each mode takes each position in turn, so what runs first or last is no bias.
	o=${orders[$(( (r - 1) % 4 ))]}
	for m in $o; do "run_$m"; done
	echo "round $r ($o): a ${res[a$r]} | b ${res[b$r]} | c ${res[c$r]} | d ${res[d$r]}" >&2
done

args=()
for k in "${!res[@]}"; do args+=("$k" "${res[$k]}"); done
"$PY" - "$ROUNDS" "$OTHERS" "$N" "$(ctl '{"op":"status"}')" "$(( ${FILLER_POLICIES:-40} * 250 ))" "${args[@]}" <<'PYEOF'
import json, statistics, sys
rounds, others, n, status = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
rules = int(sys.argv[5])
kv = sys.argv[6:]
res = {kv[i]: dict(f.split("=") for f in kv[i + 1].split()) for i in range(0, len(kv), 2)}
def med(mode, key):
    return statistics.median(float(res["%s%d" % (mode, r)][key]) for r in range(1, rounds + 1))
names = {"a": "no rule", "b": "nfq-accept-all (bare loop)",
         "c": "podfenced, reuse off (%d rules)" % rules, "d": "podfenced, reuse on (repeated dst)"}
print("sequential connects: N=%d per run, %d rounds, medians" % (n, rounds))
print("%-36s %12s %10s %10s %14s" % ("", "conn/s", "p50 us", "p99 us", "verdict CPU us"))
m = {}
for k in "abcd":
    m[k] = (med(k, "rate"), med(k, "p50"), med(k, "p99"), med(k, "cpu"))
    print("%-36s %12.0f %10.1f %10.1f %14s" % (names[k], *m[k][:3], "-" if k == "a" else "%.2f" % m[k][3]))
for x, y in (("b", "a"), ("c", "a"), ("c", "b"), ("d", "a"), ("d", "b")):
    print("ratio %s/%s: rate %.2f  p50 %.2f  p99 %.2f" % (x, y, m[x][0] / m[y][0], m[x][1] / m[y][1], m[x][2] / m[y][2])
          + ("  verdict CPU %.2f" % (m[x][3] / m[y][3]) if y != "a" else ""))
c = status["cache"]
print("(c: %d other registered netns; every SYN of a, b, c judged by its process, d's first only)" % others)
print("cache: %d sources, %d groups, %d bytes, last build %d us" % (c["sources"], c["groups"], c["bytes"], c["last_build_us"]))
PYEOF
