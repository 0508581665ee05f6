#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real runc containers (busybox-static bundles) whose config.json carries podfence-hook:
# fail-closed refuses to start with the engine down; fail-open starts and leaves a record the
# engine adopts when it comes up; with the engine, a container whose very first command
# connects to a refused destination is refused (no unprotected start), allowed ones connect,
# stop unregisters, and an engine restart re-adopts running containers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
rt_need
need_cmd ip
ip netns add "pfprobe-$TID" 2>/dev/null || skip "cannot create network namespaces"
ip netns del "pfprobe-$TID"

setup_server                 # 10.99.0.1 etc. in netns pfs-TID, listening on SERVER_PORTS
add_pod 1; NS1=$POD          # netns pfp1-TID, 10.1.1.2, routed to the server
mk_rootfs "$TMP/rootfs"
ANN='{"podfence.io/namespace":"shop","podfence.io/name":"web"}'
hookargs() { printf '["--socket","%s","--state-dir","%s","--fail-mode","%s","--timeout","3000"]' "$SOCK" "$STATE" "$1"; }
mkdir -p "$(dirname "$SOCK")"

# Unenforced, the pod netns reaches every port: what is refused later is podfence's doing.
expect "$NS1" 10.99.0.1 443 ok
expect "$NS1" 10.99.0.1 9000 ok

# --- engine down -------------------------------------------------------------------------
CID=pfrt-$TID-closed
mk_bundle "$TMP/b-closed" "$TMP/rootfs" "/run/netns/$NS1" "$ANN" "$(hookargs closed)" \
	/bin/sh -c 'echo started'
rt_run "$CID" "$TMP/b-closed"
[ "$RT_RC" != 0 ] || fail "fail-closed: runc started the container with the engine down"
grep -q "engine is unreachable" "$TMP/$CID.err" || fail "fail-closed: runc error lacks the reason: $(cat "$TMP/$CID.err")"
! grep -q started "$TMP/$CID.out" || fail "fail-closed: the container's process ran"
"$RUNC" --root "$RUNC_ROOT" delete --force "$CID" >/dev/null 2>&1 || true
pass "fail-closed, engine down: runc refuses the container, saying why"

OPEN=pfrt-$TID-open
mk_bundle "$TMP/b-open" "$TMP/rootfs" "/run/netns/$NS1" "$ANN" "$(hookargs open)" /bin/sleep 600
rt_start "$OPEN" "$TMP/b-open"
[ -f "$STATE/pending/$OPEN.json" ] || fail "fail-open: no pending record for $OPEN"
rt_exec "$OPEN" nc -w 3 10.99.0.1 443 </dev/null >"$TMP/o.out" 2>&1 || fail "fail-open: unenforced container could not connect: $(cat "$TMP/o.out")"
pass "fail-open, engine down: container starts unenforced, record left in $STATE/pending"

# --- what runc hands the hook, seen by a stand-in engine ------------------------------------
# (The real engine also notices exits by itself, so only a recorder proves poststop ran.)
MOCKSOCK=$TMP/mock.sock
bg_start "$PY" "$top_srcdir/tests/shell/mock-engine.py" "$MOCKSOCK" "$TMP/mock.log" ok
wait_until 50 test -e "$MOCKSOCK.ready" || fail "mock engine did not start"
REC=pfrt-$TID-rec
mk_bundle "$TMP/b-rec" "$TMP/rootfs" "/run/netns/$NS1" "$ANN" \
	"[\"--socket\",\"$MOCKSOCK\",\"--state-dir\",\"$STATE\",\"--fail-mode\",\"closed\"]" /bin/true
rt_run "$REC" "$TMP/b-rec"
[ "$RT_RC" = 0 ] || fail "runc with a confirming engine: exit $RT_RC: $(cat "$TMP/$REC.err")"
"$PY" - "$TMP/mock.log" "$REC" "$NS1" <<'PY' || fail "requests from runc's hooks: $(cat "$TMP/mock.log")"
import json, os, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
cid, ns = sys.argv[2], sys.argv[3]
assert [r["op"] for r in reqs] == ["register", "unregister"], reqs
r, u = reqs
assert r["container"] == cid and (r["namespace"], r["name"], r["kind"]) == ("shop", "web", "Pod"), r
assert r["netns_ino"] == os.stat("/run/netns/" + ns).st_ino, r
assert u == {"op": "unregister", "container": cid, "netns": "/run/netns/" + ns}, u
PY
pass "runc: prestart registers (identity, netns dev/ino), poststop unregisters"

# --- the engine comes up -----------------------------------------------------------------
mkdir -p "$TMP/policies"
cat "$top_srcdir/tests/data/shell/web-egress.yaml" >"$TMP/policies/web.yaml"
cat >>"$TMP/policies/web.yaml" <<'YAML'
  - action: Deny
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 9000}]
YAML
sync_policies "$TMP/policies"
start_engine
wait_until 50 engine_has_pod shop web || fail "the engine did not adopt the pending record of $OPEN"
[ ! -e "$STATE/pending/$OPEN.json" ] || fail "pending record not consumed"
out=$(rt_exec "$OPEN" nc -w 3 10.99.0.1 443 </dev/null 2>&1) && fail "adopted container still reaches :443"
echo "$out" | grep -q "refused" || fail "adopted container: expected a refusal, got: $out"
pass "engine start adopts the fail-open container: now refused on :443"
rt_stop "$OPEN"
wait_until 50 engine_lacks_pod shop web || fail "stopped fail-open container still registered"

# --- first command connects at once --------------------------------------------------------
FIRST=pfrt-$TID-first
mk_bundle "$TMP/b-first" "$TMP/rootfs" "/run/netns/$NS1" "$ANN" "$(hookargs closed)" /bin/sh -c \
	'nc -w 3 10.99.0.1 443 </dev/null 2>&1; echo "first=$?"; nc -w 3 10.99.0.1 80 </dev/null; echo "second=$?"; echo deny-begin; nc -w 1 10.99.0.1 9000 </dev/null 2>&1; echo "third=$?"'
rt_run "$FIRST" "$TMP/b-first"
[ "$RT_RC" = 0 ] || fail "container with the engine up: runc exit $RT_RC: $(cat "$TMP/$FIRST.err")"
grep -q "first=1" "$TMP/$FIRST.out" && grep -q "refused" "$TMP/$FIRST.out" ||
	fail "first command reached a Reject destination: $(cat "$TMP/$FIRST.out")"
grep -q "second=0" "$TMP/$FIRST.out" || fail "Allow destination not reached: $(cat "$TMP/$FIRST.out")"
grep -q "third=1" "$TMP/$FIRST.out" || fail "Deny destination reached: $(cat "$TMP/$FIRST.out")"
sed -n '/deny-begin/,/third=/p' "$TMP/$FIRST.out" | grep -q refused && fail "Deny answered with a refusal"
pass "first command refused at once (Reject), Allow connects, Deny times out"

# runc run deleted the container: poststop unregistered it, the rules are gone.
wait_until 50 engine_lacks_pod shop web || fail "stopped container still registered"
[ "$(pod_tables "$NS1")" = 0 ] || fail "podfence table left in $NS1 after stop"
expect "$NS1" 10.99.0.1 443 ok
pass "stop unregisters: table removed, netns unenforced again"

# --- engine restart re-adopts ------------------------------------------------------------------
LIVE=pfrt-$TID-live
mk_bundle "$TMP/b-live" "$TMP/rootfs" "/run/netns/$NS1" "$ANN" "$(hookargs closed)" /bin/sleep 600
rt_start "$LIVE" "$TMP/b-live"
engine_has_pod shop web || fail "running container not registered"
stop_engine
start_engine
wait_until 50 engine_has_pod shop web || fail "engine restart did not re-adopt $LIVE"
out=$(rt_exec "$LIVE" nc -w 3 10.99.0.1 443 </dev/null 2>&1) && fail "after restart :443 is reachable"
echo "$out" | grep -q refused || fail "after restart: expected refusal, got $out"
rt_exec "$LIVE" nc -w 3 10.99.0.1 80 </dev/null >/dev/null 2>&1 || fail "after restart :80 unreachable"
pass "engine restart re-adopts the running container"
rt_stop "$LIVE"
wait_until 50 engine_lacks_pod shop web || fail "deleted container still registered"
pass "runc delete unregisters"
