#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# An engine restart with a containerd pod of two containers (app + sidecar): each container is
# re-adopted with its own pid, so when the app exits after the restart the sidecar stays
# fenced (its connection to a Reject port is refused, not let through), and the pod stays
# registered while its sandbox lives; StopPodSandbox then releases it, and a pod whose sandbox
# stops while the engine is down is not re-adopted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
. "$(dirname "$0")/containerd-lib.sh"
cd_setup closed
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
start_engine

run_pod P shop web-7d9f8-x2x1z 5a1d3b9e-0c4f-4e2a-8b7d-6f1e2a3c4d5e || fail "RunPodSandbox: $RUN_POD_ERR"
NSNAME=$(pod_field "$P" netns); NSNAME=${NSNAME##*/}
start_ctr A "$P" app -- /bin/sleep 600 || fail "StartContainer app: $START_ERR"
start_ctr B "$P" sidecar -- /bin/sleep 600 || fail "StartContainer sidecar: $START_ERR"
refused_from() { local out; out=$(cexec "$1" nc -w 3 "$S" 443 </dev/null 2>&1) && return 1; echo "$out" | grep -q refused; }
refused_from "$B" || fail "sidecar reached :443 before the restart"
pass "pod with app and sidecar enforced"

stop_engine
start_engine
wait_until 50 engine_has_pod shop web-7d9f8-x2x1z || fail "pod not re-adopted after the restart"
pids=$(sql "SELECT group_concat(container || '=' || pid, ' ') FROM pod_container ORDER BY container")
for c in "$P" "$A" "$B"; do
	want=$(cat "$CD/state/io.containerd.runtime.v2.task/k8s.io/$c/init.pid")
	case " $pids " in *" $c=$want "*) ;; *) fail "container $c not re-adopted with its own pid $want: $pids" ;; esac
done
pass "engine restart: sandbox, app and sidecar each re-adopted with its own pid"

cri stop "$A" && cri rm "$A" || fail "StopContainer app"
sleep 0.5
engine_has_pod shop web-7d9f8-x2x1z || fail "pod released while its sidecar runs: $(grep -i released "$ENGINE_LOG" | tail -1)"
refused_from "$B" || fail "after the restart and the app's exit the sidecar reaches :443 (unenforced)"
pass "app exits after the restart: the sidecar stays fenced"

cri stop "$B" && cri rm "$B" || fail "StopContainer sidecar"
sleep 0.5
engine_has_pod shop web-7d9f8-x2x1z || fail "pod released with its sandbox alive"
expect "$NSNAME" "$S" 443 refused
stop_engine
start_engine
wait_until 50 engine_has_pod shop web-7d9f8-x2x1z || fail "a pod with only its sandbox left not re-adopted"
expect "$NSNAME" "$S" 443 refused
pass "only the sandbox left: enforced, and re-adopted by a restarted engine"

cri stop-pod "$P" || fail "StopPodSandbox"
wait_until 100 engine_lacks_pod shop web-7d9f8-x2x1z || fail "pod still registered after StopPodSandbox"
cri rm-pod "$P" || fail "RemovePodSandbox"
pass "StopPodSandbox releases it"

# A pod whose sandbox stops while the engine is down is not re-adopted (its row goes).
run_pod Q shop web-7d9f8-gone 6b1d3b9e-0c4f-4e2a-8b7d-6f1e2a3c4d5e || fail "RunPodSandbox: $RUN_POD_ERR"
start_ctr QA "$Q" app -- /bin/sleep 600 || fail "StartContainer: $START_ERR"
wait_until 50 engine_has_pod shop web-7d9f8-gone || fail "second pod not registered"
stop_engine
cri stop-pod "$Q" && cri rm-pod "$Q" || fail "StopPodSandbox with the engine down"
start_engine
wait_until 50 sql_is 0 "SELECT count(*) FROM pods WHERE name = 'web-7d9f8-gone'" ||
	fail "a pod whose sandbox stopped while the engine was down was kept: $(sql 'SELECT * FROM pods')"
engine_lacks_pod shop web-7d9f8-gone || fail "stopped pod re-adopted"
pass "a sandbox stopped while the engine was down: the pod is not re-adopted, its row goes"
engine_finish
