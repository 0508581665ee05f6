#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# After a random sequence of changes made with kubectl and faults injected into the sync's
# connections (watches cut mid-event, 500s, 429 with Retry-After, slow answers, history
# compacted so the watch gets 410 and relists, HTTP 410 on watch, streams cut after each
# event, list pages failing and continue tokens expiring), the store
# matches the API server exactly: nothing lost, nothing stale. SEED=N replays a sequence.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
SEED=${SEED:-$RANDOM}
ROUNDS=${ROUNDS:-15}
echo "# SEED=$SEED ROUNDS=$ROUNDS"
RANDOM=$SEED
kube_start --bookmark-interval 0.5 --history 200

y_ns f | kapply create
y_obj Deployment f dep0 | kapply create
y_obj Deployment f dep1 | kapply create
# Enough pods that the sync's pod LIST takes two pages (limit 500): continue tokens get exercised.
"$PYTHON3" -c '
import json
print(json.dumps({"bulk": [{"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "bulk-%d" % i, "namespace": "f"},
    "status": {"phase": "Running", "podIP": "10.200.%d.%d" % (i // 250, i % 250 + 1),
               "podIPs": [{"ip": "10.200.%d.%d" % (i // 250, i % 250 + 1)}]}} for i in range(600)]}))
' >"$TMP/bulk.json"
kube_control "@$TMP/bulk.json" >/dev/null

bg_start $VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --resync-min 0 -v \
	--socket "$TMP/nonexistent.sock" 2>"$TMP/sync.log"
SYNC_PID=$BG_PID
wait_for 60 store_matches || { store_diff; fail "initial sync does not match"; }

rs=() pods=() fps=()
n=0
pick() { local -n arr=$1; [ ${#arr[@]} -gt 0 ] && echo "${arr[RANDOM % ${#arr[@]}]}"; }
rand_ip() { echo "10.$((RANDOM % 4)).$((RANDOM % 250)).$((RANDOM % 250 + 1))"; }
drop() { local -n arr=$1; local x out=(); for x in "${arr[@]}"; do [ "$x" = "$2" ] || out+=("$x"); done; arr=("${out[@]}"); }

op() {
	local r=$((RANDOM % 12)) name owner ips
	n=$((n + 1))
	case $r in
	0|1)	name=rs$n
		y_obj ReplicaSet f "$name" Deployment "dep$((RANDOM % 2))" | kapply create
		rs+=("$name") ;;
	2|3|4)	owner=$(pick rs) || return 0
		name=p$n ips=$(rand_ip)
		[ $((RANDOM % 3)) = 0 ] && ips="$ips fd00::$n"
		y_pod f "$name" "$ips" ReplicaSet "$owner" | kapply create
		pods+=("$name:$owner") ;;
	5)	name=$(pick pods) || return 0
		if [ $((RANDOM % 2)) = 0 ]; then
			y_pod f "${name%%:*}" "$(rand_ip)" ReplicaSet "${name#*:}" 2>/dev/null | kapply replace 2>/dev/null || true
		else
			y_pod f "${name%%:*}" "$(rand_ip)" ReplicaSet "${name#*:}" 2>/dev/null |
				sed 's/phase: Running/phase: Succeeded/' | kapply replace 2>/dev/null || true
		fi ;;
	6)	name=$(pick pods) || return 0
		kc delete pod -n f "${name%%:*}" --wait=false >/dev/null 2>&1 || true
		drop pods "$name" ;;
	7)	name=$(pick rs) || return 0
		kc delete rs -n f "$name" --wait=false >/dev/null 2>&1 || true	# cascades to its pods
		drop rs "$name"
		for owner in "${pods[@]}"; do [ "${owner#*:}" != "$name" ] || drop pods "$owner"; done ;;
	8|9)	name=fp$((RANDOM % 6))
		if [[ " ${fps[*]} " == *" $name "* ]]; then
			y_fp f "$name" $((RANDOM % 1000)) Deployment "dep$((RANDOM % 2))" | kapply replace
		else
			y_fp f "$name" $((RANDOM % 1000)) Deployment "dep$((RANDOM % 2))" | kapply create
			fps+=("$name")
		fi ;;
	10)	name=$(pick fps) || return 0
		kc delete fp -n f "$name" >/dev/null
		drop fps "$name" ;;
	11)	name=svc$((RANDOM % 3))
		y_svc f "$name" "10.96.0.$((RANDOM % 250 + 1))" | kapply replace 2>/dev/null ||
			y_svc f "$name" "10.96.0.$((RANDOM % 250 + 1))" | kapply create
		y_slice f "$name-s" "$name" IPv4 "$(rand_ip) $(rand_ip)" | kapply replace 2>/dev/null ||
			y_slice f "$name-s" "$name" IPv4 "$(rand_ip)" | kapply create ;;
	esac
}

SYNC='"agent": "podfence-sync"'
fault() {
	case $((RANDOM % 8)) in
	0)	echo "# fault: cut every watch mid-event"
		kube_control '{"cut_watches": true}' ;;
	1)	echo "# fault: 500 on the next watches"
		kube_control "{\"faults\": [{$SYNC, \"watch\": true, \"status\": 500, \"count\": 4}], \"cut_watches\": true}" ;;
	2)	echo "# fault: 429 Retry-After 1 on the next requests"
		kube_control "{\"faults\": [{$SYNC, \"status\": 429, \"retry_after\": 1, \"count\": 3}], \"cut_watches\": true}" ;;
	3)	echo "# fault: watches held off while things change (deletions too), then history compacted (410)"
		kube_control "{\"faults\": [{$SYNC, \"watch\": true, \"status\": 503, \"count\": 50}], \"cut_watches\": true}"
		local victim
		if victim=$(pick pods); then
			kc delete pod -n f "${victim%%:*}" --wait=false >/dev/null 2>&1 || true
			drop pods "$victim"
		fi
		if victim=$(pick fps); then
			kc delete fp -n f "$victim" >/dev/null
			drop fps "$victim"
		fi
		op; op
		kube_control '{"compact": true}'
		kube_control '{"faults": []}' ;;
	4)	echo "# fault: slow answers"
		kube_control "{\"faults\": [{$SYNC, \"delay\": 0.4, \"count\": 6}], \"cut_watches\": true}" ;;
	5)	echo "# fault: every watch cut after one event"
		kube_control '{"cut_after": 1}'
		op; op
		kube_control '{"cut_after": null}' ;;
	7)	echo "# fault: watch answered with HTTP 410 Gone"
		kube_control "{\"faults\": [{$SYNC, \"watch\": true, \"status\": 410, \"count\": 3}], \"cut_watches\": true}" ;;
	6)	echo "# fault: list pages fail, continue token expires"
		kube_control "{\"faults\": [{$SYNC, \"watch\": false, \"status\": 500, \"count\": 2}], \"compact\": true, \"cut_watches\": true}" ;;
	esac >/dev/null
}

for ((i = 0; i < ROUNDS; i++)); do
	fault
	op
	op
done
kube_control '{"faults": [], "cut_after": null}' >/dev/null
wait_for 60 store_matches || { store_diff; tail -30 "$TMP/sync.log"; fail "store differs from the API server (SEED=$SEED)"; }
kill -0 "$SYNC_PID" || fail "podfence-sync died"
pass "after $ROUNDS rounds of faults the store matches the API server exactly (SEED=$SEED)"
grep -q 'expired, relisting' "$TMP/sync.log" && pass "a 410 made the sync relist" || echo "# no 410 in this sequence"
