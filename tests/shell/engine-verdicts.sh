#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Verdicts as a client sees them: Allow connects, Deny times out, Reject is refused at once,
# Alert connects and leaves an event; rule order, priorities, CIDRs, port ranges, IPv6, and
# the default action for a pod no policy targets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
add_pod 2; OTHER=$POD

cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-egress, namespace: shop}
spec:
  priority: 100
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Reject
    to: [{cidr: 10.99.0.0/24}]
    ports: [{port: 443}]
  - action: Alert
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 8080}]
  - action: Allow
    to: [{cidr: 10.99.0.0/16}]
    ports: [{port: 5432, endPort: 5433}]
  - action: Deny
    ports: [{port: 9000}]
  - action: Allow
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 9000}]
  - action: Allow
    to: [{cidr: "fd99::1"}]
    ports: [{port: 80}]
  - action: Reject
    to: [{cidr: "fd99::/64"}]
    ports: [{port: 443}]
  - action: Deny
    to: [{cidr: "fd99::2"}]
    ports: [{port: 8080}]
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: quarantine-db, namespace: shop}
spec:
  priority: 50
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Deny
    to: [{cidr: 10.99.1.0/24}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"

start_engine --default-action Reject
register "$WEB" shop web c-web-1
register "$OTHER" shop other c-other-1

expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused
got=$(probe "$WEB" 10.99.0.2 443); [ "${got#* }" -lt 500 ] || fail "Reject took ${got#* } ms"
expect "$WEB" 10.99.0.1 8080 ok
expect "$WEB" 10.99.0.2 5432 ok
expect "$WEB" 10.99.0.2 5433 ok
expect "$WEB" 10.99.0.2 5434 refused   # past endPort: default action (Reject)
expect "$WEB" 10.99.0.2 80 refused     # outside the /32: default action
expect "$WEB" 10.99.0.1 9000 timeout   # Deny with any destination
expect "$WEB" 10.99.0.2 9000 timeout   # the Deny comes before the Allow for .2
expect "$WEB" 10.99.1.1 5432 timeout   # priority 50 Deny beats priority 100 Allow
expect "$WEB" fd99::1 80 ok
expect "$WEB" fd99::2 443 refused
expect "$WEB" fd99::2 8080 timeout
expect "$WEB" fd99::2 80 refused       # default action for IPv6 as well
expect "$OTHER" 10.99.0.1 80 refused   # untargeted pod: default action
expect "$OTHER" fd99::1 80 refused

# Traffic inside the pod is never queued, whatever the default action.
ip netns exec "$WEB" "$PY" -c "$PY_SERVER" "$TMP/lo.ready" 7777 &
lo_pid=$!
on_exit "kill $lo_pid; wait $lo_pid"
wait_until 50 test -f "$TMP/lo.ready" || fail "pod-local server did not start"
expect "$WEB" 127.0.0.1 7777 ok

# A pod cannot borrow another pod's policies by spoofing its source address: "other" sends a
# raw SYN claiming web's address to a destination web may reach (and other has not tried:
# events are rate-limited per pod, destination and port); it is judged as "other"
# (default action Reject) and recorded as such.
# send_spoofed_syn NETNS SPORT DPORT: a raw IPv4 SYN from web's address 10.1.1.2 to 10.99.0.1.
send_spoofed_syn() {
	ip netns exec "$1" "$PY" - "$2" "$3" <<'PY' || fail "sending the spoofed SYN"
import socket, struct, sys
sport, dport = int(sys.argv[1]), int(sys.argv[2])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src, dst = socket.inet_aton("10.1.1.2"), socket.inet_aton("10.99.0.1")
tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
tcp = tcp[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + tcp, ("10.99.0.1", 0))
PY
}
send_spoofed_syn "$OTHER" 40000 5432
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE pod_name='other' AND src='10.1.1.2' AND dport=5432 AND action='Reject'" ||
	fail "a SYN spoofing web's address from other was not judged as other: $(sql "SELECT * FROM recent_events WHERE dport=5432")"
pass "a spoofed source address is judged as the pod that sent it"

# The same from a pod with no global address at all (nothing of its own to be judged as): the
# default action, not web's Allow.
NOADDR=pfn-$TID
mk_netns "$NOADDR"
ip -n "$NOADDR" link add d0 type veth peer name d1
ip -n "$NOADDR" link set d0 up
ip -n "$NOADDR" link set d1 up
ip -n "$NOADDR" route add 10.99.0.0/24 dev d0
register "$NOADDR" shop noaddr c-noaddr-1
send_spoofed_syn "$NOADDR" 40001 80
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE pod_name='noaddr' AND dport=80 AND action='Reject'" ||
	fail "a SYN from an address-less pod spoofing web's address was not given the default action: $(sql "SELECT * FROM recent_events WHERE dport=80")"
unregister c-noaddr-1 >/dev/null
pass "a pod without addresses is never judged as another pod"

# Events: Alert, Deny and Reject are recorded; Allow (without log) is not.
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE action='Alert' AND dport=8080 AND pod_name='web' AND pod_namespace='shop' AND policy_name='web-egress' AND rule_index=2" ||
	fail "no Alert event: $(sql 'SELECT * FROM recent_events')"
pass "Alert left an event"
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE action='Deny' AND dport=9000" || fail "no Deny event"
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE action='Reject' AND dport=443" || fail "no Reject event"
pass "Deny and Reject left events"
[ "$(sql "SELECT count(*) FROM recent_events WHERE action='Allow'")" = 0 ] || fail "Allow without log recorded an event"
[ "$(sql "SELECT count(*) FROM recent_events WHERE pod_name='other' AND action='Reject' AND policy_name IS NULL")" -ge 1 ] ||
	fail "default-action event for the untargeted pod: $(sql "SELECT * FROM recent_events WHERE pod_name='other'")"
pass "default action events carry no policy"

# podfencectl explain answers with the running engine's default action (Reject here), not the
# configuration's (none: Allow), and names the rule that decides otherwise.
out=$($PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" explain --from shop/other --to 10.99.0.1 --port 80)
echo "$out" | grep -q ': Reject$' || fail "explain for an untargeted pod: $out"
out=$($PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" explain --from shop/web --to 10.99.0.1 --port 443)
echo "$out" | grep -q 'policy shop/web-egress (rule 1: Reject' || fail "explain for web:443: $out"
pass "podfencectl explain agrees with the engine"
engine_finish
