#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A pod's life as the engine sees it: a policy change takes effect within a second, several
# registrations of one netns are one pod, new addresses are judged, the last container out
# removes the table, and a pod whose container exits or whose netns vanishes is released.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
add_pod 2; GONE=$POD
add_pod 3; EXITS=$POD

load_policies || fail "loading an empty policy source"
start_engine
register "$WEB" shop web c-web-1
expect "$WEB" 10.99.0.1 80 ok
[ "$(pod_tables "$WEB")" -ge 1 ] || fail "no podfence table in $WEB"

# A policy change is in force within a second of its commit (no reload message).
cat >"$TMP/reject.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.0.0/24}]
    ports: [{port: 80}]
YAML
load_policies "$TMP/reject.yaml" || fail "loading the policy"
t0=$(date +%s%N)
while :; do
	got=$(probe "$WEB" 10.99.0.1 80 0.5)
	[ "${got%% *}" = refused ] && break
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] || fail "policy change not in force after 3 s ($got)"
	sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1000 ] || fail "policy change took $ms ms"
pass "policy change in force after $ms ms"

# The same netns registered again, by path and by a process inside it: one pod, three containers.
register "$WEB" shop web c-web-2
ip netns exec "$WEB" sleep 600 &
sleeper=$!
wait_until 50 in_netns $sleeper "$WEB" || fail "sleep did not enter $WEB"
on_exit "kill $sleeper; wait $sleeper"
reply=$(ctl "{\"op\":\"register\",\"netns\":\"/proc/$sleeper/ns/net\",\"namespace\":\"shop\",\"name\":\"web\",\"container\":\"c-web-3\"}")
echo "$reply" | grep -q '"new":false' || fail "third registration: $reply"
[ "$(status_field 's["n_pods"]')" = 1 ] || fail "three registrations of one netns are not one pod"
[ "$(status_field 's["pods"][0]["containers"]')" = 3 ] || fail "containers not counted"
[ "$(sql "SELECT count(*) FROM pods WHERE namespace='shop' AND name='web'")" = 1 ] || fail "pods view: $(sql 'SELECT * FROM pods')"
pass "three registrations of one netns are one pod with three containers"

# A new address of the pod is one of its IPs: judged by its policies at once.
ip -n "$WEB" addr add 10.1.1.3/24 dev "pfa1-$TID"
wait_until 20 status_field '"10.1.1.3" in s["pods"][0]["ips"] or exit(1)' || fail "address change not followed"
expect "$WEB" 10.99.0.1 80 refused 1.5 10.1.1.3
pass "a new address is judged as the pod's"
# ...also in the moment between the address appearing and the cache rebuilt for it.
ip -n "$WEB" addr add 10.1.1.4/24 dev "pfa1-$TID"
expect "$WEB" 10.99.0.1 80 refused 1.5 10.1.1.4

# Unregistering: the table stays while a container remains, and goes with the last one.
unregister c-web-1 | grep -q '"released":false' || fail "unregister c-web-1"
unregister c-web-2 | grep -q '"released":false' || fail "unregister c-web-2"
[ "$(pod_tables "$WEB")" -ge 1 ] || fail "table removed while a container remains"
unregister c-web-3 | grep -q '"released":true' || fail "unregister c-web-3"
[ "$(pod_tables "$WEB")" = 0 ] || fail "table still there after the last unregister: $(ip netns exec "$WEB" nft list tables)"
wait_until 20 sql_is 0 "SELECT count(*) FROM pods" || fail "pod still in the store"
expect "$WEB" 10.99.0.1 80 ok
unregister c-web-3 | grep -q '"found":false' || fail "second unregister of a container"
pass "unregister removes the table and forgets the pod"

# A registered container process that exits releases its pod (no unregister needed).
ip netns exec "$EXITS" sleep 600 &
short=$!
wait_until 50 in_netns $short "$EXITS" || fail "sleep did not enter $EXITS"
on_exit "kill $short; wait $short"
ctl "{\"op\":\"register\",\"netns\":\"/proc/$short/ns/net\",\"namespace\":\"shop\",\"name\":\"exits\",\"container\":\"c-exits\"}" |
	grep -q '"ok":true' || fail "register by pid"
[ "$(pod_tables "$EXITS")" -ge 1 ] || fail "no table in $EXITS"
kill "$short"; wait "$short" || true
wait_until 30 tables_are "$EXITS" 0 || fail "pod of an exited container not released"
pass "an exited container's pod is released"

# A netns that vanishes without an unregister is noticed within seconds.
register "$GONE" shop gone c-gone
ip netns del "$GONE"
wait_until 60 sql_is 0 "SELECT count(*) FROM pods WHERE name='gone'" || fail "vanished netns still registered"
[ "$(status_field 's["n_pods"]')" = 0 ] || fail "engine still counts pods"
pass "a vanished netns is released"
engine_finish
