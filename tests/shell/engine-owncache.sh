#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A registration does not wait for a full rebuild of the verdict cache: once the pod's row is
# in, the store lists the policies that apply to it and the engine enforces it at once with a
# cache compiled from those policies alone (pods_activated_own_cache_total). With 5,000 other
# rules in force, that pod is judged by its own policies from its first connection; the full
# build that follows takes over and adds the pod as a destination of the others' rules. A pod
# holding an address another pod's row holds (a full build merges their policies) waits for
# that build instead (pods_activated_after_build_total).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
add_pod 2
DB_POD=$POD
# the server netns routes between the pods (pod-to-pod traffic for the destination check)
ip netns exec "$SRV" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$DB_POD" "$PY" -c "$PY_SERVER" "$TMP/db.ready" 5432 &
db_srv=$!
on_exit "kill $db_srv; wait $db_srv"
wait_until 50 test -f "$TMP/db.ready" || fail "the db pod's server did not start"

# 5,000 rules for another namespace: a full build takes a while
filler_policies "$TMP/policy.yaml" others 20
cat >>"$TMP/policy.yaml" <<'YAML'
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}, {kind: Pod, name: copy}]
  egress:
  - action: Reject
    ports: [{port: 8080}]
  - action: Allow
    to: [{kind: Pod, name: db}]
    ports: [{port: 5432}]
  - action: Deny
    to: [{cidr: 10.1.0.0/16}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"
start_engine --default-action Allow

own() { status_field 's["activations"]["own_cache"]'; }
after() { status_field 's["activations"]["after_build"]'; }

register "$WEB" shop web c-web-1
[ "$(own)" = 1 ] && [ "$(after)" = 0 ] ||
	fail "web was not enforced with its own cache: $(ctl '{"op":"status"}')"
pass "web enforced at registration with its own cache"
expect "$WEB" 10.99.0.1 8080 refused
expect "$WEB" 10.99.0.1 80 ok
# db is not registered: its address is nobody's, and the cidr Deny decides
expect "$WEB" 10.1.2.2 5432 timeout 1

# db registers: once the full build after it is in place, web's Allow to Pod db covers it.
gen=$(cache_generation)
register "$DB_POD" shop db c-db-1
[ "$(own)" = 2 ] || fail "db was not enforced with its own cache"
generation_gt() { [ "$(cache_generation)" -gt "$1" ]; }
wait_until 100 generation_gt "$gen" || fail "no full build after db's registration"
wait_until 50 sql_ge 1 "SELECT count(*) FROM pod WHERE name='db'" || fail "db's row"
ok_to_db() { [ "$(probe "$WEB" 10.1.2.2 5432 1 | cut -d' ' -f1)" = ok ]; }
wait_until 50 ok_to_db || fail "web -> db:5432 never allowed: $(probe "$WEB" 10.1.2.2 5432 1)"
pass "the full build after db's registration made it a destination of web's Allow"
expect "$WEB" 10.99.0.1 8080 refused

# explain answers as the verdicts do, for a pod on its own cache or on the full one
ctl '{"op":"explain","from":"shop/web","to":"10.99.0.1","port":8080}' | grep -q '"action":"Reject"' ||
	fail "explain for web: $(ctl '{"op":"explain","from":"shop/web","to":"10.99.0.1","port":8080}')"
pass "explain agrees"

# A pod with web's address in another netns: the store says the address is shared, so it
# waits for the full build (which merges both pods' policies for that address).
COPY=pfc-$TID
mk_netns "$COPY"
ip -n "$COPY" addr add 10.1.1.2/32 dev lo
register "$COPY" shop copy c-copy-1
[ "$(after)" = 1 ] && [ "$(own)" = 2 ] ||
	fail "copy (a shared address) should have waited for the build: $(ctl '{"op":"status"}')"
pass "a pod with a shared address waited for the full build"
engine_finish
