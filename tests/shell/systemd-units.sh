#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The .deb under real systemd: a Debian 12 root booted by systemd-nspawn, the package
# installed with dpkg -i and driven only as an administrator would (systemctl, journalctl,
# apt-get). Both hardened units run; the installed hook registers a netns and its verdicts
# hold across a restart and a reload; apt-get remove stops everything and takes the hooks.d
# entries away; purge leaves only the administrator's own policy file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pkg-lib.sh"
need_root
need_cmd systemd-nspawn debootstrap nsenter "${PYTHON3:-python3}"

box_boot
box_install
[ "$(box systemctl is-enabled podfenced.service)" = enabled ] || fail "podfenced not enabled by the package"
wait_until 50 box systemctl is-active --quiet podfenced.service || fail "podfenced not started by the package"
[ "$(box systemctl is-enabled podfence-sync.service 2>&1)" = disabled ] || fail "podfence-sync should be installed disabled"
for f in podfence.json podfence-poststop.json; do
	[ -f "$BOX_ROOT/usr/share/containers/oci/hooks.d/$f" ] || fail "postinst did not place hooks.d/$f"
done
[ "$(box stat -c %a:%U /run/podfence)" = 700:root ] || fail "/run/podfence: $(box stat -c %a:%U /run/podfence)"
pass "dpkg -i: podfenced enabled and active, podfence-sync installed disabled, hooks.d entries placed"

echo "$POLICY" >"$BOX_ROOT/etc/podfence/policies/web.yaml"
box systemctl enable --now podfence-sync.service 2>/dev/null || fail "systemctl enable --now podfence-sync"
wait_until 50 box systemctl is-active --quiet podfence-sync.service || fail "podfence-sync not active"
pass "systemctl enable --now podfence-sync (standalone, /etc/podfence/policies)"

box_net
[ "$(box_probe pfpod 5433)" = ok ] || fail "5433 should connect before the pod is registered"
st=$(box_container web-1 pfpod web)
echo "$st" | box_hook prestart || fail "the installed hook refused the container"
wait_until 100 probe_is pfpod 5433 refused || fail "5433 not rejected for shop/web: $(box_probe pfpod 5433)"
[ "$(box_probe pfpod 5432)" = ok ] || fail "5432 should be allowed"
pass "installed hook registers the netns: 5432 allowed, 5433 rejected"

box systemctl restart podfenced.service || fail "systemctl restart podfenced"
box systemctl is-active --quiet podfenced.service || fail "podfenced not active after restart"
# Type=notify: restart returns once the new engine has re-adopted the pod.
[ "$(box_probe pfpod 5433)" = refused ] || fail "when restart returned 5433: $(box_probe pfpod 5433)"
[ "$(box_probe pfpod 5432)" = ok ] || fail "after restart 5432 should be allowed"
box systemctl reload podfenced.service || fail "systemctl reload podfenced"
box systemctl is-active --quiet podfenced.service || fail "podfenced not active after reload"
[ "$(box_probe pfpod 5433)" = refused ] && [ "$(box_probe pfpod 5432)" = ok ] || fail "verdicts after reload"
box systemctl restart podfence-sync.service || fail "systemctl restart podfence-sync"
box systemctl status --no-pager podfenced.service podfence-sync.service >"$TMP/status" 2>&1 ||
	{ cat "$TMP/status"; fail "systemctl status: a unit is not running"; }
[ "$(grep -c 'Active: active (running)' "$TMP/status")" = 2 ] || { cat "$TMP/status"; fail "status"; }
pass "restart, reload, status: both units active, verdicts hold"

box journalctl --no-pager -u podfenced.service >"$TMP/journal"
grep -q 'Enforcing pod shop/web' "$TMP/journal" || { tail "$TMP/journal"; fail "journal lacks the engine's lines"; }
grep -q 'Re-adopted 1 pod' "$TMP/journal" || { tail "$TMP/journal"; fail "journal lacks the re-adoption after restart"; }
# Two starts (the package's, the restart), each said once: stderr is the journal, no syslog copy.
[ "$(grep -c 'podfenced [0-9.]* ready' "$TMP/journal")" = 2 ] || { cat "$TMP/journal"; fail "engine lines missing or twice"; }
pass "journalctl -u podfenced shows the engine's lines, once each"

for u in podfenced podfence-sync; do
	e=$(box_exposure $u.service)
	[ -n "$e" ] || fail "systemd-analyze security $u.service gave no score"
	echo "# systemd-analyze security $u.service: exposure $e"
	eval "exp_${u//-/_}=$e"
done
# The limits stand just above what the units score today (packaging/README.md), so a change
# that loosens the sandbox shows up here.
awk -v a="$exp_podfenced" -v b="$exp_podfence_sync" 'BEGIN { exit !(a <= 2.8 && b <= 1.8) }' ||
	fail "exposure podfenced $exp_podfenced (limit 2.8), podfence-sync $exp_podfence_sync (limit 1.8)"
pass "systemd-analyze security: podfenced $exp_podfenced, podfence-sync $exp_podfence_sync"

# leftovers: every path named *podfence* (but the .deb copied in), the trees of /etc/podfence
# and /var/lib/podfence, and /run/podfence (another file system).
leftovers() {
	{
		box find / -xdev \( -path /proc -o -path /sys -o -path /root \) -prune -o -name '*podfence*' -print
		for d in /etc/podfence /var/lib/podfence; do ! box test -d $d || box find $d; done
		! box test -e /run/podfence || echo /run/podfence
	} | sort -u
}
box apt-get remove -y podfence >"$TMP/remove.log" 2>&1 || { cat "$TMP/remove.log"; fail "apt-get remove"; }
for u in podfenced podfence-sync; do
	! box systemctl is-active --quiet $u.service || fail "$u still active after apt-get remove"
done
[ -z "$(ls -A "$BOX_ROOT/usr/share/containers/oci/hooks.d" 2>/dev/null)" ] ||
	fail "hooks.d entries left after remove: $(ls "$BOX_ROOT/usr/share/containers/oci/hooks.d")"
# The engine is gone and fail_mode is open: the pod it fenced is not cut off.
[ "$(box_probe pfpod 5433)" = ok ] || fail "after remove 5433: $(box_probe pfpod 5433)"
# What remove leaves, and nothing else: configuration, dpkg's record of it, the units'
# enablement (dangling links until purge), the store, /run/podfence until the next boot.
leftovers >"$TMP/left"
sort >"$TMP/want" <<LEFT
/etc/default/podfence-sync
/etc/podfence
/etc/podfence/podfence.conf
/etc/podfence/policies
/etc/podfence/policies/web.yaml
/etc/systemd/system/multi-user.target.wants/podfence-sync.service
/etc/systemd/system/multi-user.target.wants/podfenced.service
/run/podfence
/var/lib/dpkg/info/podfence.list
/var/lib/dpkg/info/podfence.postrm
/var/lib/podfence
/var/lib/podfence/podfence.db
/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/podfenced.service
/var/lib/systemd/deb-systemd-helper-enabled/podfence-sync.service.dsh-also
/var/lib/systemd/deb-systemd-helper-enabled/podfenced.service.dsh-also
LEFT
cmp -s "$TMP/want" "$TMP/left" || { diff "$TMP/want" "$TMP/left"; fail "apt-get remove left other files"; }
pass "apt-get remove: units stopped, hooks.d entries gone, the pod's traffic flows, state kept"

box apt-get purge -y podfence >"$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log"; fail "apt-get purge"; }
leftovers >"$TMP/left"
printf '%s\n' /etc/podfence /etc/podfence/policies /etc/podfence/policies/web.yaml >"$TMP/want"
cmp -s "$TMP/want" "$TMP/left" || { diff "$TMP/want" "$TMP/left"; fail "purge left more than the administrator's policy file"; }
pass "apt-get purge: nothing left but /etc/podfence/policies/web.yaml, which the administrator wrote"
