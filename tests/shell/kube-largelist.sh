#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Lists paged by size as well as count: pods so large that a page of 500 is over the 128 MiB
# body cap still sync (the sync asks again with fewer objects, from the same continue token);
# one object over the cap on its own fails with an error naming it; and a relist that fails
# midway (a page failing, an object too large) keeps the last complete view in the store, so
# verdicts do not change, until a relist completes. The smaller cap of the last two parts comes
# from PODFENCE_KUBE_MAX_LIST_BODY, a variable for tests only.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_start --bookmark-interval 0.5

# bulk NS FIRST LAST PAD: running pods NS/pFIRST..pLAST, one IP each, PAD bytes each.
bulk() {
	"$PYTHON3" - "$@" >"$TMP/bulk.json" <<'EOP'
import json, sys
ns, first, last, pad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%d" % i, "namespace": ns},
         "status": {"phase": "Running", "podIPs": [{"ip": "10.%d.%d.%d" % (40 + len(ns), i >> 8, i & 255)}]}}
        for i in range(first, last + 1)]
print(json.dumps({"bulk": pods, "pad": {"env": pad}}))
EOP
	kube_control "@$TMP/bulk.json" >/dev/null
}
pods_in() { q "SELECT count(*) FROM workload WHERE kind = 'Pod' AND namespace = '$1'"; }

# 1. With a 1 MiB cap: 300 pods of 20 kB sync (pages of 500 are 6 MB), and one pod of 1.2 MB
# cannot be listed: the error names it, --once fails.
export PODFENCE_KUBE_MAX_LIST_BODY=1048576
y_ns small | kapply create
bulk small 1 300 20000
$VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --once 2>"$TMP/sync2.log" ||
	fail "podfence-sync --once, 1 MiB cap: $(tail -5 "$TMP/sync2.log")"
[ "$(pods_in small)" = 300 ] || fail "$(pods_in small) of 300 pods in the store with a 1 MiB cap"
pass "1 MiB cap: 300 pods of 20 kB synced in smaller pages"
y_ns huge | kapply create
bulk huge 1 1 1200000
rc=0
$VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --once 2>"$TMP/sync3.log" || rc=$?
[ $rc != 0 ] || fail "an object over the cap must fail --once"
grep -q 'Pod huge/p1 is larger than the 1048576-byte response limit' "$TMP/sync3.log" ||
	fail "error does not name the object: $(tail -3 "$TMP/sync3.log")"
pass "one pod over the cap: error names huge/p1"
kc delete pod -n huge p1 >/dev/null

# 2. A relist that fails midway keeps the last good view. A policy and its pods, synced by a
# watching podfence-sync; then its pod watch is cut and answered 410, so it relists, and every
# pod page after the first fails; later a pod over the cap stops the relist.
y_fp small deny 10 Namespace small | kapply create
bg_start $VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --resync-min 0 -v \
	--socket "$TMP/nonexistent.sock" 2>"$TMP/sync.log"
SYNC_PID=$BG_PID
wait_for 60 store_matches || { store_diff; fail "watching sync does not match"; }
verdict() { "$PODFENCECTL" --config /dev/null --db "$DB" explain --from small/p7 --to 10.9.9.9 --port 80; }
before=$(verdict) || fail "explain: $before"
echo "$before" | grep -q Deny || fail "explain before the relist: $before"
snap() { q "SELECT kind, namespace, name FROM workload ORDER BY 1, 2, 3"; q "SELECT * FROM workload_ip ORDER BY 1, 2"; store_policies; }
snap >"$TMP/before"
# (the pod watch is cut and answered 410 once: the sync relists pods)
relist_pods() {
	kube_control '{"faults": [{"method": "GET", "path": "^/api/v1/pods$", "watch": true, "status": 410, "count": 1}'"${1:+, $1}"']}' >/dev/null
	kube_control '{"cut_watches": true}' >/dev/null
}
relist_pods '{"method": "GET", "path": "^/api/v1/pods$", "query": "continue=", "watch": false, "status": 500, "count": 1000}' 
# The relist of pods: its first page comes, every next one fails (the view stays).
failed_pages() { [ "$(grep -c 'GET /api/v1/pods?limit=[0-9]*&continue=.* 500 ' "$KDIR/apiserver.log")" -ge "$1" ]; }
wait_for 30 failed_pages 3 ||
	fail "the relist's pages did not fail: $(grep pods "$KDIR/apiserver.log" | tail -8)"
snap >"$TMP/during"
diff "$TMP/before" "$TMP/during" >/dev/null || fail "store changed during a failing relist: $(diff "$TMP/before" "$TMP/during" | head)"
[ "$(verdict)" = "$before" ] || fail "verdict changed during a failing relist: $(verdict)"
pass "relist failing midway (pages after the first): store and verdict unchanged"
# The faults end: the relist completes (the pod watch starts again), nothing changed.
watches() { grep -c 'GET /api/v1/pods?watch=1' "$KDIR/apiserver.log"; }
more_watches() { [ "$(watches)" -gt "$1" ]; }
w0=$(watches)
kube_control '{"faults": []}' >/dev/null
wait_for 30 more_watches "$w0" || fail "the relist did not complete once pages stopped failing"
snap >"$TMP/after"
diff "$TMP/before" "$TMP/after" >/dev/null || fail "store changed by a relist of the same pods"
# A pod of 1.2 MB comes by the watch (an event may be that large); the next relist cannot page
# past it: the error names it, and the store keeps it and the rest as they were.
bulk small 301 301 1200000
pods_are() { [ "$(pods_in "$1")" = "$2" ]; }
wait_for 30 pods_are small 301 || fail "the large pod did not come by the watch"
snap >"$TMP/before2"
before2=$(verdict)
relist_pods
wait_for 30 grep -q 'list pods: Pod small/p301 is larger than the 1048576-byte response limit' "$TMP/sync.log" ||
	fail "the relist does not name the pod over the cap: $(grep 'list pods' "$TMP/sync.log" | tail -2)"
sleep 2
snap >"$TMP/during2"
diff "$TMP/before2" "$TMP/during2" >/dev/null || fail "store changed while the relist fails: $(diff "$TMP/before2" "$TMP/during2" | head)"
[ "$(verdict)" = "$before2" ] || fail "verdict changed while the relist fails: $(verdict)"
pass "relist failing on a pod over the cap: error names it, store and verdict unchanged"
# The pod shrinks: a fresh relist completes and the store follows the server again.
kc delete pod -n small p301 >/dev/null
bulk small 301 301 100
wait_for 60 store_matches || { store_diff; fail "store does not follow after the relist completes"; }
pass "relist completes once the pod fits: store matches the server"
kill "$SYNC_PID"
wait "$SYNC_PID" || true
unset PODFENCE_KUBE_MAX_LIST_BODY

# 3. Back to the real cap: 520 pods of 280 kB: the first page of 500 would be ~140 MB, over the 128 MiB cap.
y_ns big | kapply create
bulk big 1 520 280000
$VALGRIND "$PODFENCE_SYNC" --kube --kubeconfig "$KCFG" --db "$DB" --once -v 2>"$TMP/sync1.log" ||
	fail "podfence-sync --once with large pods: $(tail -5 "$TMP/sync1.log")"
[ "$(pods_in big)" = 520 ] || fail "$(pods_in big) of 520 large pods in the store"
grep -q 'GET /api/v1/pods?limit=250 ' "$KDIR/apiserver.log" || fail "the page was not asked again smaller"
grep -q 'GET /api/v1/pods?limit=[0-9]*&continue=' "$KDIR/apiserver.log" || fail "no continue page after shrinking"
pass "520 pods of 280 kB (pages over 128 MiB at limit 500) all synced"
store_matches || { store_diff; fail "store differs from the API server"; }

