#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SYNs the engine cannot read are denied in either fail mode: an IPv6 SYN behind long
# extension headers is read and judged by its rule (it was accepted unread when the queue
# copied 256 bytes), one whose header chain is longer than the copy range is dropped, counted
# (metric) and recorded (an event with reason 'unparsed'), and never reaches the server. A SYN
# sent in IPv4 fragments whose first one cuts the TCP header (it matched no rule and went out
# unjudged), and the same in IPv6, never reach the server: reassembled by conntrack and judged,
# or queued and dropped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need

# exthdr HOST PORT TIMEOUT HOPLEN DSTLEN: connect with a hop-by-hop and a destination options
# header of those sizes (bytes, multiples of 8, 0 for none; up to 2040), made of options of
# an unknown type the receiver skips (no more than 8 per header, as Linux allows).
PY_EXTHDR='
import socket, sys
host, port, to, hop, dst = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def opts(total):
    body, out = total - 2, b""
    while body:
        n = min(body - 2, 255)
        out += bytes([0x1e, n]) + b"\0" * n
        body -= n + 2
    return bytes([0, total // 8 - 1]) + out
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
if hop: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, opts(hop))
if dst: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, opts(dst))
s.settimeout(to)
try:
    s.connect((host, port)); print("ok")
except ConnectionRefusedError: print("refused")
except socket.timeout: print("timeout")
except OSError as e: print("error:%d" % e.errno)
'
# Raw fragments from the pod, IPv4 then IPv6: a SYN to port 9000 whose first fragment holds
# only 8 bytes of the TCP header (the ports), the second the rest.
PY_FRAGS='
import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def tcp(pseudo, sport):
    t = struct.pack("!HHIIBBHHH", sport, 9000, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    return t[:16] + struct.pack("!H", csum(pseudo + t)) + t[18:]
sport = int(sys.argv[1])
s4, d4 = socket.inet_aton("10.1.1.2"), socket.inet_aton("10.99.0.1")
t = tcp(s4 + d4 + struct.pack("!BBH", 0, 6, 20), sport)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.sendto(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, sport, 0x2000, 64, 6, 0, s4, d4) + t[:8], ("10.99.0.1", 0))
raw.sendto(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 32, sport, 1, 64, 6, 0, s4, d4) + t[8:], ("10.99.0.1", 0))
s6, d6 = socket.inet_pton(socket.AF_INET6, "fd01:1::2"), socket.inet_pton(socket.AF_INET6, "fd99::1")
t = tcp(s6 + d6 + struct.pack("!IxxxB", 20, 6), sport)
raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
def v6(plen): return struct.pack("!IHBB16s16s", 6 << 28, plen, 44, 64, s6, d6)
raw6.sendto(v6(16) + struct.pack("!BBHI", 6, 0, 0x0001, sport) + t[:8], ("fd99::1", 0))
raw6.sendto(v6(20) + struct.pack("!BBHI", 6, 0, 0x0008, sport) + t[8:], ("fd99::1", 0))
'

exthdr() { ip netns exec "$1" "$PY" -c "$PY_EXTHDR" "${@:2}"; }
expect_ext() {
	local got
	got=$(exthdr "$1" "$2" "$3" 1.5 "$4" "$5")
	[ "$got" = "$6" ] || fail "$1 -> $2:$3 with $4+$5 bytes of extension headers: expected $6, got $got"
	pass "$2:$3 with $4+$5 bytes of extension headers: $6"
}

setup_server
add_pod 1; WEB=$POD
# Jumbo frames on the pod's link, so a SYN with 4 KiB of headers goes out unfragmented (a
# first fragment without the TCP header would be dropped by the receiver, not by us).
ip -n "$WEB" link set "pfa1-$TID" mtu 9000
ip -n "$SRV" link set "pfb1-$TID" mtu 9000

cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-egress, namespace: shop}
spec:
  priority: 100
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    to: [{cidr: "fd99::1"}]
    ports: [{port: 80}]
  - action: Reject
    to: [{cidr: "fd99::1"}]
    ports: [{port: 443}]
  - action: Deny
    to: [{cidr: "fd99::1"}, {cidr: 10.99.0.1}]
    ports: [{port: 9000}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"

# Server side: count the SYNs that arrive, whatever their headers.
ip netns exec "$SRV" nft -f - <<'NFT'
table inet pftest {
	chain in {
		type filter hook input priority 0;
		tcp dport 9000 tcp flags & (syn | ack) == syn counter
		tcp dport 80 tcp flags & (syn | ack) == syn counter
	}
}
NFT
srv_syns() { ip netns exec "$SRV" nft list chain inet pftest in | sed -n "s/.*dport $1 .* packets \([0-9]*\) .*/\1/p"; }

unparsed_total() {
	"$PY" - "$TMP/metrics.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
d = b""
while True:
    b = s.recv(65536)
    if not b: break
    d += b
for l in d.decode().splitlines():
    if l.startswith("podfence_packets_unparsed_total "): print(l.split()[1])
PY
}
unparsed_ge() { [ "$(unparsed_total)" -ge "$1" ]; }

for mode in open closed; do
	start_engine --fail-mode "$mode" --default-action Allow --metrics "unix:$TMP/metrics.sock"
	register "$WEB" shop web c-web-1

	# Plain SYNs: the policy as written.
	expect_ext "$WEB" fd99::1 80 0 0 ok
	expect_ext "$WEB" fd99::1 9000 0 0 timeout
	# 512 and 2 KiB of destination options, and 1 + 1 KiB: past the old 256-byte copy, read
	# and judged by the rules (before the fix: accepted unread in fail-open).
	expect_ext "$WEB" fd99::1 9000 0 512 timeout
	expect_ext "$WEB" fd99::1 443 0 512 refused
	expect_ext "$WEB" fd99::1 9000 0 2040 timeout
	expect_ext "$WEB" fd99::1 9000 1024 1024 timeout
	expect_ext "$WEB" fd99::1 80 1024 1024 ok
	[ "$(srv_syns 9000)" = 0 ] || fail "fail-mode $mode: $(srv_syns 9000) SYNs to the Deny port reached the server"
	pass "fail-mode $mode: no SYN to the Deny port reached the server"

	# 4 KiB of headers: past the copy range, unread, so denied even to the Allow port.
	before=$(srv_syns 80)
	expect_ext "$WEB" fd99::1 80 2040 2040 timeout
	[ "$(srv_syns 80)" = "$before" ] || fail "fail-mode $mode: an unreadable SYN reached the server"
	got=$(unparsed_total)
	[ "${got:-0}" -ge 1 ] || fail "fail-mode $mode: podfence_packets_unparsed_total is '${got}'"
	pass "fail-mode $mode: unparsed SYNs counted ($got)"

	# Fragments cut inside the TCP header. Conntrack is on in the pod's netns (the flows
	# chain), so the kernel reassembles fragments before the chain where it can (the IPv4
	# SYN, then judged by its rule: Deny) and drops an IPv6 first fragment that cuts the TCP
	# header (RFC 7112); what is left in fragments is queued, unread and dropped.
	ip netns exec "$WEB" "$PY" -c "$PY_FRAGS" 40001 || fail "sending fragments"
	wait_until 30 unparsed_ge $((got + 1)) || fail "fail-mode $mode: the IPv6 fragment left was not judged unparsed ($(unparsed_total))"
	sleep 0.3
	[ "$(srv_syns 9000)" = 0 ] || fail "fail-mode $mode: a SYN in fragments reached the server"
	pass "fail-mode $mode: SYNs in cut fragments (IPv4, IPv6) are dropped"
	wait_until 50 sql_ge 1 "SELECT count(*) FROM recent_events WHERE pod_name='web' AND reason='unparsed' AND action='Deny'" ||
		fail "fail-mode $mode: no 'unparsed' event: $(sql 'SELECT * FROM recent_events')"
	pass "fail-mode $mode: an 'unparsed' event was recorded"
	engine_finish
	sql "DELETE FROM event" || true
	rm -f "$TMP/metrics.sock"
done
