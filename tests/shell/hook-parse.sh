#!/bin/bash
# podfence-hook on bad and on real-shaped input: garbage is refused with a message and exit 2,
# nothing is printed on stdout, host-network containers are skipped, poststop never fails.
. "$(dirname "$0")/lib.sh"
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
H=$PODFENCE_HOOK
D=$top_srcdir/tests/data/oci
# A socket nobody listens on and fail-mode closed: any attempt to reach the engine fails loudly.
HA=(--socket "$TMP/nosock" --state-dir "$TMP/state" --fail-mode closed --timeout 500)

run() { # run STAGE INPUT-FILE -> rc, $TMP/out, $TMP/err
	rc=0
	"$H" "${HA[@]}" "$1" <"$2" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ ! -s "$TMP/out" ] || fail "stdout not empty: $(cat "$TMP/out")"
}

printf 'this is not json' >"$TMP/garbage"
run prestart "$TMP/garbage"
[ $rc = 2 ] || fail "garbage: exit $rc, want 2"
grep -q "container state" "$TMP/err" && grep -q "OCI state JSON" "$TMP/err" ||
	fail "garbage: unclear message: $(cat "$TMP/err")"
pass "garbage state refused (exit 2, message on stderr)"

: >"$TMP/empty"
run createRuntime "$TMP/empty"
[ $rc = 2 ] && grep -q "empty container state" "$TMP/err" || fail "empty: $rc $(cat "$TMP/err")"
echo '{"id":"../../etc","pid":1}' >"$TMP/badid"
run prestart "$TMP/badid"
[ $rc = 2 ] && grep -q "not a valid container id" "$TMP/err" || fail "bad id: $rc $(cat "$TMP/err")"
pass "empty state and path-like ids refused"

# 10 MB: past any state a runtime writes for a valid pod.
head -c 10000000 /dev/zero | tr '\0' ' ' >"$TMP/big"
run prestart "$TMP/big"
[ $rc = 2 ] && grep -q "larger than" "$TMP/err" || fail "oversized: $rc $(cat "$TMP/err")"
pass "oversized state refused"

run poststop "$TMP/garbage"
[ $rc = 0 ] || fail "poststop on garbage: exit $rc, want 0"
grep -q "container state" "$TMP/err" || fail "poststop garbage not reported"
run poststop "$TMP/big"
[ $rc = 0 ] || fail "poststop on oversized input: exit $rc"
pass "poststop never fails, still reports"

# Host network: config.json without a network namespace. Skipped before any engine contact.
mkdir -p "$TMP/hostnet"
cp "$D/host-network/config.json" "$TMP/hostnet/"
printf '{"ociVersion":"1.0.2","id":"hn-%s","status":"creating","pid":%d,"bundle":"%s","annotations":{}}' \
	"$TID" $$ "$TMP/hostnet" >"$TMP/hn.json"
run prestart "$TMP/hn.json"
[ $rc = 0 ] || fail "host network: exit $rc: $(cat "$TMP/err")"
[ ! -e "$TMP/state/pending" ] || fail "host network left a pending record"
pass "host-network container skipped"

# A pod's annotations may reach Kubernetes' 256 KiB bound (one value as large): not "invalid".
"${PYTHON3:-python3}" -c '
import json, sys
v = "x" * (256 * 1024 - 64)
print(json.dumps({"ociVersion": "1.0.2", "id": "ba-" + sys.argv[1], "status": "creating",
    "pid": int(sys.argv[2]), "bundle": sys.argv[3],
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": v,
                    "io.kubernetes.cri-o.Annotations": json.dumps({"a": v})}}))
' "$TID" $$ "$TMP/hostnet" >"$TMP/bigann.json"
run prestart "$TMP/bigann.json"
[ $rc = 0 ] || fail "256 KiB of annotations: exit $rc: $(cat "$TMP/err")"
pass "large (valid) annotations accepted"

# A netns entry in config.json, but the pid is in the host's netns (e.g. a runtime that joined
# the host's netns by path): also never enforced.
mkdir -p "$TMP/joinhost"
cp "$D/runc-plain/config.json" "$TMP/joinhost/"
printf '{"id":"jh-%s","status":"creating","pid":%d,"bundle":"%s"}' "$TID" $$ "$TMP/joinhost" >"$TMP/jh.json"
run prestart "$TMP/jh.json"
[ $rc = 0 ] || fail "host netns by identity: exit $rc: $(cat "$TMP/err")"
pass "container in the host's netns (by dev/ino) skipped"

# The stage follows the state's status when not given.
printf '{"id":"st-%s","status":"stopped"}' "$TID" >"$TMP/stopped.json"
rc=0; "$H" "${HA[@]}" <"$TMP/stopped.json" >"$TMP/out" 2>"$TMP/err" || rc=$?
[ $rc = 0 ] || fail "status stopped without a stage: exit $rc (not treated as poststop)"
pass "stage taken from the status when not given"

# Invalid identity annotations: refused, naming the annotation.
need_root
NS=pf-hp-$TID
mk_netns "$NS"
ip netns exec "$NS" sleep 300 &
SPID=$!
wait_until 50 in_netns $SPID "$NS" || fail "sleep did not enter $NS"
on_exit "kill $SPID"
mkdir -p "$TMP/b"
cp "$D/runc-plain/config.json" "$TMP/b/"
printf '{"id":"bad-%s","status":"creating","pid":%d,"bundle":"%s","annotations":{"podfence.io/name":"Not_A_Name"}}' \
	"$TID" $SPID "$TMP/b" >"$TMP/badname.json"
run prestart "$TMP/badname.json"
[ $rc = 2 ] && grep -q "podfence.io/name" "$TMP/err" || fail "bad name: $rc $(cat "$TMP/err")"
pass "invalid podfence.io/name refused, naming the annotation"

# Missing bundle and no pid: nothing to go by.
printf '{"id":"nb-%s","status":"creating","bundle":"%s/missing"}' "$TID" "$TMP" >"$TMP/nb.json"
run prestart "$TMP/nb.json"
[ $rc != 0 ] && grep -q "config.json" "$TMP/err" || fail "no bundle, no pid: $rc $(cat "$TMP/err")"
pass "no pid and no config.json refused"
