#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The units' sandbox is what the programs need and no more: in the booted Debian 12 box
# (systemd-units.sh), the installed units work as shipped, and each capability, address family
# and namespace type podfenced.service allows is taken away in turn by a drop-in, to see the
# engine break without it (packaging/README.md lists what breaks). podfence-sync has no
# capabilities; without AF_UNIX it cannot tell the engine to reload.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pkg-lib.sh"
need_root
need_cmd systemd-nspawn debootstrap nsenter "${PYTHON3:-python3}"

box_boot
box_install
echo "$POLICY" >"$BOX_ROOT/etc/podfence/policies/web.yaml"
box systemctl enable --now podfence-sync.service 2>/dev/null || fail "systemctl enable --now podfence-sync"
box_net
CAPS=$(box systemctl show -p CapabilityBoundingSet --value podfenced.service)
AFS=$(box systemctl show -p RestrictAddressFamilies --value podfenced.service)
[ "$(echo "$CAPS" | tr ' ' '\n' | sort | tr '\n' ' ')" = "cap_net_admin cap_sys_admin cap_sys_ptrace " ] ||
	fail "podfenced's capabilities are $CAPS; this test and packaging/README.md name each one"
[ "$(box systemctl show -p CapabilityBoundingSet --value podfence-sync.service)" = "" ] ||
	fail "podfence-sync must run with no capabilities"

DROPIN=$BOX_ROOT/etc/systemd/system/podfenced.service.d
mkdir -p "$DROPIN"
n=0
# The journal's position now, to read only what follows.
journal_cursor() { box journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'; }
# engine_with UNIT-LINES [CONF]: restart podfenced with UNIT-LINES as a drop-in and CONF as
# its configuration; sets STARTED (yes/no) and JOURNAL (its lines since the restart).
engine_with() {
	printf '[Service]\n%b\n' "$1" >"$DROPIN/test.conf"
	printf '%b\n' "${2:-}" >"$BOX_ROOT/etc/podfence/podfence.conf"
	box systemctl daemon-reload
	local cur
	cur=$(journal_cursor)
	STARTED=yes
	box systemctl restart podfenced.service 2>/dev/null || STARTED=no
	JOURNAL=$(box journalctl --no-pager -o cat -u podfenced.service --after-cursor "$cur")
}
runs_as_1000() { [ "$(box stat -c %u "/proc/$1" 2>/dev/null)" = 1000 ]; }
# register: a container of shop/web running as uid 1000 in a fresh netns pfpN (10.9.N.2),
# registered through the installed hook; sets HOOK (ok/refused), HOOK_ERR and FENCED (yes/no:
# 5433 rejected).
register() {
	n=$((n + 1))
	box_sh "set -e; ip netns add pfp$n; ip -n pfp$n link set lo up
		ip link add pa$n netns pfp$n type veth peer name pb$n netns pfsrv
		ip -n pfp$n addr add 10.9.$n.2/24 dev pa$n; ip -n pfsrv addr add 10.9.$n.1/24 dev pb$n
		ip -n pfp$n link set pa$n up; ip -n pfsrv link set pb$n up
		ip -n pfp$n route add default via 10.9.$n.1" || fail "netns pfp$n"
	mkdir -p "$BOX_ROOT/root/b$n"
	echo '{"linux":{"namespaces":[{"type":"network"}]}}' >"$BOX_ROOT/root/b$n/config.json"
	local pid
	pid=$(box_sh "ip netns exec pfp$n setpriv --reuid=1000 --regid=1000 --clear-groups sleep 100000 </dev/null >/dev/null 2>&1 & echo \$!")
	wait_until 50 runs_as_1000 "$pid" || fail "uid-1000 container process"
	HOOK=ok
	printf '{"ociVersion":"1.0.2","id":"c%s","status":"creating","pid":%s,"bundle":"/root/b%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"web"}}' \
		$n "$pid" $n | box_hook prestart 2>"$TMP/hook.err" || HOOK=refused
	HOOK_ERR=$(cat "$TMP/hook.err")
	FENCED=no
	[ "$(box_probe pfp$n 5433)" = refused ] && FENCED=yes
	return 0
}

# As shipped, for a container of another user, with the metrics listener on IPv4 and IPv6.
for m in "" "metrics = 127.0.0.1:9781" "metrics = [::1]:9781"; do
	engine_with "" "$m"
	[ $STARTED = yes ] || { echo "$JOURNAL"; fail "podfenced as shipped ($m) did not start"; }
	register
	[ $HOOK = ok ] && [ $FENCED = yes ] || fail "as shipped ($m): hook $HOOK ($HOOK_ERR), fenced $FENCED"
done
pass "as shipped: a uid-1000 container is fenced; metrics listen on IPv4 and IPv6"

without_cap() { echo "CapabilityBoundingSet=\nCapabilityBoundingSet=$(echo $CAPS | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')"; }
without_af() { echo "RestrictAddressFamilies=\nRestrictAddressFamilies=$(echo $AFS | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')"; }

engine_with "$(without_cap cap_net_admin)"
[ $STARTED = no ] && echo "$JOURNAL" | grep -q 'nftables.*Operation not permitted' ||
	{ echo "$JOURNAL"; fail "without CAP_NET_ADMIN the engine should fail on nftables"; }
pass "without CAP_NET_ADMIN: no start (nftables batch: Operation not permitted)"

engine_with "$(without_cap cap_sys_admin)"
[ $STARTED = no ] && echo "$JOURNAL" | grep -q 'netns.*Operation not permitted' ||
	{ echo "$JOURNAL"; fail "without CAP_SYS_ADMIN the engine should fail to make its probe netns"; }
pass "without CAP_SYS_ADMIN: no start (netns: Operation not permitted)"

engine_with "$(without_cap cap_sys_ptrace)"
[ $STARTED = yes ] || { echo "$JOURNAL"; fail "without CAP_SYS_PTRACE the engine still starts"; }
register
[ $HOOK = refused ] && [ $FENCED = no ] && echo "$HOOK_ERR" | grep -q 'ns/net.*Permission denied' ||
	fail "without CAP_SYS_PTRACE a uid-1000 container's netns cannot be opened: hook $HOOK ($HOOK_ERR)"
pass "without CAP_SYS_PTRACE: another user's container is refused (open /proc/PID/ns/net: Permission denied)"

engine_with "RestrictNamespaces=\nRestrictNamespaces=yes"
[ $STARTED = no ] || { echo "$JOURNAL"; fail "with no namespace type allowed the engine should not start"; }
pass "RestrictNamespaces=yes: no start (net is the one type it uses)"

engine_with "$(without_af AF_UNIX)"
[ $STARTED = no ] || { echo "$JOURNAL"; fail "without AF_UNIX the engine should not start"; }
engine_with "$(without_af AF_NETLINK)"
[ $STARTED = no ] && echo "$JOURNAL" | grep -q 'Address family not supported' ||
	{ echo "$JOURNAL"; fail "without AF_NETLINK the engine should fail on netlink"; }
engine_with "$(without_af AF_INET)" "metrics = 127.0.0.1:9781"
[ $STARTED = no ] && echo "$JOURNAL" | grep -q 'Metrics address 127.0.0.1:9781.*Address family not supported' ||
	{ echo "$JOURNAL"; fail "without AF_INET an IPv4 metrics address should fail"; }
engine_with "$(without_af AF_INET6)" "metrics = [::1]:9781"
[ $STARTED = no ] && echo "$JOURNAL" | grep -q 'Metrics address \[::1\]:9781.*Address family not supported' ||
	{ echo "$JOURNAL"; fail "without AF_INET6 an IPv6 metrics address should fail"; }
pass "without AF_UNIX, AF_NETLINK: no start; without AF_INET/AF_INET6: no metrics on IPv4/IPv6"

# podfence-sync: no capabilities; AF_UNIX is how it tells the engine to reload at once (the
# engine would otherwise find the change at its next poll of the store), AF_INET and AF_INET6
# how it reaches the Kubernetes API (tests/kube/). With --verbose (through the defaults file
# the package ships) its journal says whether the engine was told.
engine_with ""
[ $STARTED = yes ] || fail "podfenced back as shipped"
echo 'PODFENCE_SYNC_ARGS="--policy-dir /etc/podfence/policies --verbose"' >"$BOX_ROOT/etc/default/podfence-sync"
sync_told() { # FILE PATTERN: add a policy file, wait for PATTERN in podfence-sync's journal
	sed "s/name: web-egress/name: $1/" <<<"$POLICY" >"$BOX_ROOT/etc/podfence/policies/$1.yaml"
	wait_until 100 sh -c "nsenter -t $BOX_PID -a journalctl --no-pager -o cat -u podfence-sync.service | grep -q '$2'"
}
# Restart it and wait until it watches the directory (its first pass over it does not notify).
sync_restart() {
	local cur
	cur=$(journal_cursor)
	box systemctl restart podfence-sync.service || fail "restart podfence-sync"
	wait_until 100 sh -c "nsenter -t $BOX_PID -a journalctl --no-pager -o cat -u podfence-sync.service --after-cursor '$cur' | grep -q 'watching /etc/podfence/policies'" ||
		fail "podfence-sync did not come back"
}
sync_restart
sync_told web-2 'engine reloaded' || { box journalctl --no-pager -o cat -u podfence-sync.service | tail; fail "podfence-sync as shipped did not tell the engine"; }
mkdir -p "$BOX_ROOT/etc/systemd/system/podfence-sync.service.d"
printf '[Service]\nRestrictAddressFamilies=\nRestrictAddressFamilies=AF_INET AF_INET6\n' \
	>"$BOX_ROOT/etc/systemd/system/podfence-sync.service.d/test.conf"
box systemctl daemon-reload
sync_restart
told=$(box journalctl --no-pager -o cat -u podfence-sync.service | grep -c 'engine reloaded')
sync_told web-3 'web-3.yaml: 1 policy in force' || fail "podfence-sync did not read web-3.yaml"
sleep 2
[ "$(box journalctl --no-pager -o cat -u podfence-sync.service | grep -c 'engine reloaded')" = "$told" ] ||
	fail "without AF_UNIX podfence-sync should not reach the engine"
pass "podfence-sync: tells the engine to reload over AF_UNIX; without it, cannot"
