#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict reuse in the kernel and re-installs that keep the base chain: an allowed SYN's
# (saddr . daddr . dport) added to the reuse set is accepted there without being queued again
# (IPv4 and IPv6), a dropped one never is; a re-install empties the sets; SYNs waiting in the
# queue while the ruleset is installed again are all answered (none dropped, none resent).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup
bg_ready "$SNS" "$TMP/server" listen "$S4" 8001 8002 8003
bg_ready "$SNS" "$TMP/server6" listen "$S6" 8001 8002 8003

in_c "$HELPER" install --reuse 30000 >/dev/null
bg_ready "$CNS" "$TMP/verdicts" verdicts --reuse 30000 --accept 8001 --drop 8002
judge_pid=$BG_PID
for i in 1 2 3; do
	expect_connect connected "$S4" 8001
	expect_connect connected "$S6" 8001
done
expect_connect timeout "$S4" 8002 500
expect_connect timeout "$S6" 8002 500
n4=$(grep -c "^packet .* $S4 [0-9]* 8001 " "$TMP/verdicts" || true)
n6=$(grep -c "^packet .* $S6 [0-9]* 8001 " "$TMP/verdicts" || true)
[ "$n4" = 1 ] && [ "$n6" = 1 ] || { cat "$TMP/verdicts"; fail "3 connects queued $n4 (IPv4) and $n6 (IPv6) times, want once each"; }
pass "an allowed destination is judged once, then accepted in the kernel"
in_c nft list ruleset >"$TMP/ruleset"
grep -q "$C4 . $S4 . 8001" "$TMP/ruleset" || fail "IPv4 element missing: $(cat "$TMP/ruleset")"
grep -q "$C6 . $S6 . 8001" "$TMP/ruleset" || fail "IPv6 element missing"
grep -q '8002' "$TMP/ruleset" && fail "a dropped destination was remembered"
hits=$(grep '@allowed4 counter' "$TMP/ruleset" | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
[ "$hits" = 2 ] || fail "reuse rule counted $hits IPv4 packets, want 2"
pass "the sets hold the allowed (source . destination . port), not the dropped one"
bg_stop "$judge_pid"

# A re-install forgets what was allowed: the next SYN is judged again.
in_c "$HELPER" install --reuse 30000 >/dev/null
in_c nft list ruleset | grep -q "$C4 . $S4 . 8001" && fail "re-install kept an element"
[ "$(pf_tables)" = 2 ] || fail "re-install: $(in_c nft list tables)"
pass "a re-install empties the reuse sets"

# SYNs wait in the queue (nobody reads it) while the ruleset is installed again.
bg_ready "$CNS" "$TMP/held" verdicts --hold --accept 8003
held_pid=$BG_PID
pids=()
for i in 1 2 3 4; do
	addr=$S4
	[ "$i" = 4 ] && addr=$S6
	in_c "$HELPER" connect "$addr" 8003 5000 >"$TMP/c$i" 2>&1 &
	pids+=($!)
done
waiting() { in_c cat /proc/net/netfilter/nfnetlink_queue | awk '$1 == 1 { print $3 }'; }
four_waiting() { [ "$(waiting)" = 4 ]; }
wait_until 50 four_waiting || fail "expected 4 SYNs waiting, queue says $(waiting)"
in_c "$HELPER" install --reuse 30000 >/dev/null || fail "re-install with SYNs queued"
[ "$(waiting)" = 4 ] || fail "re-install dropped queued SYNs: $(waiting) left of 4"
kill -USR1 "$held_pid"
for i in 1 2 3 4; do
	rc=0
	wait "${pids[$((i - 1))]}" || rc=$?
	[ "$rc" = 0 ] || fail "connect $i: rc=$rc ($(cat "$TMP/c$i"))"
	ms=$(sed -n 's/^connected in \([0-9]*\) ms$/\1/p' "$TMP/c$i")
	# A dropped SYN is resent after 1 s: anything faster was the first SYN, answered.
	[ -n "$ms" ] && [ "$ms" -lt 1000 ] || fail "connect $i: $(cat "$TMP/c$i") (a resent SYN?)"
done
bg_stop "$held_pid"
grep -q '^stats packets=4 .*kernel_errors=0 ' "$TMP/held" || fail "judge: $(grep stats "$TMP/held")"
pass "4 SYNs queued during a re-install: all answered, none resent"
