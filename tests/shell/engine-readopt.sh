#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Re-adoption after an engine restart watches each container's own process: a pod of two
# containers (two processes in one netns) stays registered when one exits and is released
# when the other does, however many unrelated processes are in its netns; the store keeps
# each container's pid and start time. A re-adoption that fails (here: a process holding the
# pod's queue number while the engine starts, as a pod with CAP_NET_ADMIN could) is retried
# with backoff and succeeds once the queue is free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
NFQ_ACCEPT_ALL=${NFQ_ACCEPT_ALL:-"$top_builddir/bench/nfq-accept-all"}
[ -x "$NFQ_ACCEPT_ALL" ] || fail "$NFQ_ACCEPT_ALL not built"

setup_server
add_pod 1; WEB=$POD
add_pod 2; DB2=$POD

load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Namespace, name: shop}]
  egress:
  - action: Reject
    ports: [{port: 443}]
YAML

sleeper() { # NETNS -> SLEEPER (pid, killed at exit)
	ip netns exec "$1" sleep 600 &
	SLEEPER=$!
	on_exit "kill $SLEEPER"
	wait_until 50 in_netns $SLEEPER "$1" || fail "sleep did not enter $1"
}
reg_pid() { # PID NAME CONTAINER
	local reply
	reply=$(ctl "{\"op\":\"register\",\"netns\":\"/proc/$1/ns/net\",\"pid\":$1,\"namespace\":\"shop\",\"name\":\"$2\",\"container\":\"$3\"}")
	echo "$reply" | grep -q '"ok":true' || fail "register $3: $reply"
}

start_engine --fail-mode closed
sleeper "$WEB"; A=$SLEEPER
sleeper "$WEB"; B=$SLEEPER
reg_pid $A web c-a
reg_pid $B web c-b
sleeper "$DB2"; D=$SLEEPER
reg_pid $D db c-d
expect "$WEB" 10.99.0.1 443 refused
want_a=$(awk '{sub(/.*\) /, ""); split($0, f, " "); print f[20]}' /proc/$A/stat)
[ "$(sql "SELECT pid || ':' || start_time FROM pod_container WHERE container='c-a'")" = "$A:$want_a" ] ||
	fail "store does not keep c-a's pid and start time: $(sql 'SELECT * FROM pod_container')"
pass "the store keeps each container's pid and start time"
stop_engine

# While the engine is down: an unrelated process joins WEB's netns, and something holds
# DB2's queue number (the rules stay: fail mode closed).
sleeper "$WEB"; U=$SLEEPER
"$NFQ_ACCEPT_ALL" --netns "/run/netns/$DB2" --queue 1 >"$TMP/hog.out" 2>&1 &
HOG=$!
on_exit "kill $HOG"
wait_until 50 grep -q ready "$TMP/hog.out" || fail "queue holder did not start: $(cat "$TMP/hog.out")"

start_engine --fail-mode closed
[ "$(status_field 'sorted(p["name"] for p in s["pods"])')" = "['web']" ] ||
	fail "after restart: $(ctl '{"op":"status"}')"
grep -q "Pod shop/db: re-adoption failed (retrying" "$ENGINE_LOG" || fail "no retry announced for db"
pass "re-adoption of db failed (its queue is held) and is to be retried"
kill $HOG; wait $HOG || true
wait_until 100 status_is "['db', 'web']" 'sorted(p["name"] for p in s["pods"])' || fail "re-adoption of db not retried"
grep -q "Pod shop/db: re-adopted after" "$ENGINE_LOG" || fail "no log of the retried re-adoption"
expect "$DB2" 10.99.0.1 443 refused
expect "$DB2" 10.99.0.1 80 ok
pass "the failed re-adoption was retried and succeeded"

# Each container's own pid is watched again after the restart.
expect "$WEB" 10.99.0.1 443 refused
kill $A
wait_until 30 status_is 1 '[p["containers"] for p in s["pods"] if p["name"]=="web"][0]' ||
	fail "exit of c-a not seen after the restart: $(ctl '{"op":"status"}')"
[ "$(pod_tables "$WEB")" -ge 1 ] || fail "pod released while c-b runs"
expect "$WEB" 10.99.0.1 443 refused
pass "one container exits: the pod stays, with one container"
kill $B
wait_until 50 tables_are "$WEB" 0 || fail "pod kept alive by an unrelated process after its containers exited"
kill -0 $U || fail "the unrelated process is gone too?"
[ "$(status_field 'sorted(p["name"] for p in s["pods"])')" = "['db']" ] || fail "web still registered"
wait_until 30 sql_is 0 "SELECT count(*) FROM pods WHERE name='web'" || fail "web row left"
pass "the other exits: released, though an unrelated process is still in the netns"

# A restart while another process holds the store's write lock past the busy timeout: the
# pod is re-adopted at once (its row is there to read), its row updated once the lock goes.
stop_engine
"$PY" - "$DB" "$TMP/locked" <<'PYEOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(8)
c.execute("ROLLBACK")
PYEOF
LOCK=$!
on_exit "kill $LOCK"
wait_until 50 test -f "$TMP/locked" || fail "could not lock the store"
T0=$(date +%s%N)
start_engine --fail-mode closed
[ "$(status_field '[p["state"] for p in s["pods"] if p["name"]=="db"]')" = "['enforced']" ] ||
	fail "db not re-adopted while the store is locked: $(ctl '{"op":"status"}')"
ms=$(( ($(date +%s%N) - T0) / 1000000 ))
kill -0 $LOCK || fail "the lock ended before the check ($ms ms)"
expect "$DB2" 10.99.0.1 443 refused
pass "re-adopted in $ms ms with the store locked"
wait $LOCK || true
wait_until 100 status_is 0 's["pod_rows"]["waiting"]' || fail "row writes still waiting after the lock"
stop_engine

# A container's pid the kernel reused while the engine was down is not the container.
sql "UPDATE pod_container SET start_time = start_time + 1 WHERE container='c-d'"
start_engine --fail-mode closed
wait_until 50 status_is 0 's["n_pods"]' || fail "a pid with another start time taken for the container: $(ctl '{"op":"status"}')"
[ "$(pod_tables "$DB2")" = 0 ] || fail "rules left in a netns whose containers are gone"
pass "a pid whose start time differs is not the container (pod forgotten, rules removed)"
engine_finish
