#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
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

# Identity comes from the runtime that ran the container, never from keys its pod can set:
# the register request a stand-in engine receives for real-shaped states with forged keys.
: "${PYTHON3:=python3}"
need_cmd "$PYTHON3"
bg_start "$PYTHON3" "$top_srcdir/tests/shell/mock-engine.py" "$TMP/id.sock" "$TMP/id.log" ok
wait_until 50 test -e "$TMP/id.sock.ready" || fail "mock engine did not start"
identity() { # FIXTURE -> "namespace/name" the engine was asked to register; $TMP/err
	local d=$TMP/id-$1
	mkdir -p "$d"
	"$PYTHON3" - "$D/$1" "$d" "$SPID" <<'PY'
import json, sys
src, dst, pid = sys.argv[1:]
st = json.load(open(src + "/state.json"))
cfg = json.load(open(src + "/config.json"))
st["pid"], st["bundle"] = int(pid), dst
for ns in cfg["linux"]["namespaces"]:
    if ns["type"] == "network":
        ns.pop("path", None)
json.dump(cfg, open(dst + "/config.json", "w"))
json.dump(st, open(dst + "/state.json", "w"))
PY
	: >"$TMP/id.log"
	rc=0
	"$H" --socket "$TMP/id.sock" --state-dir "$TMP/state" --fail-mode closed --timeout 2000 \
		prestart <"$d/state.json" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ $rc = 0 ] || fail "$1: exit $rc: $(cat "$TMP/err")"
	"$PYTHON3" -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["namespace"] + "/" + r["name"])' "$TMP/id.log"
}
got=$(identity containerd-forged)
[ "$got" = payments/api-5f6d7c8b9-qwert ] || fail "containerd with forged io.kubernetes.pod.* keys registered as $got"
grep -q "ignored io.kubernetes.pod.namespace=bank" "$TMP/err" || fail "forged keys not logged: $(cat "$TMP/err")"
pass "containerd: forged io.kubernetes.pod.*, CRI-O and podfence.io keys ignored (and logged)"
got=$(identity crio-forged)
[ "$got" = shop/web-7d4b9c8f6d-x2x7q ] || fail "CRI-O with forged containerd/podfence.io keys registered as $got"
grep -q "podfence.io/name=vault-0" "$TMP/err" || fail "forged podfence.io keys not logged: $(cat "$TMP/err")"
pass "CRI-O: forged io.kubernetes.cri.* and podfence.io keys ignored (and logged)"
got=$(identity crio-shadowed)
[ "$got" = shop/web-7d4b9c8f6d-x2x7q ] || fail "CRI-O with shadowed io.kubernetes.pod.* registered as $got"
pass "CRI-O: io.kubernetes.pod.* shadowed by a pod annotation, CRI-O's own keys win"
got=$(identity podman)
[ "$got" = shop/web ] || fail "Podman's podfence.io keys: registered as $got"
pass "Podman: podfence.io keys honoured"
