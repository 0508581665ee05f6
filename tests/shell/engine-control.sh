#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The control socket: root peers only (mode 0600 and SO_PEERCRED), malformed, oversized or
# unknown requests answered with an error while the daemon keeps working, the host's netns
# refused, idle connections closed; options and the configuration file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
need_cmd setpriv stat

# Options: --help/--version, usage errors exit 2, the config file, and flags beating it.
"$PODFENCED" --help | grep -q -- '--fail-mode' || fail "--help"
"$PODFENCED" --version | grep -q '^podfenced ' || fail "--version"
set +e
"$PODFENCED" --no-such-flag >/dev/null 2>&1; [ $? = 2 ] || fail "unknown flag must exit 2"
"$PODFENCED" --fail-mode ajar >/dev/null 2>&1; [ $? = 2 ] || fail "bad --fail-mode must exit 2"
"$PODFENCED" --default-action Maybe >/dev/null 2>&1; [ $? = 2 ] || fail "bad --default-action must exit 2"
"$PODFENCED" --queue-num 70000 >/dev/null 2>&1; [ $? = 2 ] || fail "bad --queue-num must exit 2"
printf 'queue_num = x\n' >"$TMP/bad.conf"
"$PODFENCED" --config "$TMP/bad.conf" 2>"$TMP/err" >/dev/null; rc=$?
set -e
[ $rc = 2 ] && grep -q 'bad.conf:1' "$TMP/err" || fail "bad config value: rc $rc, $(cat "$TMP/err")"
pass "options and usage errors"

cat >"$TMP/podfence.conf" <<CONF
# shared by every program: keys that are not the engine's are ignored
kubeconfig = /nonexistent
default_action = Deny
fail_mode = closed
queue_num = 7
CONF
load_policies || fail "loading an empty policy source"
# systemd readiness: READY=1 on $NOTIFY_SOCKET once the socket is up.
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
while True:
    open(sys.argv[2], "a").write(s.recv(4096).decode() + "\n")
' "$TMP/notify" "$TMP/notify.log" &
notify_pid=$!
on_exit "kill $notify_pid; wait $notify_pid"
wait_until 50 test -f "$TMP/notify.ready" || fail "notify listener"
NOTIFY_SOCKET=$TMP/notify ENGINE_CONFIG=$TMP/podfence.conf start_engine --default-action Reject
wait_until 20 grep -q READY=1 "$TMP/notify.log" || fail "no READY=1 on NOTIFY_SOCKET"
pass "READY=1 sent to systemd's socket"
[ "$(status_field 's["default_action"]')" = Reject ] || fail "flag must beat the file"
[ "$(status_field 's["fail_mode"]')" = closed ] || fail "fail_mode from the file"
[ "$(status_field 's["queue_num"]')" = 7 ] || fail "queue_num from the file"
pass "configuration file read, flags beat it"

[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK")"
# A non-root peer: refused by the file mode...
chmod 755 "$TMP" "$TMP/run"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c "$PY_CTL" "$SOCK" '{"op":"status"}' 2>&1) &&
	fail "non-root peer connected: $out"
echo "$out" | grep -q 'Permission denied' || fail "non-root peer: $out"
# ...and by SO_PEERCRED when the mode is wrong.
chmod 666 "$SOCK"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.send(b"{\"op\":\"status\"}")
except OSError:
    pass
print(s.recv(65536).decode())
' "$SOCK" 2>&1) || true
chmod 600 "$SOCK"
echo "$out" | grep -q '"ok":false' && echo "$out" | grep -q 'not root' || fail "peer uid check: $out"
echo "$out" | grep -q '"pods"' && fail "non-root peer got a status"
pass "non-root peers refused"

# Garbage: every message is answered with an error naming the problem; the daemon lives on.
check_err() {
	local reply
	reply=$(ctl "$1")
	echo "$reply" | grep -q '"ok":false' || fail "request '$1' not refused: $reply"
	echo "$reply" | grep -q "$2" || fail "request '$1': expected '$2' in $reply"
}
check_err 'not json at all' 'invalid request'
check_err '' 'invalid request'
check_err '[1,2,3]' 'not a JSON object'
check_err '{}' "missing string field 'op'"
check_err '{"op":42}' "missing string field 'op'"
check_err '{"op":"explode"}' "unknown op"
check_err '{"op":"register"}' "missing field 'netns'"
check_err '{"op":"register","netns":"/nonexistent/ns","name":"x","container":"c"}' 'nonexistent'
check_err '{"op":"register","netns":"/proc/self/ns/net","name":"x","container":"c"}' "host's network namespace"
check_err '{"op":"register","netns":"/etc/passwd","name":"x","container":"c"}' 'not a namespace'
# Neither may hang the engine: a FIFO with no writer, a device.
mkfifo "$TMP/fifo"
on_exit ": <>\"$TMP/fifo\"" # frees an engine stuck opening it, so a failure ends the test
check_err "{\"op\":\"register\",\"netns\":\"$TMP/fifo\",\"name\":\"x\",\"container\":\"c\"}" 'not a namespace'
check_err '{"op":"register","netns":"/dev/null","name":"x","container":"c"}' 'not a namespace'
reply=$(ctl "{\"op\":\"unregister\",\"netns\":\"$TMP/fifo\",\"container\":\"c\"}" 10) || true
echo "$reply" | grep -q '"found":false' || fail "unregister naming a FIFO: $reply"
check_err '{"op":"register","netns":"/run/netns/x","name":"x","container":"c","pid":"12"}' "'pid' must be an integer"
check_err '{"op":"register","netns":"/run/netns/x","name":"a\u0001b","container":"c"}' 'control character'
check_err '{"op":"unregister"}' "missing field 'container'"
check_err "{\"op\":\"status\",\"x\":$(printf '[%.0s' $(seq 100))1$(printf ']%.0s' $(seq 100))}" 'invalid request'
big=$("$PY" -c 'print("{\"op\":\"status\",\"pad\":\"" + "x" * 70000 + "\"}")')
check_err "$big" 'larger than'
ctl_ok '{"op":"status"}' || fail "daemon stopped answering after garbage"
ctl_ok '{"op":"reload"}' || fail "reload"
pass "garbage answered with errors, daemon keeps working"

# A connection that never sends is closed within the time bound.
t0=$(date +%s)
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(15)
s.connect(sys.argv[1])
sys.exit(0 if s.recv(100) == b"" else 1)
' "$SOCK" || fail "idle connection not closed"
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "idle connection closed late"
pass "idle connection closed"

# Every client slot taken (a burst of hooks): a further request waits for room (here: the
# idle ones timing out) and is answered, neither refused nor reset.
"$PY" -c '
import socket, sys, time
held = []
for i in range(64):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(0.3)
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.settimeout(15)
c.connect(sys.argv[1])
c.send(b"{\"op\":\"status\"}")
r = c.recv(1 << 20).decode()
sys.exit(0 if "\"ok\":true" in r else "reply: " + r)
' "$SOCK" || fail "request with every client slot taken"
ctl_ok '{"op":"status"}' || fail "daemon stopped answering after a full house"
pass "a full house of clients delays a request, does not refuse it"

# netns_dev/netns_ino guard against a pid reused by another netns: a mismatch is refused.
mk_netns "pfc-$TID"
read -r dev ino < <(stat -L -c '%d %i' "/run/netns/pfc-$TID")
check_err "{\"op\":\"register\",\"netns\":\"/run/netns/pfc-$TID\",\"name\":\"x\",\"container\":\"c\",\"netns_dev\":$dev,\"netns_ino\":$((ino + 1))}" 'not the'
check_err "{\"op\":\"register\",\"netns\":\"/run/netns/pfc-$TID\",\"name\":\"x\",\"container\":\"c\",\"netns_dev\":$dev}" 'go together'
reply=$(ctl "{\"op\":\"register\",\"netns\":\"/run/netns/pfc-$TID\",\"name\":\"x\",\"container\":\"c\",\"netns_dev\":$dev,\"netns_ino\":$ino}")
echo "$reply" | grep -q '"new":true' || fail "register with matching dev/ino: $reply"
reply=$(ctl "{\"op\":\"register\",\"netns\":\"/run/netns/pfc-$TID\",\"name\":\"x\",\"container\":\"c\"}")
echo "$reply" | grep -q '"new":false' || fail "same container again: $reply"
[ "$(status_field 's["pods"][0]["containers"]')" = 1 ] || fail "a repeated registration counted twice"
unregister c | grep -q '"released":true' || fail "unregister"
pass "dev/ino checked; a repeated registration is idempotent"

# The store refuses the pod's row (disk full, locked past the busy timeout): the pod is not
# enforced without the policies that name it; the registration waits while the write is
# retried, and is answered once the row is in.
sqlite3 "$DB" "CREATE TRIGGER pf_test_full BEFORE INSERT ON pod BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;"
ctl "{\"op\":\"register\",\"netns\":\"/run/netns/pfc-$TID\",\"name\":\"x\",\"container\":\"c\"}" 30 >"$TMP/full.reply" &
REG=$!
on_exit "kill $REG"
wait_until 50 status_is True 's["pod_rows"]["waiting"] == 1' || fail "row write not waiting for a retry"
[ "$(status_field '[p["state"] for p in s["pods"]]')" = "['pending']" ] || fail "a pod whose row failed is enforced"
[ ! -s "$TMP/full.reply" ] || fail "answered before the row was in: $(cat "$TMP/full.reply")"
sqlite3 "$DB" "DROP TRIGGER pf_test_full"
wait $REG || fail "register client"
grep -q '"new":true' "$TMP/full.reply" || fail "register once the store works again: $(cat "$TMP/full.reply")"
unregister c | grep -q '"released":true' || fail "unregister"
pass "a pod row the store refuses holds the registration until a retry writes it"

# The host's netns through a path: our own netns by /proc/<our pid>.
check_err "{\"op\":\"register\",\"netns\":\"/proc/$$/ns/net\",\"name\":\"x\",\"container\":\"c\"}" "host's network namespace"
ctl_ok '{"op":"status"}' || fail "daemon gone"
kill -0 "$ENGINE_PID" || fail "daemon died"
pass "host netns refused"
engine_finish
wait_until 20 grep -q STOPPING=1 "$TMP/notify.log" || fail "no STOPPING=1 on NOTIFY_SOCKET"
pass "STOPPING=1 sent"
