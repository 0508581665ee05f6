#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The flows and dns chains as a client sees them: the first packet of each UDP flow judged
# exactly once (also a flow that never gets a reply), accept / drop / reject (the connected
# socket gets ECONNREFUSED) over IPv4 and IPv6, DNS answers queued on input before delivery,
# TCP SYNs still judged by the chain before conntrack and only once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup

ip -n "$SNS" addr add 10.200.0.3/24 dev "pfw$TID"
bg_ready "$SNS" "$TMP/echo4" udpecho "$S4" 9001 9002 9003 -9004 53
bg_ready "$SNS" "$TMP/other53" udpecho 10.200.0.3 53
bg_ready "$SNS" "$TMP/echo6" udpecho "$S6" 9001 9002 9003 -9004
bg_ready "$SNS" "$TMP/server" listen "$S4" 8001
bg_ready "$SNS" "$TMP/sink" sink "$S4" 8002

in_c "$HELPER" install --flows --dns-from "$S4" --dns-from "$S6" >"$TMP/installed" || fail "install with flows and dns"
in_c nft list ruleset >"$TMP/ruleset" 2>/dev/null
for want in 'chain flows {' 'type filter hook output priority -199; policy accept;' \
	'chain input {' 'type filter hook input priority raw - 1; policy accept;' \
	'meta l4proto udp ct state new ct status ! confirmed counter .* queue' \
	'tcp flags ! syn ct state new ct status ! confirmed counter .* queue' \
	'ip saddr 10.200.0.2 udp sport 53 counter .* queue' \
	'ip6 saddr fd00:200::2 udp sport 53 counter .* queue' \
	'iif "lo" counter .* accept' \
	'meta mark 0x70660001 meta l4proto udp counter .* reject'; do
	grep -q -- "$want" "$TMP/ruleset" || { cat "$TMP/ruleset"; fail "missing '$want'"; }
done
grep -Eq 'reject( with (icmpx|icmp|icmpv6) (type )?port-unreachable)?' "$TMP/ruleset" || fail "no port-unreachable reject"
pass "nft list ruleset shows the flows chain after conntrack and the input chain"

bg_ready "$CNS" "$TMP/verdicts" verdicts --queue 1 --accept 9001 --drop 9002 --reject 9003 \
	--accept 9004 --accept 8001 --accept 53 --accept 8002
VPID=$BG_PID

# expect_udp WANT ADDR PORT [TIMEOUT_MS [COUNT]]: WANT answered|refused|timeout.
expect_udp() {
	local want=$1 rc=0 out; shift
	out=$(in_c "$HELPER" udp "$@") || rc=$?
	case "$want:$rc" in
	answered:0 | refused:3 | timeout:4) pass "udp $1:$2 -> $out" ;;
	*) fail "udp $1:$2: wanted $want, got rc=$rc ($out)" ;;
	esac
	LAST_CONNECT=$out
}

for dst in "$S4" "$S6"; do
	expect_udp answered "$dst" 9001 1000 5
	expect_udp timeout "$dst" 9002 500
	expect_udp refused "$dst" 9003 2000
	[ "$(last_ms)" -lt 500 ] || fail "UDP reject took $(last_ms) ms, want fast"
	# A flow that never gets a reply stays "new" in conntrack: it must still be judged once.
	in_c bash -c "exec 3>/dev/udp/$dst/9004; for i in 1 2 3 4 5; do echo x\$i >&3; sleep 0.05; done"
done
for f in echo4 echo6; do
	# 5 echoed on 9001 and 5 one-way on 9004 each
	wait_until 50 test "$(grep -c '^got' "$TMP/$f")" -ge 10 || fail "$f got $(grep -c '^got' "$TMP/$f") datagrams, want 10"
done
# DNS: the answer from port 53 is queued on input (and the query, an ordinary flow, on output)
expect_udp answered "$S4" 53 1000
expect_udp answered 10.200.0.3 53 1000   # port 53 of a server that is not the pod's resolver

# TCP next to UDP: the SYN is judged by the chain at raw - 1, once.
expect_connect connected "$S4" 8001

# A connection whose conntrack entry is deleted: its next packet is queued (judged again),
# here accepted, and the connection goes on.
bg_ready "$CNS" "$TMP/stream" stream "$S4" 8002 2500
SPID=$BG_PID
sleep 0.8
out=$(in_c "$HELPER" ctcut 8002) || fail "ctcut: $out"
cut_ms=$(date +%s%3N)
case "$out" in "seen "*" cut 1") ;; *) fail "ctcut 8002: $out, want one entry cut" ;; esac
wait "$SPID" 2>/dev/null || true
after=$(awk -v t="$cut_ms" '$1 == "rx" && $2 > t + 300' "$TMP/sink" | wc -l)
[ "$after" -ge 5 ] || { cat "$TMP/sink"; fail "the accepted connection stopped after the cut ($after reads after it)"; }
pass "a cut connection is judged again and, accepted, goes on ($out, $after reads after)"

bg_stop "$VPID"
cat "$TMP/verdicts"
grep -Eq " $S4 [0-9]* 8002 flags=0x1[0-9] accept tcp$" "$TMP/verdicts" || fail "the cut connection's next packet was not queued"
n=$(grep -Ec " $S4 [0-9]* 8002 flags=0x1[0-9] accept tcp$" "$TMP/verdicts")
[ "$n" = 1 ] || fail "the cut connection was judged $n times after the cut, want 1"
for dst in "$S4" "$S6"; do
	n=$(grep -c " $dst [0-9]* 9001 flags=0x00 accept udp$" "$TMP/verdicts" || true)
	[ "$n" = 1 ] || fail "UDP flow to $dst:9001 (5 datagrams, 5 answers): judged $n times, want 1"
	n=$(grep -c " $dst [0-9]* 9004 flags=0x00 accept udp$" "$TMP/verdicts" || true)
	[ "$n" = 1 ] || fail "one-way UDP flow to $dst:9004: judged $n times, want 1"
	grep -q " $dst [0-9]* 9002 flags=0x00 drop udp$" "$TMP/verdicts" || fail "no dropped UDP to $dst"
	grep -q " $dst [0-9]* 9003 flags=0x00 reject udp$" "$TMP/verdicts" || fail "no rejected UDP to $dst"
done
pass "each UDP flow's first packet judged exactly once, answered or not"
grep -q " $S4 $C4 53 [0-9]* flags=0x00 accept udp in$" "$TMP/verdicts" || fail "the answer from port 53 was not queued on input"
grep -q " 10.200.0.3 $C4 53 .* in$" "$TMP/verdicts" && fail "an answer from a server that is not the pod's resolver was queued"
pass "a DNS answer from the pod's resolver is queued on input before the pod reads it; another server's is not"
n=$(grep -c " $S4 [0-9]* 8001 flags=0x02 accept tcp$" "$TMP/verdicts" || true)
[ "$n" = 1 ] || fail "TCP SYN judged $n times, want 1"
grep -q " 8001 flags=0x1[0-9] .* tcp" "$TMP/verdicts" && fail "an established TCP packet was queued"
pass "TCP: the SYN judged once, the rest of the connection never"

in_c "$HELPER" remove >/dev/null
[ "$(pf_tables)" = 0 ] || fail "remove left: $(in_c nft list tables)"
pass "remove removes the flows and dns chains with the tables"
