#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-sync --kube benchmark against the test API server: propagation latency of kubectl
# create/replace to the store (p50/p99 over N changes) in a small cluster and in one of PODS
# pods and POLICIES policies, and the sync's memory (VmRSS/VmHWM) at that size.
# Usage: [RESYNC_MIN=S] bench-propagation.sh [N=100] [PODS=10000] [POLICIES=1000]
# (podfence-sync runs with its default --resync-min unless RESYNC_MIN is set)
N=${1:-100}
PODS=${2:-10000}
POLICIES=${3:-1000}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start --bookmark-interval 5
y_ns bench | kapply create
y_obj Deployment bench web | kapply create

start_sync() {
	rm -f "$DB" "$DB-wal" "$DB-shm"
	bg_start "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" ${RESYNC_MIN:+--resync-min "$RESYNC_MIN"} \
		--socket "$TMP/nonexistent.sock" 2>"$TMP/sync.log"
	SYNC_PID=$BG_PID
}

start_sync
wait_until 100 q_is 1 "SELECT count(*) FROM workload WHERE kind = 'Deployment'" || fail "sync did not start"
"$PYTHON3" "$top_srcdir/bench/bench-propagation.py" "$KUBECTL" "$KCFG" "$KDIR/cache" "$DB" bench "$N" "small cluster" \
	"$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")"
y_obj ReplicaSet bench web-1 Deployment web | kapply create
"$PYTHON3" "$top_srcdir/bench/bench-propagation.py" "$KUBECTL" "$KCFG" "$KDIR/cache" "$DB" bench "$N" "small cluster" \
	"$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")" pod web web-1 "$(kc get rs -n bench web-1 -o jsonpath='{.metadata.uid}')"
kill "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null || true

# With the engine: a pod netns registered as the Deployment's pod, podfence-sync telling
# podfenced to reload; measured at the first connection that sees the new policy.
if [ "$(id -u)" = 0 ] && [ -x "$PODFENCED" ] && ip netns add "pfprobe-$TID" 2>/dev/null; then
	ip netns del "pfprobe-$TID"
	# The runs above left Deny policies for the Deployment; the pod starts allowed.
	kc delete fencepolicies -n bench --all >/dev/null
	. "$top_srcdir/tests/shell/engine-lib.sh"
	setup_server
	add_pod 1
	y_pod bench web-1-engine "10.1.1.2" ReplicaSet web-1 | kapply create
	mkdir -p "$(dirname "$SOCK")"
	start_engine
	register "$POD" bench web-1-engine bench-container
	bg_start "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" ${RESYNC_MIN:+--resync-min "$RESYNC_MIN"} --socket "$SOCK" \
		--state-dir "$STATE" 2>"$TMP/sync-engine.log"
	ENGINE_SYNC_PID=$BG_PID
	wait_until 100 q_is 1 "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id
		WHERE w.kind = 'Deployment' AND w.name = 'web' AND wi.ip = '10.1.1.2'" || fail "engine sync did not start"
	"$PYTHON3" "$top_srcdir/bench/bench-propagation.py" "$KUBECTL" "$KCFG" "$KDIR/cache" "$DB" bench "$N" \
		"small cluster, with podfenced" "$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")" engine "$POD"
	kill "$ENGINE_SYNC_PID"; wait "$ENGINE_SYNC_PID" 2>/dev/null || true
	stop_engine
else
	echo "propagation to podfenced: skipped (needs root, network namespaces and a built podfenced)"
fi

# The big cluster: PODS pods in 100 ReplicaSets of 20 Deployments over 10 namespaces, a Service
# with an EndpointSlice per Deployment, POLICIES policies.
"$PYTHON3" - "$PODS" "$POLICIES" >"$TMP/bulk.json" <<'EOP'
import json, sys, uuid
pods, pols = int(sys.argv[1]), int(sys.argv[2])
objs = []
for n in range(10):
    objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{n}"}})
rs_uid, d_uid = {}, {}
for d in range(20):
    ns = f"ns{d % 10}"
    d_uid[d] = str(uuid.uuid4())
    objs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"d{d}", "namespace": ns, "uid": d_uid[d]}})
    objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{d}", "namespace": ns},
                 "spec": {"clusterIP": f"10.96.{d}.1", "clusterIPs": [f"10.96.{d}.1"]}})
for r in range(100):
    d = r % 20
    ns = f"ns{d % 10}"
    u = str(uuid.uuid4())
    rs_uid[r] = u
    objs.append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": f"d{d}-rs{r}", "namespace": ns, "uid": u,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": f"d{d}", "uid": d_uid[d], "controller": True}]}})
eps = {}
for i in range(pods):
    r = i % 100
    d = r % 20
    ns = f"ns{d % 10}"
    ip = f"10.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
    eps.setdefault(d, []).append(ip)
    objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"d{d}-rs{r}-p{i}", "namespace": ns,
        "labels": {"app": f"d{d}", "pod-template-hash": f"rs{r}"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"d{d}-rs{r}", "uid": rs_uid[r], "controller": True}]},
        "spec": {"nodeName": f"node{i % 50}", "containers": [{"name": "app", "image": "registry.example/app:1"}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
for d, ips in eps.items():
    objs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                 "metadata": {"name": f"s{d}-x", "namespace": f"ns{d % 10}", "labels": {"kubernetes.io/service-name": f"s{d}"}},
                 "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips[:1000]]})
for p in range(pols):
    d = p % 20
    objs.append({"apiVersion": "podfence.io/v1alpha1", "kind": "FencePolicy",
                 "metadata": {"name": f"fp{p}", "namespace": f"ns{d % 10}"},
                 "spec": {"priority": p % 1000, "appliesTo": [{"kind": "Deployment", "name": f"d{d}"}],
                          "egress": [{"action": "Allow", "to": [{"kind": "Service", "name": f"s{(d + 1) % 20}"}],
                                      "ports": [{"port": 5432}]},
                                     {"action": "Allow", "to": [{"cidr": "10.0.0.0/8"}], "ports": [{"port": 443}]},
                                     {"action": "Deny"}]}})
print(json.dumps({"bulk": objs}))
EOP
kube_control "@$TMP/bulk.json" >/dev/null

t0=$(date +%s.%N)
start_sync
want=$PODS
wait_until 1200 q_is "$want" "SELECT count(*) FROM workload WHERE kind = 'Pod' AND namespace LIKE 'ns%'" ||
	fail "initial sync of $PODS pods did not finish"
wait_until 600 grep -q 'synced:' "$TMP/sync.log"
t1=$(date +%s.%N)
printf 'initial sync of %d pods, %d policies: %.2f s (list + resolve + store)\n' "$PODS" "$POLICIES" "$(echo "$t1 - $t0" | bc)"
dep_ips=$(q "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id WHERE w.kind = 'Deployment' AND w.namespace LIKE 'ns%'")
echo "  Deployment workloads resolve to $dep_ips addresses in total (want $PODS)"
sleep 1
grep -E 'VmRSS|VmHWM' "/proc/$SYNC_PID/status" | sed 's/^/  podfence-sync /'
"$PYTHON3" "$top_srcdir/bench/bench-propagation.py" "$KUBECTL" "$KCFG" "$KDIR/cache" "$DB" ns0 "$N" \
	"with $PODS pods and $POLICIES policies" "$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")"
rs_uid=$(kc get rs -n ns0 d0-rs0 -o jsonpath='{.metadata.uid}')
"$PYTHON3" "$top_srcdir/bench/bench-propagation.py" "$KUBECTL" "$KCFG" "$KDIR/cache" "$DB" ns0 "$N" \
	"with $PODS pods and $POLICIES policies" "$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")" \
	pod d0 d0-rs0 "$rs_uid"
grep -E 'VmRSS|VmHWM' "/proc/$SYNC_PID/status" | sed 's/^/  podfence-sync after the changes: /'
