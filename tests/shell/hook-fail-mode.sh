#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-hook against an unreachable engine (no socket, refused, no answer in time) in both
# fail modes, and against a stand-in speaking the control protocol (tests/shell/mock-engine.py)
# to check what it sends and that it exits 0 only on the engine's confirmation.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip python3
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
H=$PODFENCE_HOOK
: "${PYTHON3:=python3}"
MOCK="$PYTHON3 $top_srcdir/tests/shell/mock-engine.py"

NS=pf-fm-$TID
mk_netns "$NS"
ip netns exec "$NS" sleep 300 &
SPID=$!
wait_until 50 in_netns $SPID "$NS" || fail "sleep did not enter $NS"
on_exit "kill $SPID"
mkdir -p "$TMP/bundle"
cat >"$TMP/bundle/config.json" <<JSON
{"ociVersion":"1.0.2","root":{"path":"rootfs"},"annotations":{"podfence.io/namespace":"shop","podfence.io/name":"web"},
 "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/$NS"},{"type":"mount"}]}}
JSON
CID=fm-$TID
printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","pid":%d,"bundle":"%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"web"}}' \
	"$CID" $SPID "$TMP/bundle" >"$TMP/state.json"
printf '{"ociVersion":"1.0.2","id":"%s","status":"stopped","bundle":"%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"web"}}' \
	"$CID" "$TMP/bundle" >"$TMP/stopped.json"
INO=$(stat -L -c %i "/run/netns/$NS")
PENDING=$TMP/state/pending/$CID.json

hook() { # hook ARGS... < state -> rc, $TMP/out, $TMP/err
	rc=0
	"$H" --state-dir "$TMP/state" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ ! -s "$TMP/out" ] || fail "stdout not empty: $(cat "$TMP/out")"
}

# 1. No socket, fail-open (the default): exit 0, a record for the engine, a warning.
hook --socket "$TMP/none.sock" prestart <"$TMP/state.json"
[ $rc = 0 ] || fail "fail-open without engine: exit $rc: $(cat "$TMP/err")"
grep -q "unreachable" "$TMP/err" || fail "fail-open: no warning: $(cat "$TMP/err")"
[ -f "$PENDING" ] || fail "fail-open: no record at $PENDING"
[ "$(stat -c %a "$PENDING")" = 600 ] || fail "record mode $(stat -c %a "$PENDING")"
"$PYTHON3" - "$PENDING" "$SPID" "$INO" "$CID" <<'PY' || fail "record content: $(cat "$PENDING")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["op"] == "register", r
assert r["netns"] == "/proc/%s/ns/net" % sys.argv[2], r
assert r["pid"] == int(sys.argv[2]), r
assert r["netns_ino"] == int(sys.argv[3]), r
assert r["container"] == sys.argv[4], r
assert (r["namespace"], r["name"], r["kind"]) == ("shop", "web", "Pod"), r
PY
ls "$TMP/state/pending" | grep -v "\.json$" && fail "temporary files left in pending/"
pass "fail-open, no socket: exit 0 and a register record with the netns dev/ino"

# poststop removes the record (the container is gone; nothing to adopt) and exits 0.
hook --socket "$TMP/none.sock" poststop <"$TMP/stopped.json"
[ $rc = 0 ] || fail "poststop without engine: exit $rc"
[ ! -e "$PENDING" ] || fail "poststop left the pending record"
pass "poststop without engine: exit 0, record removed"

# 2. No socket, fail-closed: non-zero and a message that says why; no record.
hook --socket "$TMP/none.sock" --fail-mode closed prestart <"$TMP/state.json"
[ $rc != 0 ] || fail "fail-closed without engine: exit 0"
grep -q "engine is unreachable" "$TMP/err" && grep -q "fail_mode is closed" "$TMP/err" ||
	fail "fail-closed message: $(cat "$TMP/err")"
[ ! -e "$PENDING" ] || fail "fail-closed left a record"
pass "fail-closed, no socket: exit $rc with the reason"

# The config file's keys do the same (one file shared with the engine).
printf 'socket = %s\nfail_mode = closed\ntimeout = 300\n' "$TMP/none.sock" >"$TMP/pf.conf"
hook --config "$TMP/pf.conf" prestart <"$TMP/state.json"
[ $rc != 0 ] && grep -q "none.sock" "$TMP/err" || fail "config socket/fail_mode ignored: $rc $(cat "$TMP/err")"
hook --config "$TMP/pf.conf" --fail-mode open prestart <"$TMP/state.json"
[ $rc = 0 ] && [ -f "$PENDING" ] || fail "--fail-mode does not beat the file: $rc"
rm -f "$PENDING"
pass "config file keys honoured, flags beat the file"

# 3. A socket nobody listens on (ECONNREFUSED).
"$PYTHON3" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' "$TMP/dead.sock"
hook --socket "$TMP/dead.sock" --fail-mode closed prestart <"$TMP/state.json"
[ $rc != 0 ] && grep -q "unreachable" "$TMP/err" || fail "refused, closed: $rc $(cat "$TMP/err")"
hook --socket "$TMP/dead.sock" prestart <"$TMP/state.json"
[ $rc = 0 ] && [ -f "$PENDING" ] || fail "refused, open: $rc"
rm -f "$PENDING"
pass "connection refused: fail-closed refuses, fail-open records"

# 4. An engine that took the request and never answers is slow, not down: the timeout bounds
# the wait, and the container is refused in both fail modes (no unjudged start, no record).
bg_start $MOCK "$TMP/silent.sock" "$TMP/silent.log" silent
wait_until 50 test -e "$TMP/silent.sock.ready" || fail "mock engine did not start"
for mode in open closed; do
	t0=$(date +%s%N)
	hook --socket "$TMP/silent.sock" --timeout 300 --fail-mode $mode prestart <"$TMP/state.json"
	t1=$(date +%s%N)
	[ $rc != 0 ] || fail "engine silent, fail-mode $mode: exit 0 (container started unjudged)"
	grep -q "did not confirm" "$TMP/err" && grep -q "refusing to start" "$TMP/err" ||
		fail "engine silent, $mode: message: $(cat "$TMP/err")"
	[ ! -e "$PENDING" ] || fail "engine silent, $mode: a pending record was left"
	[ $(( (t1 - t0) / 1000000 )) -lt 3000 ] || fail "timeout of 300 ms took $(( (t1 - t0) / 1000000 )) ms"
done
# It was told how long the hook waits, so that it can answer in time.
"$PYTHON3" - "$TMP/silent.log" <<'PY' || fail "no timeout_ms in the request: $(cat "$TMP/silent.log")"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["op"] == "register" and 0 < r["timeout_ms"] <= 300, r
PY
pass "engine took the request and stays silent: refused in both modes, no record, within --timeout"

# 4b. --runtime-timeout (the hooks.d entry's timeout): the hook gives up a margin before it.
t0=$(date +%s%N)
hook --socket "$TMP/silent.sock" --runtime-timeout 2 prestart <"$TMP/state.json"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ $rc != 0 ] && [ ! -e "$PENDING" ] || fail "runtime-timeout 2: exit $rc"
[ $ms -ge 1200 ] && [ $ms -lt 1990 ] || fail "runtime-timeout 2 s: gave up after $ms ms, want 1.6 s"
hook --socket "$TMP/silent.sock" --runtime-timeout 2 --timeout 400 prestart <"$TMP/state.json"
t2=$(date +%s%N)
[ $(( (t2 - t1) / 1000000 )) -lt 1200 ] || fail "--timeout below the runtime's is not honoured"
hook --runtime-timeout 0 prestart <"$TMP/state.json"
[ $rc = 2 ] && grep -q "runtime-timeout" "$TMP/err" || fail "--runtime-timeout 0: $rc $(cat "$TMP/err")"
pass "--runtime-timeout: answers $ms ms into a 2 s runtime timeout; --timeout below it wins"

# 5. An engine that confirms: exit 0, no record; the request is what ctl.h describes.
bg_start $MOCK "$TMP/ok.sock" "$TMP/ok.log" ok
wait_until 50 test -e "$TMP/ok.sock.ready" || fail "mock engine did not start"
hook --socket "$TMP/ok.sock" --fail-mode closed prestart <"$TMP/state.json"
[ $rc = 0 ] || fail "confirmed register: exit $rc $(cat "$TMP/err")"
[ ! -s "$TMP/err" ] || fail "stderr not quiet on success: $(cat "$TMP/err")"
[ ! -e "$PENDING" ] || fail "record written although the engine confirmed"
hook --socket "$TMP/ok.sock" poststop <"$TMP/stopped.json"
[ $rc = 0 ] || fail "confirmed unregister: exit $rc"
"$PYTHON3" - "$TMP/ok.log" "$SPID" "$INO" "$CID" "$NS" <<'PY' || fail "requests: $(cat "$TMP/ok.log")"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert len(reqs) == 2, reqs
r, u = reqs
assert r["op"] == "register" and r["pid"] == int(sys.argv[2]) and r["netns_ino"] == int(sys.argv[3]), r
assert r["container"] == sys.argv[4] and r["namespace"] == "shop" and r["name"] == "web", r
assert u == {"op": "unregister", "container": sys.argv[4], "netns": "/run/netns/" + sys.argv[5]}, u
PY
pass "engine confirms: exit 0, quiet; register and unregister requests as in ctl.h"

# 5b. An engine whose listen queue is full for a while (a node starting many pods at once)
# has not refused the container: the hook waits for room within its timeout.
bg_start $MOCK "$TMP/backlog.sock" "$TMP/backlog.log" backlog
wait_until 50 test -e "$TMP/backlog.sock.ready" || fail "mock engine did not start"
hook --socket "$TMP/backlog.sock" --fail-mode closed prestart <"$TMP/state.json"
[ $rc = 0 ] || fail "engine with a full listen queue: exit $rc $(cat "$TMP/err")"
grep -q '"register"' "$TMP/backlog.log" || fail "full listen queue: the request never arrived"
pass "engine with a full listen queue: the hook waits for it within its timeout"

# 6. An engine that answers but refuses: the container must not start, in either mode.
bg_start $MOCK "$TMP/no.sock" "$TMP/no.log" refuse
wait_until 50 test -e "$TMP/no.sock.ready" || fail "mock engine did not start"
hook --socket "$TMP/no.sock" prestart <"$TMP/state.json"
[ $rc = 1 ] && grep -q "mock refusal" "$TMP/err" || fail "engine refusal, open: $rc $(cat "$TMP/err")"
[ ! -e "$PENDING" ] || fail "record written on refusal"
hook --socket "$TMP/no.sock" poststop <"$TMP/stopped.json"
[ $rc = 0 ] || fail "poststop with a refusing engine: exit $rc"
pass "engine refuses: exit 1 with its error (not fail-open); poststop still 0"
