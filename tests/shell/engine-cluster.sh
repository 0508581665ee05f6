#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The two tiers, as a client sees them: a FencePolicy in namespace ta that names Namespace tb
# (priority 0, Allow) is refused and leaves tb's own verdicts alone; a ClusterFencePolicy's Deny
# beats a namespace's priority-0 Allow; its Pass skips the rest of the cluster tier and hands the
# connection to the namespace's Reject (or, with no namespaced rule, the default action).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need

setup_server
add_pod 1; VICTIM=$POD	# tb/victim 10.1.1.2
add_pod 2; ATTACKER=$POD	# ta/attacker 10.1.2.2
add_pod 3; APP=$POD	# tc/app 10.1.3.2
add_pod 4; LONE=$POD	# td/lone 10.1.4.2

cat >"$TMP/tenants.yaml" <<'YAML'
# tb's own policy: nothing to 10.99.0.0/24 on port 80.
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: own, namespace: tb}
spec:
  priority: 500
  appliesTo: [{kind: Namespace, name: tb}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.0.0/24}]
    ports: [{port: 80}]
---
# The attack: a tenant of ta (RBAC on its own namespace only) overrides tb.
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: grab, namespace: ta}
spec:
  priority: 0
  appliesTo: [{kind: Namespace, name: tb}]
  egress:
  - action: Allow
---
# The same through a workload ref with another namespace.
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: grab-pod, namespace: ta}
spec:
  priority: 0
  appliesTo: [{kind: Pod, name: victim, namespace: tb}]
  egress:
  - action: Allow
---
# tc opens everything but one destination, at priority 0.
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: open, namespace: tc}
spec:
  priority: 0
  appliesTo: [{kind: Namespace, name: tc}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.1.1}]
    ports: [{port: 80}]
  - action: Allow
---
# The cluster tier, at the lowest priority there is: still first.
apiVersion: podfence.io/v1alpha1
kind: ClusterFencePolicy
metadata: {name: admin}
spec:
  priority: 65535
  appliesTo: [{kind: Namespace, name: tc}, {kind: Pod, name: lone, namespace: td}]
  egress:
  - action: Deny
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 443}]
  - action: Pass
    to: [{cidr: 10.99.1.0/24}]
---
# Later in the cluster tier: never reached for what admin passed down.
apiVersion: podfence.io/v1alpha1
kind: ClusterFencePolicy
metadata: {name: zz-deny}
spec:
  priority: 65535
  appliesTo: [{kind: Namespace, name: tc}]
  egress:
  - action: Deny
    to: [{cidr: 10.99.1.1}]
YAML
rc=0
load_policies "$TMP/tenants.yaml" 2>"$TMP/load.err" || rc=$?
[ "$rc" = 2 ] || fail "loading: exit $rc, want 2 (the cross-namespace policies are invalid): $(cat "$TMP/load.err")"
grep -qF "spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own namespace \"ta\", not \"tb\"" \
	"$TMP/load.err" || fail "the refusal does not name the field: $(cat "$TMP/load.err")"
grep -qF "spec.appliesTo[0].namespace: must be the policy's own namespace \"ta\", not \"tb\"" "$TMP/load.err" ||
	fail "the workload ref refusal does not name the field: $(cat "$TMP/load.err")"
[ "$(sql "SELECT group_concat(name || ':' || valid || in_force, ' ') FROM (SELECT name, valid, in_force FROM policies
	WHERE namespace = 'ta' ORDER BY name)")" = "grab:00 grab-pod:00" ] ||
	fail "the cross-namespace policies are in force: $(sql "SELECT * FROM policies")"
pass "a FencePolicy naming another namespace in appliesTo is refused, naming the field"

# Pass is never a verdict: not a default action either.
rc=0; "$PODFENCED" --foreground --config /dev/null --db "$DB" --socket "$SOCK" --state-dir "$STATE" \
	--default-action Pass >"$TMP/pass.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "invalid value 'Pass'" "$TMP/pass.out" ||
	fail "podfenced --default-action Pass: exit $rc: $(cat "$TMP/pass.out")"
pass "podfenced refuses Pass as the default action"

start_engine --default-action Reject
register "$VICTIM" tb victim c-victim
register "$ATTACKER" ta attacker c-attacker
register "$APP" tc app c-app
register "$LONE" td lone c-lone

# tb keeps its own verdict: the priority-0 Allow from ta does not apply to it.
expect "$VICTIM" 10.99.0.1 80 refused
expect "$VICTIM" 10.99.0.2 80 refused
expect "$VICTIM" 10.99.0.1 443 refused   # tb's policy has no rule: the default action
[ "$(sql "SELECT count(*) FROM applied_policies WHERE pod_name = 'victim' AND policy_namespace = 'ta'")" = 0 ] ||
	fail "ta's policy applied to tb: $(sql "SELECT * FROM applied_policies WHERE pod_name = 'victim'")"
pass "tb's verdicts are its own policy's, not ta's priority-0 Allow"

# The cluster Deny beats tc's priority-0 Allow; what it does not name, tc decides.
expect "$APP" 10.99.0.2 443 timeout
expect "$APP" 10.99.0.1 443 ok
expect "$APP" 10.99.0.2 80 ok
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE pod_name = 'app' AND dport = 443 AND action = 'Deny'
	AND policy_name = 'admin' AND rule_index = 0" ||
	fail "the cluster Deny left no event naming it: $(sql "SELECT * FROM recent_events WHERE pod_name = 'app'")"
pass "a ClusterFencePolicy Deny beats a namespace's priority-0 Allow, with an event naming it"

# Pass: zz-deny (later in the cluster tier) is skipped, tc's Reject decides; tc's Allow after it.
expect "$APP" 10.99.1.1 80 refused
expect "$APP" 10.99.1.1 443 ok
# A pod whose only policy passes: the default action (Reject), not zz-deny, not an Allow.
expect "$LONE" 10.99.1.1 443 refused
expect "$LONE" 10.99.0.2 443 timeout
expect "$LONE" 10.99.0.1 443 refused
pass "a ClusterFencePolicy Pass hands the connection to the namespaced Reject (and then the default action)"

# The views and explain show the tier and the Pass that handed the decision down.
[ "$(sql "SELECT group_concat(coalesce(policy_namespace, '-') || '/' || policy_name || ':' || rule_index || ':' || action
	|| ':' || kind, ' ') FROM applied_policies WHERE pod_name = 'app'")" = \
	"-/admin:0:Deny:ClusterFencePolicy -/admin:1:Pass:ClusterFencePolicy -/zz-deny:0:Deny:ClusterFencePolicy tc/open:0:Reject:FencePolicy tc/open:1:Allow:FencePolicy" ] ||
	fail "applied_policies for tc/app: $(sql "SELECT * FROM applied_policies WHERE pod_name = 'app'")"
CTL() { $PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" "$@"; }
out=$(CTL explain --from tc/app --to 10.99.1.1 --port 80)
echo "$out" | grep -qF "passed down by ClusterFencePolicy admin (rule 1: Pass)" &&
	echo "$out" | grep -qF "decided by policy tc/open (rule 0: Reject" || fail "explain of a passed-down verdict: $out"
out=$(CTL explain --from tc/app --to 10.99.0.2 --port 443)
echo "$out" | grep -qF "decided by ClusterFencePolicy admin (rule 0: Deny" || fail "explain of a cluster verdict: $out"
out=$(CTL -o json explain --from td/lone --to 10.99.1.1 --port 443)
echo "$out" | grep -q '"matched": false' && echo "$out" | grep -q '"passed_by": {' &&
	echo "$out" | grep -q '"policy_name": "admin"' || fail "explain -o json of a Pass to the default: $out"
rc=0; CTL explain --from tc/app --to 10.99.1.1 --port 80 --default-action Pass >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "explain --default-action Pass: exit $rc, want 2"
out=$(CTL policies)
echo "$out" | grep -E '^- +admin +65535 +1 +1 +2 .* ClusterFencePolicy +Enforce +-$' >/dev/null ||
	fail "podfencectl policies: $out"
echo "$out" | grep -E '^ta +grab +.* FencePolicy +Enforce +document 2 \(line [0-9]+\): spec.appliesTo\[0\].name: ' >/dev/null ||
	fail "podfencectl policies does not show why ta/grab is refused: $out"
pass "applied_policies, podfencectl policies and explain show the tier and the Pass"

# The cluster tier changes while the engine runs: without admin (and without the invalid
# documents, which keep a source's other policies in force), tc's Allow is back for :443.
"$PY" - "$TMP/tenants.yaml" "$TMP/fixed.yaml" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "name: admin" not in d and "name: grab" not in d]
open(sys.argv[2], "w").write("\n---\n".join(keep))
PY
load_policies "$TMP/fixed.yaml" || fail "loading the fixed policies"
wait_until 50 sql_is 0 "SELECT count(*) FROM policies WHERE name = 'admin'" || fail "admin not removed"
ok443() { [ "$(probe "$APP" 10.99.0.2 443 | cut -d' ' -f1)" = ok ]; }
wait_until 50 ok443 || fail "removing the cluster Deny did not reopen 10.99.0.2:443"
expect "$APP" 10.99.1.1 443 timeout   # no Pass any more: zz-deny decides
pass "cluster policies follow the store while the engine runs"
engine_finish
