#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-sync --kube in the background: changes made with kubectl (create, replace, delete)
# reach the store; an invalid update keeps the last valid version in force; scale-up and pod
# deletion move addresses; deleting a namespace removes everything in it; a rotated token
# (tokenFile) keeps working.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start --bookmark-interval 0.5
# The sync reads its token from a file, as a projected service account token.
head -1 "$KDIR/token" >"$KDIR/client-token"
kube_write_config "$KDIR/sync-kubeconfig" "tokenFile: client-token"

y_ns shop | kapply create
y_obj Deployment shop web | kapply create
y_obj ReplicaSet shop web-1 Deployment web | kapply create
y_pod shop web-1-a "10.1.0.1" ReplicaSet web-1 | kapply create

bg_start $VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KDIR/sync-kubeconfig" --db "$DB" \
	--resync-min 0 --resync-max 4 --socket "$TMP/nonexistent.sock" -v 2>"$TMP/sync.log"
SYNC_PID=$BG_PID
ws() { q "SELECT group_concat(ip, ' ') FROM (SELECT wi.ip FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id
	  WHERE w.kind = '$1' AND w.namespace = '$2' AND w.name = '$3' ORDER BY wi.ip)"; }
is_ws() { [ "$(ws "$1" "$2" "$3")" = "$4" ]; }
expect_ws() {
	wait_until 100 is_ws "$@" || fail "$1 $2/$3 resolves to '$(ws "$1" "$2" "$3")', want '$4'"
}
pol() { q "SELECT priority || ',' || valid || ',' || in_force FROM policies WHERE namespace = '$1' AND name = '$2'"; }
is_pol() { [ "$(pol "$1" "$2")" = "$3" ]; }
expect_pol() {
	wait_until 100 is_pol "$@" || fail "policy $1/$2 is '$(pol "$1" "$2")', want '$3'"
}

expect_ws Deployment shop web "10.1.0.1"
pass "initial list reaches the store"

y_fp shop fp 100 Deployment web | kapply create
expect_pol shop fp "100,1,1"
y_fp shop fp 50 Deployment web | kapply replace
expect_pol shop fp "50,1,1"
pass "kubectl create/replace of a FencePolicy"

y_fp shop fp 7 Deployment web "  - action: Deny
    to:
    - cidr: 10.0.0.1/8" | kapply replace
expect_pol shop fp "50,0,1"
q "SELECT error FROM policies WHERE name = 'fp'" | grep -q 'spec.egress\[0\].to\[0\].cidr' ||
	fail "the invalid update's error does not name the field"
grep -q 'FencePolicy shop/fp .*invalid' "$TMP/sync.log" || fail "invalid update not logged"
y_fp shop fp 60 Deployment web | kapply replace
expect_pol shop fp "60,1,1"
pass "an invalid update keeps the last valid version in force, a valid one replaces it"

# Scale up: the ReplicaSet controller would create a pod; we do what it does.
y_pod shop web-1-b "10.1.0.2 fd00:1::2" ReplicaSet web-1 | kapply create
expect_ws Deployment shop web "10.1.0.1 10.1.0.2 fd00:1::2"
# The pod gets a new address, then goes.
y_pod shop web-1-b "10.1.0.3" ReplicaSet web-1 | kapply replace
expect_ws Deployment shop web "10.1.0.1 10.1.0.3"
kc delete pod -n shop web-1-a >/dev/null
expect_ws Deployment shop web "10.1.0.3"
expect_ws Pod shop web-1-a ""
[ "$(q "SELECT count(*) FROM workload WHERE kind = 'Pod' AND name = 'web-1-a'")" = 0 ] ||
	fail "deleted pod still in the store"
pass "scale-up, address change and pod deletion move the Deployment's addresses"

# A scale-up pod is in the API before its sandbox has an address: it belongs to the Deployment
# by name at once, and its address joins when the kubelet reports it.
wp() { q "SELECT group_concat(pod_name, ' ') FROM (SELECT wp.pod_name FROM workload w JOIN workload_pod wp ON wp.workload_id = w.id
	  WHERE w.kind = '$1' AND w.namespace = '$2' AND w.name = '$3' ORDER BY wp.pod_name)"; }
is_wp() { [ "$(wp "$1" "$2" "$3")" = "$4" ]; }
expect_wp() {
	wait_until 100 is_wp "$@" || fail "$1 $2/$3 resolves to pods '$(wp "$1" "$2" "$3")', want '$4'"
}
y_pod shop web-1-p "" ReplicaSet web-1 | sed 's/phase: Running/phase: Pending/' | kapply create
expect_wp Deployment shop web "web-1-b web-1-p"
expect_wp ReplicaSet shop web-1 "web-1-b web-1-p"
[ "$(ws Deployment shop web)" = "10.1.0.3" ] || fail "a pod without an IP changed the Deployment's addresses"
y_pod shop web-1-p "10.1.0.9" ReplicaSet web-1 | kapply replace
expect_ws Deployment shop web "10.1.0.3 10.1.0.9"
y_pod shop web-1-p "10.1.0.9" ReplicaSet web-1 | sed 's/phase: Running/phase: Succeeded/' | kapply replace
expect_wp Deployment shop web "web-1-b"
expect_ws Deployment shop web "10.1.0.3"
kc delete pod -n shop web-1-p >/dev/null
pass "a pod without an IP yet resolves by name; its IP joins later; a finished pod drops out"

# Token rotation: the server accepts old and new, the client file changes, the old one is revoked.
old=$(head -1 "$KDIR/token")
new=rotated$old
printf '%s\n%s\n' "$old" "$new" >"$KDIR/token"
echo "$new" >"$KDIR/client-token"
echo "$new" >"$KDIR/token"
kube_write_config "$KCFG" "token: $new"
kube_control '{"cut_watches": true}' >/dev/null
y_pod shop web-1-c "10.1.0.4" ReplicaSet web-1 | kapply create
expect_ws Deployment shop web "10.1.0.3 10.1.0.4"
pass "a rotated token file keeps the sync working"

# 429 with Retry-After: the sync waits as long as the server asks.
kube_control '{"faults": [{"agent": "podfence-sync", "watch": true, "status": 429, "retry_after": 2, "count": 1}],
	"cut_watches": true}' >/dev/null
wait_until 50 grep -Eq 'HTTP 429.*retry [0-9]+ in 2[0-9]{3} ms' "$TMP/sync.log" ||
	{ grep 429 "$TMP/sync.log"; fail "429 Retry-After: 2 not honoured"; }
y_pod shop web-1-e "10.1.0.5" ReplicaSet web-1 | kapply create
expect_ws Deployment shop web "10.1.0.3 10.1.0.4 10.1.0.5"
pass "429 with Retry-After is honoured, then the watch resumes"

# Someone edits the store behind the sync's back: SIGHUP, and at the latest --resync-max, repair it.
q "DELETE FROM workload WHERE kind = 'Deployment'"
kill -HUP "$SYNC_PID"
expect_ws Deployment shop web "10.1.0.3 10.1.0.4 10.1.0.5"
pass "SIGHUP: a full reconcile repairs the store"
q "DELETE FROM workload WHERE kind = 'ReplicaSet'"
expect_ws ReplicaSet shop web-1 "10.1.0.3 10.1.0.4 10.1.0.5"
pass "--resync-max: the periodic full reconcile repairs the store"

kc delete fp -n shop fp >/dev/null
wait_until 100 q_is 0 "SELECT count(*) FROM policies WHERE namespace = 'shop' AND name = 'fp'" || fail "deleted policy still in the store"
pass "kubectl delete of a FencePolicy"

kc delete ns shop >/dev/null
wait_until 100 q_is 0 "SELECT count(*) FROM workload WHERE namespace = 'shop'" ||
	fail "workloads of a deleted namespace remain"
wait_for 30 store_matches || { store_diff; fail "store differs from the API server"; }
pass "deleting a namespace removes its workloads; store matches the API server"

kill "$SYNC_PID"
wait "$SYNC_PID" || fail "podfence-sync did not exit 0 on SIGTERM"
pass "SIGTERM ends podfence-sync cleanly"
