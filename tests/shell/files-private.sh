#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Files other users must not read, created under `umask 000` by every program: the store and
# its -wal/-shm and directory (podfence-sync, podfenced, podfencectl), the control and metrics
# sockets and their directories (podfenced), the state dir and the hook's pending records
# (podfence-hook, podfenced). Files 0600, directories 0700, whatever the umask.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
need_cmd stat find sqlite3

umask 000
R=$TMP/root # nothing below it exists yet: each program creates what it needs
DB=$R/lib/podfence/podfence.db
SOCK=$R/run/podfence/podfenced.sock
STATE=$R/state
MSOCK=$R/metrics/podfence/metrics.sock
HSTATE=$R/hook-state
mkdir "$TMP/policies"
cat >"$TMP/policies/p.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: web
  namespace: shop
spec:
  appliesTo:
  - kind: Deployment
    name: web
    namespace: shop
  egress:
  - action: Allow
    to:
    - cidr: 10.99.0.0/16
    ports:
    - port: 443
YAML

# mode_is WANT PATH...: each path exists with exactly that mode
mode_is() {
	local want=$1 p m
	shift
	for p in "$@"; do
		[ -e "$p" ] || fail "$p was not created"
		m=$(stat -c %a "$p")
		[ "$m" = "$want" ] || fail "$p: mode $m, want $want (umask 000)"
	done
}
# nothing under $R may be readable, writable or searchable by group or others
none_open() {
	local open
	open=$(find "$R" -perm /077 -printf '%m %p\n')
	[ -z "$open" ] || fail "$1: readable by others: $open"
}

# podfence-sync creates the store.
"$PODFENCE_SYNC" --once --policy-dir "$TMP/policies" --db "$DB" --socket "$TMP/none.sock" \
	--state-dir "$STATE" --config /dev/null >"$TMP/sync.log" 2>&1 ||
	fail "podfence-sync: $(cat "$TMP/sync.log")"
mode_is 600 "$DB"
mode_is 700 "$R/lib" "$R/lib/podfence"
none_open "after podfence-sync"
pass "podfence-sync: store 0600 in a 0700 directory"

# podfenced: control socket, metrics socket, state dir, and the store's -wal/-shm while it
# holds the store open.
start_engine --metrics "unix:$MSOCK"
wait_until 50 test -e "$DB-wal" -a -e "$DB-shm" || fail "no -wal/-shm while the engine runs"
# (they go when the last connection closes: check what is there)
for f in "$DB-wal" "$DB-shm"; do [ ! -e "$f" ] || mode_is 600 "$f"; done
mode_is 600 "$DB" "$SOCK" "$MSOCK"
mode_is 700 "$R/run" "$R/run/podfence" "$R/metrics" "$R/metrics/podfence" "$STATE" "$STATE/pending"
none_open "with podfenced running"
pass "podfenced: sockets 0600, their directories and the state dir 0700, -wal/-shm 0600"

# The hook, engine unreachable, fail-open: its pending record and the state dir it makes.
NS=pf-fp-$TID
mk_netns "$NS"
ip netns exec "$NS" sleep 300 &
SPID=$!
on_exit "kill $SPID"
wait_until 50 in_netns "$SPID" "$NS" || fail "sleep did not enter $NS"
mkdir "$TMP/bundle"
printf '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"annotations":{"podfence.io/namespace":"shop","podfence.io/name":"web"},"linux":{"namespaces":[{"type":"network","path":"/run/netns/%s"}]}}' \
	"$NS" >"$TMP/bundle/config.json"
printf '{"ociVersion":"1.0.2","id":"fp-%s","status":"creating","pid":%d,"bundle":"%s","annotations":{"podfence.io/namespace":"shop","podfence.io/name":"web"}}' \
	"$TID" "$SPID" "$TMP/bundle" >"$TMP/state.json"
"$PODFENCE_HOOK" --state-dir "$HSTATE" --socket "$TMP/none.sock" prestart <"$TMP/state.json" \
	2>"$TMP/hook.err" || fail "hook (fail-open, no engine): $(cat "$TMP/hook.err")"
mode_is 600 "$HSTATE/pending/fp-$TID.json"
mode_is 700 "$HSTATE" "$HSTATE/pending"
none_open "after the hook"
pass "podfence-hook: pending record 0600 in 0700 directories"

engine_finish
# podfencectl reads the store on its own (its sqlite may recreate -shm).
"$PODFENCECTL" --config /dev/null --db "$DB" --socket "$TMP/none.sock" policies >"$TMP/ctl.out" 2>&1 ||
	fail "podfencectl policies: $(cat "$TMP/ctl.out")"
grep -q web "$TMP/ctl.out" || fail "podfencectl policies: $(cat "$TMP/ctl.out")"
for f in "$DB" "$DB-wal" "$DB-shm"; do [ ! -e "$f" ] || mode_is 600 "$f"; done
none_open "after podfencectl"
pass "podfencectl: whatever it leaves of the store is 0600"

# An existing store from an older version, 0644 with its -wal: tightened on open.
chmod 644 "$DB"
start_engine
wait_until 50 test -e "$DB-wal" || fail "no -wal"
mode_is 600 "$DB"
for f in "$DB-wal" "$DB-shm"; do [ ! -e "$f" ] || mode_is 600 "$f"; done
engine_finish
pass "an existing world-readable store is made 0600"
