#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfencectl pods/policies/events/explain on a store filled by podfence-sync, with two pods
# registered the way the engine records them (rows written with sqlite3: no netns needed).
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3

mkdir "$TMP/pol"
cp "$top_srcdir/doc/examples/shop.yaml" "$TMP/pol/"
DB=$TMP/pf.db
$PODFENCE_SYNC --db "$DB" --socket "$TMP/none.sock" --policy-dir "$TMP/pol" --once
ctl() { $PODFENCECTL --config /dev/null --db "$DB" --socket "$TMP/none.sock" "$@"; }

out=$(ctl policies)
echo "$out"
echo "$out" | grep -Eq '^shop +web-egress +100 +1 +1 +4 ' || fail "policies table does not show shop/web-egress valid, in force, 4 rules"
ctl -o json policies | $PYTHON3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0]["name"]=="web-egress" and d[0]["priority"]==100, d'
pass "policies (table and json)"

sqlite3 "$DB" "INSERT INTO pod(netns_dev,netns_ino,namespace,name,kind,ips,containers,registered_at,state)
	VALUES (1,2,'shop','web','Container','10.1.0.2, fd00::2','c1',0,'enforced'),
	       (1,3,'shop','db','Container','10.1.0.3','c2',0,'enforced');
	INSERT INTO pod_ip VALUES (1,'10.1.0.2'),(1,'fd00::2'),(2,'10.1.0.3');"
ctl pods | grep -Eq '^shop +web +Container +10.1.0.2, fd00::2 +enforced' || fail "pods table"
pass "pods"

check() { # from to port action [policy rule]
	local out
	out=$(ctl -o json explain --from "$1" --to "$2" --port "$3")
	$PYTHON3 - "$4" "${5:-}" "${6:-}" <<PY || fail "explain $1 -> $2:$3: $out"
import json, sys
want, pol, rule = sys.argv[1:4]
d = json.loads('''$out''')
for v in d:
    assert v["action"] == want, v
    if pol:
        assert v["matched"] and v["policy_name"] == pol and v["rule_index"] == int(rule), v
    else:
        assert not v["matched"] and v["rule_index"] is None, v
PY
}
check shop/web 10.1.0.3 5432 Allow web-egress 0
check shop/web 10.1.0.3 8080 Alert web-egress 1
check shop/web 10.9.9.9 22 Reject web-egress 2
check shop/web 10.1.0.3 9000 Deny web-egress 3
check 10.1.0.2 10.1.0.3 5432 Allow web-egress 0
check fd00::2 10.1.0.3 5433 Deny web-egress 3
check shop/db 10.1.0.2 80 Allow
out=$(ctl explain --default-action Reject --from shop/db --to 10.1.0.2 --port 80)
echo "$out" | grep -q 'Reject' || fail "explain --default-action: $out"
echo "$out" | grep -q 'default action' || fail "explain should say the default action decides: $out"
ctl explain --from shop/nope --to 10.1.0.2 --port 80 2>"$TMP/err" && fail "unknown pod accepted"
grep -q "no pod 'shop/nope'" "$TMP/err" || fail "unknown pod message: $(cat "$TMP/err")"
set +e; ctl explain --from shop/web --to 10.1.0.2 --port 70000 2>/dev/null; rc=$?; set -e
[ $rc = 2 ] || fail "bad port should exit 2, got $rc"
pass "explain"

sqlite3 "$DB" "INSERT INTO event(at,pod_namespace,pod_name,src,dst,dport,action,policy_namespace,policy_name,rule_index,count)
	VALUES (strftime('%s','now')*1000-7200000,'shop','web','10.1.0.2','10.1.0.3',9000,'Deny','shop','web-egress',3,1),
	       (strftime('%s','now')*1000,'shop','web','10.1.0.2','10.1.0.3',8080,'Alert','shop','web-egress',1,5);"
[ "$(ctl -o json events | wc -l)" = 2 ] || fail "events -o json: one object per line"
[ "$(ctl -o json events --since 1h | wc -l)" = 1 ] || fail "events --since 1h"
ctl events | grep -Eq 'shop +web +10.1.0.2 +10.1.0.3 +8080 +Alert +shop +web-egress +1 +5' || fail "events table"
ctl events --since yesterday 2>/dev/null && fail "bad --since accepted"
# --follow prints what arrives after it started
# (the binary itself in the background, not the ctl function: its pid is the one to kill)
$PODFENCECTL --config /dev/null --db "$DB" -o json events --follow --since 1s >"$TMP/follow" &
fpid=$!
on_exit "kill $fpid; wait $fpid"
sleep 0.5
sqlite3 "$DB" "INSERT INTO event(at,pod_namespace,pod_name,src,dst,dport,action,count) VALUES (strftime('%s','now')*1000,'shop','web','10.1.0.2','10.1.0.4',22,'Reject',1);"
wait_until 30 grep -q '"dport":22' "$TMP/follow" || fail "events --follow did not show the new event"
pass "events"

set +e; ctl status 2>"$TMP/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "podfenced running" "$TMP/err" || fail "status without an engine: rc=$rc $(cat "$TMP/err")"
pass "status without engine says so"
