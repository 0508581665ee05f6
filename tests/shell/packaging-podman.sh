#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Podman with its default hooks dir: after `apt-get install ./podfence_*.deb`, a plain
# `podman run` (no --hooks-dir) has its connections judged by the installed engine. No systemd
# runs here, so the daemons start from the installed units' ExecStart lines. The install
# happens in a private mount namespace over overlays of /usr, /etc and dpkg's and apt's
# state, so this machine's own /usr and dpkg database never see the package: Podman run from
# inside that namespace reads the overlaid /usr/share/containers/oci/hooks.d.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pkg-lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
rt_need
need_cmd podman unshare apt-get
deb=$(pf_deb)
# Podman's own default hooks dirs must not already hold podfence (a real install): then this
# test would prove nothing and could disturb it.
for d in /usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d; do
	[ ! -e "$d/podfence.json" ] || skip "$d/podfence.json exists: podfence is installed on this machine"
done

setup_server
add_pod 1
mk_rootfs "$TMP/rootfs"
# Mount points for the engine's state and runtime directories, made (empty) only if missing
# and removed again; inside the namespace a directory of $TMP is mounted on each.
for d in /var/lib/podfence /run/podfence; do
	[ -e "$d" ] && continue
	mkdir "$d"
	on_exit "rmdir $d"
done

cat >"$TMP/inner.sh" <<'INNER'
set -e
T=$1 DEB=$2 NS=$3 TID=$4 ROOTFS=$5
fail() { echo "FAIL: $*" >&2; for l in "$T"/podfenced.log "$T"/sync.log; do [ -f "$l" ] && tail -20 "$l" >&2; done; exit 1; }
pids=() ctrs=()
cleanup() {
	for c in "${ctrs[@]}"; do podman rm --force --time 0 "$c" >/dev/null 2>&1; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
mount --make-rprivate /
n=0
for d in /usr /etc /var/lib/dpkg /var/lib/apt /var/lib/systemd /var/cache/apt /var/cache/debconf /var/log; do
	[ -d "$d" ] || continue
	n=$((n + 1))
	mkdir -p "$T/ov/$n/u" "$T/ov/$n/w"
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$T/ov/$n/u,workdir=$T/ov/$n/w" "$d"
done
mkdir -p "$T/var-lib-podfence"
mount --bind "$T/var-lib-podfence" /var/lib/podfence
mount -t tmpfs -o mode=0755 tmpfs /run/podfence

# podman_run NAME COMMAND...: no --hooks-dir: Podman reads its default hooks dirs. The
# runtime and rlimit flags are this machine's (tests/shell/runtime-podman.sh).
podman_run() {
	local name=$1; shift
	ctrs+=("$name")
	podman --runtime runc run --rm --name "$name" --ulimit nofile=1024:4096 --ulimit nproc=4096:4096 \
		--network "ns:/run/netns/$NS" --annotation podfence.io/namespace=shop \
		--annotation podfence.io/name=web --rootfs "$ROOTFS" "$@"
}
probe() { podman_run "pfpk-$TID-$1" nc -w 3 10.99.0.1 "$2" </dev/null >"$T/probe.out" 2>&1 && echo ok || echo refused; }

# Before the package: nothing judges the container.
[ "$(probe a 5433)" = ok ] || fail "before install 5433: $(cat "$T/probe.out")"
echo "ok - before the package a plain podman run reaches 5433"

DEBIAN_FRONTEND=noninteractive apt-get install -y "$DEB" >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; fail "apt-get install $DEB"; }
for f in podfence.json podfence-poststop.json; do
	[ -f /usr/share/containers/oci/hooks.d/$f ] || fail "postinst did not place hooks.d/$f"
done
hook=$(sed -n 's/.*"path": *"\([^"]*\)".*/\1/p' /usr/share/containers/oci/hooks.d/podfence.json)
[ -x "$hook" ] || fail "the installed hooks.d file names $hook, which is not there"
echo "ok - apt-get install ./$(basename "$DEB"): hooks.d entries in Podman's default dir name $hook"

# The daemons as their units would start them.
exec_start() { sed -n 's/^ExecStart=//p' "/lib/systemd/system/$1.service"; }
unit_env() { sed -n 's/^Environment="\(.*\)"$/\1/p' "/lib/systemd/system/$1.service"; }
cmd=$(exec_start podfenced)
$cmd >"$T/podfenced.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S /run/podfence/podfenced.sock ] && break; sleep 0.1; done
[ -S /run/podfence/podfenced.sock ] || fail "podfenced from \"$cmd\" did not make its socket"
cat >/etc/podfence/policies/web.yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: web-egress
  namespace: shop
spec:
  appliesTo:
  - kind: Pod
    name: web
  egress:
  - action: Reject
    ports:
    - port: 5433
  - action: Allow
YAML
(
	export "$(unit_env podfence-sync)"
	[ ! -f /etc/default/podfence-sync ] || . /etc/default/podfence-sync
	cmd=$(exec_start podfence-sync)
	eval "exec $cmd" >"$T/sync.log" 2>&1
) &
pids+=($!)
for _ in $(seq 100); do grep -q 'watching /etc/podfence/policies' "$T/sync.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'watching /etc/podfence/policies' "$T/sync.log" || fail "podfence-sync from its unit's ExecStart"
echo "ok - podfenced and podfence-sync started from the installed units' ExecStart"

[ "$(probe b 5433)" = refused ] || fail "with the package, plain podman run reached 5433: $(cat "$T/probe.out")"
grep -qi 'refused' "$T/probe.out" || fail "5433: $(cat "$T/probe.out")"
[ "$(probe c 5432)" = ok ] || fail "with the package 5432: $(cat "$T/probe.out")"
grep -q 'Enforcing pod shop/web' "$T/podfenced.log" || fail "the engine's log lacks the pod"
echo "ok - plain podman run: the installed engine rejects 5433 and allows 5432"
INNER
unshare --mount --propagation private bash "$TMP/inner.sh" "$TMP" "$deb" "$POD" "$TID" "$TMP/rootfs" ||
	fail "inside the install namespace"
for d in /usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d; do
	[ ! -e "$d/podfence.json" ] || fail "$d/podfence.json leaked out of the install namespace"
done
dpkg-query -W podfence >/dev/null 2>&1 && fail "podfence is in this machine's dpkg database"
pass "the host's /usr and dpkg database are untouched"
