#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A pod's store row that cannot be written (the database locked by another process past the
# busy timeout): the pod is not activated without it (no ruleset, state pending, the
# registration unanswered), the write is retried with backoff, and once it commits the pod
# is activated and judged by the policies that name it. A delete that fails is retried too,
# and the row goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

# A policy that reaches the pod only through its row (Pod ref, resolved by the pods table).
load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    ports: [{port: 443}]
YAML
start_engine

# lock SECONDS: hold the store's write lock from another process (sqlite's own locking).
lock() {
	"$PY" - "$DB" "$1" "$TMP/locked" <<'PYEOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
PYEOF
	LOCK=$!
	on_exit "kill $LOCK"
	wait_until 50 test -f "$TMP/locked" || fail "could not lock the store"
	rm -f "$TMP/locked"
}

lock 8
T0=$(date +%s%N)
ctl "{\"op\":\"register\",\"netns\":\"/run/netns/$WEB\",\"namespace\":\"shop\",\"name\":\"web\",\"container\":\"c-web\"}" 40 \
	>"$TMP/reply" &
REG=$!
on_exit "kill $REG"
# Past the busy timeout (5 s): the first write has failed, a retry waits.
wait_until 100 status_is True 's["pod_rows"]["write_failures"] >= 1' || fail "the row write did not fail under the lock"
[ "$(status_field '[p["state"] for p in s["pods"]]')" = "['pending']" ] || fail "pod activated without its row: $(ctl '{"op":"status"}')"
[ "$(pod_tables "$WEB")" = 0 ] || fail "ruleset installed before the row was committed"
[ ! -s "$TMP/reply" ] || fail "registration answered before its row was in: $(cat "$TMP/reply")"
[ "$(sql "SELECT count(*) FROM pods WHERE name='web'")" = 0 ] || fail "row there while locked?"
pass "row write failed: pod not activated, registration waits"
wait $REG || fail "register client failed"
T1=$(date +%s%N)
grep -q '"ok":true' "$TMP/reply" || fail "registration refused instead of retried: $(cat "$TMP/reply")"
[ "$(sql "SELECT count(*) FROM pods WHERE name='web'")" = 1 ] || fail "row missing after the retry"
[ "$(status_field '[p["state"] for p in s["pods"]]')" = "['enforced']" ] || fail "not enforced after the retry"
expect "$WEB" 10.99.0.1 443 refused
expect "$WEB" 10.99.0.1 80 ok
pass "retried: row committed, then activated and judged by its Pod policy ($(( (T1 - T0) / 1000000 )) ms after registering)"
wait $LOCK || true

# The delete: fails under the lock, retried, the row goes. (The Reject events above are
# written first, so the lock meets the delete.)
wait_until 50 sql_ge 1 "SELECT count(*) FROM recent_events WHERE dport=443" || fail "events not written"
lock 12
unregister c-web >/dev/null
wait_until 150 status_is True 's["pod_rows"]["write_failures"] >= 2' || fail "the row delete did not fail under the lock"
[ "$(sql "SELECT count(*) FROM pods WHERE name='web'")" = 1 ] || fail "row gone while locked?"
wait $LOCK || true
wait_until 100 sql_is 0 "SELECT count(*) FROM pods WHERE name='web'" || fail "failed delete not retried: $(sql 'SELECT * FROM pods')"
[ "$(status_field 's["pod_rows"]["waiting"]')" = 0 ] || fail "rows still waiting"
pass "failed delete retried, row gone"
grep -q "done after" "$ENGINE_LOG" || fail "no log of the retried writes"
engine_finish
