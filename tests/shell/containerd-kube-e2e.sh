#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kubernetes end to end with containerd doing what the kubelet asks of it: the test API server
# holds a Deployment's pods, podfence-sync --kube mirrors them and a FencePolicy for the
# Deployment into the store, and the CRI client starts the same pods (namespace, name, uid of
# the API objects) through a private containerd carrying podfence's base runtime spec,
# reporting each sandbox's IP back to the API server as a kubelet does. The policy created with
# kubectl is enforced on the running pod; a scale-up pod is enforced from its first SYN, before
# the API server has its IP; a pod outside the Deployment is not governed by it; deleting the
# policy lifts the fence; StopPodSandbox releases the pod.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
. "$(dirname "$0")/containerd-lib.sh"
cd_need
[ -x "$PODFENCE_SYNC" ] || fail "podfence-sync not built"
. "$top_srcdir/tests/kube/lib-kube.sh"
cd_images
cd_network
mkdir -p "$(dirname "$SOCK")" "$STATE"
cd_base_spec closed
cd_config
cd_start
S=$SERVER_IP

kube_start --bookmark-interval 1
y_ns shop | kapply create
y_obj Deployment shop web | kapply create
y_obj ReplicaSet shop web-1 Deployment web | kapply create
# kube_pod NAME [OWNER-KIND OWNER-NAME]: the API object (Pending, no IP yet), then its sandbox
# through the CRI with the object's namespace, name and uid, then the IP containerd gave it
# reported back (the kubelet's status update). The sandbox id in $POD_ID.
kube_pod() {
	local name=$1 uid ip
	y_pod shop "$name" "" "${2:-}" "${3:-}" | sed 's/phase: Running/phase: Pending/' | kapply create
	uid=$(kc get pod -n shop "$name" -o jsonpath='{.metadata.uid}')
	[ -n "$uid" ] || fail "no uid for pod $name"
	run_pod POD_ID shop "$name" "$uid" || fail "RunPodSandbox $name: $RUN_POD_ERR"
	ip=$(pod_field "$POD_ID" ip)
	[ -n "$ip" ] || fail "sandbox of $name has no IP"
	y_pod shop "$name" "$ip" "${2:-}" "${3:-}" | kapply replace
}

start_engine
bg_start "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --socket "$SOCK" --state-dir "$STATE" \
	--resync-min 0 -v 2>"$TMP/sync.log"

kube_pod web-1-a ReplicaSet web-1; PA=$POD_ID
IP_A=$(pod_field "$PA" ip)
wait_until 100 q_is 1 "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id
	WHERE w.kind = 'Deployment' AND w.name = 'web' AND wi.ip = '$IP_A'" ||
	fail "podfence-sync did not resolve Deployment web to web-1-a's address $IP_A"
start_ctr A "$PA" app -- /bin/sleep 600 || fail "StartContainer web-1-a: $START_ERR"
wait_until 50 engine_has_pod shop web-1-a || fail "containerd's web-1-a not registered"
cexec "$A" nc -w 3 "$S" 443 </dev/null >/dev/null 2>&1 || fail "no policy yet, but :443 unreachable"
pass "web-1-a (API object and containerd pod, one uid) runs under the engine, no policy yet"

kube_pod other; PO=$POD_ID	# in shop, not in the Deployment
start_ctr O "$PO" app -- /bin/sleep 600 || fail "StartContainer other: $START_ERR"

y_fp shop web-egress 100 Deployment web "  - action: Allow
    to:
    - cidr: $S
    ports:
    - port: 80
  - action: Reject
    to:
    - cidr: $SUBNET_PREFIX.0/24" | kapply create
refused_443() { out=$(cexec "$A" nc -w 3 "$S" 443 </dev/null 2>&1) && return 1; echo "$out" | grep -q refused; }
wait_until 100 refused_443 || fail "policy created with kubectl not enforced on containerd's web-1-a: $out"
cexec "$A" nc -w 3 "$S" 80 </dev/null >/dev/null 2>&1 || fail "Allow :80 not reachable"
q "SELECT pod_name || ' ' || policy_name || ' ' || rule_index || ' ' || action FROM applied_policies" >"$TMP/applied"
grep -q "web-1-a web-egress 1 Reject" "$TMP/applied" || fail "applied_policies: $(cat "$TMP/applied")"
cexec "$O" nc -w 3 "$S" 443 </dev/null >/dev/null 2>&1 || fail "pod 'other' (not in the Deployment) is fenced by its policy"
pass "kubectl create FencePolicy for Deployment web: enforced on the containerd pod; not on a pod outside it"

# Scale-up: the API object has no IP until its sandbox runs, and its first container connects
# at once, before the sync could learn the address.
y_pod shop web-1-b "" ReplicaSet web-1 | sed 's/phase: Running/phase: Pending/' | kapply create
uid_b=$(kc get pod -n shop web-1-b -o jsonpath='{.metadata.uid}')
wait_until 100 q_is 1 "SELECT count(*) FROM workload w JOIN workload_pod wp ON wp.workload_id = w.id
	WHERE w.kind = 'Deployment' AND w.name = 'web' AND wp.pod_name = 'web-1-b'" || fail "scale-up pod not resolved by name"
run_pod PB shop web-1-b "$uid_b" || fail "RunPodSandbox web-1-b: $RUN_POD_ERR"
start_ctr B "$PB" app -- /bin/sh -c "nc -w 3 $S 443 </dev/null 2>&1; echo first=\$?; exec sleep 600" ||
	fail "StartContainer web-1-b: $START_ERR"
log_has() { ctr_log "$1" | grep -q "$2"; }
wait_until 100 log_has "$B" first= || fail "web-1-b did not probe"
ctr_log "$B" | grep -q first=1 && ctr_log "$B" | grep -q refused ||
	fail "scale-up pod's first connection not judged: $(ctr_log "$B")"
[ "$(q "SELECT uid FROM pods WHERE name = 'web-1-b'")" = "$uid_b" ] || fail "web-1-b's row does not carry the API uid"
pass "scale-up through containerd: the first SYN, before the API knows the IP, is judged by the Deployment's policy"

kc delete fp -n shop web-egress >/dev/null
open_443() { cexec "$A" nc -w 3 "$S" 443 </dev/null >/dev/null 2>&1; }
wait_until 100 open_443 || fail "kubectl delete FencePolicy did not lift the fence"
pass "kubectl delete FencePolicy: the fence is lifted"

for p in "$PA" "$PB" "$PO"; do cri stop-pod "$p" || fail "StopPodSandbox"; done
wait_until 100 engine_lacks_pod shop web-1-a || fail "StopPodSandbox did not release web-1-a"
wait_until 100 q_is 0 "SELECT count(*) FROM pods" || fail "pod rows left: $(q 'SELECT * FROM pods')"
pass "StopPodSandbox releases the pods"
engine_finish
