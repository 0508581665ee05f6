#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfencectl graph: the policies in force as a graph of workloads and destinations, edges
# labelled with action, ports and the rule; Debian's graphviz parses (and lays out) every graph
# made here: the demo's, a namespace filter, the cluster tier with Pass and an Audit policy,
# names that need quoting, an empty store. -o json carries the same edges.
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3 dot
: "${PYTHON3:=python3}"

mkdir "$TMP/pol"
cp "$top_srcdir/doc/examples/shop.yaml" "$top_srcdir/packaging/examples/cluster-baseline.yaml" "$TMP/pol/"
cat >"$TMP/pol/audit.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: trial, namespace: pay}
spec:
  mode: Audit
  appliesTo: [{kind: Deployment, name: api}]
  egress:
  - action: Deny
    to: [{kind: Service, name: ledger.v2}, {cidr: "2001:db8::/32"}]
    ports: [{port: 443}, {port: 8000, endPort: 8100}]
YAML
DB=$TMP/pf.db
$PODFENCE_SYNC --db "$DB" --socket "$TMP/none.sock" --policy-dir "$TMP/pol" --once || fail "loading the policies"
ctl() { $PODFENCECTL --config /dev/null --db "$DB" --socket "$TMP/none.sock" "$@"; }

# dot_ok FILE WHAT: graphviz parses the graph and lays it out; the edges it drew, one per line.
dot_ok() {
	dot -Tsvg "$1" >"$1.svg" 2>"$1.err" && [ ! -s "$1.err" ] || fail "dot refused $2: $(cat "$1.err"; head -20 "$1")"
	grep -q '<svg' "$1.svg" || fail "no SVG for $2"
	dot -Tplain "$1" | awk '$1 == "edge"' >"${1%.dot}.edges"
}

ctl graph >"$TMP/all.dot" || fail "podfencectl graph"
dot_ok "$TMP/all.dot" "the whole graph"
n_rules=$(sqlite3 "$DB" "SELECT count(*) FROM policy_target t JOIN policy_rule r ON r.policy_id = t.policy_id
	LEFT JOIN rule_peer pe ON pe.policy_id = r.policy_id AND pe.rule_index = r.rule_index
	JOIN policy p ON p.id = t.policy_id WHERE p.in_force = 1")
[ "$(wc -l <"$TMP/all.edges")" = "$n_rules" ] || fail "dot drew $(wc -l <"$TMP/all.edges") edges, the store has $n_rules (target, destination) pairs"
grep -q '"Pod shop/web" -> "Pod shop/db" \[label="Allow 5432/TCP\\nshop/web-egress#0", color="#2e7d32"' "$TMP/all.dot" ||
	fail "the Allow edge: $(grep web "$TMP/all.dot")"
grep -q '"Pod shop/web" -> "any destination" \[label="Reject 22/TCP\\nshop/web-egress#2", color="#ef6c00"' "$TMP/all.dot" ||
	fail "the Reject edge"
grep -q '"Deployment pay/api" -> "Service pay/ledger.v2" \[label="Audit Deny 443/TCP, 8000-8100/TCP\\npay/trial#0".*style=dashed' "$TMP/all.dot" ||
	fail "the Audit edge: $(grep trial "$TMP/all.dot")"
grep -q '"CIDR 2001:db8::/32" \[shape=ellipse\]' "$TMP/all.dot" || fail "the CIDR node"
pass "graph: one edge per (target, destination) of every rule in force, labelled and coloured; dot lays it out"

ctl graph -n shop >"$TMP/shop.dot" && dot_ok "$TMP/shop.dot" "graph -n shop"
! grep -q 'pay/' "$TMP/shop.dot" || fail "-n shop shows another namespace"
grep -q '"Pod shop/web"' "$TMP/shop.dot" || fail "-n shop lost shop"
ctl graph -n nowhere >"$TMP/none.dot" && dot_ok "$TMP/none.dot" "an empty graph"
grep -q 'no policy in force in nowhere' "$TMP/none.dot" || fail "empty graph says nothing"
ctl graph -n 'a"b\' >"$TMP/quote.dot" && dot_ok "$TMP/quote.dot" "a namespace that needs quoting"
pass "graph -n: one namespace; an empty graph and a quoted name still parse"

ctl -o json graph >"$TMP/g.json" || fail "graph -o json"
"$PYTHON3" - "$TMP/g.json" "$n_rules" <<'PY' || fail "graph -o json: $(head -40 "$TMP/g.json")"
import json, sys
g = json.load(open(sys.argv[1]))
assert sorted(g) == ["edges", "nodes"], sorted(g)
assert len(g["edges"]) == int(sys.argv[2]), len(g["edges"])
keys = {"from", "to", "action", "ports", "policy_kind", "policy_namespace", "policy_name", "rule_index", "mode"}
for e in g["edges"]:
    assert set(e) == keys, e
ids = {n["id"] for n in g["nodes"]}
assert all(e["from"] in ids and e["to"] in ids for e in g["edges"])
assert {n["kind"] for n in g["nodes"]} <= {"Workload", "CIDR", "Any"}
audit = [e for e in g["edges"] if e["mode"] == "Audit"]
assert len(audit) == 2 and all(e["policy_name"] == "trial" for e in audit), audit
cl = [e for e in g["edges"] if e["policy_kind"] == "ClusterFencePolicy"]
assert cl and all(e["policy_namespace"] is None for e in cl), cl
PY
pass "graph -o json: the same edges, every node they name"

rc=0; ctl -o table graph >/dev/null 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'must be dot or json' "$TMP/err" || fail "graph -o table: exit $rc"
rc=0; ctl -o dot pods >/dev/null 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'dot is for graph' "$TMP/err" || fail "pods -o dot: exit $rc"
pass "-o dot only for graph, -o table not for it (exit 2)"
