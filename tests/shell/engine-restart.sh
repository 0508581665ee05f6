#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Restarts: rules stay in place while the engine is down (fail mode closed: no new
# connections; open: the bypass lets them through), a restarted engine re-adopts every pod
# of the store whose netns still exists, adopts the records the hook left in pending/, and
# forgets pods whose netns is gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
add_pod 2; LATE=$POD
add_pod 3; GONE=$POD
add_pod 4; LIVE=$POD

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

start_engine --fail-mode closed
register "$WEB" shop web c-web
register "$GONE" shop gone c-gone
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused
stop_engine
[ ! -e "$SOCK" ] || fail "socket left behind after SIGTERM"
[ "$(pod_tables "$WEB")" -ge 1 ] || fail "rules removed on shutdown"
expect "$WEB" 10.99.0.1 80 timeout   # fail mode closed: no engine, no new connections
pass "fail mode closed holds while the engine is down"

# While the engine is down: one pod's netns goes away, a hook leaves a record for another.
ip netns del "$GONE"
mkdir -p "$STATE/pending"
printf '{"op":"register","netns":"/run/netns/%s","namespace":"shop","name":"late","container":"c-late","kind":"Pod"}' "$LATE" \
	>"$STATE/pending/c-late.json"
echo 'not json' >"$STATE/pending/broken.json"

start_engine --fail-mode closed
[ "$(status_field 's["n_pods"]')" = 2 ] || fail "expected 2 pods after restart: $(ctl '{"op":"status"}')"
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused
pass "re-adopted pod judged again"
expect "$LATE" 10.99.0.1 443 refused
expect "$LATE" 10.99.0.1 80 ok
[ -z "$(ls "$STATE/pending")" ] || fail "pending records left: $(ls "$STATE/pending")"
pass "pending record adopted and removed"
[ "$(sql "SELECT count(*) FROM pods WHERE name='gone'")" = 0 ] || fail "gone pod not forgotten"
[ "$(sql "SELECT count(*) FROM pods")" = 2 ] || fail "pods view: $(sql 'SELECT * FROM pods')"
pass "pod of a vanished netns forgotten at start"

# A record left while the engine runs (the hook could not get through) is taken within seconds.
printf '{"op":"register","netns":"/run/netns/%s","namespace":"shop","name":"live","container":"c-live"}' "$LIVE" \
	>"$STATE/pending/c-live.json"
wait_until 60 has_table "$LIVE" || fail "pending record not adopted by the running engine"
wait_until 20 sh -c "! test -e '$STATE/pending/c-live.json'" || fail "adopted record not removed"
expect "$LIVE" 10.99.0.1 443 refused
pass "pending record adopted while running"

# Fail mode open: re-adoption replaces the rule (now with bypass); down means open.
stop_engine
start_engine --fail-mode open
expect "$WEB" 10.99.0.1 443 refused
stop_engine
expect "$WEB" 10.99.0.1 443 ok
expect "$LATE" 10.99.0.1 80 ok
pass "fail mode open lets traffic through while the engine is down"
[ "$(ip netns exec "$WEB" nft list tables | grep -c podfence)" -ge 1 ] || fail "rules removed on shutdown"

# pending/ as a symlink: not followed, so what it points at is neither read nor deleted.
mkdir -p "$TMP/elsewhere"
printf '{"op":"status"}' >"$TMP/elsewhere/keep.json"
rm -rf "$STATE/pending"
ln -s "$TMP/elsewhere" "$STATE/pending"
start_engine --fail-mode open
sleep 2.5 # one adoption round of the running engine as well
[ -e "$TMP/elsewhere/keep.json" ] || fail "followed a symlinked pending/ and deleted a file behind it"
stop_engine
pass "a symlinked pending/ is not followed"
