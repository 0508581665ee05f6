#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ClusterFencePolicy through Kubernetes: `kubectl apply` of a cfp against the test API server
# (cluster-scoped: no namespace in its path), podfence-sync --kube mirrors it into the store as
# a cluster policy the views show with its kind; updates, an invalid version (kept out, the last
# valid one in force), delete, and a delete while the sync was away. A FencePolicy that names
# another namespace in appliesTo (the namespace-takeover attack) is refused with the field.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start --bookmark-interval 0.5

y_ns ta | kapply create
y_ns tb | kapply create
y_pod tb victim "10.2.0.2" | kapply create

kube_apply() { kc apply --validate=false -f "$1" >"$TMP/apply.out" 2>&1 || { cat "$TMP/apply.out"; return 1; }; }

y_cfp admin 5 Namespace tb "" "  - action: Deny
    to:
    - cidr: 10.99.0.0/24
  - action: Pass" >"$TMP/admin.yaml"
kube_apply "$TMP/admin.yaml" || fail "kubectl apply -f of a ClusterFencePolicy"
kc get cfp admin -o jsonpath='{.metadata.name} {.kind} {.metadata.namespace}' >"$TMP/got"
[ "$(cat "$TMP/got")" = "admin ClusterFencePolicy " ] || fail "kubectl get cfp: $(cat "$TMP/got")"
# cluster-scoped as on a real server: no namespaced path
! kc get --raw /apis/podfence.io/v1alpha1/namespaces/tb/clusterfencepolicies >/dev/null 2>&1 ||
	fail "the test API server serves a cluster-scoped resource under a namespace"
kc get --raw /apis/podfence.io/v1alpha1/clusterfencepolicies | grep -q '"resourceVersion"' ||
	fail "list of clusterfencepolicies has no resourceVersion"
pass "kubectl apply -f / get of a ClusterFencePolicy (cluster-scoped path only)"

bg_start $VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" \
	--resync-min 0 --resync-max 4 --socket "$TMP/nonexistent.sock" -v 2>"$TMP/sync.log"
SYNC_PID=$BG_PID
cpol() { q "SELECT coalesce(namespace, 'NULL') || ',' || kind || ',' || priority || ',' || valid || ',' ||
	in_force || ',' || rules FROM policies WHERE name = '$1' AND kind = 'ClusterFencePolicy'"; }
is_cpol() { [ "$(cpol "$1")" = "$2" ]; }
expect_cpol() { wait_until 100 is_cpol "$@" || fail "cluster policy $1 is '$(cpol "$1")', want '$2'"; }

expect_cpol admin "NULL,ClusterFencePolicy,5,1,1,2"
[ "$(q "SELECT t.kind || ' ' || t.namespace || ' ' || t.name FROM policy_target t JOIN policy p ON p.id = t.policy_id
	WHERE p.name = 'admin'")" = "Namespace tb tb" ] || fail "appliesTo of the cluster policy not stored"
[ "$(q "SELECT group_concat(action, ',') FROM (SELECT r.action FROM policy_rule r JOIN policy p ON p.id = r.policy_id
	WHERE p.name = 'admin' ORDER BY r.rule_index)")" = "Deny,Pass" ] || fail "the cluster policy's rules (Pass) not stored"
pass "podfence-sync --kube mirrors the ClusterFencePolicy: policies view shows kind, no namespace, Pass kept"

# A FencePolicy of the same name in a namespace is another policy.
y_fp tb admin 7 Namespace tb | kapply create
wait_until 100 q_is "tb,FencePolicy,1" "SELECT namespace || ',' || kind || ',' || valid FROM policies
	WHERE name = 'admin' AND namespace = 'tb'" || fail "FencePolicy tb/admin next to the cluster policy admin"
expect_cpol admin "NULL,ClusterFencePolicy,5,1,1,2"
pass "a FencePolicy and a ClusterFencePolicy of one name are two policies"

# The attack: a tenant of ta writes a priority-0 Allow for every pod of tb.
y_fp ta grab 0 Namespace tb "  - action: Allow" | kapply create
wait_until 100 q_is "0,0" "SELECT valid || ',' || in_force FROM policies WHERE namespace = 'ta' AND name = 'grab'" ||
	fail "cross-namespace FencePolicy ta/grab was not refused: $(q "SELECT * FROM policies WHERE name = 'grab'")"
q "SELECT error FROM policies WHERE name = 'grab'" |
	grep -qF "spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own namespace \"ta\", not \"tb\"" ||
	fail "the refusal does not name the field: $(q "SELECT error FROM policies WHERE name = 'grab'")"
grep -q 'FencePolicy ta/grab .*invalid' "$TMP/sync.log" || fail "the refused policy was not logged"
[ "$(q "SELECT count(*) FROM policy_target t JOIN policy p ON p.id = t.policy_id WHERE p.name = 'grab'")" = 0 ] ||
	fail "the refused policy's targets were stored"
pass "a FencePolicy in ta naming Namespace tb is refused, the error names the field"

# kubectl apply again, changed: a patch of the cluster object.
sed -i 's/priority: 5/priority: 3/' "$TMP/admin.yaml"
kube_apply "$TMP/admin.yaml" || fail "kubectl apply (update) of a ClusterFencePolicy"
expect_cpol admin "NULL,ClusterFencePolicy,3,1,1,2"
pass "kubectl apply of a changed ClusterFencePolicy updates the store"

# An invalid version (appliesTo without namespace): refused, the last valid one stays.
y_cfp admin 1 Deployment web "" >"$TMP/bad.yaml"
kube_apply "$TMP/bad.yaml" || fail "kubectl apply (invalid) of a ClusterFencePolicy"
expect_cpol admin "NULL,ClusterFencePolicy,3,0,1,2"
q "SELECT error FROM policies WHERE name = 'admin' AND kind = 'ClusterFencePolicy'" |
	grep -qF "spec.appliesTo[0].namespace: is required in a ClusterFencePolicy for kind Deployment" ||
	fail "invalid cluster policy error: $(q "SELECT error FROM policies WHERE name = 'admin' AND kind = 'ClusterFencePolicy'")"
grep -q 'ClusterFencePolicy admin .*invalid' "$TMP/sync.log" || fail "invalid cluster policy not logged"
pass "an invalid ClusterFencePolicy update keeps the last valid version in force, the error names the field"

kc delete cfp admin >/dev/null
wait_until 100 q_is 0 "SELECT count(*) FROM policy WHERE kind = 'ClusterFencePolicy'" ||
	fail "kubectl delete cfp did not remove it from the store"
[ "$(q "SELECT count(*) FROM policies WHERE name = 'admin'")" = 1 ] || fail "tb/admin went with the cluster policy"
pass "kubectl delete of a ClusterFencePolicy"

# Deleted while the sync was away: the next full sync removes it from the store.
y_cfp gone 9 Pod victim tb | kapply create
expect_cpol gone "NULL,ClusterFencePolicy,9,1,1,1"
kill "$SYNC_PID"
wait "$SYNC_PID" 2>/dev/null || true
kc delete cfp gone >/dev/null
rc=0
"$PODFENCE_SYNC" --kube --once --kubeconfig "$KCFG" --db "$DB" --socket "$TMP/nonexistent.sock" \
	2>"$TMP/once.log" || rc=$?
[ "$rc" = 2 ] || fail "--once: exit $rc, want 2 (ta/grab is invalid): $(cat "$TMP/once.log")"
[ "$(q "SELECT count(*) FROM policy WHERE kind = 'ClusterFencePolicy'")" = 0 ] ||
	fail "a ClusterFencePolicy deleted while the sync was away is still in the store"
pass "a ClusterFencePolicy deleted while the sync was down is removed by the next sync"
