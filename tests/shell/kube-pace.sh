#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --resync-min paces bursts of workload changes, never a policy: with a long --resync-min,
# policy changes made right after the initial sync and right after each other reach the store
# long before the window ends, while a burst of pod changes past the first few waits for it.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start --bookmark-interval 0.5
y_ns shop | kapply create
y_obj Deployment shop web | kapply create
y_obj ReplicaSet shop web-1 Deployment web | kapply create
y_pod shop web-1-a "10.1.0.1" ReplicaSet web-1 | kapply create

bg_start $VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" \
	--resync-min 30 --socket "$TMP/nonexistent.sock" 2>"$TMP/sync.log"
pol() { q "SELECT priority FROM policies WHERE namespace = 'shop' AND name = 'fp'"; }
is_pol() { [ "$(pol)" = "$1" ]; }
ips() { q "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id
	   WHERE w.kind = 'Deployment' AND w.name = 'web'"; }
ips_are() { [ "$(ips)" = "$1" ]; }
wait_until 100 ips_are 1 || fail "initial sync: $(cat "$TMP/sync.log")"

# Well inside the first 30 s window: every policy change is written (10 s is a third of it).
for prio in 100 90 80 70 60 50; do
	verb=replace
	[ "$prio" = 100 ] && verb=create
	y_fp shop fp "$prio" Deployment web | kapply "$verb"
	wait_until 100 is_pol "$prio" || fail "policy change to $prio not written within 10 s"
done
pass "6 policy changes inside one --resync-min window, each written at once"

# A burst of pods (this window's few quick writes are used up by now): it waits for the window.
for i in 1 2 3 4 5 6 7 8; do
	y_pod shop "web-1-p$i" "10.1.1.$i" ReplicaSet web-1 | kapply create
	sleep 0.1
done
sleep 3
n=$(ips)
[ "$n" -lt 9 ] || fail "all $n addresses written inside the window: workload bursts not paced"
y_fp shop fp 40 Deployment web | kapply replace
wait_until 100 is_pol 40 || fail "a policy change waited behind the paced workload changes"
pass "a workload burst is paced ($n of 9 addresses in the store), a policy change is not"
