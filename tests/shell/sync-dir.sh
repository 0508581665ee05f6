#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-sync --policy-dir: files created, modified, renamed, deleted, made invalid; editor
# temp files ignored; the directory replaced; engine told to reload; command line and exit
# codes; and how long a write takes to reach the store.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/shell/lib.sh"
need_cmd sqlite3
[ -x "$PODFENCE_SYNC" ] || skip "$PODFENCE_SYNC not built"

DIR=$TMP/policies
DB=$TMP/state/podfence.db
LOG=$TMP/sync.log
SOCK=$TMP/engine.sock
mkdir -p "$DIR"

q() { sqlite3 -batch -noheader "$DB" "$1"; }
# q_is SQL WANT: for wait_until, which runs its command again each time
q_is() { [ "$(q "$1" 2>/dev/null)" = "$2" ]; }
# policy NAME PRIORITY PORT [NAMESPACE]: one FencePolicy document (YAML)
policy() {
	cat <<EOF
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: $1
  namespace: ${4:-shop}
spec:
  priority: $2
  appliesTo:
  - kind: Pod
    name: web
  egress:
  - action: Allow
    to:
    - cidr: 10.20.0.0/16
    ports:
    - port: $3
  - action: Deny
EOF
}

# Sanitizer builds run slower; the latency bound is generous for them.
LIMIT_MS=100
if ldd "$PODFENCE_SYNC" 2>/dev/null | grep -q libasan; then LIMIT_MS=1000; fi

# act LABEL SQL WANT ACTION ARGS...: do ACTION (write DST SRC | rename FROM TO | delete FILE),
# then poll the store until SQL gives WANT, and record how long that took. Python times it in
# one process with sub-millisecond polling; without it, bash's clock and the sqlite3 CLI.
cat >"$TMP/act.py" <<'PY'
import os, sqlite3, sys, time
db, sql, want, action, *args = sys.argv[1:]
con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None)
if action == "write":
    data = open(args[1], "rb").read()
t0 = time.monotonic()
if action == "write":
    with open(args[0], "wb") as f:
        f.write(data)
elif action == "rename":
    os.rename(args[0], args[1])
elif action == "delete":
    os.unlink(args[0])
while True:
    row = con.execute(sql).fetchone()
    got = "" if row is None or row[0] is None else str(row[0])
    if got == want:
        break
    if time.monotonic() - t0 > 5:
        print("timeout, last %r" % got)
        sys.exit(1)
    time.sleep(0.0005)
print("%.1f" % ((time.monotonic() - t0) * 1000))
PY
MAX_LAT=0
act() {
	local label=$1 sql=$2 want=$3 ms t0 t1
	shift 3
	if [ -n "$PYTHON3" ] && [ -x "$PYTHON3" ]; then
		ms=$("$PYTHON3" "$TMP/act.py" "$DB" "$sql" "$want" "$@") || fail "$label: store never showed '$want': $ms"
	else
		t0=${EPOCHREALTIME/./}
		case $1 in
		write) cat "$3" >"$2" ;;
		rename) mv "$2" "$3" ;;
		delete) rm "$2" ;;
		esac
		while [ "$(q "$sql")" != "$want" ]; do
			t1=${EPOCHREALTIME/./}
			[ $((t1 - t0)) -lt 5000000 ] || fail "$label: store never showed '$want'"
		done
		t1=${EPOCHREALTIME/./}
		ms=$(((t1 - t0) / 1000))
	fi
	echo "# latency $label: $ms ms (from the write until a reader sees the change)"
	ms=${ms%.*}
	LATS+=("$ms")
	[ "$ms" -le "$MAX_LAT" ] || MAX_LAT=$ms
}
LATS=()

# --- command line ---------------------------------------------------------------------------
"$PODFENCE_SYNC" --help | grep -q -- '--policy-dir DIR' || fail "--help"
"$PODFENCE_SYNC" --version | grep -q '^podfence-sync ' || fail "--version"
rc=0; "$PODFENCE_SYNC" --db "$DB" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "no mode: exit $rc, want 2"
rc=0; "$PODFENCE_SYNC" --policy-dir "$DIR" --kube --db "$DB" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--policy-dir with --kube: exit $rc, want 2"
rc=0; "$PODFENCE_SYNC" --policy-dir "$DIR" --resync-max x --db "$DB" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "bad number: exit $rc, want 2"
rc=0; "$PODFENCE_SYNC" --policy-dir "$DIR" --bogus 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "unknown option: exit $rc, want 2"
rc=0; "$PODFENCE_SYNC" --config "$TMP/missing.conf" --policy-dir "$DIR" --db "$DB" --once 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "missing --config file: exit $rc, want 2"
rc=0; "$PODFENCE_SYNC" --policy-dir "$TMP/nowhere" --db "$DB" --once 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -q nowhere "$TMP/err" || fail "missing directory: exit $rc, want 1 and its name"
pass "command line: help, version, usage errors exit 2, a missing directory exits 1"

# Configuration file: keys are the long options; flags beat the file.
policy cfg 10 443 >"$DIR/cfg.yaml"
cat >"$TMP/podfence.conf" <<EOF
# shared by every podfence program; unknown keys belong to the others
policy_dir = $DIR
db = $TMP/from-file.db
socket = $SOCK
fail_mode = open
EOF
"$PODFENCE_SYNC" --config "$TMP/podfence.conf" --once 2>/dev/null || fail "--config --once"
[ "$(sqlite3 "$TMP/from-file.db" "SELECT name FROM policies")" = cfg ] || fail "config file db not used"
"$PODFENCE_SYNC" --config "$TMP/podfence.conf" --db "$DB" --once 2>/dev/null || fail "--config --db --once"
[ "$(q "SELECT name FROM policies")" = cfg ] || fail "--db did not beat the file"
rm "$DIR/cfg.yaml"
"$PODFENCE_SYNC" --policy-dir "$DIR" --db "$DB" --once 2>/dev/null || fail "--once on an empty dir"
[ "$(q "SELECT count(*) FROM policies")" = 0 ] || fail "a file deleted while not running stays in the store"
pass "configuration file keys, flags beat the file, --once removes files deleted meanwhile"

printf 'apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata: {name: x}\nspec: {}\n' >"$DIR/bad.yaml"
rc=0; "$PODFENCE_SYNC" --policy-dir "$DIR" --db "$DB" --once 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] || fail "--once with an invalid file: exit $rc, want 2"
grep -q 'bad.yaml: document 1' "$TMP/err" || fail "--once error does not name file and document: $(cat "$TMP/err")"
rm "$DIR/bad.yaml"
pass "--once exits 2 on an invalid file and names it"

# Standalone files may hold ClusterFencePolicies; a FencePolicy naming another namespace in
# appliesTo is refused like any invalid document, named by kind, file and field.
cat >"$DIR/tiers.yaml" <<'EOF'
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
---
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
EOF
rc=0; "$PODFENCE_SYNC" --policy-dir "$DIR" --db "$DB" --once 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] || fail "--once with cross-namespace policies: exit $rc, want 2"
grep -qF "tiers.yaml: document 3 (line 31): spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own namespace \"ta\", not \"tb\"" "$TMP/err" &&
	grep -qF "FencePolicy ta/grab not updated" "$TMP/err" &&
	grep -qF "ClusterFencePolicy scoped not updated" "$TMP/err" ||
	fail "errors of the cross-namespace and the namespaced cluster policy: $(cat "$TMP/err")"
[ "$(q "SELECT coalesce(namespace, '-') || ' ' || name || ' ' || kind || ' ' || valid || in_force FROM policies ORDER BY name")" = \
	"- admin ClusterFencePolicy 11
ta grab FencePolicy 00
- scoped ClusterFencePolicy 00" ] || fail "policies view after tiers.yaml: $(q "SELECT * FROM policies")"
rm "$DIR/tiers.yaml"
"$PODFENCE_SYNC" --policy-dir "$DIR" --db "$DB" --once 2>/dev/null || fail "--once after removing tiers.yaml"
[ "$(q "SELECT count(*) FROM policies")" = 0 ] || fail "tiers.yaml's policies stay in the store"
pass "standalone: a ClusterFencePolicy is mirrored with its kind; cross-namespace FencePolicy and namespaced ClusterFencePolicy refused"

# --- a fake, slow engine that records reload requests ------------------------------------------------
ENGINE_PID=
if [ -n "$PYTHON3" ] && [ -x "$PYTHON3" ]; then
	cat >"$TMP/engine.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen(8)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        c, _ = s.accept()
        out.write(c.recv(65536).decode() + "\n")
        time.sleep(0.3)  # a slow engine must not slow the mirror down
        c.send(b'{"ok":true}')
        c.close()
PY
	bg_start "$PYTHON3" "$TMP/engine.py" "$SOCK" "$TMP/reloads"
	ENGINE_PID=$BG_PID
	wait_until 50 test -S "$SOCK" || fail "fake engine did not start"
fi
reloads() { cat "$TMP/reloads" 2>/dev/null | grep -c '"op":"reload"' || true; }
reloads_ge() { [ "$(reloads)" -ge "$1" ]; }

# --- the daemon -----------------------------------------------------------------------------
policy a 100 5432 >"$DIR/a.yaml"
echo "not a policy" >"$DIR/README"
bg_start "$PODFENCE_SYNC" --policy-dir "$DIR" --db "$DB" --socket "$SOCK" --foreground 2>"$LOG"
SYNC_PID=$BG_PID
wait_until 100 q_is "SELECT count(*) FROM policies WHERE name = 'a' AND valid AND in_force" 1 ||
	fail "a.yaml not loaded at start: $(cat "$LOG")"
pass "loads the directory at start"

# create
{ policy b1 200 80; echo ---; policy b2 201 81; } >"$TMP/b.yaml"
act create "SELECT count(*) FROM policies WHERE source = '$DIR/b.yaml' AND valid AND in_force" 2 \
	write "$DIR/b.yaml" "$TMP/b.yaml"
pass "create: b.yaml's two policies in force"
if [ -n "$ENGINE_PID" ]; then
	wait_until 20 reloads_ge 2 || fail "engine not told to reload ($(reloads) requests)"
	pass "engine told to reload after each change ($(reloads) requests)"
fi

# modify
B2_AT=$(q "SELECT updated_at FROM policies WHERE name = 'b2'")
{ policy b1 250 80; echo ---; policy b2 201 81; } >"$TMP/b.yaml"
act modify "SELECT priority FROM policies WHERE name = 'b1'" 250 write "$DIR/b.yaml" "$TMP/b.yaml"
[ "$(q "SELECT updated_at FROM policies WHERE name = 'b2'")" = "$B2_AT" ] || fail "unchanged b2 was rewritten"
pass "modify: b1 updated, unchanged b2 untouched"

# invalid update: the last valid version stays in force
A_BEFORE=$(q "SELECT priority || ' ' || rules || ' ' || in_force FROM policies WHERE name = 'a'")
B_BEFORE=$(q "SELECT group_concat(updated_at) FROM policies WHERE source = '$DIR/b.yaml'")
policy a 7 0 >"$TMP/a.yaml"
act invalid "SELECT valid FROM policies WHERE name = 'a'" 0 write "$DIR/a.yaml" "$TMP/a.yaml"
[ "$(q "SELECT priority || ' ' || rules || ' ' || in_force FROM policies WHERE name = 'a'")" = "$A_BEFORE" ] ||
	fail "invalid update changed what is in force"
q "SELECT error FROM policies WHERE name = 'a'" | grep -q 'spec.egress\[0\].ports\[0\].port' ||
	fail "policies view does not show the field: $(q "SELECT error FROM policies WHERE name = 'a'")"
wait_until 20 grep -q "a.yaml: document 1 (line [0-9]*): spec.egress\[0\].ports\[0\].port" "$LOG" ||
	fail "error not logged with file, document and field: $(cat "$LOG")"
[ "$(q "SELECT group_concat(updated_at) FROM policies WHERE source = '$DIR/b.yaml'")" = "$B_BEFORE" ] ||
	fail "other files were touched"
pass "invalid update: logged with file/document/field, error shown, last valid version in force, others untouched"

# new invalid file: enforces nothing; an unparseable one shows an error row
policy c 1 70000 >"$TMP/c.yaml"
act new-invalid "SELECT valid || in_force FROM policies WHERE name = 'c'" 00 write "$DIR/c.yaml" "$TMP/c.yaml"
printf '{"apiVersion": ' >"$TMP/d.json"
act unparseable "SELECT count(*) FROM policies WHERE source = '$DIR/d.json' AND error IS NOT NULL AND NOT in_force" 1 \
	write "$DIR/d.json" "$TMP/d.json"
pass "new invalid files enforce nothing and show their errors"

# editor temp files and other names are ignored
policy swp 1 1 >"$DIR/.a.yaml.swp"
policy tilde 1 1 >"$DIR/a.yaml~"
policy hidden 1 1 >"$DIR/.hidden.yaml"
policy txt 1 1 >"$DIR/notes.txt"
sleep 0.3
[ "$(q "SELECT count(*) FROM policies WHERE name IN ('swp', 'tilde', 'hidden', 'txt')")" = 0 ] ||
	fail "temp or hidden files were loaded"
rm -f "$DIR/.a.yaml.swp" "$DIR/a.yaml~" "$DIR/.hidden.yaml" "$DIR/notes.txt"
pass "editor temp files, dotfiles and other suffixes ignored"

# rename: the policies move with the file, unchanged
B_AT=$(q "SELECT group_concat(updated_at) FROM policies WHERE source = '$DIR/b.yaml'")
act rename "SELECT count(*) FROM policies WHERE source = '$DIR/b2.yml'" 2 rename "$DIR/b.yaml" "$DIR/b2.yml"
[ "$(q "SELECT group_concat(updated_at) FROM policies WHERE source = '$DIR/b2.yml'")" = "$B_AT" ] ||
	fail "rename rewrote the policies"
# renaming a file whose latest version is invalid keeps its last valid version in force
act rename-invalid "SELECT in_force || valid FROM policies WHERE source = '$DIR/a-renamed.yaml'" 10 \
	rename "$DIR/a.yaml" "$DIR/a-renamed.yaml"
pass "rename: policies follow the file, the last valid version stays in force"

# atomic replace (write a temp file, rename over): the usual way tools write
{ policy b1 260 80; echo ---; policy b2 201 81; } >"$DIR/.b2.yml.tmp"
act replace "SELECT priority FROM policies WHERE name = 'b1'" 260 rename "$DIR/.b2.yml.tmp" "$DIR/b2.yml"
pass "atomic replace picked up"

# rename away (to a non-policy name) and delete
act rename-away "SELECT count(*) FROM policies WHERE name IN ('b1', 'b2')" 0 rename "$DIR/b2.yml" "$DIR/b2.yml.bak"
act delete "SELECT count(*) FROM policies WHERE name = 'a'" 0 delete "$DIR/a-renamed.yaml"
pass "rename away and delete remove the file's policies"

# a policy moved from one file to another in one step (cp new, rm old) changes owner
policy moved 5 22 >"$DIR/m1.yaml"
wait_until 20 q_is "SELECT count(*) FROM policies WHERE name = 'moved' AND in_force" 1 || fail "m1"
cp "$DIR/m1.yaml" "$DIR/m2.yaml"
wait_until 20 q_is "SELECT count(*) FROM policies WHERE source = '$DIR/m2.yaml'" 1 || fail "m2 conflict row"
rm "$DIR/m1.yaml"
wait_until 20 q_is "SELECT source || in_force FROM policies WHERE name = 'moved'" "$DIR/m2.yaml1" ||
	fail "the second file did not take over: $(q "SELECT * FROM policies WHERE name = 'moved'")"
pass "a name defined by two files: refused, then taken over when the first goes"

# the directory replaced as a whole
mkdir "$TMP/policies.new"
policy fresh 3 443 >"$TMP/policies.new/fresh.yaml"
mv "$DIR" "$TMP/policies.old"
mv "$TMP/policies.new" "$DIR"
wait_until 30 q_is "SELECT group_concat(name) FROM (SELECT name FROM policies WHERE name IS NOT NULL ORDER BY name)" fresh ||
	fail "replaced directory not re-read: $(q "SELECT name, source FROM policies")"
policy fresh2 4 443 >"$TMP/fresh2.yaml"
act after-replace "SELECT count(*) FROM policies WHERE name = 'fresh2'" 1 write "$DIR/fresh2.yaml" "$TMP/fresh2.yaml"
pass "directory replaced: re-read, and the new one is watched"

kill -TERM "$SYNC_PID"
rc=0
wait "$SYNC_PID" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
grep -q "stopping on signal" "$LOG" || fail "no clean stop in the log"
pass "SIGTERM stops cleanly"

# The daemon takes a few ms; what the test measures also holds the scheduling of a loaded
# machine (parallel make check), so the median must meet the limit and no sample may be
# wildly over it.
MEDIAN=$(printf '%s\n' "${LATS[@]}" | sort -n | sed -n "$(( (${#LATS[@]} + 1) / 2 ))p")
echo "# latency over ${#LATS[@]} changes: median ${MEDIAN} ms, max ${MAX_LAT} ms (limit ${LIMIT_MS} ms)"
[ "$MEDIAN" -le "$LIMIT_MS" ] || fail "changes took ${MEDIAN} ms (median) to reach the store"
[ "$MAX_LAT" -le $((LIMIT_MS * 5)) ] || fail "a change took ${MAX_LAT} ms to reach the store"
pass "changes reach the store within ${LIMIT_MS} ms (median ${MEDIAN} ms, max ${MAX_LAT} ms)"
