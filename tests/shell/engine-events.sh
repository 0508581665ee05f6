#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Events are rate-limited per (pod, destination, port): a burst leaves one event plus a
# summary whose count holds the suppressed ones; other destinations are not held back;
# Allow with `log: true` is recorded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: noisy, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    ports: [{port: 80}]
    log: true
  - action: Reject
YAML
start_engine --event-window 1000
register "$WEB" shop web c-web

# 40 rejected connects to one destination, as fast as the client goes.
ip netns exec "$WEB" "$PY" -c '
import socket
for i in range(40):
    s = socket.socket()
    try:
        s.connect(("10.99.0.1", 443))
        raise SystemExit("connected")
    except ConnectionRefusedError:
        pass
    s.close()
' || fail "burst"
expect "$WEB" 10.99.0.2 443 refused
expect "$WEB" 10.99.0.1 80 ok

q="FROM recent_events WHERE pod_name='web' AND dst='10.99.0.1' AND dport=443 AND action='Reject'"
wait_until 40 sql_is 40 "SELECT coalesce(sum(count),0) $q" || fail "expected 40 rejects counted: $(sql "SELECT * $q")"
rows=$(sql "SELECT count(*) $q")
[ "$rows" -le 3 ] || fail "$rows rows for one (pod, destination, port) burst"
pass "40 rejects in $rows event rows, counts add up"
wait_until 20 sql_is 1 "SELECT count(*) FROM recent_events WHERE dst='10.99.0.2' AND dport=443" || fail "other destination held back"
pass "other destinations recorded on their own"
wait_until 20 sql_ge 1 "SELECT count(*) FROM recent_events WHERE action='Allow' AND dport=80 AND policy_name='noisy' AND rule_index=0" ||
	fail "Allow with log not recorded"
pass "Allow with log: true recorded"
engine_finish
