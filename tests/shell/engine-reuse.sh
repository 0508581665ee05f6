#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Verdict reuse through podfenced: an Allow is remembered in the pod's kernel (the next SYN of
# that source, destination and port is not queued); Alert and `log: true` are never (each is
# judged and recorded every time); a policy change from Allow to Deny while the pod connects in
# a loop: every connect begun after the reload's answer is judged by the new policy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

allow_yaml() {
	cat <<YAML
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-egress, namespace: shop}
spec:
  priority: 100
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: $1
    to: [{cidr: 10.99.0.1}, {cidr: "fd99::1"}]
    ports: [{port: 80}]
  - action: Alert
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 8080}]
  - action: Allow
    log: true
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 443}]
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 9001, protocol: UDP}]
  - action: Deny
YAML
}
allow_yaml Allow | load_policy_yaml
start_engine --event-window 200
register "$WEB" shop web c-web-1

for i in 1 2 3; do
	expect "$WEB" 10.99.0.1 80 ok
	expect "$WEB" fd99::1 80 ok
	expect "$WEB" 10.99.0.1 8080 ok
	expect "$WEB" 10.99.0.1 443 ok
done
ip netns exec "$WEB" nft list ruleset >"$TMP/ruleset"
grep -q '10.1.1.2 . 10.99.0.1 . 80 ' "$TMP/ruleset" || fail "no IPv4 element: $(cat "$TMP/ruleset")"
grep -q 'fd01:1::2 . fd99::1 . 80 ' "$TMP/ruleset" || fail "no IPv6 element"
grep -Eq '\. (8080|443) ' "$TMP/ruleset" && fail "an Alert or a logged Allow was remembered"
hits=$(grep '@allowed4 counter' "$TMP/ruleset" | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
[ "$hits" = 2 ] || fail "reuse rule accepted $hits IPv4 SYNs, want 2 (connects 2 and 3)"
pass "an Allow is remembered in the kernel, an Alert and a logged Allow are not"
# The engine's own element adds are not mistaken for tampering by its ruleset watch.
[ "$(status_field 's["ruleset"]["restored"]')" = 0 ] || fail "element adds taken for tampering"
# Each Alert and logged connection was seen: 3 each (the events fold repeats into a count).
wait_until 50 sql_is 3 "SELECT COALESCE(SUM(count), 0) FROM event WHERE dport = 8080" ||
	fail "Alert events: $(sql 'SELECT dport, action, count FROM event')"
wait_until 50 sql_is 3 "SELECT COALESCE(SUM(count), 0) FROM event WHERE dport = 443" ||
	fail "logged Allow events: $(sql 'SELECT dport, action, count FROM event')"
pass "every Alert and logged Allow was judged and recorded"

# The sets hold TCP verdicts only: a UDP flow's Allow to a port must never let a TCP SYN to
# the same address and port through in the kernel (the TCP rule here is the final Deny).
for i in 1 2; do
	ip netns exec "$WEB" "${HELPER:-$top_builddir/tests/net-helper}" udp 10.99.0.1 9001 300 >/dev/null 2>&1 || true
done
wait_until 50 sql_is 0 "SELECT count(*) FROM event WHERE dport = 9001 AND protocol = 'UDP'" ||
	fail "the allowed UDP flow was recorded"
ip netns exec "$WEB" nft list ruleset | grep -q ' \. 9001 ' &&
	fail "a UDP Allow went into the reuse sets: $(ip netns exec "$WEB" nft list ruleset | grep 9001)"
expect "$WEB" 10.99.0.1 9001 timeout 1
pass "a UDP flow's Allow is not reused for TCP"

# Allow -> Deny while the pod connects in a loop (each connect: start time, result).
ip netns exec "$WEB" "$PY" -c '
import socket, sys, time
out = open(sys.argv[1], "w", buffering=1)
end = time.monotonic() + 8
while time.monotonic() < end:
    s = socket.socket(); s.settimeout(0.2)
    t = time.monotonic_ns()
    try:
        s.connect(("10.99.0.1", 80)); r = "ok"
    except OSError:
        r = "fail"
    s.close()
    out.write("%d %s\n" % (t, r))
' "$TMP/loop" &
loop_pid=$!
on_exit "kill $loop_pid; wait $loop_pid"
loop_ok() { [ "$(grep -c ok "$TMP/loop" 2>/dev/null)" -ge 20 ]; }
wait_until 50 loop_ok || fail "loop: $(tail -3 "$TMP/loop")"
allow_yaml Deny >"$TMP/deny.yaml"
load_policies "$TMP/deny.yaml" || fail "loading the Deny"
ctl_ok '{"op":"reload"}' || fail "reload"
after=$("$PY" -c 'import time; print(time.monotonic_ns())')
sleep 1.5
kill "$loop_pid" 2>/dev/null || true
wait "$loop_pid" 2>/dev/null || true
before_ok=$(awk -v t="$after" '$1 < t && $2 == "ok"' "$TMP/loop" | wc -l)
late_ok=$(awk -v t="$after" '$1 >= t && $2 == "ok"' "$TMP/loop" | wc -l)
late=$(awk -v t="$after" '$1 >= t' "$TMP/loop" | wc -l)
[ "$before_ok" -ge 20 ] || fail "only $before_ok connects allowed before the change"
[ "$late" -ge 3 ] || fail "only $late connects after the change"
[ "$late_ok" = 0 ] || fail "$late_ok of $late connects begun after the reload connected"
pass "Allow -> Deny: $before_ok connected before, 0 of $late begun after the reload's answer"
ip netns exec "$WEB" nft list ruleset | grep -q '10.99.0.1 . 80 ' && fail "stale element kept"
pass "the change emptied the reuse sets"

# Off: no sets, every SYN is queued.
stop_engine
start_engine --verdict-reuse 0
register "$WEB" shop web c-web-1
ip netns exec "$WEB" nft list ruleset | grep -q '@allowed' && fail "--verdict-reuse 0 left a reuse rule"
pass "--verdict-reuse 0: no reuse rule"
engine_finish
