#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit mode through a real pod and engine: an Audit policy that denies everything never
# changes a verdict (connections it would deny still connect, the Enforce policy's Reject still
# refuses), its would-be decisions that differ are recorded as mode 'Audit' events naming its
# rule, rate-limited like any event; the views, `podfencectl policies`, `events` and `explain`
# show the mode; a policy switched to Enforce then bites.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

cat >"$TMP/audit.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: lockdown, namespace: shop}
spec:
  mode: Audit
  priority: 1
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Deny
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: base, namespace: shop}
spec:
  priority: 100
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 80}]
YAML
load_policies "$TMP/audit.yaml" || fail "loading the policies"
[ "$(sql "SELECT group_concat(name || ':' || mode, ' ') FROM (SELECT name, mode FROM policies ORDER BY name)")" = \
	"base:Enforce lockdown:Audit" ] || fail "policies view mode: $(sql 'SELECT name, mode FROM policies')"
"$PODFENCECTL" --db "$DB" --socket "$SOCK" policies >"$TMP/pol.out"
grep -Eq '^shop +lockdown .* Audit' "$TMP/pol.out" || fail "podfencectl policies shows no mode: $(cat "$TMP/pol.out")"
pass "the policies view and podfencectl policies show mode Audit"

start_engine
register "$WEB" shop web c-web
expect "$WEB" 10.99.0.1 80 ok        # Audit Allow, real Allow (default): nothing to record
expect "$WEB" 10.99.0.1 443 ok       # Audit would Deny; the verdict stays Allow
expect "$WEB" 10.99.0.2 80 refused   # base's Reject; Audit would Deny (differs: recorded)
expect "$WEB" 10.99.0.1 443 ok       # again, inside the rate-limit window
audit_rows() { sql "SELECT dst || ':' || dport || ':' || action || ':' || policy_name || ':' || rule_index
	FROM event WHERE mode = 'Audit' ORDER BY dst, dport"; }
audit_is() { [ "$(audit_rows)" = "$1" ]; }
wait_until 50 audit_is "10.99.0.1:443:Deny:lockdown:1
10.99.0.2:80:Deny:lockdown:1" || fail "Audit events: $(audit_rows)"
[ "$(sql "SELECT count(*) FROM event WHERE mode = 'Audit' AND dport = 80 AND dst = '10.99.0.1'")" = 0 ] ||
	fail "an Audit decision that agrees with the verdict was recorded"
[ "$(sql "SELECT action || ':' || policy_name || ':' || mode FROM recent_events WHERE dst = '10.99.0.2' AND mode = 'Enforce'")" = \
	"Reject:base:Enforce" ] || fail "the real verdict's event: $(sql "SELECT * FROM recent_events")"
pass "an Audit Deny never changes a verdict; where it differs it is recorded as a mode Audit event naming its rule"
# Verdict reuse is on, but a connection an Audit rule matches is judged each time: nothing of
# it is left to the pod's kernel.
ip netns exec "$WEB" nft list ruleset | grep -q ' \. 443 ' &&
	fail "an Allow an Audit rule matched was reused in the kernel"
pass "a connection an Audit rule matches is not reused in the kernel"

"$PODFENCECTL" --db "$DB" --socket "$SOCK" events >"$TMP/ev.out"
grep -E '10\.99\.0\.1 +443 +Deny +shop +lockdown +1 .* Audit' "$TMP/ev.out" >/dev/null ||
	fail "podfencectl events does not show the Audit event: $(cat "$TMP/ev.out")"
"$PODFENCECTL" --db "$DB" --socket "$SOCK" explain --from shop/web --to 10.99.0.1 --port 443 >"$TMP/explain.out"
grep -q '^(from the running engine: cache generation [0-9]*)$' "$TMP/explain.out" &&
	grep -q '10.1.1.2 -> 10.99.0.1:443: Allow' "$TMP/explain.out" &&
	grep -q 'an Audit policy would Deny this: FencePolicy shop/lockdown (rule 1)' "$TMP/explain.out" &&
	grep -q '1. FencePolicy shop/lockdown (priority 1, Audit: not enforced)' "$TMP/explain.out" &&
	grep -q '2. FencePolicy shop/base (priority 100)' "$TMP/explain.out" ||
	fail "explain: $(cat "$TMP/explain.out")"
"$PODFENCECTL" --db "$DB" --socket "$SOCK" explain --from 10.1.1.2 --to 10.99.0.2 --port 80 >"$TMP/explain2.out"
grep -q 'decided by policy shop/base (rule 0: Reject to 10.99.0.2/32, ports 80/TCP)' "$TMP/explain2.out" ||
	fail "explain by address: $(cat "$TMP/explain2.out")"
"$PODFENCECTL" --db "$DB" --socket "$SOCK" explain --from c-web --to 10.99.0.2 --port 80 | grep -q ': Reject$' ||
	fail "explain by container id"
"$PODFENCECTL" --db "$DB" --socket "$SOCK" -o json explain --from shop/web --to 10.99.0.1 --port 443 |
	"$PY" -c 'import json,sys; v=json.load(sys.stdin)[0]; assert v["source"] == "engine" and v["action"] == "Allow" and v["audit"] == {"action": "Deny", "kind": "FencePolicy", "policy_namespace": "shop", "policy_name": "lockdown", "rule_index": 1}, v' ||
	fail "explain -o json audit"
pass "podfencectl events and explain show what the Audit policy would do"

# status -o json: the documented keys (tests/data/cli-json-keys.txt), Audit counted.
"$PODFENCECTL" --db "$DB" --socket "$SOCK" status -o json >"$TMP/status.json"
"$PY" - "$top_srcdir/tests/data/cli-json-keys.txt" "$TMP/status.json" <<'PY' || fail "status -o json: $(cat "$TMP/status.json")"
import json, sys
want = {}
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("#"):
        k, v = line.split(":", 1)
        want[k] = sorted(v.split())
s = json.load(open(sys.argv[2]))
assert sorted(s) == want["status"], sorted(s)
assert sorted(s["cache"]) == want["status.cache"], sorted(s["cache"])
assert sorted(s["events"]) == want["status.events"], sorted(s["events"])
assert s["events"]["audit"] >= 2 and s["cache"]["audit_rules"] == 2 and s["cache"]["rules"] == 1, s
PY
pass "status -o json: the documented keys; Audit events and rules counted"

# A follower started now outlives an engine restart (below).
$PODFENCECTL --config /dev/null --db "$DB" -o json events --follow --since 1s >"$TMP/follow" 2>"$TMP/follow.err" &
FOLLOW=$!
on_exit "kill $FOLLOW 2>/dev/null; wait $FOLLOW 2>/dev/null"

# Enforce it: the same connection is now denied.
sed -i 's/mode: Audit/mode: Enforce/' "$TMP/audit.yaml"
load_policies "$TMP/audit.yaml" || fail "reloading"
ctl '{"op":"reload"}' >/dev/null
wait_until 50 sql_is Enforce "SELECT mode FROM policies WHERE name = 'lockdown'" || fail "mode not updated"
sleep 0.5
expect "$WEB" 10.99.0.1 443 timeout
expect "$WEB" 10.99.0.1 80 ok
pass "the same policy in Enforce mode denies what it audited"

# explain asks the engine: a pod registered while the store says nothing of it yet is the
# engine's; with the engine gone, the store answers and says so.
"$PODFENCECTL" --db "$DB" --socket "$SOCK" explain --from shop/nope --to 10.99.0.1 --port 1 2>"$TMP/err" && fail "unknown pod"
grep -q "the engine says: no registered pod 'shop/nope'" "$TMP/err" || fail "unknown pod: $(cat "$TMP/err")"
engine_finish
"$PODFENCECTL" --db "$DB" --socket "$SOCK" explain --from shop/web --to 10.99.0.1 --port 443 >"$TMP/explain3.out"
grep -q "^(from the store: no engine answered on $SOCK; default action Allow)$" "$TMP/explain3.out" &&
	grep -q ': Deny$' "$TMP/explain3.out" || fail "explain from the store: $(cat "$TMP/explain3.out")"
pass "explain from the running engine (by pod, address, container id), from the store without one"

# events --follow, started before the restart, shows what the restarted engine records.
start_engine
wait_until 100 sql_is enforced "SELECT state FROM pods WHERE name = 'web'" || fail "web not re-adopted"
expect "$WEB" 10.99.0.1 444 timeout
followed() { grep -q '"dport":444' "$TMP/follow"; }
wait_until 100 followed || fail "events --follow lost the engine restart: $(cat "$TMP/follow.err"; tail -3 "$TMP/follow")"
kill -0 "$FOLLOW" || fail "events --follow exited"
pass "events --follow outlives an engine restart"
engine_finish
