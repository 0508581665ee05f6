#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-hook against the real podfenced, no runtime in between: a registration returns
# only once the rule is in the netns; two containers sharing a netns (a Kubernetes pod, here
# with CRI-O's annotations) are one pod, and only the last one out removes the rule.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
need_root
need_cmd ip nft "$PY"
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
[ -x "$PODFENCED" ] || skip "podfenced not built yet"
engine_need
H=$PODFENCE_HOOK

setup_server
add_pod 1; NS=$POD
# Two processes in the pod's netns: the sandbox and an app container.
ip netns exec "$NS" sleep 600 & P1=$!; on_exit "kill $P1"
ip netns exec "$NS" sleep 600 & P2=$!; on_exit "kill $P2"
wait_until 50 in_netns $P1 "$NS" && wait_until 50 in_netns $P2 "$NS" || fail "sleepers did not enter $NS"
mkdir -p "$TMP/b1" "$TMP/b2"
for b in b1 b2; do
	cat >"$TMP/$b/config.json" <<JSON
{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/$NS"}]}}
JSON
done
ANN='"io.kubernetes.pod.namespace":"shop","io.kubernetes.pod.name":"web-1","io.kubernetes.pod.uid":"0f5d8a3c-6e1b-4b7a-9c2d-1e3f5a7b9c0d"'
state() { # ID PID BUNDLE STATUS
	printf '{"ociVersion":"1.0.2","id":"%s","status":"%s",%s"bundle":"%s","annotations":{%s}}' \
		"$1" "$4" "${2:+\"pid\":$2,}" "$3" "$ANN"
}
HA=(--socket "$SOCK" --state-dir "$STATE" --fail-mode closed)
start_engine

state "sb-$TID" $P1 "$TMP/b1" creating | "$H" "${HA[@]}" prestart || fail "register sandbox"
# Synchronous: no waiting here, the table is there when the hook returns.
[ "$(pod_tables "$NS")" -ge 1 ] || fail "hook returned before the table was installed"
pass "hook returns with the rule installed"

state "app-$TID" $P2 "$TMP/b2" creating | "$H" "${HA[@]}" createRuntime || fail "register app"
n=$(ctl '{"op":"status"}' | "$PY" -c 'import json,sys; s=json.load(sys.stdin); c=[p["containers"] for p in s["pods"] if p["name"]=="web-1"]; print([x if isinstance(x,int) else len(x) for x in c])')
[ "$n" = "[2]" ] || fail "two containers of one netns: pods $n, want one pod with 2 containers"
pass "sandbox and app container (CRI-O annotations, one netns) are one pod"

state "app-$TID" "" "$TMP/b2" stopped | "$H" "${HA[@]}" poststop || fail "poststop app"
[ "$(pod_tables "$NS")" -ge 1 ] || fail "rule removed while the sandbox still runs"
state "sb-$TID" "" "$TMP/b1" stopped | "$H" "${HA[@]}" poststop || fail "poststop sandbox"
wait_until 30 sh -c "[ \"\$(ip netns exec $NS nft list tables 2>/dev/null | grep -c ' podfence\$')\" = 0 ]" ||
	fail "rule left after the last container's poststop"
pass "last container out removes the rule"
