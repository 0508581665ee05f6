#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end: the test API server, podfence-sync --kube, podfenced, and Podman containers that
# carry CRI-O's pod annotations for pods the API server says belong to a Deployment. A
# FencePolicy created with kubectl for the Deployment is enforced on the containers; a scale-up
# pod is enforced from its first SYN, while the API server still has no IP for it (matched by
# name); deleting the policy lifts the fence.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
. "$(dirname "$0")/runtime-lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
rt_need
need_cmd podman ip
[ -x "$PODFENCED" ] || skip "podfenced not built"
[ -x "$PODFENCE_SYNC" ] || fail "podfence-sync not built"
[ -f "$top_builddir/packaging/hooks.d/podfence.json" ] || fail "packaging/hooks.d not generated"
ip netns add "pfprobe-$TID" 2>/dev/null || skip "cannot create network namespaces"
ip netns del "pfprobe-$TID"

setup_server
add_pod 1; NS1=$POD	# 10.1.1.2: the address the API server reports for pod web-1-a
add_pod 2; NS2=$POD	# 10.1.2.2: web-1-b, the scale-up
mk_rootfs "$TMP/rootfs"
mkdir -p "$(dirname "$SOCK")" "$TMP/hooks"
for f in podfence podfence-poststop; do
	"$PY" - "$top_builddir/packaging/hooks.d/$f.json" "$TMP/hooks/$f.json" "$PODFENCE_HOOK" "$SOCK" "$STATE" <<'PY'
import json, sys
src, dst, hook, sock, state = sys.argv[1:]
h = json.load(open(src))
stage = h["hook"]["args"][-1]
h["hook"]["path"] = hook
h["hook"]["args"] = ["podfence-hook", "--socket", sock, "--state-dir", state, "--fail-mode", "closed",
                     "--timeout", "3000", stage]
json.dump(h, open(dst, "w"))
PY
done
# podman_run NAME NETNS POD-NAME POD-UID OPTIONS... -- COMMAND...: CRI-O's annotations.
podman_run() {
	local name=$1 netns=$2 pod=$3 uid=$4 opts=()
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	on_exit "podman rm --force --time 0 $name"
	podman --runtime runc --hooks-dir "$TMP/hooks" run --name "$name" \
		--ulimit nofile=1024:4096 --ulimit nproc=4096:4096 --network "ns:/run/netns/$netns" \
		--annotation io.kubernetes.pod.namespace=shop --annotation io.kubernetes.pod.name="$pod" \
		--annotation io.kubernetes.pod.uid="$uid" "${opts[@]}" --rootfs "$TMP/rootfs" "$@"
}

kube_start --bookmark-interval 1
y_ns shop | kapply create
y_obj Deployment shop web | kapply create
y_obj ReplicaSet shop web-1 Deployment web | kapply create
y_pod shop web-1-a "10.1.1.2 fd01:1::2" ReplicaSet web-1 | kapply create
y_pod shop other "10.1.9.9" | kapply create	# not in the Deployment
uid_a=$(kc get pod -n shop web-1-a -o jsonpath='{.metadata.uid}')

start_engine
bg_start "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --socket "$SOCK" --state-dir "$STATE" \
	--resync-min 0 -v 2>"$TMP/sync.log"
wait_until 100 q_is 1 "SELECT count(*) FROM workload WHERE kind = 'Deployment' AND name = 'web'" ||
	fail "podfence-sync did not sync"

A=pfke-$TID-a
podman_run "$A" "$NS1" web-1-a "$uid_a" -d -- /bin/sleep 600 >/dev/null
wait_until 50 engine_has_pod shop web-1-a || fail "container of web-1-a not registered"
podman exec "$A" nc -w 3 10.99.0.1 443 </dev/null >/dev/null 2>&1 || fail "no policy yet, but :443 unreachable"
pass "web-1-a runs under the engine, no policy yet"

y_fp shop web-egress 100 Deployment web "  - action: Allow
    to:
    - cidr: 10.99.0.1
    ports:
    - port: 80
  - action: Reject
    to:
    - cidr: 10.99.0.0/24" | kapply create
refused_443() { out=$(podman exec "$A" nc -w 3 10.99.0.1 443 </dev/null 2>&1) && return 1; echo "$out" | grep -q refused; }
wait_until 100 refused_443 || fail "policy created with kubectl not enforced on web-1-a: $out"
podman exec "$A" nc -w 3 10.99.0.1 80 </dev/null >/dev/null 2>&1 || fail "Allow :80 not reachable"
q "SELECT pod_name || ' ' || policy_name || ' ' || rule_index || ' ' || action FROM applied_policies" >"$TMP/applied"
grep -q "web-1-a web-egress 1 Reject" "$TMP/applied" || fail "applied_policies: $(cat "$TMP/applied")"
pass "kubectl create FencePolicy for Deployment web: enforced on its Podman container (Reject :443, Allow :80)"

# Scale-up, as on a real cluster: the ReplicaSet gets a second pod object, which has no address
# until its sandbox starts (the kubelet reports podIPs only after that). The sync knows the pod
# by name; its container starts while the API still has no IP for it.
y_pod shop web-1-b "" ReplicaSet web-1 | sed 's/phase: Running/phase: Pending/' | kapply create
uid_b=$(kc get pod -n shop web-1-b -o jsonpath='{.metadata.uid}')
wait_until 100 q_is 1 "SELECT count(*) FROM workload w JOIN workload_pod wp ON wp.workload_id = w.id
	WHERE w.kind = 'Deployment' AND w.name = 'web' AND wp.pod_name = 'web-1-b'" || fail "scale-up pod not resolved by name"
[ "$(q "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id
	WHERE w.kind = 'Deployment' AND w.name = 'web' AND wi.ip = '10.1.2.2'")" = 0 ] ||
	fail "the API has no IP for web-1-b, yet the store has one"
podman_run "pfke-$TID-b" "$NS2" web-1-b "$uid_b" --rm -- /bin/sh -c \
	'nc -w 3 10.99.0.1 443 </dev/null 2>&1; echo "first=$?"' >"$TMP/b.out" 2>"$TMP/b.err" ||
	fail "podman run web-1-b: $(cat "$TMP/b.err")"
grep -q "first=1" "$TMP/b.out" && grep -q refused "$TMP/b.out" ||
	fail "scale-up pod's first connection not judged: $(cat "$TMP/b.out")"
pass "scale-up: the new pod's very first SYN, before the API knows its IP, is judged by the Deployment's policy"

kc delete fp -n shop web-egress >/dev/null
open_443() { podman exec "$A" nc -w 3 10.99.0.1 443 </dev/null >/dev/null 2>&1; }
wait_until 100 open_443 || fail "kubectl delete FencePolicy did not lift the fence"
pass "kubectl delete FencePolicy: the fence is lifted"

podman rm --force --time 0 "$A" >/dev/null
wait_until 100 engine_lacks_pod shop web-1-a || fail "podman rm did not unregister web-1-a"
engine_finish
