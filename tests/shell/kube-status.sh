#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Policy status through kubectl: the shipped CRDs (status subresource, the VALID column), two
# podfence-sync instances on one API server, the Lease podfence-sync that makes exactly one of
# them write status.conditions (Valid with the field that is wrong, observedGeneration), the
# other standing by, and taking over once the writer is killed. Generation moves with the spec
# only.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start --bookmark-interval 0.5

# The server's record of writes, as "METHOD PATH AGENT" lines.
kube_writes() {
	"$PYTHON3" - "$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")" <<'EOP'
import json, ssl, sys, urllib.request
srv, ca, tok = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request(srv + "/_control/writes", headers={"Authorization": "Bearer " + tok})
for w in json.loads(urllib.request.urlopen(req, context=ctx, timeout=20).read()):
    print(w["method"], w["path"], w["agent"], w["code"])
EOP
}

kc create --validate=false -f "$top_srcdir/packaging/k8s/crd.yaml" >/dev/null || fail "kubectl create of the CRDs"
y_ns podfence-system | kapply create
y_ns shop | kapply create
y_pod shop web-1 "10.3.0.2" | kapply create
y_fp shop web 10 Pod web-1 "  - action: Allow
    to:
    - cidr: 10.3.0.0/24
    ports:
    - port: 5432" >"$TMP/web.yaml"
kc apply --validate=false -f "$TMP/web.yaml" >/dev/null || fail "kubectl apply of a FencePolicy"
y_fp shop bad 20 Pod web-1 "  - action: Permit" | kapply create
y_cfp base 1 Namespace shop "" "  - action: Pass" | kapply create

sync_start() { # NODE: a sync on its own store
	bg_start $VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$TMP/$1.db" \
		--node-name "$1" --lease-namespace podfence-system --lease-duration 3 \
		--resync-min 0 --socket "$TMP/nonexistent.sock" -v 2>"$TMP/$1.log"
}
holder() { kc get lease -n podfence-system podfence-sync -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [ "$(holder)" = "$1" ]; }
cond() { # NS NAME FIELD: the Valid condition's field
	kc get fp -n "$1" "$2" -o jsonpath="{.status.conditions[?(@.type==\"Valid\")].$3}" 2>/dev/null
}
cond_is() { [ "$(cond "$1" "$2" "$3")" = "$4" ]; }
status_writes() { kube_writes | grep -c "^PATCH .*/status podfence-sync/[^ ]* ($1) 200$" || true; }

sync_start node-a
A_PID=$BG_PID
wait_for 20 holder_is node-a || fail "node-a did not take the Lease (holder '$(holder)'): $(tail -5 "$TMP/node-a.log")"
sync_start node-b
B_PID=$BG_PID
pass "the first sync takes the Lease podfence-sync in --lease-namespace"

wait_for 20 cond_is shop web status True || fail "status of shop/web: '$(cond shop web status)'"
wait_for 20 cond_is shop bad status False || fail "status of shop/bad: '$(cond shop bad status)'"
[ "$(cond shop bad reason)" = Invalid ] || fail "reason of shop/bad: $(cond shop bad reason)"
cond shop bad message | grep -q 'spec.egress\[0\].action' || fail "the message does not name the field: $(cond shop bad message)"
[ "$(kc get fp -n shop web -o jsonpath='{.status.observedGeneration}')" = 1 ] || fail "observedGeneration of shop/web"
wait_for 20 test "$(kc get cfp base -o jsonpath='{.status.conditions[0].status}')" = True ||
	fail "status of the ClusterFencePolicy base"
pass "status.conditions Valid True/False with reason, the field in the message, observedGeneration"

kc get fp -n shop >"$TMP/get.out" || fail "kubectl get fp"
head -1 "$TMP/get.out" | grep -q 'VALID' || fail "no VALID column: $(cat "$TMP/get.out")"
grep -Eq '^web +True ' "$TMP/get.out" && grep -Eq '^bad +False ' "$TMP/get.out" ||
	fail "kubectl get fp: $(cat "$TMP/get.out")"
pass "kubectl get fp shows the VALID column from the status"

# Both syncs mirror the policies into their own stores; only the Lease holder writes status.
sleep 3
[ "$(status_writes node-b)" = 0 ] || fail "the standby wrote status: $(kube_writes | grep node-b)"
[ "$(status_writes node-a)" -ge 3 ] || fail "node-a's status writes: $(kube_writes | grep /status)"
n_a=$(status_writes node-a)
grep -q 'standing by: the Lease podfence-system/podfence-sync is held by node-a' "$TMP/node-b.log" ||
	fail "node-b does not say it stands by: $(tail -5 "$TMP/node-b.log")"
for n in node-a node-b; do
	[ "$(sqlite3 "$TMP/$n.db" "SELECT group_concat(name || '=' || valid, ',') FROM
		(SELECT name, valid FROM policies WHERE source = 'kube' ORDER BY name)")" = "bad=0,base=1,web=1" ] ||
		fail "store of $n: $(sqlite3 "$TMP/$n.db" 'SELECT name, valid FROM policies')"
done
# Nothing more to say: no writes while nothing changes (status does not make status).
sleep 2
[ "$(status_writes node-a)" = "$n_a" ] || fail "status rewritten with nothing changed"
pass "only the Lease holder writes, once per change; the other mirrors and stands by"

# metadata only: no new generation; spec: a new generation, observed.
kc label -n shop fp web team=db >/dev/null || fail "kubectl label"
[ "$(kc get fp -n shop web -o jsonpath='{.metadata.generation}')" = 1 ] || fail "a label bumped the generation"
sed -i 's/priority: 10/priority: 11/' "$TMP/web.yaml"
kc apply --validate=false -f "$TMP/web.yaml" >/dev/null || fail "kubectl apply (update)"
[ "$(kc get fp -n shop web -o jsonpath='{.metadata.generation}')" = 2 ] || fail "a spec change did not bump the generation"
wait_for 20 cond_is shop web observedGeneration 2 || fail "observedGeneration after the update: $(cond shop web observedGeneration)"
# the status stays across a write of the object itself (status subresource)
[ "$(cond shop web status)" = True ] || fail "kubectl apply cleared the status"
pass "generation follows the spec only; observedGeneration follows it"

# The writer dies without giving the Lease up: the other takes over after its duration.
kill -9 "$A_PID"
t0=$SECONDS
wait_for 20 holder_is node-b || fail "node-b did not take over (holder '$(holder)'): $(tail -5 "$TMP/node-b.log")"
echo "# takeover after $((SECONDS - t0)) s (lease duration 3 s)"
[ "$(kc get lease -n podfence-system podfence-sync -o jsonpath='{.spec.leaseTransitions}')" -ge 1 ] ||
	fail "leaseTransitions not counted"
grep -q 'node-a has not renewed for 3 s, taking over' "$TMP/node-b.log" || fail "takeover not logged"
y_fp shop web 11 Pod web-1 "  - action: Deny
    ports:
    - port: 99999" | kapply replace
wait_for 20 cond_is shop web status False || fail "node-b did not write the new status: $(cond shop web status)"
cond shop web message | grep -q 'spec.egress\[0\].ports\[0\].port' || fail "message after takeover: $(cond shop web message)"
[ "$(cond shop web observedGeneration)" = 3 ] || fail "observedGeneration after takeover: $(cond shop web observedGeneration)"
[ "$(status_writes node-b)" -ge 1 ] || fail "no status write by node-b"
pass "after the writer is killed the standby takes the Lease over and writes status"

# A clean stop gives the Lease up at once.
kill -TERM "$B_PID"
wait "$B_PID" || true
[ "$(holder)" = "" ] || fail "the Lease was not released on SIGTERM: holder '$(holder)'"
pass "SIGTERM releases the Lease"
