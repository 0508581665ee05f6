#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# containerd pods started while podfenced is down follow fail_mode: with a handler whose base
# spec says closed, no app container of the pod starts (StartContainer fails, saying why; the
# sandbox itself carries no hooks, so RunPodSandbox succeeds); with one that says open, the
# container starts unenforced, leaves a record, and the engine adopts it when it comes up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
. "$(dirname "$0")/containerd-lib.sh"
cd_setup open closed=closed
S=$SERVER_IP
load_policy_yaml <<YAML
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: shop-egress, namespace: shop}
spec:
  appliesTo: [{kind: Namespace, name: shop}]
  egress:
  - action: Reject
    to: [{cidr: $S}]
    ports: [{port: 443}]
YAML

# --- engine down, fail_mode closed ------------------------------------------------------
run_pod C shop web-7d9f8-closed 7c1d3b9e-0c4f-4e2a-8b7d-6f1e2a3c4d5e --runtime-handler closed ||
	fail "RunPodSandbox (closed): $RUN_POD_ERR"
if start_ctr CA "$C" app -- /bin/sh -c 'echo started; exec sleep 600'; then
	fail "fail-closed: StartContainer succeeded with the engine down"
fi
echo "$START_ERR" | grep -q "engine is unreachable" || fail "fail-closed: StartContainer error lacks the reason: $START_ERR"
log=$(ctr_log "$CA" 2>/dev/null || true)
case $log in *started*) fail "fail-closed: the app's process ran" ;; esac
[ "$(ctr_field "$CA" state)" != CONTAINER_RUNNING ] || fail "fail-closed: container running"
pass "fail-closed, engine down: StartContainer refused ('engine is unreachable'), the app never ran"

# --- engine down, fail_mode open -----------------------------------------------------------
run_pod O shop web-7d9f8-open 8d1d3b9e-0c4f-4e2a-8b7d-6f1e2a3c4d5e || fail "RunPodSandbox (open): $RUN_POD_ERR"
start_ctr OA "$O" app -- /bin/sleep 600 || fail "fail-open: StartContainer: $START_ERR"
[ -f "$STATE/pending/$OA.json" ] || fail "fail-open: no pending record for $OA"
cexec "$OA" nc -w 3 "$S" 443 </dev/null >/dev/null 2>&1 || fail "fail-open: the unenforced container could not connect"
pass "fail-open, engine down: the app starts unenforced, record left in the state dir"

start_engine
wait_until 50 engine_has_pod shop web-7d9f8-open || fail "the engine did not adopt $OA"
[ ! -e "$STATE/pending/$OA.json" ] || fail "pending record not consumed"
wait_until 50 sql_is 1 "SELECT count(*) FROM pod_container WHERE container = '$O'" ||
	fail "the adopted pod does not watch its sandbox: $(sql 'SELECT container, pid FROM pod_container')"
out=$(cexec "$OA" nc -w 3 "$S" 443 </dev/null 2>&1) && fail "adopted container still reaches :443"
echo "$out" | grep -q refused || fail "adopted container: expected a refusal, got: $out"
pass "engine start adopts the fail-open container (and its sandbox): refused on :443 now"

# The closed pod, its container retried with the engine up (what a kubelet does), starts.
cri rm "$CA" || fail "RemoveContainer of the refused container"
start_ctr CB "$C" app --attempt 1 -- /bin/sh -c "nc -w 3 $S 443 </dev/null 2>&1; echo first=\$?; exec sleep 600" ||
	fail "fail-closed pod, engine up: StartContainer: $START_ERR"
log_has() { ctr_log "$1" | grep -q "$2"; }
wait_until 100 log_has "$CB" first= || fail "retried container did not probe"
ctr_log "$CB" | grep -q first=1 || fail "retried container reached :443: $(ctr_log "$CB")"
pass "fail-closed pod retried with the engine up: starts, judged from its first SYN"
engine_finish
