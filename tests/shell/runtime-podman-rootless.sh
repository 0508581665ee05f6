#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Rootless Podman with the same hooks.d files as root's (pointed at the built hook and a real
# engine): the container starts in fail_mode closed too, and the hook says it is not
# enforced. Runs as a test user created here (by name, with its own subordinate id range) and
# removed at exit; skipped when rootless Podman cannot run on this machine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
rt_need
engine_need
need_cmd podman useradd userdel usermod runuser newuidmap newgidmap
for f in podfence podfence-poststop; do
	[ -f "$top_builddir/packaging/hooks.d/$f.json" ] || fail "packaging/hooks.d/$f.json not generated"
done

U=pfrl-$TID
id "$U" >/dev/null 2>&1 && skip "user $U exists already"
useradd -M -d /nonexistent -s /usr/sbin/nologin "$U" || skip "cannot create a test user"
on_exit "userdel $U"
# A range of its own, so parallel runs do not share ids.
SUB=$(( 1000000 + 0x$TID * 10000 ))
usermod --add-subuids "$SUB-$((SUB + 9999))" --add-subgids "$SUB-$((SUB + 9999))" "$U" ||
	skip "cannot give $U subordinate ids"
UIDN=$(id -u "$U")

chmod 0755 "$TMP"
R=$TMP/rl
mkdir -p "$R/home" "$R/xdg" "$R/hooks"
mk_rootfs "$R/rootfs"
ln -sf /proc/mounts "$R/rootfs/etc/mtab"
touch "$R/rootfs/etc/hosts" "$R/rootfs/etc/resolv.conf" "$R/rootfs/etc/hostname"
chown -R "$U" "$R/home" "$R/xdg" "$R/rootfs"
chmod 0700 "$R/xdg"
# The pause process rootless Podman keeps for the user namespace: killed by its pid file.
on_exit "[ -f $R/xdg/libpod/tmp/pause.pid ] && kill \$(cat $R/xdg/libpod/tmp/pause.pid)"

start_engine
# The hooks.d files as make generates them, with the built hook (behind a wrapper that keeps
# its exit status and stderr, which Podman does not show) and this test's paths.
cat >"$R/hook.sh" <<SH
#!/bin/sh
"$PODFENCE_HOOK" "\$@" 2>>"$R/home/hook.err"
rc=\$?
echo "exit \$rc: \$*" >>"$R/home/hook.err"
exit \$rc
SH
chmod 0755 "$R/hook.sh"
for f in podfence podfence-poststop; do
	"$PY" - "$top_builddir/packaging/hooks.d/$f.json" "$R/hooks/$f.json" "$R/hook.sh" "$SOCK" "$STATE" <<'PY'
import json, sys
src, dst, hook, sock, state = sys.argv[1:]
h = json.load(open(src))
a = h["hook"]["args"]
h["hook"]["path"] = hook
h["hook"]["args"] = a[:1] + ["--socket", sock, "--state-dir", state, "--fail-mode", "closed"] + a[1:]
json.dump(h, open(dst, "w"))
PY
done
chmod -R a+rX "$R/hooks"

upodman() {
	( cd "$R" && runuser -u "$U" -- env HOME="$R/home" XDG_RUNTIME_DIR="$R/xdg" \
		XDG_CONFIG_HOME="$R/home/.config" podman --root "$R/home/storage" \
		--runroot "$R/home/run" --runtime runc --cgroup-manager cgroupfs \
		--events-backend file "$@" )
}
# Preflight without hooks: can this user run a container at all here?
upodman run --rm --network none --rootfs "$R/rootfs" /bin/true >"$TMP/pre.out" 2>&1 ||
	skip "rootless Podman cannot run here: $(tail -1 "$TMP/pre.out")"

rc=0
upodman --hooks-dir "$R/hooks" run --rm --network none --annotation podfence.io/namespace=shop \
	--annotation podfence.io/name=rootless --rootfs "$R/rootfs" /bin/sh -c 'echo started' \
	>"$TMP/c.out" 2>"$TMP/c.err" || rc=$?
[ -f "$R/home/hook.err" ] || fail "the hook did not run (hooks dir not used?)"
[ $rc = 0 ] && grep -q started "$TMP/c.out" ||
	fail "rootless container refused (exit $rc): $(cat "$TMP/c.err") / hook: $(cat "$R/home/hook.err")"
grep -q "exit 0: .*prestart" "$R/home/hook.err" || fail "prestart hook: $(cat "$R/home/hook.err")"
grep -q "rootless container [0-9a-f]* (uid $UIDN) not enforced" "$R/home/hook.err" ||
	fail "no clear log line: $(cat "$R/home/hook.err")"
pass "rootless Podman, fail_mode closed: the container starts; the hook logs it as not enforced (uid $UIDN)"
[ "$(status_field 's["n_pods"]')" = 0 ] || fail "the engine registered a rootless container"
pass "the engine holds no pod for it"
engine_finish
