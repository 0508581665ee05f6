#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# UDP first-packet cost next to TCP's, in one run: sequential new UDP flows (one datagram and
# its echo, each on a new socket: a new conntrack entry, judged by podfenced) and sequential
# TCP connects (the SYN judged), p50/p99 latency, for
#   (a) no podfence rule in the client netns,
#   (b) podfenced enforcing an Allow policy for both (the flows chain after conntrack, the
#       output chain before it).
# Rounds interleave a and b so drift hits both alike; medians over rounds are reported.
# Usage: top_builddir=BUILD bench/bench-udp.sh [N [ROUNDS]]   (or `make bench-udp`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-5000}
ROUNDS=${2:-3}
HELPER=$top_builddir/tests/net-helper
engine_need
[ -x "$HELPER" ] || skip "build tests/net-helper first (make check TESTS=)"

mk_netns "$SRV"
ip -n "$SRV" addr add 10.99.0.1/32 dev lo
bg_start ip netns exec "$SRV" "$HELPER" udpecho 10.99.0.1 9001 >"$TMP/echo" 2>&1
bg_start ip netns exec "$SRV" "$HELPER" listen 10.99.0.1 80 >"$TMP/listen" 2>&1
wait_until 50 grep -q ready "$TMP/echo" && wait_until 50 grep -q ready "$TMP/listen" || fail "servers"
add_pod 1; BARE=$POD
add_pod 2; FENCED=$POD
load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: bench, namespace: bench}
spec:
  appliesTo: [{kind: Pod, name: client}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}, {port: 9001, protocol: UDP}]
  - action: Deny
YAML
start_engine --default-action Deny
register "$FENCED" bench client c-bench-1

run() { ip netns exec "$1" "$HELPER" "$2" 10.99.0.1 "$3" "$N" | sed -n 's/.*p50=\([0-9.]*\)us p99=\([0-9.]*\)us/\1 \2/p'; }
[ "$N" -le 50000 ] || fail "N must be at most 50000 (a source port each)"
for r in $(seq "$ROUNDS"); do
	# the last round's flows (same source ports) are still in conntrack: forget them
	ip netns exec "$FENCED" "$HELPER" ctcut 9001 >/dev/null || fail "ctcut"
	echo "$(run "$BARE" connrate 80) $(run "$FENCED" connrate 80) $(run "$BARE" udprate 9001) $(run "$FENCED" udprate 9001)" >>"$TMP/rounds"
done
udp=$(status_field 's["udp_judged"]')
[ "$udp" -ge $((N * ROUNDS)) ] || fail "podfenced judged $udp UDP flows, want $((N * ROUNDS))"
"$PY" - "$TMP/rounds" "$N" "$ROUNDS" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
print(f"bench-udp: {sys.argv[2]} flows/connections per round, {sys.argv[3]} rounds, medians (us)")
print(f"{'':22} {'p50 bare':>9} {'p50 fenced':>10} {'cost':>6} {'p99 bare':>9} {'p99 fenced':>10}")
for name, off in (("TCP connect (SYN)", 0), ("UDP first packet", 4)):
    b50, b99, f50, f99 = med[off], med[off + 1], med[off + 2], med[off + 3]
    print(f"{name:22} {b50:9.1f} {f50:10.1f} {f50 - b50:6.1f} {b99:9.1f} {f99:10.1f}")
print(f"UDP first-packet cost / TCP SYN cost: {(med[6] - med[4]) / max(med[2] - med[0], 0.1):.2f}")
PY
engine_finish
