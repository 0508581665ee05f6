#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-hook against a real podfenced that is slow rather than down: stalled (SIGSTOP), or
# waiting on a store that another writer holds locked. The hook must never start such a
# container unjudged with a pending record (fail_mode open included), and the engine must
# answer (an error) before the hook gives up; an engine that is really gone still gets a record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
H=$PODFENCE_HOOK

setup_server
add_pod 1; NS=$POD
ip netns exec "$NS" sleep 600 & SPID=$!; on_exit "kill $SPID"
wait_until 50 in_netns $SPID "$NS" || fail "sleeper did not enter $NS"
mkdir -p "$TMP/b"
cat >"$TMP/b/config.json" <<JSON
{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/$NS"}]}}
JSON
state() { # ID
	printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","pid":%d,"bundle":"%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"slow"}}' \
		"$1" $SPID "$TMP/b"
}
hook() { # ID ARGS... -> rc, ms, $TMP/err
	local id=$1 t0 t1
	shift
	rc=0
	t0=$(date +%s%N)
	state "$id" | "$H" --socket "$SOCK" --state-dir "$STATE" "$@" prestart 2>"$TMP/err" || rc=$?
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
}
start_engine
# The deadline a client gives is checked like every field.
for bad in 0 -5 '"soon"' 3600001; do
	r=$(ctl "{\"op\":\"status\",\"timeout_ms\":$bad}")
	echo "$r" | grep -q '"ok":false' && echo "$r" | grep -q timeout_ms ||
		fail "timeout_ms $bad accepted: $r"
done
ctl_ok '{"op":"status","timeout_ms":1000}' || fail "a valid timeout_ms refused"
pass "timeout_ms is validated (1..3600000 ms)"

# 1. The engine stalled (SIGSTOP): the kernel still takes the connection and the request, so
# the engine is not down; in fail_mode open too the container is refused, with no record.
kill -STOP "$ENGINE_PID"
on_exit "kill -CONT $ENGINE_PID"
hook "st-$TID" --fail-mode open --timeout 1500
kill -CONT "$ENGINE_PID"
[ $rc != 0 ] || fail "stalled engine, fail-open: exit 0 (the container would start unjudged)"
[ ! -e "$STATE/pending/st-$TID.json" ] || fail "stalled engine: a pending record was written"
grep -q "did not confirm" "$TMP/err" || fail "stalled engine: message: $(cat "$TMP/err")"
[ $ms -lt 3000 ] || fail "stalled engine: the hook waited $ms ms for a 1500 ms timeout"
pass "stalled engine, fail-open: refused after $ms ms, no pending record"
wait_until 50 ctl_ok '{"op":"status"}' || fail "engine did not resume"
ctl "{\"op\":\"unregister\",\"container\":\"st-$TID\"}" >/dev/null

# 2. A registration the engine cannot finish in time (podfence-sync, or anyone, holds the
# store's write lock past the hook's wait): the engine answers an error before the hook gives
# up, and the hook refuses the container with the engine's reason.
"$PY" - "$DB" "$TMP/locked" <<'PY' &
import sqlite3, sys, time, os
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(8)
con.execute("ROLLBACK")
PY
LOCKPID=$!
on_exit "kill $LOCKPID"
wait_until 50 test -e "$TMP/locked" || fail "could not lock the store"
hook "lk-$TID" --fail-mode open --timeout 4000
[ $rc = 1 ] || fail "store locked: exit $rc, want 1: $(cat "$TMP/err")"
grep -q "not enforced within" "$TMP/err" ||
	fail "store locked: the engine did not answer before the hook gave up: $(cat "$TMP/err")"
[ ! -e "$STATE/pending/lk-$TID.json" ] || fail "store locked: a pending record was written"
[ $ms -lt 4000 ] || fail "store locked: answered after $ms ms, the hook waits 4000"
grep -q "not done within" "$ENGINE_LOG" || fail "the engine did not log the late registration"
pass "store locked: the engine answered an error after $ms ms (hook waits 4000), container refused"
kill $LOCKPID; wait $LOCKPID 2>/dev/null || true

# The work went on: once the store is free the pod is enforced, and a new start is confirmed.
wait_until 150 has_table "$NS" || fail "the late registration was never enforced"
hook "ok-$TID" --fail-mode closed --timeout 5000
[ $rc = 0 ] || fail "engine free again: exit $rc: $(cat "$TMP/err")"
pass "once the store is free, the pod is enforced and the next start confirmed"

# 3. An engine that is gone (killed: its socket file stays, nobody listens) is unreachable:
# fail-open still starts the container and leaves the record for the engine to adopt.
kill -KILL "$ENGINE_PID"; wait "$ENGINE_PID" 2>/dev/null || true
[ -S "$SOCK" ] || fail "socket file removed by a killed engine?"
hook "gone-$TID" --fail-mode open --timeout 1500
[ $rc = 0 ] || fail "engine gone, fail-open: exit $rc: $(cat "$TMP/err")"
[ -f "$STATE/pending/gone-$TID.json" ] || fail "engine gone, fail-open: no pending record"
grep -q "unreachable" "$TMP/err" || fail "engine gone: message: $(cat "$TMP/err")"
hook "gone2-$TID" --fail-mode closed --timeout 1500
[ $rc != 0 ] || fail "engine gone, fail-closed: exit 0"
pass "engine gone: fail-open records and starts, fail-closed refuses"
! grep -qE 'Sanitizer|runtime error' "$ENGINE_LOG" || fail "sanitizer report in the engine log"
