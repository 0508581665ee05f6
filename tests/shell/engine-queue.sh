#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Load never opens the fence: a pod that fills its own queue (here 8 packets, --queue-maxlen)
# gets its extra SYNs dropped, not accepted unjudged; the kernel's drop counters show up per
# pod in status and summed in the metrics (kept when the pod is released); another pod keeps
# getting its verdicts during the flood, and the flooding pod's queue works again after it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need

setup_server
add_pod 1; FLOOD=$POD
add_pod 2; QUIET=$POD
cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: fence, namespace: shop}
spec:
  priority: 100
  appliesTo: [{kind: Namespace, name: shop}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
  - action: Deny
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 9000}]
  - action: Reject
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 443}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"

# Server side: every SYN to the forbidden ports that arrives.
ip netns exec "$SRV" nft -f - <<'NFT'
table inet pftest {
	chain in {
		type filter hook input priority 0;
		tcp dport { 443, 9000 } tcp flags & (syn | ack) == syn counter
	}
}
NFT
leaked() { ip netns exec "$SRV" nft list chain inet pftest in | sed -n 's/.* packets \([0-9]*\) .*/\1/p'; }

METRICS=$TMP/metrics.sock
metric() {
	"$PY" - "$METRICS" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
d = b""
while True:
    b = s.recv(65536)
    if not b: break
    d += b
v = [l.split()[1] for l in d.decode().splitlines() if l.startswith(sys.argv[2] + " ")]
print(v[0] if v else "missing")
PY
}
metric_ge() { local v; v=$(metric "$1"); [ "$v" != missing ] && [ "$v" -ge "$2" ]; }
pod_queue() { status_field "[p['queue']['$2'] for p in s['pods'] if p['name'] == '$1'][0]"; }

# N non-blocking connects at once to PORT, held for HOLD seconds, then closed.
PY_BURST='
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try: s.connect(("10.99.0.1", port))
    except BlockingIOError: pass
    socks.append(s)
time.sleep(hold)
'
# A raw SYN flood: N SYNs from random ports to PORT, as fast as Python sends them.
PY_FLOOD='
import random, socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
src, dst = socket.inet_aton("10.1.1.2"), socket.inet_aton("10.99.0.1")
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(n):
    sp = random.randint(20000, 60000)
    t = struct.pack("!HHIIBBHHH", sp, port, i, 0, 5 << 4, 0x02, 65535, 0, 0)
    t = t[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, 20) + t)) + t[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xffff, 0, 64, 6, 0, src, dst)
    raw.sendto(ip + t, ("10.99.0.1", 0))
'

start_engine --queue-maxlen 8 --metrics "unix:$METRICS"
register "$FLOOD" shop flood c-flood-1
register "$QUIET" shop quiet c-quiet-1
[ "$(status_field 's["queue_maxlen"]')" = 8 ] || fail "queue_maxlen not 8: $(ctl '{"op":"status"}')"
expect "$FLOOD" 10.99.0.1 80 ok
expect "$FLOOD" 10.99.0.1 9000 timeout
expect "$FLOOD" 10.99.0.1 443 refused
[ "$(leaked)" = 0 ] || fail "a forbidden SYN reached the server before any flood"

# 1. The engine stalls (SIGSTOP) while the pod opens 200 connections to a Deny and 200 to a
# Reject port: 8 wait in the queue, the rest overflow. Dropped, never accepted.
kill -STOP "$ENGINE_PID"
on_exit "kill -CONT $ENGINE_PID"
ip netns exec "$FLOOD" "$PY" -c "$PY_BURST" 9000 200 0.5 &
b1=$!
ip netns exec "$FLOOD" "$PY" -c "$PY_BURST" 443 200 0.5 || fail "burst to 443"
wait "$b1" || fail "burst to 9000"
kill -CONT "$ENGINE_PID"
[ "$(leaked)" = 0 ] || fail "$(leaked) SYNs got through a full queue"
pass "a full queue drops: none of 400 SYNs to Deny/Reject ports got through"
wait_until 50 metric_ge podfence_queue_dropped_total 300 ||
	fail "podfence_queue_dropped_total is $(metric podfence_queue_dropped_total), want >= 300"
d=$(pod_queue flood dropped)
[ "$d" -ge 300 ] || fail "status: pod flood queue dropped $d"
[ "$(pod_queue quiet dropped)" = 0 ] || fail "status: the quiet pod's queue dropped $(pod_queue quiet dropped)"
metric podfence_queue_user_dropped_total | grep -qx '[0-9]*' || fail "no podfence_queue_user_dropped_total"
pass "overflow counted: flood dropped $d (status), metrics $(metric podfence_queue_dropped_total)"

# 2. A raw SYN flood with the engine running, while the quiet pod connects: the quiet pod is
# judged all along, nothing forbidden gets through, the flooder's queue works afterwards.
ip netns exec "$FLOOD" "$PY" -c "$PY_FLOOD" 9000 30000 &
fl=$!
on_exit "kill $fl; wait $fl"
for i in 1 2 3 4 5; do expect "$QUIET" 10.99.0.1 80 ok 3; done
expect "$QUIET" 10.99.0.1 443 refused 3
wait "$fl" || fail "flood"
[ "$(leaked)" = 0 ] || fail "$(leaked) flood SYNs got through"
pass "no flood SYN reached the server"
expect "$FLOOD" 10.99.0.1 80 ok 3
expect "$FLOOD" 10.99.0.1 443 refused 3
[ "$(pod_queue flood waiting)" -le 8 ] || fail "flood queue: $(pod_queue flood waiting) waiting"

# 3. Released pods' counts stay in the totals.
before=$(metric podfence_queue_dropped_total)
unregister c-flood-1 >/dev/null
wait_until 50 status_is 1 's["n_pods"]' || fail "flood pod not released"
after=$(metric podfence_queue_dropped_total)
[ "$after" -ge "$before" ] || fail "podfence_queue_dropped_total went back: $before -> $after"
pass "a released pod's drops stay counted ($before -> $after)"
engine_finish
