#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A cache build that fails (a policy set past the cache's limits, as a store written before
# the per-policy cost limit can hold) never blocks registration, container start or engine
# start: pods stay enforced by the last good cache, new pods are registered (default action,
# flagged), a restart starts from the last good ruleset saved in the state dir (or, with none,
# from the default action, loudly), and status, metrics and the log say so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
add_pod 2; NEW=$POD

cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-rules, namespace: t}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    ports: [{port: 8080}]
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: new-rules, namespace: t}
spec:
  appliesTo: [{kind: Pod, name: new}]
  egress:
  - action: Reject
    ports: [{port: 8080}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"

MSOCK=$TMP/metrics.sock
metric() {
	"$PY" - "$MSOCK" "podfence_$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
d = b""
while True:
    b = s.recv(65536)
    if not b: break
    d += b
for l in d.decode().splitlines():
    if l.split(" ")[0] == sys.argv[2]: print(l.split(" ")[1])
PY
}
metric_is() { [ "$(metric "$2")" = "$1" ]; }

start_engine --default-action Allow --metrics "unix:$MSOCK"
register "$WEB" t web c-web-1
expect "$WEB" 10.99.0.1 8080 refused
expect "$WEB" 10.99.0.1 80 ok
SAVED=$STATE/last-good-ruleset
wait_until 50 test -s "$SAVED" || fail "the last good ruleset was not saved"
[ "$(stat -c %a "$SAVED")" = 600 ] || fail "saved ruleset mode $(stat -c %a "$SAVED"), want 600"
pass "the last good ruleset is saved, mode 0600"
[ "$(status_field 's["cache"]["stale"]')" = False ] || fail "stale before any failure"

# An oversized new version of web's policy (past the per-policy cost limit) is refused: the
# last valid version stays in force, and every build still succeeds.
"$PY" - >"$TMP/oversized.yaml" <<'PY'
print("""apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-rules, namespace: t}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:""")
for r in range(256):
    print("  - action: Allow\n    to: [{cidr: 10.%d.0.0/16}]\n    ports:" % r)
    for p in range(256):
        print("    - {port: %d}" % (1 + p))
PY
sed -n '/^---$/,$p' "$TMP/policy.yaml" >>"$TMP/oversized.yaml" # new-rules, unchanged
reloads=$(status_field 's["cache"]["reloads"]')
rc=0; load_policies "$TMP/oversized.yaml" 2>"$TMP/oversized.err" || rc=$?
[ "$rc" = 2 ] || fail "loading the oversized policy: exit $rc"
grep -q 'spec.egress: costs 65536 destination-port pairs, more than the limit of 4096 per policy' "$TMP/oversized.err" ||
	fail "oversized policy message: $(cat "$TMP/oversized.err")"
[ "$(sql "SELECT valid, in_force, error LIKE '%limit of 4096%' FROM policy WHERE name='web-rules'")" = "0|1|1" ] ||
	fail "store after the oversized version: $(sql "SELECT name, valid, in_force, error FROM policy")"
reloads_gt() { [ "$(status_field 's["cache"]["reloads"]')" -gt "$1" ]; }
wait_until 100 reloads_gt "$reloads" || fail "no rebuild after the store changed"
[ "$(status_field 's["cache"]["stale"]')" = False ] || fail "a refused policy made the build fail"
expect "$WEB" 10.99.0.1 8080 refused
pass "an oversized policy is refused; its last valid version stays in force"

# The unbuildable set, for web itself: its build fails, web keeps its last good cache.
"$ENGINE_POLICY_LOAD" --unbuildable "$DB" heavy t web 2 || fail "loading the unbuildable policies"
wait_until 300 status_is True 's["cache"]["stale"]' || fail "the failed build is not reported: $(ctl '{"op":"status"}')"
grep -q 'Verdict cache build failed: .*Argument list too long.*last good cache' "$ENGINE_LOG" ||
	fail "no error in the log for the failed build"
[ "$(status_field 's["cache"]["build_failures"] >= 1 and "too long" in s["cache"]["last_build_error"]')" = True ] ||
	fail "status: $(ctl '{"op":"status"}')"
out=$($PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" status)
echo "$out" | grep -q '^WARNING: verdict cache stale (store): the last build failed: .*Argument list too long' ||
	fail "podfencectl status: $out"
metric_is 1 cache_stale || fail "podfence_cache_stale: $(metric cache_stale)"
[ "$(metric cache_build_failures_total)" -ge 1 ] || fail "podfence_cache_build_failures_total: $(metric cache_build_failures_total)"
pass "status, metrics and the log report the failed build"
expect "$WEB" 10.99.0.1 8080 refused
expect "$WEB" 10.99.0.1 80 ok
pass "the enforced pod keeps the last good cache"

# A new pod registers (the hook's container starts) although its build fails too; it is not
# in the last good cache and its policies are unknown, so it is refused (Deny, though the
# default action is Allow) and counted as unresolved.
gen=$(cache_generation)
register "$NEW" t new c-new-1
[ "$(cache_generation)" = "$gen" ] || fail "a build succeeded meanwhile: the test proves nothing"
has_table "$NEW" || fail "the new pod's ruleset is not installed"
expect "$NEW" 10.99.0.1 80 timeout
[ "$(status_field 's["cache"]["pods_unresolved"]')" = 1 ] || fail "unresolved pods: $(ctl '{"op":"status"}')"
metric_is 1 pods_unresolved || fail "podfence_pods_unresolved: $(metric pods_unresolved)"
grep -q 'Pod t/new: the verdict cache cannot be rebuilt' "$ENGINE_LOG" || fail "no warning for the new pod"
expect "$WEB" 10.99.0.1 8080 refused
pass "registration goes on while builds fail"
stop_engine

# A restart whose build fails starts from the saved ruleset: web (re-adopted) is enforced
# by it at once.
: >"$ENGINE_LOG"
start_engine --default-action Allow --metrics "unix:$MSOCK"
grep -q 'Failed to build the verdict cache: .*Starting with the last good one' "$ENGINE_LOG" ||
	fail "no error in the log for the failed start-up build"
[ "$(status_field 's["cache"]["stale"], s["cache"]["source"]')" = "True saved" ] ||
	fail "status after a failed start: $(ctl '{"op":"status"}')"
expect "$WEB" 10.99.0.1 8080 refused
expect "$WEB" 10.99.0.1 80 ok
pass "a start whose build fails judges by the last good ruleset"
stop_engine

# Without a saved ruleset: the default action for everyone, said loudly; fail-closed this
# time, which changes nothing for a pod registered while builds fail: Deny.
rm -f "$SAVED"
: >"$ENGINE_LOG"
start_engine --default-action Allow --fail-mode closed --metrics "unix:$MSOCK"
grep -q 'No last good cache to start with .*judging EVERY pod by the default action Allow' "$ENGINE_LOG" ||
	fail "no loud error for starting without any cache"
[ "$(status_field 's["cache"]["source"]')" = none ] || fail "status: $(ctl '{"op":"status"}')"
expect "$WEB" 10.99.0.1 8080 ok
pass "no last good ruleset: the default action, reported"
add_pod 3; THIRD=$POD
register "$THIRD" t third c-third-1
expect "$THIRD" 10.99.0.1 80 timeout
pass "a pod registered while builds fail is denied until a build succeeds"

# The store fixed: the next build succeeds, the cache is fresh, every pod judged by it.
"$ENGINE_POLICY_LOAD" "$DB" heavy || fail "removing the unbuildable policies"
wait_until 300 status_is False 's["cache"]["stale"]' || fail "still stale after the fix: $(ctl '{"op":"status"}')"
metric_is 0 cache_stale || fail "podfence_cache_stale after the fix: $(metric cache_stale)"
expect "$WEB" 10.99.0.1 8080 refused
expect "$NEW" 10.99.0.1 8080 refused
expect "$THIRD" 10.99.0.1 80 ok
[ "$(status_field 's["cache"]["pods_unresolved"]')" = 0 ] || fail "unresolved pods after the fix"
wait_until 50 test -s "$SAVED" || fail "the good ruleset was not saved again"
pass "a good build after the failures puts every pod's policies in place"
engine_finish
