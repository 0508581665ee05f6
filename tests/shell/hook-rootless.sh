#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-hook run by a rootless runtime: as an unprivileged user, and as "root" of a user
# namespace that maps to one (how rootless Podman runs hooks). The engine's socket answers
# only the real root, so the hook must let the container start in both fail modes and say,
# each time, that it is not enforced, without asking the engine (which has no such pod).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
need_cmd setpriv unshare
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
H=$PODFENCE_HOOK
NOBODY=$(id -u nobody 2>/dev/null) || skip "no user nobody"
NOGROUP=$(id -g nobody)
as_nobody() { setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups "$@"; }
as_nobody "$H" --version >/dev/null 2>&1 || skip "the built hook cannot be run by nobody (path not readable)"

setup_server
add_pod 1
# The socket's directory is reachable by others, as /run/podfence is: only the socket's own
# mode and the engine's peer check keep them out.
chmod 0755 "$TMP"
start_engine
ip netns exec "$POD" sleep 600 & SPID=$!; on_exit "kill $SPID"
wait_until 50 in_netns $SPID "$POD" || fail "sleeper did not enter $POD"
mkdir -p "$TMP/b"
printf '{"linux":{"namespaces":[{"type":"network","path":"/run/netns/%s"}]}}' "$POD" >"$TMP/b/config.json"
chmod -R a+rX "$TMP/b"
state() {
	printf '{"ociVersion":"1.0.2","id":"%s","status":"%s","pid":%d,"bundle":"%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"rl"}}' \
		"$1" "$2" $SPID "$TMP/b"
}
run() { # ID STAGE WRAPPER... -> rc, $TMP/err
	local id=$1 stage=$2
	shift 2
	rc=0
	state "$id" creating | "$@" "$H" --socket "$SOCK" --state-dir "$STATE" --timeout 2000 \
		$MODE "$stage" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ ! -s "$TMP/out" ] || fail "stdout not empty: $(cat "$TMP/out")"
}

# Whether the kernel lets nobody create a user namespace (rootless Podman needs it too).
USERNS=1
as_nobody unshare -r true 2>/dev/null || USERNS=0

for MODE in "--fail-mode open" "--fail-mode closed"; do
	run "rl1-$TID" prestart as_nobody
	[ $rc = 0 ] || fail "non-root hook, $MODE: exit $rc (the runtime refuses the container): $(cat "$TMP/err")"
	grep -q "rootless container rl1-$TID (uid $NOBODY) not enforced" "$TMP/err" ||
		fail "non-root hook, $MODE: no clear log line: $(cat "$TMP/err")"
	pass "non-root hook, $MODE: exit 0, logged as not enforced"
	if [ $USERNS = 1 ]; then
		run "rl2-$TID" prestart as_nobody unshare -r
		[ $rc = 0 ] || fail "userns root hook, $MODE: exit $rc: $(cat "$TMP/err")"
		grep -q "rootless container rl2-$TID (uid $NOBODY) not enforced" "$TMP/err" ||
			fail "userns root hook, $MODE: no clear log line: $(cat "$TMP/err")"
		pass "root of a user namespace mapped to nobody, $MODE: exit 0, logged as not enforced"
	fi
	run "rl1-$TID" poststop as_nobody
	[ $rc = 0 ] || fail "non-root poststop: exit $rc"
done
[ $USERNS = 1 ] || echo "# unprivileged user namespaces unavailable: userns case not run"

# The log is honest: the engine was not asked and holds no such pod; nothing was left for it.
! grep -q "Refused control connection" "$ENGINE_LOG" || fail "the rootless hook still knocked on the engine"
[ "$(status_field 's["n_pods"]')" = 0 ] || fail "a rootless container was registered"
[ ! -e "$STATE/pending/rl1-$TID.json" ] || fail "a pending record was left"
pass "the engine was not asked, holds no pod, no record left"

# Root's own runtime is unaffected: the same state as root registers and is enforced.
MODE="--fail-mode closed"
run "root-$TID" prestart env
[ $rc = 0 ] || fail "root hook: exit $rc: $(cat "$TMP/err")"
has_table "$POD" || fail "root hook: not enforced"
pass "root's hook still registers and enforces"
engine_finish
