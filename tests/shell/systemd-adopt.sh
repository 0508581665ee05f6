#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Under real systemd (the booted Debian 12 box of systemd-units.sh): a container started while
# podfenced is down, after a boot's empty /run, leaves its pending record in the directory
# tmpfiles.d made; `systemctl start podfenced` adopts it and the pod is fenced from then on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pkg-lib.sh"
need_root
need_cmd systemd-nspawn debootstrap nsenter "${PYTHON3:-python3}"

box_boot
box_install
echo "$POLICY" >"$BOX_ROOT/etc/podfence/policies/web.yaml"
box systemctl enable --now podfence-sync.service 2>/dev/null || fail "systemctl enable --now podfence-sync"
box systemctl stop podfenced.service || fail "systemctl stop podfenced"
# What a reboot leaves: /run empty until systemd-tmpfiles-setup.service has run its
# `systemd-tmpfiles --create` (the unit refuses a manual start; the same command here).
box rm -rf /run/podfence
box systemd-tmpfiles --create || fail "systemd-tmpfiles --create"
[ "$(box stat -c %a:%U /run/podfence 2>&1)" = 700:root ] || fail "tmpfiles.d did not make /run/podfence 0700 root"
pass "engine stopped; tmpfiles.d makes /run/podfence (0700 root) at boot"

box_net
st=$(box_container web-2 pfpod web)
echo "$st" | box_hook prestart 2>"$TMP/hook.err" || { cat "$TMP/hook.err"; fail "fail_mode open: the hook must let the container start"; }
box test -f /run/podfence/pending/web-2.json || fail "no pending record for web-2: $(cat "$TMP/hook.err")"
[ "$(box_probe pfpod 5433)" = ok ] || fail "an unadopted pod is not fenced yet"
pass "container started with the engine down: pending record left, traffic unfenced"

box systemctl start podfenced.service || fail "systemctl start podfenced"
# Type=notify: start returns once the engine said READY=1, which is after adoption.
[ "$(box_probe pfpod 5433)" = refused ] || fail "pending pod not fenced when start returned: $(box_probe pfpod 5433)"
[ "$(box_probe pfpod 5432)" = ok ] || fail "5432 should be allowed"
! box test -e /run/podfence/pending/web-2.json || fail "pending record kept after adoption"
box journalctl --no-pager -u podfenced.service | grep -q 'Adopted pending record .*web-2' ||
	fail "journal lacks the adoption"
pass "systemctl start podfenced adopts the pending record: 5433 rejected, record gone"
