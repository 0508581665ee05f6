#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Incremental cache builds in podfenced: after a full build, a change to one policy compiles
# only the groups (pods with the same policies) that policy belongs to and takes the others
# from the full build (status cache.groups_compiled); the changed pod is judged by the new
# policy at once, the others as before, and a change made back takes every group from the full
# build again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
N_OTHERS=5

# web's first rule: $1; five other pods, each under a policy of its own
policies() {
	cat <<YAML
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-egress, namespace: shop}
spec:
  priority: 100
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: $1
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Allow
    to: [{cidr: 10.99.0.2}]
  - action: Deny
YAML
	for k in $(seq 1 $N_OTHERS); do
		cat <<YAML
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: other-$k, namespace: other}
spec:
  priority: 100
  appliesTo: [{kind: Pod, name: o$k}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 80}]
  - action: Reject
    to: [{cidr: 10.99.0.1}]
  - action: Deny
YAML
	done
}
set_policies() {
	policies "$1" >"$TMP/policy.yaml"
	load_policies "$TMP/policy.yaml" || fail "loading the policies ($1)"
}
cache() { status_field "s['cache']['$1']"; }

hook_pods pfi $N_OTHERS 10.49.0.
set_policies Allow
start_engine
register "$WEB" shop web c-web-1
for k in $(seq 1 $N_OTHERS); do
	register "pfi$k-$TID" other "o$k" "c-o$k"
done
expect "$WEB" 10.99.0.1 80 ok

# A restart adopts the pods and builds everything once (the base of the builds after it; those
# the adoption's own row writes ask for find nothing changed).
stop_engine
start_engine
[ "$(cache groups)" = $((N_OTHERS + 1)) ] || fail "groups after the restart: $(cache groups)"
pass "start-up: $(cache groups) groups, $(cache groups_compiled) compiled by the last build"
expect "$WEB" 10.99.0.1 80 ok

gen=$(cache generation)
set_policies Reject
ctl_ok '{"op":"reload"}' || fail "reload"
[ "$(cache generation)" -gt "$gen" ] || fail "no new cache after the reload"
[ "$(cache groups)" = $((N_OTHERS + 1)) ] && [ "$(cache groups_compiled)" = 1 ] ||
	fail "one policy changed, yet: $(ctl '{"op":"status"}')"
pass "one policy changed: 1 group compiled of $(cache groups)"
expect "$WEB" 10.99.0.1 80 refused
expect "$WEB" 10.99.0.2 80 ok
expect "$WEB" 10.99.0.1 81 timeout 1

set_policies Allow
ctl_ok '{"op":"reload"}' || fail "reload"
[ "$(cache groups_compiled)" = 0 ] ||
	fail "changed back, yet $(cache groups_compiled) group(s) compiled"
pass "changed back: every group taken from the full build"
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 81 timeout 1
engine_finish
