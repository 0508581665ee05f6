#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A pod with CAP_NET_ADMIN tampering with its own ruleset: the table deleted, the chain
# flushed, an accept rule put first, the table made dormant, a chain of its own added to our
# table, the whole ruleset flushed. The engine sees each change (nftables notifications in
# the pod's netns), puts the ruleset back within ~100 ms in one transaction, and records a
# 'ruleset-restored' event and the podfence_ruleset_restored_total metric. A table of the
# pod's own is recorded as 'ruleset-foreign'. Our own changes are never taken for tampering.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Namespace, name: shop}]
  egress:
  - action: Reject
    ports: [{port: 443}]
YAML
start_engine --metrics "unix:$TMP/metrics.sock"
register "$WEB" shop web c-web
expect "$WEB" 10.99.0.1 443 refused
expect "$WEB" 10.99.0.1 80 ok
restored() { status_field 's["ruleset"]["restored"]'; }
[ "$(restored)" = 0 ] || fail "our own install counted as tampering: $(restored)"
pass "our own install is not taken for tampering"

# nft -f in the pod netns, then how long until our rules (fragment rules too) are back (ms).
PY_TAMPER='
import subprocess, sys, time
ns, script = sys.argv[1], sys.argv[2]
subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script.encode(), check=True)
t = time.monotonic()
while time.monotonic() - t < 5:
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "-a", "list", "ruleset"],
                         capture_output=True, text=True).stdout
    if (out.count("podfence: new TCP connections are judged") == 2 and "dormant" not in out
            and out.count("podfence: fragments") == 2
            and "evil" not in out and "accept # handle" not in out.replace("iif", "")
            and out.count("chain output") == 2):
        print(int((time.monotonic() - t) * 1000)); sys.exit(0)
    time.sleep(0.005)
print("never"); sys.exit(1)
'
n=0
tamper() { # WHAT SCRIPT
	local ms
	ms=$(ip netns exec "$WEB" true && "$PY" -c "$PY_TAMPER" "$WEB" "$2") ||
		fail "$1: ruleset not restored: $(ip netns exec "$WEB" nft list ruleset)"
	[ "$ms" -le 500 ] || fail "$1: restored only after $ms ms"
	n=$((n + 1))
	wait_until 20 status_is "$n" 's["ruleset"]["restored"]' || fail "$1: restored count $(restored), want $n"
	expect "$WEB" 10.99.0.1 443 refused
	expect "$WEB" 10.99.0.1 80 ok
	pass "$1: restored in $ms ms"
}
tamper "table deleted" "delete table ip podfence
delete table ip6 podfence"
tamper "chain flushed" "flush chain ip podfence output"
tamper "accept rule inserted first" "insert rule ip podfence output accept"
tamper "table made dormant" "add table ip podfence { flags dormant; }"
tamper "own base chain added to our table" "add chain ip podfence evil { type filter hook output priority -400; policy accept; }
add rule ip podfence evil accept"
tamper "ten chains added to our table" "$(for i in 0 1 2 3 4 5 6 7 8 9; do echo "add chain ip podfence evil$i { type filter hook output priority -40$i; policy accept; }"; done)"
tamper "base chain deleted" "flush chain ip podfence output
delete chain ip podfence output"
tamper "ruleset flushed" "flush ruleset"

wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE reason='ruleset-restored' AND pod_name='web'" ||
	fail "no ruleset-restored event: $(sql 'SELECT * FROM recent_events')"
pass "ruleset-restored event recorded"
metric() { "$PY" - "$TMP/metrics.sock" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n"); d = b""
while True:
    b = s.recv(65536)
    if not b: break
    d += b
for l in d.decode().splitlines():
    if l.startswith(sys.argv[2] + " "): print(l.split()[1])
PYEOF
}
[ "$(metric podfence_ruleset_restored_total)" = "$n" ] || fail "metric podfence_ruleset_restored_total: $(metric podfence_ruleset_restored_total), want $n"
pass "podfence_ruleset_restored_total = $n"

# A table of the pod's own: recorded (it may see packets first), not removed.
ip netns exec "$WEB" nft add table inet mine
wait_until 20 status_is 1 's["ruleset"]["foreign_tables"]' || fail "foreign table not seen"
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE reason='ruleset-foreign'" || fail "no ruleset-foreign event"
[ "$(metric podfence_ruleset_foreign_total)" = 1 ] || fail "podfence_ruleset_foreign_total"
pass "a foreign table is an event and a metric"

# A pod flipping its ruleset in a loop: restored every time, the loop still serves others.
ip netns exec "$WEB" "$PY" -c '
import subprocess, time
t = time.monotonic()
while time.monotonic() - t < 2:
    subprocess.run(["nft", "delete", "table", "ip", "podfence"], capture_output=True)
' &
FLIP=$!
on_exit "kill $FLIP"
sleep 0.5
ctl_ok '{"op":"status"}' || fail "engine unresponsive while a pod flips its ruleset"
wait $FLIP || true
wait_until 20 has_table "$WEB" || fail "table not back after the flip loop"
expect "$WEB" 10.99.0.1 443 refused
rows=$(sql "SELECT count(*) FROM recent_events WHERE reason='ruleset-restored'")
[ "$rows" -le 3 ] || fail "$rows ruleset-restored events: not rate-limited"
pass "flip loop: restored each time, $(restored) restores, $rows event rows"
engine_finish
