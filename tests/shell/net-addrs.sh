#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
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

# Link-local churn (a new veth whose IPv6 DAD finishes a second later) is not a change of
# the pod's addresses.
bg_ready "$SNS" "$TMP/mon-idle" addrmon 2500
ip -n "$SNS" link add "pfx$TID" type veth peer name "pfy$TID"
ip -n "$SNS" link set "pfx$TID" up
ip -n "$SNS" link set "pfy$TID" up
wait_until 50 grep -q '^timeout$' "$TMP/mon-idle" || { cat "$TMP/mon-idle"; fail "link-local churn reported as a change"; }
ip -n "$SNS" -6 addr show dev "pfx$TID" | grep -q 'inet6 fe80' || fail "no link-local address appeared"
pass "monitor ignores link-local address churn"
