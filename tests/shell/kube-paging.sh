#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Lists are paginated (limit/continue): 1234 pods and 600 FencePolicies, more than one page each,
# all reach the store, and a ReplicaSet resolves to all of its pods.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start
y_ns big | kapply create
y_obj ReplicaSet big rs | kapply create
uid=$(kc get rs -n big rs -o jsonpath='{.metadata.uid}')
"$PYTHON3" - "$uid" >"$TMP/bulk.json" <<'EOP'
import json, sys
uid = sys.argv[1]
pods = [{"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "p%d" % i, "namespace": "big", "ownerReferences": [
             {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": True}]},
         "status": {"phase": "Running", "podIPs": [{"ip": "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255)}]}}
        for i in range(1, 1235)]
fps = [{"apiVersion": "podfence.io/v1alpha1", "kind": "FencePolicy",
        "metadata": {"name": "fp%d" % i, "namespace": "big"},
        "spec": {"priority": i, "appliesTo": [{"kind": "ReplicaSet", "name": "rs"}], "egress": [{"action": "Deny"}]}}
       for i in range(600)]
print(json.dumps({"bulk": pods + fps}))
EOP
kube_control "@$TMP/bulk.json" >/dev/null
$VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --once || fail "podfence-sync --once failed"
[ "$(q "SELECT count(*) FROM workload WHERE kind = 'Pod' AND namespace = 'big'")" = 1234 ] || fail "not every pod in the store"
[ "$(q "SELECT count(*) FROM policies WHERE source = 'kube' AND valid = 1")" = 600 ] || fail "not every policy in the store"
[ "$(q "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id WHERE w.kind = 'ReplicaSet' AND w.name = 'rs'")" = 1234 ] ||
	fail "the ReplicaSet does not resolve to its 1234 pods"
grep -q 'GET /api/v1/pods?limit=500&continue=' "$KDIR/apiserver.log" || fail "no paginated pod list seen"
pass "1234 pods and 600 policies over paginated lists"
store_matches || { store_diff; fail "store differs from the API server"; }
pass "store matches the API server exactly"
