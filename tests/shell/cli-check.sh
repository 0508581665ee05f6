#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfencectl check: exit codes, messages on stderr, one OK line per valid policy, -o json,
# the configuration file and global options. Needs no daemon and no root.
. "$(dirname "$0")/lib.sh"
D=$top_srcdir/tests/data/policies
CTL="$VALGRIND $PODFENCECTL"
[ -x "$PODFENCECTL" ] || fail "$PODFENCECTL not built"
cd "$TMP"

# run ARGS...: sets rc, out, err
run() {
	rc=0
	$CTL "$@" >out 2>err || rc=$?
	out=$(cat out)
	err=$(cat err)
}
expect_rc() { [ "$rc" = "$1" ] || fail "podfencectl $2: exit $rc, want $1 (stderr: $err)"; }

run check "$D/valid-multi.yaml"
expect_rc 0 "check valid-multi.yaml"
[ -z "$err" ] || fail "valid file printed on stderr: $err"
[ "$(grep -c ': OK (' out)" = 3 ] || fail "want 3 OK lines, got: $out"
grep -qx "$D/valid-multi.yaml: document 1 (line 2): shop/web-egress: OK (priority 100, 2 rules)" out ||
	fail "OK line format: $out"
grep -qx "$D/valid-multi.yaml: document 3 (line 57): ClusterFencePolicy batch: OK (priority 0, 0 rules)" out ||
	fail "OK line of the cluster policy: $out"
pass "valid YAML: exit 0, one OK line per policy"

run check "$D/valid-multi.json"
expect_rc 0 "check valid-multi.json"
[ "$(grep -c ': OK (' out)" = 3 ] || fail "JSON stream: want 3 OK lines, got: $out"
pass "valid JSON stream: exit 0"

run check "$D/mixed.yaml"
expect_rc 2 "check mixed.yaml"
[ "$err" = "$D/mixed.yaml: document 2 (line 28): spec.egress[2].ports[0].endPort: must be >= port (80)" ] ||
	fail "mixed.yaml error line: $err"
grep -q 'shop/first: OK' out && grep -q 'shop/third: OK' out || fail "valid siblings not reported OK: $out"
! grep -q broken out || fail "the invalid policy was reported on stdout: $out"
pass "invalid document: exit 2, FILE: document N (line L): FIELD: message on stderr, siblings OK"

# A FencePolicy governs only its own namespace: naming another one in appliesTo is refused,
# naming it in `to` is fine; the cluster-scoped kind may name any.
cat >cross.yaml <<'EOF'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: grab
  namespace: ta
spec:
  priority: 0
  appliesTo:
  - kind: Namespace
    name: tb
  egress:
  - action: Allow
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: grab-one
  namespace: ta
spec:
  appliesTo:
  - kind: Deployment
    name: web
    namespace: tb
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: pass
  namespace: ta
spec:
  appliesTo:
  - kind: Namespace
    name: ta
  egress:
  - action: Pass
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: own
  namespace: ta
spec:
  appliesTo:
  - kind: Namespace
    name: ta
  egress:
  - action: Allow
    to:
    - kind: Namespace
      name: tb
---
apiVersion: podfence.io/v1alpha1
kind: ClusterFencePolicy
metadata:
  name: admin
spec:
  appliesTo:
  - kind: Namespace
    name: tb
  egress:
  - action: Pass
---
apiVersion: podfence.io/v1alpha1
kind: ClusterFencePolicy
metadata:
  name: scoped
  namespace: ta
spec:
  appliesTo:
  - kind: Namespace
    name: tb
EOF
run check cross.yaml
expect_rc 2 "check cross.yaml"
grep -qxF "cross.yaml: document 1 (line 10): spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own namespace \"ta\", not \"tb\" (a FencePolicy governs only its own namespace; a ClusterFencePolicy may name workloads in any namespace)" err ||
	fail "cross-namespace Namespace ref: $err"
grep -qxF "cross.yaml: document 2 (line 23): spec.appliesTo[0].namespace: must be the policy's own namespace \"ta\", not \"tb\" (a FencePolicy governs only its own namespace; a ClusterFencePolicy may name workloads in any namespace)" err ||
	fail "cross-namespace workload ref: $err"
grep -qxF "cross.yaml: document 3 (line 35): spec.egress[0].action: Pass is only allowed in a ClusterFencePolicy (expected one of Allow, Deny, Reject, Alert)" err ||
	fail "Pass in a FencePolicy: $err"
grep -qxF "cross.yaml: document 6 (line 67): metadata.namespace: must be omitted: a ClusterFencePolicy is cluster-scoped (it has no namespace; its appliesTo refs name theirs)" err ||
	fail "namespaced ClusterFencePolicy: $err"
[ "$(wc -l <err)" = 4 ] || fail "want 4 errors: $err"
grep -qxF "cross.yaml: document 4 (line 37): ta/own: OK (priority 1000, 1 rule)" out ||
	fail "a destination in another namespace is fine: $out"
grep -qxF "cross.yaml: document 5 (line 52): ClusterFencePolicy admin: OK (priority 1000, 1 rule)" out ||
	fail "ClusterFencePolicy with Pass: $out"
run -o json check cross.yaml
expect_rc 2 "check -o json cross.yaml"
grep -qF '"namespace":null,"name":"admin","kind":"ClusterFencePolicy","valid":true' out ||
	fail "JSON: the cluster policy's kind, no namespace: $out"
pass "a FencePolicy naming another namespace in appliesTo, or using Pass, is refused naming the field; ClusterFencePolicy is accepted"

run check "$D/syntax-error.yaml"
expect_rc 2 "check syntax-error.yaml"
[[ "$err" == "$D/syntax-error.yaml: line 14, column "* ]] || fail "syntax error message: $err"
[ -z "$out" ] || fail "a file with a syntax error reported a policy OK: $out"
pass "syntax error: whole file invalid, message names file and line"

run check "$D/syntax-error.json" "$D/invalid.json" "$D/invalid-cidr.yaml"
expect_rc 2 "check (three bad files)"
grep -q "^$D/syntax-error.json: line 5, column " err || fail "JSON syntax error: $err"
grep -qx "$D/invalid.json: document 1 (line 6): spec.appliesTo\[0\].kind: kind Service is not allowed in appliesTo (only in egress\[\].to; expected one of Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, Namespace)" err ||
	fail "invalid.json error: $err"
grep -qx "$D/invalid-cidr.yaml: document 1 (line 12): spec.egress\[0\].to\[0\].cidr: invalid CIDR '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)" err ||
	fail "invalid-cidr.yaml error: $err"
[ "$(wc -l <err)" = 3 ] || fail "want one error per file: $err"
pass "every file is checked; one error line each"

run check "$D/valid-multi.yaml" "$TMP/nonexistent.yaml"
expect_rc 2 "check with a missing file"
[ "$err" = "$TMP/nonexistent.yaml: No such file or directory" ] || fail "missing file message: $err"
[ "$(grep -c ': OK (' out)" = 3 ] || fail "the readable file was not checked: $out"
pass "unreadable file: exit 2, named on stderr"

# The same policy twice (here: the YAML and the JSON form) is refused, as podfence-sync does.
run check "$D/valid-multi.yaml" "$D/valid-multi.json"
expect_rc 2 "check (duplicates)"
grep -qx "$D/valid-multi.json: document 1 (line 1): metadata.name: policy shop/web-egress is already defined by document 1 of $D/valid-multi.yaml" err ||
	fail "duplicate message: $err"
[ "$(wc -l <err)" = 3 ] || fail "want 3 duplicates: $err"
{ cat "$D/mixed.yaml"; echo ---; cat "$D/mixed.yaml"; } >twice.yaml
run check twice.yaml
expect_rc 2 "check twice.yaml"
grep -q "^twice.yaml: document 4 (line [0-9]*): metadata.name: policy shop/first is already defined by document 1 of this file" err ||
	fail "duplicate in one file: $err"
pass "a policy defined twice is refused"

# A directory: its *.yaml, *.yml, *.json files in name order, hidden and other files skipped.
mkdir pdir
cp "$D/valid-multi.yaml" pdir/a.yaml
cp "$D/invalid.json" pdir/b.json
sed 's/name: first/name: fourth/; s/name: third/name: fifth/' "$D/mixed.yaml" | sed '/^---$/,$d' >pdir/c.yml
cp "$D/invalid-cidr.yaml" pdir/.hidden.yaml
cp "$D/invalid-cidr.yaml" pdir/notes.txt
run check pdir/
expect_rc 2 "check pdir/"
[ "$err" = "pdir/b.json: document 1 (line 6): spec.appliesTo[0].kind: kind Service is not allowed in appliesTo (only in egress[].to; expected one of Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, Namespace)" ] ||
	fail "directory: only b.json should be reported: $err"
[ "$(grep -c ': OK (' out)" = 4 ] || fail "directory: want 4 OK lines (a.yaml x3, c.yml): $out"
grep -q '^pdir/c.yml: document 1 (line 3): shop/fourth: OK' out || fail "directory: c.yml: $out"
rm pdir/b.json
run check pdir
expect_rc 0 "check pdir (all valid)"
mkdir none
run check none
expect_rc 0 "check none (empty directory)"
[ "$out" = "none: OK (no policy files)" ] || fail "empty directory: $out"
pass "a directory is checked as podfence-sync --policy-dir loads it"

run check "$D/empty.yaml"
expect_rc 0 "check empty.yaml"
[ "$out" = "$D/empty.yaml: OK (no policies)" ] || fail "empty file: $out"
pass "a file without documents is valid"

rc=0
$CTL check - <"$D/mixed.yaml" >out 2>err || rc=$?
expect_rc 2 "check - (stdin)"
grep -q '^<stdin>: document 2 (line 28): ' err || fail "stdin name in message: $(cat err)"
pass "'-' reads stdin"

# A policy past the per-policy cost limit (what it may make the verdict cache hold) is refused
# with a message naming the field and the limit; its small sibling is fine.
"$PYTHON3" - >big.yaml <<'PY'
hdr = "apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata: {name: %s, namespace: t}\nspec:\n  appliesTo: [{kind: Pod, name: a}]\n  egress:\n"
print(hdr % "small", end="")
print("  - action: Allow\n    to: [{cidr: 10.0.0.0/8}]\n    ports: [{port: 80}]")
print("---")
print(hdr % "huge", end="")
for r in range(256):
    print("  - action: Allow\n    to: [{cidr: 10.%d.0.0/16}]\n    ports:" % r)
    for p in range(256):
        print("    - {port: %d}" % (1 + p))
PY
run check big.yaml
expect_rc 2 "check big.yaml"
[[ "$err" == "big.yaml: document 2 (line "*"): spec.egress: costs 65536 destination-port pairs, more than the limit of 4096 per policy"* ]] ||
	fail "oversized policy: $err"
grep -q 't/small: OK' out || fail "the small policy beside it: $out"
pass "a policy past the cost limit is refused, naming spec.egress and the limit"

# -o json, before or after the subcommand; the output is JSON a script can read.
run -o json check "$D/mixed.yaml" "$D/valid-multi.json"
expect_rc 2 "-o json check"
"$PYTHON3" - out <<'PY' || fail "JSON output: $(cat out)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is False
f0, f1 = d["files"]
assert f0["valid"] is False and f1["valid"] is True, d
docs = f0["documents"]
assert [x["valid"] for x in docs] == [True, False, True], docs
bad = docs[1]
assert bad["name"] == "broken" and bad["namespace"] == "shop", bad
assert bad["error"] == "spec.egress[2].ports[0].endPort: must be >= port (80)", bad
assert bad["errorLine"] == 28 and bad["document"] == 2 and bad["policy"] is None, bad
p = f1["documents"][0]["policy"]
assert p["spec"]["egress"][0]["ports"][0] == {"port": 5432, "endPort": 5433, "protocol": "TCP"}, p
assert p["spec"]["appliesTo"][0]["namespace"] == "shop", p
PY
run check -o json "$D/valid-multi.yaml"
expect_rc 0 "check -o json"
"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["valid"] and len(d["files"][0]["documents"]) == 3' out ||
	fail "check -o json: $out"
pass "-o json: machine-readable results, before or after the subcommand"

# The configuration file: output = json; a flag beats the file; a named file must exist.
printf '# podfencectl test\noutput = json\ndb = %s/x.db\n' "$TMP" >pf.conf
run --config pf.conf check "$D/empty.yaml"
expect_rc 0 "--config check"
[ "${out:0:9}" = '{"files":' ] || fail "output = json in the config file ignored: $out"
run --config pf.conf -o table check "$D/empty.yaml"
[ "$out" = "$D/empty.yaml: OK (no policies)" ] || fail "-o table did not override the file: $out"
run --config "$TMP/missing.conf" check "$D/empty.yaml"
expect_rc 2 "--config missing.conf"
grep -q "missing.conf" err || fail "missing config file not named: $err"
printf 'output = xml\n' >bad.conf
run --config=bad.conf check "$D/empty.yaml"
expect_rc 2 "--config=bad.conf"
grep -q "output must be table, json or dot" err || fail "bad output key: $err"
pass "--config: keys apply, flags override, errors named"

run --help
expect_rc 0 "--help"
grep -q '^Usage: podfencectl' out && grep -q 'check' out || fail "--help: $out"
run --version
expect_rc 0 "--version"
[[ "$out" == "podfencectl "[0-9]* ]] || fail "--version: $out"
run check --help
expect_rc 0 "check --help"
run
expect_rc 2 "(no command)"
run frobnicate
expect_rc 2 "frobnicate"
grep -q "unknown command 'frobnicate'" err || fail "unknown command message: $err"
run check
expect_rc 2 "check (no files)"
run -o yaml check "$D/empty.yaml"
expect_rc 2 "-o yaml"
run --db "$TMP/x.db" --socket "$TMP/s" --state-dir "$TMP" check "$D/empty.yaml"
expect_rc 0 "check with path flags"
pass "usage errors exit 2; --help and --version exit 0"

# UDP ports and fqdn peers: valid; a Deny by name is valid too, with a warning that it is
# bypassable; a bad name or protocol is refused with the field named.
cat >fqdn.yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: by-name, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    to: [{fqdn: db.shop.test}, {fqdn: "*.example.com"}]
    ports: [{port: 53, protocol: UDP}, {port: 5432}]
  - action: Deny
    to: [{fqdn: evil.example.org}]
YAML
run check fqdn.yaml
expect_rc 0 "check fqdn.yaml"
grep -q 'shop/by-name: OK' out || fail "fqdn policy not OK: $out"
grep -q 'warning: spec.egress\[1\]: Deny by fqdn is bypassable' err || fail "no bypass warning: $err"
grep -q 'egress\[0\]' err && fail "Allow by name warned about: $err"
run -o json check fqdn.yaml
expect_rc 0 "check -o json fqdn.yaml"
"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["files"][0]["documents"][0]["policy"]["spec"]["egress"][0]; assert r["to"][0] == {"fqdn": "db.shop.test"} and r["ports"][0]["protocol"] == "UDP", r' out ||
	fail "json: $(cat out)"
sed -e 's/protocol: UDP/protocol: ICMP/' fqdn.yaml >bad-proto.yaml
run check bad-proto.yaml
expect_rc 2 "check bad-proto.yaml"
grep -q 'spec.egress\[0\].ports\[0\].protocol: unknown protocol "ICMP" (expected TCP or UDP)' err || fail "bad protocol: $err"
sed -e 's/"\*.example.com"/"db.*.com"/' fqdn.yaml >bad-fqdn.yaml
run check bad-fqdn.yaml
expect_rc 2 "check bad-fqdn.yaml"
grep -q "spec.egress\[0\].to\[1\].fqdn: \"db.\*.com\": '\*' may only stand for exactly one leading label" err || fail "bad fqdn: $err"
pass "UDP and fqdn: checked, Deny by name warned about, bad ones named"
