#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-sync --kube --once against the test API server: objects created with kubectl resolve
# through ownerReferences, Services and Namespaces to exactly the expected addresses, and
# FencePolicies (valid and invalid) land in the policies view.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start

y_ns shop | kapply create
y_ns other | kapply create
# Deployment web -> ReplicaSets web-1 (current) and web-0 (old) -> pods
y_obj Deployment shop web | kapply create
y_obj ReplicaSet shop web-1 Deployment web | kapply create
y_obj ReplicaSet shop web-0 Deployment web | kapply create
y_pod shop web-1-a "10.1.0.1 fd00:1::1" ReplicaSet web-1 | kapply create
y_pod shop web-1-b "10.1.0.2" ReplicaSet web-1 | kapply create
y_pod shop web-0-c "" ReplicaSet web-0 | kapply create	# not scheduled yet: no IP
y_pod shop web-1-d "10.1.0.4" ReplicaSet web-1 | sed 's/phase: Running/phase: Succeeded/' | kapply create
# CronJob nightly -> Job nightly-1 -> pod
y_obj CronJob shop nightly | kapply create
y_obj Job shop nightly-1 CronJob nightly | kapply create
y_pod shop nightly-1-x "10.1.1.1" Job nightly-1 | kapply create
# StatefulSet and DaemonSet
y_obj StatefulSet shop db | kapply create
labels() { sed "s/^metadata:\$/metadata:\n  labels:\n$1/"; }
y_pod shop db-0 "10.1.2.1 fd00:1::21" StatefulSet db | labels '    app: db\n    role: primary' | kapply create
y_pod shop db-1 "10.1.2.2" StatefulSet db | labels '    app: db' | kapply create
y_pod shop db-2 "" StatefulSet db | labels '    app: db' | kapply create	# scaled up, no IP yet
y_obj DaemonSet shop agent | kapply create
y_pod shop agent-x "10.1.3.1" DaemonSet agent | kapply create
# A bare pod, and one whose owner reference is stale (a recreated namesake is not its owner)
y_pod shop lonely "10.1.4.1" | kapply create
y_obj ReplicaSet shop ghost | kapply create
y_pod shop ghost-a "10.1.5.1" ReplicaSet ghost | kapply create
kc delete rs -n shop ghost --cascade=orphan >/dev/null
y_obj ReplicaSet shop ghost | kapply create
# Services: dual-stack with EndpointSlices per family, and a headless one
y_svc shop db "10.96.0.10 fd00:96::10" | kapply create
y_slice shop db-v4 db IPv4 "10.1.2.1 10.1.2.2" | kapply create
y_slice shop db-v6 db IPv6 "fd00:1::21" | kapply create
y_svc shop hl "None" | kapply create
# A Service that selects its pods (the endpoints controller's input; EndpointSlices lag behind).
y_svc shop dbsel "10.96.0.11" | sed 's/^spec:$/spec:\n  selector:\n    app: db/' | kapply create
y_svc shop primary "10.96.0.12" | sed 's/^spec:$/spec:\n  selector:\n    app: db\n    role: primary/' | kapply create
y_slice shop hl-1 hl IPv4 "10.1.2.2" | kapply create
y_slice shop orphan-slice nosuchsvc IPv4 "10.9.9.9" | kapply create
y_pod other o1 "10.2.0.1" | kapply create
# Policies: one valid, one with a field error, one that names a workload that does not exist yet
y_fp shop web-egress 100 Deployment web "  - action: Allow
    to:
    - kind: Service
      name: db
    ports:
    - port: 5432
  - action: Deny" | kapply create
y_fp shop broken 10 Deployment web "  - action: Allow
    ports:
    - port: 99999" | kapply create
y_fp other later 5 Deployment notyet | kapply create

rc=0
$VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --once 2>"$TMP/sync.err" || rc=$?
cat "$TMP/sync.err"
[ "$rc" = 2 ] || fail "--once with an invalid FencePolicy: exit $rc, want 2"
grep -q 'FencePolicy shop/broken.*spec.egress\[0\].ports\[0\].port' "$TMP/sync.err" ||
	fail "invalid FencePolicy not logged with namespace/name and field"
pass "--once exits 2 and logs the invalid FencePolicy with its field"

got=$(q "SELECT namespace, name, priority, valid, in_force, source FROM policies ORDER BY namespace, name")
want="other|later|5|1|1|kube
shop|broken||0|0|kube
shop|web-egress|100|1|1|kube"
[ "$got" = "$want" ] || fail "policies view: got
$got
want
$want"
q "SELECT error FROM policies WHERE name = 'broken'" | grep -q 'spec.egress\[0\].ports\[0\].port' ||
	fail "policies view: error of shop/broken does not name the field"
pass "policies view: valid, invalid (with field) and not-yet-resolvable policies"

ws() { q "SELECT group_concat(ip, ' ') FROM (SELECT wi.ip FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id
	  WHERE w.kind = '$1' AND w.namespace = '$2' AND w.name = '$3' ORDER BY wi.ip)"; }
check() {
	local got
	got=$(ws "$1" "$2" "$3")
	[ "$got" = "$4" ] || fail "$1 $2/$3 resolves to '$got', want '$4'"
}
check Deployment shop web "10.1.0.1 10.1.0.2 fd00:1::1"
check ReplicaSet shop web-1 "10.1.0.1 10.1.0.2 fd00:1::1"
check ReplicaSet shop web-0 ""
check Pod shop web-1-d ""
check CronJob shop nightly "10.1.1.1"
check Job shop nightly-1 "10.1.1.1"
check StatefulSet shop db "10.1.2.1 10.1.2.2 fd00:1::21"
check DaemonSet shop agent "10.1.3.1"
check Pod shop lonely "10.1.4.1"
check ReplicaSet shop ghost ""
check Pod shop ghost-a "10.1.5.1"
check Service shop db "10.1.2.1 10.1.2.2 10.96.0.10 fd00:1::21 fd00:96::10"
check Service shop hl "10.1.2.2"
check Namespace other other "10.2.0.1"
check Namespace shop shop "$(printf '%s\n' 10.1.0.1 10.1.0.2 fd00:1::1 10.1.1.1 10.1.2.1 10.1.2.2 fd00:1::21 10.1.3.1 10.1.4.1 10.1.5.1 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
pass "ownerReferences, Services (dual-stack, headless), Namespaces resolve; finished and unscheduled pods drop out"

# By name too: a pod without an IP yet (its sandbox has not started) belongs to its workloads,
# so the store can match it the moment the engine registers it; a finished pod does not.
wp() { q "SELECT group_concat(pod_name, ' ') FROM (SELECT wp.pod_name FROM workload w JOIN workload_pod wp ON wp.workload_id = w.id
	  WHERE w.kind = '$1' AND w.namespace = '$2' AND w.name = '$3' ORDER BY wp.pod_name)"; }
check_pods() {
	local got
	got=$(wp "$1" "$2" "$3")
	[ "$got" = "$4" ] || fail "$1 $2/$3 resolves to pods '$got', want '$4'"
}
check_pods Deployment shop web "web-0-c web-1-a web-1-b"
check_pods ReplicaSet shop web-0 "web-0-c"
check_pods ReplicaSet shop web-1 "web-1-a web-1-b"
check_pods CronJob shop nightly "nightly-1-x"
check_pods StatefulSet shop db "db-0 db-1 db-2"
check_pods Service shop dbsel "db-0 db-1 db-2"
check_pods Service shop primary "db-0"
check_pods Service shop db ""
check_pods ReplicaSet shop ghost ""
[ "$(q "SELECT count(*) FROM workload_pod wp JOIN workload w ON w.id = wp.workload_id
	WHERE w.kind IN ('Pod', 'Namespace')")" = 0 ] || fail "pod names stored for Pod/Namespace refs"
pass "workloads and Service selectors resolve to pod names, pods without IP included, the finished one not"

[ "$(store_workloads)" = "$(expect_workloads)" ] && [ "$(store_workload_pods)" = "$(expect_workload_pods)" ] ||
	{ store_diff; store_workloads | head -3 | cat -A; fail "store differs from the API server"; }
pass "every workload in the store matches the API server exactly (oracle: tests/kube/expect.py)"

# A later run repairs what changed while no sync was running: deleted objects leave the store.
kc delete fp -n shop web-egress >/dev/null
kc delete pod -n shop web-1-a >/dev/null
kc delete ns other >/dev/null
rc=0
$VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --once 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "second --once: exit $rc, want 2 (shop/broken is still invalid)"
got=$(q "SELECT namespace || '/' || name FROM policies WHERE source = 'kube' ORDER BY 1" | tr '\n' ' ')
[ "$got" = "shop/broken " ] || fail "policies after a restart: '$got', want only shop/broken"
check Deployment shop web "10.1.0.2"
[ "$(q "SELECT count(*) FROM workload WHERE namespace = 'other'")" = 0 ] || fail "deleted namespace's workloads remain"
[ "$(store_workloads)" = "$(expect_workloads)" ] && [ "$(store_workload_pods)" = "$(expect_workload_pods)" ] ||
	{ store_diff; fail "store differs from the API server after a restart"; }
check_pods Deployment shop web "web-0-c web-1-b"
pass "a restarted sync removes what was deleted meanwhile (policies, pods, namespaces)"
