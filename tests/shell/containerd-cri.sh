#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# containerd for real, through its CRI (tests/cri/cri.py, the calls a kubelet makes): a private
# containerd whose runc handler has podfence's shipped base runtime spec and config snippet
# (packaging/containerd/, here with the built hook, fail_mode closed). A pod
# sandbox shop/web-7d9f8-x2x1z and an app container whose first command connects out: the
# identity is containerd's CRI annotations, sandbox and app are one pod (one netns), the first
# SYN is judged, a second container joins the same pod, the pod stays enforced while its
# sandbox lives even with no app container left, and StopPodSandbox releases it. A
# host-network pod is left alone.
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
  - action: Allow
    to: [{cidr: $S}]
    ports: [{port: 80}]
  - action: Reject
    to: [{cidr: $S}]
    ports: [{port: 443}]
  - action: Deny
    to: [{cidr: $S}]
    ports: [{port: 9000}]
YAML
start_engine
cri version | grep -q '"runtime_name": "containerd"' || fail "the CRI socket is not containerd's"
diff=$(cd_spec_is_default) || fail "the shipped base runtime spec is not containerd's default plus the hooks: $diff"
pass "shipped base spec = this containerd's default spec (ctr oci spec) + podfence's hooks; config from the shipped snippet"

# --- the sandbox: containerd runs the pause container without the base spec's hooks --------
UID_WEB=3f6c2a1e-8d4b-4c55-9a0e-71b2d0c4e9aa
run_pod P shop web-7d9f8-x2x1z "$UID_WEB" || fail "RunPodSandbox: $RUN_POD_ERR"
NETNS=$(pod_field "$P" netns)
NSNAME=${NETNS##*/}
[ "$(pod_field "$P" state)" = SANDBOX_READY ] || fail "sandbox not ready"
[ -e "/run/netns/$NSNAME" ] || fail "sandbox netns $NETNS is not a named netns"
# Before any app container the pod is not fenced (nothing in it runs but pause): what is
# refused below is podfence's doing.
expect "$NSNAME" "$S" 443 ok
[ "$(pod_rows shop web-7d9f8-x2x1z)" = 0 ] || fail "the pause container registered (containerd gave it hooks?)"
pass "RunPodSandbox: sandbox READY in netns $NSNAME, not registered by itself"

# --- the app container: its very first command connects ---------------------------------------
start_ctr A "$P" app -- /bin/sh -c "nc -w 3 $S 443 </dev/null 2>&1; echo first=\$?; nc -w 3 $S 80 </dev/null; echo second=\$?; echo deny-begin; nc -w 1 $S 9000 </dev/null 2>&1; echo third=\$?; exec sleep 600" ||
	fail "StartContainer app: $START_ERR"
log_has() { ctr_log "$1" | grep -q "$2"; }
wait_until 100 log_has "$A" third= || fail "app container did not finish its probes: $(ctr_log "$A")"
out=$(ctr_log "$A")
echo "$out" | grep -q first=1 && echo "$out" | grep -q refused ||
	fail "the app's first connection reached a Reject port: $out"
echo "$out" | grep -q second=0 || fail "Allow :80 not reached: $out"
echo "$out" | grep -q third=1 || fail "Deny :9000 reached: $out"
echo "$out" | sed -n '/deny-begin/,/third=/p' | grep -q refused && fail "Deny answered with a refusal: $out"
pass "first SYN of the app judged: Reject refused at once, Allow connects, Deny times out"

# --- identity: containerd's CRI annotations ---------------------------------------------------
CFG=$CD/state/io.containerd.runtime.v2.task/k8s.io/$A/config.json
"$PY" - "$CFG" "$P" "$UID_WEB" <<'PY' || fail "containerd's annotations on the app container"
import json, sys
a = json.load(open(sys.argv[1]))["annotations"]
want = {"io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.sandbox-name": "web-7d9f8-x2x1z",
        "io.kubernetes.cri.sandbox-uid": sys.argv[3], "io.kubernetes.cri.sandbox-id": sys.argv[2],
        "io.kubernetes.cri.container-type": "container"}
bad = {k: a.get(k) for k, v in want.items() if a.get(k) != v}
assert not bad, bad
assert not any(k.startswith("podfence.io/") or k.startswith("io.kubernetes.pod.") for k in a), a
PY
row=$(sql "SELECT kind, uid, netns_dev || ':' || netns_ino, state FROM pods WHERE namespace = 'shop' AND name = 'web-7d9f8-x2x1z'")
want="Pod|$UID_WEB|$(stat -L -c %d:%i "$NETNS")|enforced"
[ "$row" = "$want" ] || fail "pods row: got '$row', want '$want'"
[ "$(sql 'SELECT count(*) FROM pods')" = 1 ] || fail "more than one pod row: $(sql 'SELECT * FROM pods')"
pass "identity from io.kubernetes.cri.sandbox-*: shop/web-7d9f8-x2x1z uid $UID_WEB, the sandbox's netns"

# --- a second container joins the same pod --------------------------------------------------------
start_ctr B "$P" sidecar -- /bin/sleep 600 || fail "StartContainer sidecar: $START_ERR"
[ "$(status_field 's["n_pods"]')" = 1 ] || fail "a second container made a second pod: $(ctl '{"op":"status"}')"
ctrs=$(sql "SELECT containers FROM pods WHERE name = 'web-7d9f8-x2x1z'")
case $ctrs in *"$A"*) ;; *) fail "pod lost the app container: $ctrs" ;; esac
case $ctrs in *"$B"*) ;; *) fail "sidecar not a container of the pod: $ctrs" ;; esac
case $ctrs in *"$P"*) ;; *) fail "the sandbox (pause) is not watched as part of the pod: $ctrs" ;; esac
out=$(cexec "$B" nc -w 3 "$S" 443 </dev/null 2>&1) && fail "sidecar reached :443"
echo "$out" | grep -q refused || fail "sidecar :443: expected a refusal, got: $out"
pass "sidecar joins the pod (one pod: sandbox, app, sidecar), judged by the pod's policy"

# --- app containers stop, the sandbox lives: still enforced ----------------------------------------
cri stop "$A" && cri rm "$A" || fail "StopContainer/RemoveContainer app"
wait_until 50 engine_has_pod shop web-7d9f8-x2x1z || fail "pod released while the sidecar runs"
cri stop "$B" && cri rm "$B" || fail "StopContainer/RemoveContainer sidecar"
[ "$(pod_field "$P" state)" = SANDBOX_READY ] || fail "sandbox not ready after its containers stopped"
sleep 0.5
engine_has_pod shop web-7d9f8-x2x1z || fail "pod released with its sandbox (and netns) alive: $(grep -i released "$ENGINE_LOG" | tail -1)"
expect "$NSNAME" "$S" 443 refused
expect "$NSNAME" "$S" 80 ok
pass "no app container left, sandbox READY: the pod stays registered and enforced"

# A new app container in the same sandbox (a restart, attempt 1) is the same pod again.
start_ctr A2 "$P" app --attempt 1 -- /bin/sh -c "nc -w 3 $S 443 </dev/null 2>&1; echo first=\$?; exec sleep 600" ||
	fail "StartContainer app attempt 1: $START_ERR"
wait_until 100 log_has "$A2" first= || fail "restarted app did not probe"
ctr_log "$A2" | grep -q first=1 || fail "restarted app reached :443: $(ctr_log "$A2")"
[ "$(status_field 's["n_pods"]')" = 1 ] || fail "restarted app made a second pod"
pass "a restarted app container is judged from its first SYN, in the same pod"

# --- StopPodSandbox: the netns goes, the pod is released -------------------------------------
cri stop-pod "$P" || fail "StopPodSandbox"
wait_until 100 engine_lacks_pod shop web-7d9f8-x2x1z || fail "pod still registered after StopPodSandbox"
wait_until 50 sql_is 0 "SELECT count(*) FROM pods" || fail "pod row left after StopPodSandbox: $(sql 'SELECT * FROM pods')"
cri rm-pod "$P" || fail "RemovePodSandbox"
pass "StopPodSandbox releases the pod: not in status, no row"

# --- a host-network pod is left alone ---------------------------------------------------------
run_pod H shop web-7d9f8-hostn "0b7e2d3c-1111-4c55-9a0e-71b2d0c4e9ab" --host-network ||
	fail "RunPodSandbox host network: $RUN_POD_ERR"
[ -z "$(pod_field "$H" netns)" ] || fail "host-network sandbox has a netns: $(pod_field "$H" netns)"
start_ctr HA "$H" app -- /bin/sh -c "nc -w 3 $S 443 </dev/null; echo first=\$?; exec sleep 600" ||
	fail "StartContainer in the host-network pod: $START_ERR"
wait_until 100 log_has "$HA" first= || fail "host-network app did not probe"
ctr_log "$HA" | grep -q first=0 || fail "host-network app could not connect: $(ctr_log "$HA")"
engine_lacks_pod shop web-7d9f8-hostn || fail "host-network pod registered"
[ "$(sql 'SELECT count(*) FROM pods')" = 0 ] || fail "host-network pod has a row"
[ "$(nft list tables 2>/dev/null | grep -c ' podfence$' || true)" = 0 ] ||
	fail "a podfence table in the host's netns"
pass "host-network pod (NamespaceMode NODE): starts, unenforced, no pod, no table on the host"
cri stop-pod "$H" && cri rm-pod "$H" || fail "removing the host-network pod"

engine_finish
