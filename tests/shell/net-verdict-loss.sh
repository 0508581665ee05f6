#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A lost verdict must not hold a queue slot for ever. With a queue of 2 packets, the first two
# verdict sends are lost (fault injection in lib/nfq.c): the queue drops those packets with a
# batch verdict, the client's retransmitted SYN is judged, and the queue keeps working. Then a
# receive buffer too small for a burst (the kernel cannot hand us messages: ENOBUFS) holds no
# slot either: what could not be delivered is dropped (and retransmitted), and the queue keeps
# working with nothing left waiting. Last, messages cut by a receive slot too small for them
# (MSG_TRUNC): each packet is still answered (dropped, unread), none is left holding a slot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup
bg_ready "$SNS" "$TMP/server" listen "$S4" 8001

in_c "$HELPER" install --no-bypass >/dev/null
on_exit "ip netns exec $CNS $HELPER remove"
stats() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" "$1"; }

bg_ready "$CNS" "$TMP/lose" verdicts --queue 1 --maxlen 2 --lose-sends 2 --accept 8001
VPID=$BG_PID
# SYN 1 and its first retransmit lose their verdicts; the second retransmit (about 2 s) is
# judged: without recovery both slots would stay taken and nothing would ever connect.
expect_connect connected "$S4" 8001 6000
ms=$(last_ms)
[ "${ms:-0}" -ge 1500 ] || fail "connected after $ms ms: the verdicts were not lost?"
for i in 1 2 3 4 5; do expect_connect connected "$S4" 8001 1000; done
bg_stop "$VPID"
grep -q '^stats' "$TMP/lose" || fail "no stats: $(cat "$TMP/lose")"
[ "$(stats "$TMP/lose" verdicts_lost)" = 2 ] || fail "verdicts_lost: $(grep stats "$TMP/lose")"
[ "$(stats "$TMP/lose" recoveries)" -ge 2 ] || fail "recoveries: $(grep stats "$TMP/lose")"
pass "two lost verdicts: batch-dropped, the queue of 2 keeps working ($(grep stats "$TMP/lose"))"

bg_ready "$CNS" "$TMP/small" verdicts --queue 1 --rcvbuf 1 --accept 8001
VPID=$BG_PID
in_c "$HELPER" burst "$S4" 8001 40 >"$TMP/burst" || true
grep -q 'connected of 40' "$TMP/burst" || fail "burst: $(cat "$TMP/burst")"
for i in 1 2 3; do expect_connect connected "$S4" 8001 1000; done
bg_stop "$VPID"
grep -q '^stats' "$TMP/small" || fail "no stats: $(cat "$TMP/small")"
[ "$(stats "$TMP/small" user_dropped)" -ge 1 ] || fail "the burst fit the buffer: $(grep stats "$TMP/small")"
[ "$(stats "$TMP/small" queue_total)" = 0 ] || fail "packets left waiting: $(grep stats "$TMP/small")"
pass "a receive buffer too small for a burst ($(cat "$TMP/burst")): nothing held, the queue works ($(grep stats "$TMP/small"))"

bg_ready "$CNS" "$TMP/trunc" verdicts --queue 1 --maxlen 2 --rx-slot 64 --accept 8001
VPID=$BG_PID
expect_connect timeout "$S4" 8001 2500
expect_connect timeout "$S6" 8001 1500
bg_stop "$VPID"
grep -q '^stats' "$TMP/trunc" || fail "no stats: $(cat "$TMP/trunc")"
[ "$(stats "$TMP/trunc" queue_total)" = 0 ] || fail "truncated packets left holding the queue: $(grep stats "$TMP/trunc")"
[ "$(stats "$TMP/trunc" truncated)" -ge 3 ] || fail "messages not truncated: $(grep stats "$TMP/trunc")"
pass "truncated messages: every packet answered (dropped), none held ($(grep stats "$TMP/trunc"))"
bg_ready "$CNS" "$TMP/after" verdicts --queue 1 --maxlen 2 --accept 8001
expect_connect connected "$S4" 8001 1000
