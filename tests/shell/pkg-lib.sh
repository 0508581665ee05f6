# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the packaging-*.sh and systemd-*.sh tests after lib.sh: the packages built from
# the dist tree, and a Debian 12 root with systemd (debootstrap, cached) booted by
# systemd-nspawn on an overlay so every run starts clean.

# Everything the installed package needs at run time, plus what the tests use inside the box
# (iproute2 for netns and veth, busybox for httpd; nftables and sqlite3 to look inside when
# a test fails, sqlite3 being the package's Recommends too). The cache's name carries a hash
# of this list, so changing it builds a new root instead of reusing a stale one.
PF_ROOT_PKGS="systemd,systemd-sysv,iproute2,busybox,nftables,sqlite3,libnetfilter-queue1,libnetfilter-conntrack3,libnftnl11,libmnl0,libyajl2,libsqlite3-0,libyaml-0-2,libcurl4"
PF_ROOT_CACHE=${PF_ROOT_CACHE:-/var/cache/podfence-test}
PF_ROOT_MIRROR=${PF_ROOT_MIRROR:-http://deb.debian.org/debian}

# pf_root_pristine: print the cached root's path, building it first if it is not there.
# Built under a temporary name and renamed, under a lock, so a half-built root is never used.
pf_root_pristine() {
	local key root
	key=$(printf '%s\n' "bookworm minbase $PF_ROOT_PKGS" | sha256sum | cut -c1-12)
	root=$PF_ROOT_CACHE/bookworm-systemd-$key
	mkdir -p "$PF_ROOT_CACHE"
	(
		flock 9
		[ -d "$root" ] && exit 0
		rm -rf "$root.new"
		echo "# building $root with debootstrap (once; later runs reuse it)" >&2
		debootstrap --variant=minbase --include="$PF_ROOT_PKGS" bookworm "$root.new" \
			"$PF_ROOT_MIRROR" >"$PF_ROOT_CACHE/debootstrap-$key.log" 2>&1 ||
			{ tail -20 "$PF_ROOT_CACHE/debootstrap-$key.log" >&2; rm -rf "$root.new"; exit 1; }
		# No getty on a console nobody reads; a hostname for the journal.
		ln -sf /dev/null "$root.new/etc/systemd/system/console-getty.service"
		echo "podfence-test" >"$root.new/etc/hostname"
		rm -f "$root.new/var/cache/apt/archives/"*.deb
		mv "$root.new" "$root"
	) 9>"$PF_ROOT_CACHE/.lock" || return 1
	echo "$root"
}

PF_VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
# packaging-build.sh leaves the packages here for the systemd-*.sh tests (which run after it:
# packaging/Makemodule.am orders their logs).
PF_PKG_OUT=$top_builddir/tests/packages

# Run a packaging tool without what `make check` exports (its jobserver, the test variables).
pf_clean_env() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u top_srcdir -u top_builddir \
		-u PYTHON3 "$@"
}

# pf_distdir DIR: the tree `make dist` would pack, in DIR/podfence-VERSION (nothing built in it).
pf_distdir() {
	rm -rf "$1/podfence-$PF_VERSION"
	mkdir -p "$1"
	pf_clean_env make -s -C "$top_builddir" distdir distdir="$1/podfence-$PF_VERSION" >/dev/null
}

# pf_deb: the podfence .deb packaging-build.sh made.
pf_deb() {
	local d
	d=$(ls "$PF_PKG_OUT"/podfence_"$PF_VERSION"_*.deb 2>/dev/null | head -1)
	[ -n "$d" ] || fail "no podfence .deb in $PF_PKG_OUT: run tests/shell/packaging-build.sh first"
	echo "$d"
}

# --- the booted box ---------------------------------------------------------------------
BOX_ROOT=
BOX_PID=
BOX_NSPAWN=
BOX_LOG=
BOX_CGROUPS=

# box CMD...: run CMD inside the booted box (all its namespaces, as its root).
box() { nsenter -t "$BOX_PID" -a "$@"; }
box_sh() { nsenter -t "$BOX_PID" -a /bin/sh -c "$1"; }

_box_find_init() {
	# nspawn forks once or twice before exec'ing the box's init; find it by name among the
	# nspawn process's descendants.
	local p c
	for p in $(ps -o pid= --ppid "$BOX_NSPAWN") ; do
		for c in $p $(ps -o pid= --ppid "$p"); do
			[ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && { echo "$c"; return 0; }
		done
	done
	return 1
}

_box_stop() {
	[ -n "$BOX_NSPAWN" ] || return 0
	# SIGTERM asks nspawn to shut the box down cleanly; SIGKILL if it does not within 10 s.
	kill "$BOX_NSPAWN" 2>/dev/null
	local n=100
	while [ $n -gt 0 ] && kill -0 "$BOX_NSPAWN" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
	kill -9 "$BOX_NSPAWN" 2>/dev/null
	wait "$BOX_NSPAWN" 2>/dev/null
	BOX_NSPAWN=
}

# The box's cgroups: one of its own in the named systemd hierarchy (cgroup v1) and the unified
# one, below this process's. nspawn --keep-unit hands the box the cgroup it was started in; two
# boxes started from one cgroup would share it, and each one's systemd would take the other's
# units (system.slice/podfenced.service) for its own.
_box_cgroups() {
	local line path
	while IFS= read -r line; do
		path=${line#*:*:}
		case $line in
		*:name=systemd:*) [ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd${path%/}/pf-box-$TID" ;;
		0::*)
			if [ -d /sys/fs/cgroup/unified ]; then echo "/sys/fs/cgroup/unified${path%/}/pf-box-$TID"
			elif [ -f /sys/fs/cgroup/cgroup.procs ]; then echo "/sys/fs/cgroup${path%/}/pf-box-$TID"
			fi ;;
		esac
	done </proc/self/cgroup
}
_box_cgroups_rm() {
	local c
	for c in $BOX_CGROUPS; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
}

# box_boot: a fresh copy of the cached root (an overlay: the pristine root stays untouched),
# booted with systemd-nspawn; returns once systemd reports "running". Removed at exit.
box_boot() {
	local pristine state
	pristine=$(pf_root_pristine) || fail "could not build the Debian 12 root (debootstrap)"
	mkdir -p "$TMP/ov/upper" "$TMP/ov/work" "$TMP/box"
	mount -t overlay overlay -o "lowerdir=$pristine,upperdir=$TMP/ov/upper,workdir=$TMP/ov/work" \
		"$TMP/box" || fail "overlay mount of $pristine"
	BOX_ROOT=$TMP/box
	on_exit "umount $BOX_ROOT"
	BOX_LOG=$TMP/nspawn.log
	BOX_CGROUPS=$(_box_cgroups)
	on_exit _box_cgroups_rm
	(
		for c in $BOX_CGROUPS; do
			mkdir -p "$c" && echo $BASHPID >"$c/cgroup.procs" || exit 1
		done
		exec systemd-nspawn -D "$BOX_ROOT" --register=no --keep-unit -b --capability=all \
			--private-network --console=pipe -M "pf-$TID" </dev/null
	) >"$BOX_LOG" 2>&1 &
	BOX_NSPAWN=$!
	on_exit _box_stop
	wait_until 300 _box_find_init || { cat "$BOX_LOG" >&2; fail "the box's systemd did not start"; }
	BOX_PID=$(_box_find_init)
	# Retried: the first attempts may come before the box's systemd listens; --wait then
	# holds until boot is over. A degraded boot is reported below.
	wait_until 300 box systemctl is-system-running --wait || true
	state=$(box systemctl is-system-running 2>&1 || true)
	if [ "$state" != running ]; then
		box systemctl --failed --no-pager >&2 || true
		tail -30 "$BOX_LOG" >&2
		fail "the box's systemd is $state, not running"
	fi
}

# fail, with what the box's journal says about podfence.
fail() {
	echo "FAIL: $*" >&2
	if [ -n "$BOX_PID" ] && [ -n "$BOX_NSPAWN" ]; then
		echo "--- box journal (podfence units, tail)" >&2
		box journalctl --no-pager -n 40 -u podfenced -u podfence-sync >&2 2>&1 || true
	fi
	exit 1
}

# box_install: the .deb copied into the box and installed with dpkg -i, as a user would.
box_install() {
	local deb
	deb=$(pf_deb)
	cp "$deb" "$BOX_ROOT/root/"
	box dpkg -i "/root/$(basename "$deb")" >"$TMP/dpkg-i.log" 2>&1 || { cat "$TMP/dpkg-i.log" >&2; fail "dpkg -i"; }
}

# box_net: inside the box, a server netns (10.9.0.1, busybox httpd on 5432 and 5433) and a
# pod netns pfpod (10.9.0.2) joined by a veth pair. Gone with the box.
box_net() {
	box_sh 'set -e
		ip netns add pfsrv; ip netns add pfpod
		ip -n pfsrv link set lo up; ip -n pfpod link set lo up
		ip link add pfa netns pfpod type veth peer name pfb netns pfsrv
		ip -n pfpod addr add 10.9.0.2/24 dev pfa; ip -n pfsrv addr add 10.9.0.1/24 dev pfb
		ip -n pfpod link set pfa up; ip -n pfsrv link set pfb up
		mkdir -p /srv/www; echo hello >/srv/www/index.html
		for p in 5432 5433; do ip netns exec pfsrv busybox httpd -p $p -h /srv/www; done' ||
		fail "network namespaces inside the box"
}

# box_probe NETNS PORT: connect from NETNS to 10.9.0.1:PORT; prints ok, refused or timeout.
box_probe() {
	local rc=0
	box timeout 3 ip netns exec "$1" bash -c "exec 3<>/dev/tcp/10.9.0.1/$2" 2>/dev/null || rc=$?
	case $rc in
	0) echo ok ;;
	124) echo timeout ;;
	*) echo refused ;;
	esac
}
probe_is() { [ "$(box_probe "$1" "$2")" = "$3" ]; }

# box_container ID NETNS NAME: a process in NETNS standing in for a container of pod shop/NAME;
# prints the OCI state a runtime gives the hook for it (state "creating").
box_container() {
	local pid
	mkdir -p "$BOX_ROOT/root/bundle-$1"
	printf '{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/%s"}]}}\n' \
		"$2" >"$BOX_ROOT/root/bundle-$1/config.json"
	pid=$(box_sh "ip netns exec $2 sleep 100000 >/dev/null 2>&1 </dev/null & echo \$!")
	printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","pid":%s,"bundle":"/root/bundle-%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"%s"}}' \
		"$1" "$pid" "$1" "$3"
}

# box_hook STAGE < STATE: run the hook the way the runtime would: the path and arguments
# from the installed hooks.d file (the prestart one), the stage swapped in.
box_hook() {
	local f=$BOX_ROOT/usr/share/containers/oci/hooks.d/podfence.json
	[ -f "$f" ] || fail "no installed hooks.d file $f"
	local -a cmd
	mapfile -t cmd < <("${PYTHON3:-python3}" -c '
import json, sys
h = json.load(open(sys.argv[1]))["hook"]
print(h["path"])
for a in h["args"][1:-1]: print(a)' "$f")
	box "${cmd[@]}" "$1"
}

# box_exposure UNIT: the overall exposure score `systemd-analyze security` gives UNIT.
box_exposure() {
	box systemd-analyze security --no-pager "$1" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

POLICY='apiVersion: podfence.io/v1alpha1
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
  - action: Allow'
