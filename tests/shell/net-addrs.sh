#!/bin/bash
# pf_netns_list_addrs reads a netns's global addresses (not loopback, not link-local) and
# pf_addrmon_* notices when they change; the probe leaves nothing behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup

in_c "$HELPER" addrs | sort >"$TMP/addrs"
printf '%s\n' "$C4" "$C6" | sort >"$TMP/want"
diff -u "$TMP/want" "$TMP/addrs" || fail "addresses differ"
pass "global addresses of the netns, IPv4 and IPv6, without lo and link-local"

in_c "$HELPER" probe >/dev/null
[ -z "$(in_c nft list tables)" ] || fail "probe left: $(in_c nft list tables)"
pass "the backend probe leaves no table"

bg_ready "$CNS" "$TMP/mon" addrmon 5000
MPID=$BG_PID
ip -n "$CNS" addr add 10.200.1.1/24 dev "pfv$TID"
wait_until 50 grep -q '^10.200.1.1$' "$TMP/mon" || { cat "$TMP/mon"; fail "added address not seen"; }
grep -q '^changed$' "$TMP/mon" || fail "no change reported"
bg_stop "$MPID"
pass "address monitor reports an added address"

bg_ready "$CNS" "$TMP/mon6" addrmon 5000
MPID=$BG_PID
ip -n "$CNS" addr del "$C6/64" dev "pfv$TID"
wait_until 50 grep -q '^changed$' "$TMP/mon6" || { cat "$TMP/mon6"; fail "removal not seen"; }
sleep 0.2
grep -q "^$C6\$" "$TMP/mon6" && fail "removed address still listed"
bg_stop "$MPID"
pass "address monitor reports a removed address"

# Nothing outside our namespaces changes: the host netns has no podfence table from us.
bg_ready "$SNS" "$TMP/mon-idle" addrmon 700
wait_until 30 grep -q '^timeout$' "$TMP/mon-idle" || fail "idle monitor reported a change"
pass "idle monitor stays quiet"
