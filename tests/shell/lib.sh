# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by shell integration tests: paths, skip/fail helpers, and cleanup that removes
# exactly what the test created (by name or pid, never by pattern).
set -e
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
PODFENCED=${PODFENCED:-"$top_builddir/podfenced"}
PODFENCE_SYNC=${PODFENCE_SYNC:-"$top_builddir/podfence-sync"}
PODFENCECTL=${PODFENCECTL:-"$top_builddir/podfencectl"}
PODFENCE_HOOK=${PODFENCE_HOOK:-"$top_builddir/podfence-hook"}
# Wrap the daemon, e.g. VALGRIND="valgrind --error-exitcode=1"
VALGRIND=${VALGRIND:-}

TEST_NAME=$(basename "$0" .sh)
# Short unique suffix for netns/veth names (IFNAMSIZ is 16).
TID=$(printf '%x' $(( ($$ + RANDOM) % 65536 )))
TMP=$(mktemp -d "/tmp/pf-$TEST_NAME.XXXXXX")

_cleanups=()
# Register a command to run at exit (LIFO).
on_exit() { _cleanups=("$*" "${_cleanups[@]}"); }
_run_cleanups() {
	local rc=$?
	set +e
	for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1; done
	rm -rf "$TMP"
	exit $rc
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "needs $c"; done; }

# Create a netns by name, removed at exit.
mk_netns() {
	ip netns add "$1"
	on_exit "ip netns del $1"
	ip -n "$1" link set lo up
}

# Wait until a command succeeds, up to $1 tenths of a second.
wait_until() {
	local n=$1; shift
	while [ "$n" -gt 0 ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# Start a background process; its pid is in BG_PID; killed (by pid) at exit.
bg_start() {
	"$@" &
	BG_PID=$!
	on_exit "kill $BG_PID; wait $BG_PID"
}

# True once process $1 runs in the named netns $2 (`ip netns exec X cmd &` returns before the
# child has switched namespaces: wait for this before using /proc/PID/ns/net).
in_netns() {
	[ "$(stat -L -c %d:%i "/proc/$1/ns/net" 2>/dev/null)" = "$(stat -L -c %d:%i "/run/netns/$2")" ]
}

# run_fuzz NAME SEED...: run tests/fuzz/fuzz-NAME over its seeds (files, or directories read one
# level deep) plus deterministic mutations (tests/fuzz/driver.c). Seeds the tests already keep
# in tests/data are read from there, not copied into tests/fuzz/corpus. PF_FUZZ_ITERATIONS
# overrides the target's default count (FUZZ_ITERATIONS, 20000 unless the script sets it).
run_fuzz() {
	local name=$1; shift
	local fuzz=${FUZZ:-"$top_builddir/tests/fuzz/fuzz-$name"}
	[ -x "$fuzz" ] || fail "$fuzz not built"
	PF_FUZZ_ITERATIONS=${PF_FUZZ_ITERATIONS:-${FUZZ_ITERATIONS:-20000}} $VALGRIND "$fuzz" "$@"
	pass "fuzz-$name: corpus and mutations ran clean"
}
