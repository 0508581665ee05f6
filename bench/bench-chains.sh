#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What the pod's chains cost a connection the kernel accepts without asking (verdict reuse),
# side by side in one run: sequential connects from a client netns to a server netns with
#   (a) no rule in the client netns,
#   (o) podfenced's output chain alone (the reuse set looked up for each SYN),
#   (f) the output chain and the flows chain, whose `ct state` turns conntrack on in the
#       netns (every packet then goes through conntrack),
#   (l) those and the input chain: what podfenced installs, the ruleset of bench-connect's d.
# The chains are installed by bench/nfq-accept-all --reuse, which adds each SYN it accepts to
# the reuse set as podfenced does: the first SYN is queued, the rest are accepted by the
# kernel. Rounds rotate the order; medians over rounds.
# Usage: top_builddir=BUILD bench/bench-chains.sh [N [ROUNDS]]   (or `make bench-chains`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-20000}
ROUNDS=${2:-4}
CONNECT=$top_builddir/bench/connect-bench
ACCEPT_ALL=$top_builddir/bench/nfq-accept-all
need_root
need_cmd nft
[ -x "$CONNECT" ] && [ -x "$ACCEPT_ALL" ] || skip "build bench/connect-bench and bench/nfq-accept-all first"

connect_server
add_pod 1
CLIENT=$POD

measure() { ip netns exec "$CLIENT" "$CONNECT" run 10.99.0.1 80 "$N" 500; }
run_a() {
	ip netns exec "$CLIENT" nft list tables | grep -q podfence && fail "a: table present"
	res[a$r]=$(measure) || fail "run a"
}
# run_chains MODE CHAINS
run_chains() {
	local aa queued
	"$ACCEPT_ALL" --netns "/run/netns/$CLIENT" --chains "$2" --reuse 600000 \
		>"$TMP/aa.out" 2>"$TMP/aa.err" &
	aa=$!
	on_exit "kill $aa; wait $aa" # a run that fails leaves no loop behind
	wait_until 50 grep -q ready "$TMP/aa.out" || fail "nfq-accept-all did not start: $(cat "$TMP/aa.err")"
	res[$1$r]=$(measure) || fail "run $1"
	kill -TERM "$aa"; wait "$aa" || fail "nfq-accept-all: $(cat "$TMP/aa.err")"
	queued=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$TMP/aa.err")
	# the first SYN (and any sent before its element was in) is queued, the rest are not
	[ -n "$queued" ] && [ "$queued" -lt $((N / 10)) ] ||
		fail "$1: $queued of $N connects queued: reuse not in effect?"
	rm -f "$TMP/aa.out"
}
run_o() { run_chains o output; }
run_f() { run_chains f flows; }
run_l() { run_chains l all; }
declare -A res
orders=("a o f l" "o f l a" "f l a o" "l a o f")
for r in $(seq 1 "$ROUNDS"); do
	o=${orders[$(( (r - 1) % 4 ))]}
	for m in $o; do "run_$m"; done
	echo "round $r ($o): a ${res[a$r]} | o ${res[o$r]} | f ${res[f$r]} | l ${res[l$r]}" >&2
done

args=()
for k in "${!res[@]}"; do args+=("$k" "${res[$k]}"); done
"$PY" - "$ROUNDS" "$N" "${args[@]}" <<'PYEOF'
import statistics, sys
rounds, n = int(sys.argv[1]), int(sys.argv[2])
kv = sys.argv[3:]
res = {kv[i]: dict(f.split("=") for f in kv[i + 1].split()) for i in range(0, len(kv), 2)}
def med(mode, key):
    return statistics.median(float(res["%s%d" % (mode, r)][key]) for r in range(1, rounds + 1))
names = {"a": "no rule", "o": "output chain (reuse set hit)",
         "f": "+ flows chain (conntrack on)", "l": "+ input chain (podfenced's)"}
print("sequential connects accepted in the kernel: N=%d per run, %d rounds, medians" % (n, rounds))
print("%-36s %12s %10s %10s %10s" % ("", "conn/s", "p50 us", "p99 us", "rate/a"))
a = med("a", "rate")
for k in "aofl":
    print("%-36s %12.0f %10.1f %10.1f %10.2f" % (names[k], med(k, "rate"), med(k, "p50"), med(k, "p99"),
                                               med(k, "rate") / a))
print("step ratios: o/a %.2f  f/o %.2f  l/f %.2f" % (med("o", "rate") / a, med("f", "rate") / med("o", "rate"),
                                                   med("l", "rate") / med("f", "rate")))
PYEOF
