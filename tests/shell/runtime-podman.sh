#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Podman with --hooks-dir holding the hooks.d files make generated (pointed at the built
# hook): the same guarantees as runtime-runc.sh through Podman's own hook handling, with
# containers named by podfence.io annotations; Podman-created netns are registered too, and
# host-network containers are never enforced.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
rt_need
need_cmd podman ip
ip netns add "pfprobe-$TID" 2>/dev/null || skip "cannot create network namespaces"
ip netns del "pfprobe-$TID"
for f in podfence podfence-poststop; do
	[ -f "$top_builddir/packaging/hooks.d/$f.json" ] || fail "packaging/hooks.d/$f.json not generated"
done

setup_server
add_pod 1; NS1=$POD
mk_rootfs "$TMP/rootfs"
mkdir -p "$(dirname "$SOCK")"

# hooks dirs: the generated files, with the built hook and this test's paths.
mk_hooks() { # DIR FAIL_MODE
	mkdir -p "$1"
	for f in podfence podfence-poststop; do
		"$PY" - "$top_builddir/packaging/hooks.d/$f.json" "$1/$f.json" "$PODFENCE_HOOK" \
			"$SOCK" "$STATE" "$2" <<'PY'
import json, sys
src, dst, hook, sock, state, mode = sys.argv[1:]
h = json.load(open(src))
stage = h["hook"]["args"][-1]
h["hook"]["path"] = hook
h["hook"]["args"] = ["podfence-hook", "--socket", sock, "--state-dir", state,
                     "--fail-mode", mode, "--timeout", "3000", stage]
json.dump(h, open(dst, "w"))
PY
	done
}
mk_hooks "$TMP/hooks-open" open
mk_hooks "$TMP/hooks-closed" closed

# podman_run HOOKS_DIR NAME OPTIONS... -- COMMAND...: with this machine's rlimit flags (see
# DEVELOPERS.md). Options must precede the rootfs: podman stops parsing options there.
podman_run() {
	local hooks=$1 name=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	on_exit "podman rm --force --time 0 $name"
	podman --runtime runc --hooks-dir "$hooks" run --name "$name" \
		--ulimit nofile=1024:4096 --ulimit nproc=4096:4096 "${opts[@]}" --rootfs "$TMP/rootfs" "$@"
}
ANN=(--annotation podfence.io/namespace=shop --annotation podfence.io/name=web)

# --- engine down -----------------------------------------------------------------------------
rc=0
podman_run "$TMP/hooks-closed" "pfpm-$TID-closed" --network "ns:/run/netns/$NS1" "${ANN[@]}" \
	-- /bin/sh -c 'echo started' >"$TMP/c.out" 2>"$TMP/c.err" || rc=$?
[ $rc != 0 ] || fail "fail-closed: podman started the container with the engine down"
grep -q "engine is unreachable" "$TMP/c.err" || fail "fail-closed: reason missing: $(cat "$TMP/c.err")"
! grep -q started "$TMP/c.out" || fail "fail-closed: the container's process ran"
pass "fail-closed, engine down: podman refuses the container, saying why"

podman_run "$TMP/hooks-closed" "pfpm-$TID-host" --network host -- /bin/true >"$TMP/h.out" 2>&1 ||
	fail "host-network container refused: $(cat "$TMP/h.out")"
pass "host-network container starts even fail-closed with the engine down (never enforced)"

OPEN=pfpm-$TID-open
podman_run "$TMP/hooks-open" "$OPEN" -d --network "ns:/run/netns/$NS1" "${ANN[@]}" -- /bin/sleep 600 >/dev/null
OPEN_ID=$(podman inspect --format '{{.Id}}' "$OPEN")
[ -f "$STATE/pending/$OPEN_ID.json" ] || fail "fail-open: no pending record for $OPEN_ID"
podman exec "$OPEN" nc -w 3 10.99.0.1 443 </dev/null >"$TMP/o.out" 2>&1 ||
	fail "fail-open: unenforced container could not connect: $(cat "$TMP/o.out")"
pass "fail-open, engine down: container starts unenforced, record left"

# --- what Podman hands the hook, seen by a stand-in engine -----------------------------------
# Podman runs poststop itself after the container is deleted (no pid, maybe no bundle).
MOCKSOCK=$TMP/mock.sock
bg_start "$PY" "$top_srcdir/tests/shell/mock-engine.py" "$MOCKSOCK" "$TMP/mock.log" ok
wait_until 50 test -e "$MOCKSOCK.ready" || fail "mock engine did not start"
SOCK_SAVED=$SOCK; SOCK=$MOCKSOCK
mk_hooks "$TMP/hooks-mock" closed
SOCK=$SOCK_SAVED
REC=pfpm-$TID-rec
podman_run "$TMP/hooks-mock" "$REC" --rm --network "ns:/run/netns/$NS1" "${ANN[@]}" -- /bin/true \
	>"$TMP/r.out" 2>&1 || fail "podman with a confirming engine: $(cat "$TMP/r.out")"
wait_until 100 sh -c "grep -q unregister '$TMP/mock.log'" || fail "Podman never ran the poststop hook: $(cat "$TMP/mock.log")"
"$PY" - "$TMP/mock.log" "$NS1" <<'PY' || fail "requests from Podman's hooks: $(cat "$TMP/mock.log")"
import json, os, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["op"] for r in reqs] == ["register", "unregister"], reqs
r, u = reqs
assert (r["namespace"], r["name"], r["kind"]) == ("shop", "web", "Pod"), r
assert r["netns_ino"] == os.stat("/run/netns/" + sys.argv[2]).st_ino, r
assert u["container"] == r["container"] and len(r["container"]) == 64, (r, u)
PY
pass "podman: prestart registers, poststop (after deletion) unregisters the same container"

# --- engine up -------------------------------------------------------------------------------
mkdir -p "$TMP/policies"
cat "$top_srcdir/tests/data/shell/web-egress.yaml" >"$TMP/policies/web.yaml"
sync_policies "$TMP/policies"
start_engine
wait_until 50 engine_has_pod shop web || fail "the engine did not adopt $OPEN's pending record"
out=$(podman exec "$OPEN" nc -w 3 10.99.0.1 443 </dev/null 2>&1) && fail "adopted container still reaches :443"
echo "$out" | grep -q refused || fail "adopted container: expected a refusal, got: $out"
pass "engine start adopts the fail-open Podman container"
podman rm --force --time 0 "$OPEN" >/dev/null
wait_until 100 engine_lacks_pod shop web || fail "podman rm did not unregister $OPEN"
pass "podman rm: the pod is released"

# The first command connects at once.
podman_run "$TMP/hooks-closed" "pfpm-$TID-first" --rm --network "ns:/run/netns/$NS1" "${ANN[@]}" -- /bin/sh -c \
	'nc -w 3 10.99.0.1 443 </dev/null 2>&1; echo "first=$?"; nc -w 3 10.99.0.1 80 </dev/null; echo "second=$?"' \
	>"$TMP/f.out" 2>"$TMP/f.err" || fail "podman run with the engine up: $(cat "$TMP/f.err")"
grep -q "first=1" "$TMP/f.out" && grep -q refused "$TMP/f.out" ||
	fail "first command reached a Reject destination: $(cat "$TMP/f.out")"
grep -q "second=0" "$TMP/f.out" || fail "Allow destination not reached: $(cat "$TMP/f.out")"
pass "podman: first command refused (Reject), Allow connects"
wait_until 100 engine_lacks_pod shop web || fail "podman run --rm: still registered after exit"
expect "$NS1" 10.99.0.1 443 ok
pass "podman run --rm: unregistered after exit, netns unenforced again"

# A netns Podman creates itself (--network none: only lo) is registered and released too.
LONE=pfpm-$TID-lone
podman_run "$TMP/hooks-closed" "$LONE" -d --network none \
	--annotation podfence.io/namespace=shop --annotation podfence.io/name=lonely -- /bin/sleep 600 >/dev/null
wait_until 50 engine_has_pod shop lonely || fail "Podman-created netns not registered"
podman rm --force --time 0 "$LONE" >/dev/null
wait_until 100 engine_lacks_pod shop lonely || fail "Podman-created netns not released"
pass "Podman-created netns: registered on start, released on rm"

# Engine restart re-adopts a running Podman container.
LIVE=pfpm-$TID-live
podman_run "$TMP/hooks-closed" "$LIVE" -d --network "ns:/run/netns/$NS1" "${ANN[@]}" -- /bin/sleep 600 >/dev/null
engine_has_pod shop web || fail "running container not registered"
stop_engine
start_engine
wait_until 50 engine_has_pod shop web || fail "engine restart did not re-adopt $LIVE"
out=$(podman exec "$LIVE" nc -w 3 10.99.0.1 443 </dev/null 2>&1) && fail "after restart :443 reachable"
echo "$out" | grep -q refused || fail "after restart: expected refusal, got $out"
pass "engine restart re-adopts the running Podman container"
podman rm --force --time 0 "$LIVE" >/dev/null
wait_until 100 engine_lacks_pod shop web || fail "podman rm did not unregister $LIVE"
pass "podman rm unregisters"
