#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Events out and retention: every event the store gets is also one JSON object to the journal
# (native protocol: MESSAGE, SYSLOG_IDENTIFIER=podfenced, PODFENCE_* fields), here a stand-in
# journal socket the test reads; the store keeps at most event_max_rows rows and none older
# than event_max_age; bad values are refused (exit 2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Reject
YAML
for bad in "--event-log journald" "--event-max-rows 0" "--event-max-age -1"; do
	rc=0
	# shellcheck disable=SC2086
	"$PODFENCED" --foreground --config /dev/null --db "$DB" --socket "$SOCK" --state-dir "$STATE" $bad \
		>"$TMP/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] && grep -q "invalid value" "$TMP/bad.out" || fail "podfenced $bad: exit $rc: $(cat "$TMP/bad.out")"
done
pass "bad event_log, event_max_rows, event_max_age values are refused (exit 2)"

# Old rows from before: the age bound removes them.
sql "INSERT INTO event(at,pod_namespace,pod_name,src,dst,dport,action,count)
	VALUES (strftime('%s','now')*1000 - 7200000,'shop','web','10.1.1.2','10.99.0.9',1,'Deny',1),
	       (strftime('%s','now')*1000 - 7300000,'shop','web','10.1.1.2','10.99.0.9',2,'Deny',1)"

# A journal stand-in: each datagram of the native protocol as one JSON object per line.
"$PY" - "$TMP/journal.sock" "$TMP/journal.out" <<'PY' &
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        d = s.recv(1 << 16).decode()
        f.write(json.dumps(dict(l.split("=", 1) for l in d.split("\n") if l)) + "\n")
PY
JPID=$!
on_exit "kill $JPID; wait $JPID"
wait_until 50 test -S "$TMP/journal.sock" || fail "journal stand-in"
PODFENCE_JOURNAL_SOCKET=$TMP/journal.sock start_engine --event-log journal --event-max-rows 5 --event-max-age 3600
register "$WEB" shop web c-web
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused
wait_until 50 grep -q 'PODFENCE_DPORT' "$TMP/journal.out" || fail "nothing reached the journal: $(tail -3 "$ENGINE_LOG")"
"$PY" - "$TMP/journal.out" <<'PY' || fail "journal entry: $(cat "$TMP/journal.out")"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
e = [x for x in es if x.get("PODFENCE_DPORT") == "443"][0]
assert e["SYSLOG_IDENTIFIER"] == "podfenced" and e["PRIORITY"] == "4", e
assert e["PODFENCE_ACTION"] == "Reject" and e["PODFENCE_POD"] == "shop/web" and e["PODFENCE_MODE"] == "Enforce", e
assert e["PODFENCE_POLICY"] == "shop/web" and e["PODFENCE_RULE"] == "1" and e["PODFENCE_DST"] == "10.99.0.1", e
m = json.loads(e["MESSAGE"])
assert m["action"] == "Reject" and m["dport"] == 443 and m["pod_name"] == "web" and m["rule_index"] == 1 and m["mode"] == "Enforce", m
PY
wait_until 50 sql_is 0 "SELECT count(*) FROM event WHERE dst = '10.99.0.9'" ||
	fail "events older than event_max_age stayed: $(sql "SELECT * FROM recent_events")"
pass "each event reaches the journal as one JSON MESSAGE with PODFENCE_* fields; rows past event_max_age go"

for p in 1001 1002 1003 1004 1005 1006 1007; do probe "$WEB" 10.99.0.1 $p >/dev/null; done
wait_until 50 sql_is 1007 "SELECT max(dport) FROM event" || fail "the last events are not in the store"
[ "$(sql "SELECT count(*) FROM event")" -le 5 ] || fail "more than event_max_rows rows: $(sql "SELECT count(*) FROM event")"
[ "$(grep -c PODFENCE_DPORT "$TMP/journal.out")" -ge 8 ] || fail "the journal did not get every event"
pass "the store keeps at most event_max_rows events (the newest); the journal gets them all"
engine_finish
