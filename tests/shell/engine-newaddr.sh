#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# An address added inside a pod's netns is judged by the pod's policies at once, not by the
# default action until the next rebuild: a writer holds the store's lock, so the pod's new row
# cannot be written and no cache built meanwhile (builds only read, and may run) holds the new
# address, while it connects.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
DEV=pfa1-$TID

cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: no-8080, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    ports: [{port: 8080}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"

start_engine --default-action Allow
register "$WEB" shop web c-web-1
expect "$WEB" 10.99.0.1 8080 refused
expect "$WEB" 10.99.0.1 80 ok

# Hold the store's write lock: no pod row can be written and no rebuild can follow.
LOCK_GO=$TMP/lock.held
"$PY" - "$DB" "$LOCK_GO" "$TMP/lock.release" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
t = time.monotonic()
while not os.path.exists(sys.argv[3]) and time.monotonic() - t < 60:
    time.sleep(0.05)
db.execute("ROLLBACK")
PY
lock_pid=$!
on_exit "touch $TMP/lock.release; wait $lock_pid"
wait_until 50 test -f "$LOCK_GO" || fail "could not take the store's lock"

gen=$(cache_generation)
ip -n "$WEB" addr add 10.1.1.3/24 dev "$DEV"
ip -n "$WEB" addr add fd01:1::3/64 dev "$DEV" nodad
wait_until 50 grep -q 'addresses now .*10.1.1.3' "$ENGINE_LOG" || fail "the engine did not see the new address"
expect "$WEB" 10.99.0.1 8080 refused 1.5 10.1.1.3
expect "$WEB" fd99::1 8080 refused 1.5 fd01:1::3
expect "$WEB" 10.99.0.1 80 ok 1.5 10.1.1.3
# Builds may run meanwhile (they only read), but none can hold the new addresses: the pod's
# row with them is not in the store.
sql_is 0 "SELECT count(*) FROM pod WHERE name='web' AND ips LIKE '%10.1.1.3%'" ||
	fail "the new address reached the store under the lock: the test proves nothing"
pass "the new addresses were judged by the pod's policy while no cache could hold them (generation $gen -> $(cache_generation))"

# Let go: the rebuild the address change asked for puts the row (and the address) in place.
touch "$TMP/lock.release"
wait "$lock_pid"
# (one more change after the lock is gone: the row write held up above may have timed out)
ip -n "$WEB" addr add 10.1.1.4/24 dev "$DEV"
wait_until 100 sql_ge 1 "SELECT count(*) FROM pod WHERE name='web' AND ips LIKE '%10.1.1.3%'" ||
	fail "the pod's new address never reached the store: $(sql "SELECT * FROM pod")"
generation_gt() { [ "$(cache_generation)" -gt "$1" ]; }
wait_until 100 generation_gt "$gen" || fail "no rebuild after the address change"
expect "$WEB" 10.99.0.1 8080 refused 1.5 10.1.1.3
pass "the rebuild followed"
engine_finish
