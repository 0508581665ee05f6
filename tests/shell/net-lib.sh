# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/shell/net-*.sh after lib.sh: a client ("pod") netns and a server netns joined
# by a veth pair, with private addresses that exist only inside them, IPv4 and IPv6.
HELPER=${HELPER:-"$top_builddir/tests/net-helper"}
[ -x "$HELPER" ] || fail "$HELPER not built"
need_root
need_cmd ip nft

CNS=pfc-$TID
SNS=pfs-$TID
C4=10.200.0.1
S4=10.200.0.2
C6=fd00:200::1
S6=fd00:200::2

net_setup() {
	mk_netns "$CNS"
	mk_netns "$SNS"
	ip -n "$CNS" link add "pfv$TID" type veth peer name "pfw$TID" netns "$SNS"
	ip -n "$CNS" link set "pfv$TID" up
	ip -n "$SNS" link set "pfw$TID" up
	ip -n "$CNS" addr add "$C4/24" dev "pfv$TID"
	ip -n "$SNS" addr add "$S4/24" dev "pfw$TID"
	ip -n "$CNS" addr add "$C6/64" dev "pfv$TID" nodad
	ip -n "$SNS" addr add "$S6/64" dev "pfw$TID" nodad
}

# in_ns NS CMD...: run inside a netns.
in_c() { ip netns exec "$CNS" "$@"; }
in_s() { ip netns exec "$SNS" "$@"; }

# Start a background helper inside NS whose stdout goes to FILE; wait for its "ready" line.
bg_ready() {
	local ns=$1 out=$2; shift 2
	bg_start ip netns exec "$ns" $VALGRIND "$HELPER" "$@" >"$out" 2>&1
	wait_until 50 grep -q '^ready' "$out" || { cat "$out"; fail "helper '$*' did not become ready"; }
}

# Stop a background helper by pid (started with bg_ready: its pid is BG_PID at that time).
bg_stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# expect_connect WANT ADDR PORT [TIMEOUT_MS]: WANT is connected|refused|timeout.
expect_connect() {
	local want=$1 addr=$2 port=$3 tmo=${4:-1000} rc=0 out
	out=$(in_c "$HELPER" connect "$addr" "$port" "$tmo") || rc=$?
	case "$want:$rc" in
	connected:0 | refused:3 | timeout:4) pass "connect $addr:$port -> $out" ;;
	*) fail "connect $addr:$port: wanted $want, got rc=$rc ($out)" ;;
	esac
	LAST_CONNECT=$out
}

# Milliseconds from the last expect_connect's output ("... after N ms" / "... in N ms").
last_ms() { echo "$LAST_CONNECT" | sed -n 's/.* \([0-9]\+\) ms$/\1/p'; }

# The number of podfence tables in the client netns.
pf_tables() { in_c nft list tables 2>/dev/null | grep -c ' podfence$' || true; }
