#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The engine's side of containerd's hook-less sandbox, without containerd: a register request
# naming the process that holds the netns ("sandbox", "sandbox_pid", as podfence-hook sends for
# a containerd app container) keeps the pod registered and enforced after its last container
# leaves, and releases it when that process exits. A sandbox_pid outside the pod's netns (a
# wrong or stale pid, or one aimed at keeping a pod alive) is not watched, an id another pod
# has is not taken over, and malformed fields are refused with a message naming them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
setup_server
add_pod 1; WEB=$POD
add_pod 2; OTHER=$POD
load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Namespace, name: shop}]
  egress:
  - action: Reject
    ports: [{port: 443}]
YAML
start_engine

sleeper() { # NETNS -> SLEEPER (pid, killed at exit)
	ip netns exec "$1" sleep 600 &
	SLEEPER=$!
	on_exit "kill $SLEEPER"
	wait_until 50 in_netns $SLEEPER "$1" || fail "sleep did not enter $1"
}
# reg PID NAME CONTAINER [EXTRA-JSON]: what the hook sends for a container whose process is PID.
reg() {
	ctl "{\"op\":\"register\",\"netns\":\"/proc/$1/ns/net\",\"pid\":$1,\"namespace\":\"shop\",\"name\":\"$2\",\"container\":\"$3\"${4:+,$4}}"
}
containers_of() { sql "SELECT containers FROM pods WHERE name = '$1'"; }

# --- the holder keeps the pod -----------------------------------------------------------------
sleeper "$WEB"; PAUSE=$SLEEPER
sleeper "$WEB"; APP=$SLEEPER
out=$(reg "$APP" web app1 "\"sandbox\":\"sb-web\",\"sandbox_pid\":$PAUSE")
echo "$out" | grep -q '"ok":true' || fail "register with a sandbox: $out"
wait_until 50 sql_is 1 "SELECT count(*) FROM pod_container WHERE container = 'sb-web' AND pid = $PAUSE" ||
	fail "sandbox not a container of the pod: $(containers_of web)"
# A second container naming the same sandbox does not add it twice.
sleeper "$WEB"; APP2=$SLEEPER
reg "$APP2" web app2 "\"sandbox\":\"sb-web\",\"sandbox_pid\":$PAUSE" | grep -q '"ok":true' || fail "second container"
[ "$(sql "SELECT count(*) FROM pod_container WHERE container = 'sb-web'")" = 1 ] || fail "sandbox added twice"
pass "a container naming its sandbox: the sandbox is watched as a container of the pod, once"

kill "$APP"
unregister app2 >/dev/null
wait_until 50 sql_is sb-web "SELECT group_concat(container) FROM pod_container" ||
	fail "app containers still listed: $(containers_of web)"
engine_has() { [ "$(status_field "sum(1 for p in s.get('pods', []) if p['name'] == '$1')")" = 1 ]; }
engine_has web || fail "pod released with its sandbox alive"
expect "$WEB" 10.99.0.1 443 refused
pass "app containers gone (one exited, one unregistered), sandbox alive: still enforced"

kill "$PAUSE"
wait_until 50 sql_is 0 "SELECT count(*) FROM pods WHERE name = 'web'" || fail "pod kept after its sandbox exited"
wait_until 50 tables_are "$WEB" 0 || fail "ruleset left after the sandbox exited"
grep -q 'Released pod shop/web' "$ENGINE_LOG" || fail "no release logged"
pass "the sandbox exits: pod released, ruleset removed"

# --- a sandbox_pid outside the pod's netns is not watched --------------------------------------
sleeper "$OTHER"; FOREIGN=$SLEEPER
sleeper "$WEB"; APP3=$SLEEPER
reg "$APP3" web app3 "\"sandbox\":\"sb-x\",\"sandbox_pid\":$FOREIGN" | grep -q '"ok":true' ||
	fail "register with a foreign sandbox_pid should still enforce the container"
grep -q "sandbox sb-x (pid $FOREIGN) is not a process in its netns" "$ENGINE_LOG" || fail "foreign sandbox not logged"
[ "$(sql "SELECT count(*) FROM pod_container WHERE container = 'sb-x'")" = 0 ] || fail "foreign sandbox watched"
kill "$APP3"
wait_until 50 sql_is 0 "SELECT count(*) FROM pods WHERE name = 'web'" ||
	fail "a process in another netns kept the pod alive"
pass "a sandbox_pid in another netns is not watched: the pod goes with its last container"

# --- an id another pod has is not taken over -----------------------------------------------------
sleeper "$OTHER"; O1=$SLEEPER
reg "$O1" other o1 | grep -q '"ok":true' || fail "register other"
sleeper "$WEB"; PAUSE2=$SLEEPER
sleeper "$WEB"; APP4=$SLEEPER
reg "$APP4" web app4 "\"sandbox\":\"o1\",\"sandbox_pid\":$PAUSE2" | grep -q '"ok":true' || fail "register app4"
grep -q "names sandbox o1, a container of pod shop/other" "$ENGINE_LOG" || fail "sandbox id clash not logged"
[ "$(sql "SELECT count(*) FROM pod_container WHERE container = 'o1'")" = 1 ] || fail "o1 taken over"
pass "a sandbox id that is another pod's container is not taken over"

# --- malformed fields ---------------------------------------------------------------------------
for bad in '"sandbox":"sb"' "\"sandbox_pid\":$PAUSE2" '"sandbox":"sb","sandbox_pid":1' \
	'"sandbox":"sb","sandbox_pid":"12"' '"sandbox":"","sandbox_pid":12' '"sandbox":7,"sandbox_pid":12'; do
	out=$(reg "$APP4" web app5 "$bad")
	echo "$out" | grep -q '"ok":false' || fail "accepted $bad: $out"
	echo "$out" | grep -q 'sandbox' || fail "error for $bad does not name the field: $out"
done
pass "malformed sandbox fields refused, the error names them"
engine_finish
