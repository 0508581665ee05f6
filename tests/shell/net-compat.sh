#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The ruleset with the xtables NFQUEUE backend (the kernel here lacks the native queue
# expression) as a client sees it: accept / drop / reject by port, IPv4 and IPv6, loopback
# never queued, install twice is one ruleset, remove removes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup

bg_ready "$SNS" "$TMP/server" listen "$S4" 8001 8002 8003
bg_ready "$SNS" "$TMP/server6" listen "$S6" 8001 8002 8003
bg_ready "$CNS" "$TMP/local" listen 127.0.0.1 8004
bg_ready "$CNS" "$TMP/local6" listen ::1 8004
bg_ready "$CNS" "$TMP/own" listen "$C4" 8005

in_c "$HELPER" install --backend compat >/dev/null
in_c "$HELPER" install --backend compat >/dev/null
[ "$(pf_tables)" = 2 ] || fail "installing twice: want 2 tables (ip, ip6), got: $(in_c nft list tables)"
pass "installing twice leaves one ruleset (tables ip + ip6 podfence)"

# Atomic: a batch the kernel refuses (here the native queue expression it lacks) changes
# nothing, not even the deletes at its start.
if [ "$(in_c "$HELPER" probe)" = compat ]; then
	in_c "$HELPER" install --backend native 2>"$TMP/native.err" && fail "native install succeeded on a compat kernel"
	grep -q 'add rule: No such file' "$TMP/native.err" || fail "error: $(cat "$TMP/native.err")"
	[ "$(pf_tables)" = 2 ] || fail "a failed install changed the ruleset: $(in_c nft list tables)"
	pass "a refused install leaves the previous ruleset intact"
fi

# Read back with the real nft: what an operator sees.
in_c nft list ruleset >"$TMP/ruleset" 2>/dev/null
for fam in ip ip6; do
	sed -n "/^table $fam podfence/,/^}/p" "$TMP/ruleset" >"$TMP/t-$fam"
	for want in 'type filter hook output priority raw - 1; policy accept;' \
		'oif "lo" counter packets [0-9]* bytes [0-9]* accept' \
		'meta mark 0x70660001 meta l4proto tcp counter .* reject with tcp reset' \
		'tcp flags syn / syn,ack counter .* queue num 1 bypass' \
		'comment "podfence'; do
		grep -q -- "$want" "$TMP/t-$fam" || { cat "$TMP/ruleset"; fail "table $fam: missing '$want'"; }
	done
	# Rule order matters: lo first, then the reject, then the queue, then fragments.
	grep -o 'accept comment\|reject with\|queue num' "$TMP/t-$fam" | tr '\n' ' ' |
		grep -q '^accept comment reject with queue num queue num $' || fail "table $fam: rule order"
	grep -q -- 'frag.* counter .* queue num 1 bypass' "$TMP/t-$fam" || { cat "$TMP/ruleset"; fail "table $fam: no fragment rule"; }
done
pass "nft list ruleset reads back the podfence ruleset in ip and ip6"

bg_ready "$CNS" "$TMP/verdicts" verdicts --queue 1 --accept 8001 --drop 8002 --reject 8003
VPID=$BG_PID
rc=0; timeout 5 ip netns exec "$CNS" "$HELPER" verdicts --queue 1 >"$TMP/second" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'already bound' "$TMP/second" || { cat "$TMP/second"; fail "second binder: rc=$rc"; }
pass "a second program cannot take a bound queue (named in the error)"

for dst in "$S4" "$S6"; do
	expect_connect connected "$dst" 8001
	expect_connect timeout "$dst" 8002 1000
	expect_connect refused "$dst" 8003 3000
	[ "$(last_ms)" -lt 500 ] || fail "reject took $(last_ms) ms, want fast"
done

# A burst: many SYNs queued at once are all answered (batched reads and verdicts).
in_c "$HELPER" burst "$S4" 8001 300 || fail "burst of 300 connections"
pass "300 simultaneous connections all judged and accepted"

# Inside the pod: loopback and the pod's own address are never queued.
expect_connect connected 127.0.0.1 8004
expect_connect connected ::1 8004
expect_connect connected "$C4" 8005

bg_stop "$VPID"
cat "$TMP/verdicts"
for p in 8001 8002 8003; do
	[ "$(grep -c " $S4 [0-9]* $p flags=0x02 " "$TMP/verdicts")" -ge 1 ] || fail "no SYN to $S4:$p queued"
	[ "$(grep -c " $S6 [0-9]* $p flags=0x02 " "$TMP/verdicts")" -ge 1 ] || fail "no SYN to $S6:$p queued"
done
grep -q ' 800[45] flags' "$TMP/verdicts" && fail "loopback connection was queued"
grep -q '^packet [0-9]* unparsed' "$TMP/verdicts" && fail "a queued packet did not parse"
grep -q 'stats packets=[1-9].* enobufs=0 send_errors=0 kernel_errors=0' "$TMP/verdicts" || fail "verdict stats"
[ "$(grep -c " $S4 [0-9]* 8001 flags=0x02 accept" "$TMP/verdicts")" -ge 301 ] || fail "burst SYNs not all queued"
pass "only SYNs leaving the pod were queued, each parsed"

in_c "$HELPER" remove >/dev/null
[ "$(pf_tables)" = 0 ] || fail "remove left: $(in_c nft list tables)"
in_c "$HELPER" remove >/dev/null
pass "remove removes the tables, and again is fine"
expect_connect connected "$S4" 8002
