#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfencectl's habits, as a script or a person relies on them: global options before or after
# the subcommand, -o json on every store subcommand with the keys of tests/data/cli-json-keys.txt
# (the stable schema), --no-headers, exit codes 0/1/2, and bash completion.
. "$(dirname "$0")/lib.sh"
need_cmd sqlite3 bash
: "${PYTHON3:=python3}"

mkdir "$TMP/pol"
cp "$top_srcdir/doc/examples/shop.yaml" "$TMP/pol/"
DB=$TMP/pf.db
$PODFENCE_SYNC --db "$DB" --socket "$TMP/none.sock" --policy-dir "$TMP/pol" --once
sqlite3 "$DB" "INSERT INTO pod(netns_dev,netns_ino,namespace,name,kind,ips,containers,registered_at,state)
	VALUES (1,2,'shop','web','Container','10.1.0.2','c1',0,'enforced'),
	       (1,3,'shop','db','Container','10.1.0.3','c2',0,'enforced');
	INSERT INTO pod_ip VALUES (1,'10.1.0.2'),(2,'10.1.0.3');
	INSERT INTO event(at,pod_namespace,pod_name,src,dst,dport,action,policy_namespace,policy_name,rule_index,count)
	VALUES (strftime('%s','now')*1000,'shop','web','10.1.0.2','10.1.0.3',9000,'Deny','shop','web-egress',3,1);"
ctl() { $PODFENCECTL --config /dev/null --socket "$TMP/none.sock" "$@"; }

# The same output whichever side of the subcommand the options stand.
for sub in pods policies events "explain --from shop/web --to 10.1.0.3 --port 5432" graph; do
	# shellcheck disable=SC2086
	a=$(ctl --db "$DB" -o json $sub) || fail "options before: $sub"
	# shellcheck disable=SC2086
	b=$(ctl $sub -o json --db "$DB") || fail "options after: $sub"
	# shellcheck disable=SC2086
	c=$(ctl --db="$DB" $sub --output=json) || fail "--opt=value after: $sub"
	[ "$a" = "$b" ] && [ "$a" = "$c" ] || fail "$sub: options after the subcommand give other output"
done
pass "options before or after the subcommand (-o json, --db F, --db=F, --output=json)"

# -o json everywhere, with the documented keys.
ctl --db "$DB" -o json pods >"$TMP/pods.json"
ctl --db "$DB" -o json policies >"$TMP/policies.json"
ctl --db "$DB" -o json events >"$TMP/events.json"
ctl --db "$DB" -o json explain --from shop/web --to 10.1.0.3 --port 5432 >"$TMP/explain.json"
ctl -o json check "$TMP/pol/shop.yaml" >"$TMP/check.json"
ctl --db "$DB" -o json graph >"$TMP/graph.json"
"$PYTHON3" - "$top_srcdir/tests/data/cli-json-keys.txt" "$TMP" <<'PY' || fail "JSON schema"
import json, sys
want = {}
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("#"):
        k, v = line.split(":", 1)
        want[k] = sorted(v.split())
d = sys.argv[2]
def keys(o): return sorted(o)
def check(name, objs):
    assert objs, name + ": no objects"
    for o in objs:
        assert keys(o) == want[name], "%s: %s != %s" % (name, keys(o), want[name])
check("pods", json.load(open(d + "/pods.json")))
check("policies", json.load(open(d + "/policies.json")))
# events: one object per line (a stream a follower reads line by line)
check("events", [json.loads(l) for l in open(d + "/events.json")])
e = json.load(open(d + "/explain.json"))
check("explain", e); check("explain.considered", e[0]["considered"])
c = json.load(open(d + "/check.json"))
check("check", [c]); check("check.files", c["files"]); check("check.documents", c["files"][0]["documents"])
g = json.load(open(d + "/graph.json"))
check("graph", [g]); check("graph.edges", g["edges"]); check("graph.nodes", g["nodes"])
PY
pass "-o json on every subcommand, with the keys of the documented schema"

out=$(ctl --db "$DB" policies --no-headers)
! echo "$out" | grep -q '^NAMESPACE' || fail "--no-headers printed the header: $out"
echo "$out" | grep -Eq '^shop +web-egress ' || fail "--no-headers lost the rows: $out"
ctl --db "$DB" policies | head -1 | grep -q '^NAMESPACE' || fail "the header line is gone without --no-headers"
pass "--no-headers"

rc() { local r=0; "$@" >/dev/null 2>&1 || r=$?; echo $r; }
[ "$(rc ctl --db "$DB" pods)" = 0 ] || fail "pods: exit"
[ "$(rc ctl --db "$DB" nosuch)" = 2 ] || fail "unknown command: exit 2"
[ "$(rc ctl --db "$DB" pods -o yaml)" = 2 ] || fail "bad -o: exit 2"
[ "$(rc ctl --db "$DB" pods extra)" = 2 ] || fail "extra argument: exit 2"
[ "$(rc ctl --db "$TMP/none.db" pods)" = 1 ] || fail "no store: exit 1"
[ "$(rc ctl status)" = 1 ] || fail "no engine: exit 1"
[ "$(rc ctl --db "$DB" explain --from shop/nope --to 10.1.0.3 --port 1)" = 2 ] || fail "unknown pod: exit 2"
pass "exit codes: 0 ok, 1 runtime failure, 2 usage or invalid input"

# bash completion: the function the package installs, as bash calls it.
mkdir "$TMP/bin"
printf '#!/bin/sh\nexec %s --config /dev/null --db %s "$@"\n' "$PODFENCECTL" "$DB" >"$TMP/bin/podfencectl"
chmod +x "$TMP/bin/podfencectl"
complete_words() { # WORDS...: what completing the last word offers
	PATH="$TMP/bin:$PATH" bash --norc -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _podfencectl; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$top_srcdir/cli/completion/podfencectl" "$@"
}
[ "$(complete_words podfencectl gr)" = graph ] || fail "completing 'gr': $(complete_words podfencectl gr)"
[ "$(complete_words podfencectl graph -o '' | sort | tr '\n' ' ')" = "dot json " ] || fail "graph -o values"
[ "$(complete_words podfencectl pods -o '' | sort | tr '\n' ' ')" = "json table " ] || fail "pods -o values"
complete_words podfencectl pods --no | grep -qx -- --no-headers || fail "global options after the subcommand"
complete_words podfencectl events --f | grep -qx -- --follow || fail "events options"
[ "$(complete_words podfencectl explain --from shop/ | sort | tr '\n' ' ')" = "shop/db shop/web " ] ||
	fail "pods for --from: $(complete_words podfencectl explain --from shop/)"
pass "bash completion: subcommands, options, -o values, pods from the store"
