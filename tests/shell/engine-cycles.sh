#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Register/unregister cycles leave nothing behind: one pod registered and unregistered
# PODFENCE_TEST_CYCLES times (default 300; 10,000 for the full check, ~5 min) beside 20 registered
# pods and 1,000 rules in force, enforced each time with its own cache (its ruleset installed,
# its queue bound, its reuse sets flushed). Afterwards: the engine has the fds it had, its
# memory did not grow (unsanitized builds: ASan's quarantine holds freed memory on purpose),
# the pod judges as before, and a sanitized engine exits with no leak LeakSanitizer reports.
# Before the cycles: an idle engine uses next to no CPU.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
CYCLES=${PODFENCE_TEST_CYCLES:-300}
setup_web_pod
for n in $(seq 2 21); do add_pod "$n"; done

filler_policies "$TMP/policy.yaml" bench 4
cat >>"$TMP/policy.yaml" <<'YAML'
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: bench}
spec:
  priority: 1
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 8080}]
  - action: Deny
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 80}]
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"
start_engine --default-action Allow
for n in $(seq 2 21); do register "pfp$n-$TID" bench "other-$n" "c-other-$n"; done

# An idle engine is idle: no thread spins (one once waited again on a deadline already past).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$ENGINE_PID/stat"; }
sleep 0.5
t0=$(cpu_ticks)
sleep 2
t1=$(cpu_ticks)
[ $((t1 - t0)) -le 20 ] || fail "idle engine used $((t1 - t0)) clock ticks of CPU in 2 s"
pass "idle engine: $((t1 - t0)) clock ticks of CPU in 2 s"

"$PY" - "$SOCK" "/run/netns/$WEB" "$ENGINE_PID" "$CYCLES" >"$TMP/cycles.out" <<'PY' ||
import json, os, socket, sys, time
sock, netns, pid, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def req(o):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(60)
    s.connect(sock)
    s.send(json.dumps(o).encode())
    r = json.loads(s.recv(1 << 20).decode())
    s.close()
    if not r.get("ok"):
        sys.exit("%s failed: %s" % (o["op"], r))
    return r

def cycle(k):
    req({"op": "register", "netns": netns, "namespace": "bench", "name": "web",
         "container": "cyc-%d" % k})
    req({"op": "unregister", "container": "cyc-%d" % k})

def rss_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def fds():
    # released pods' sockets are closed off the loop, each after a grace period: the count
    # once it has not fallen for half a second (at most 60 s)
    count = lambda: len(os.listdir("/proc/%d/fd" % pid))
    last, since, end = count(), time.monotonic(), time.monotonic() + 60
    while time.monotonic() < end and time.monotonic() - since < 0.5:
        time.sleep(0.05)
        now = count()
        if now < last:
            last, since = now, time.monotonic()
    return last

for k in range(100):  # warm up: caches, allocator arenas, sqlite's page cache
    cycle(k)
f0, m0, t0 = fds(), rss_kib(), time.monotonic()
for k in range(100, 100 + cycles):
    cycle(k)
print(f0, fds(), m0, rss_kib(), "%.1f" % (time.monotonic() - t0))
PY
	fail "cycles: $(cat "$TMP/cycles.out")"
read -r f0 f1 m0 m1 secs <"$TMP/cycles.out"
[ "$f1" = "$f0" ] || fail "fds $f0 -> $f1 over $CYCLES cycles"
pass "$CYCLES register/unregister cycles in $secs s: fds $f0 -> $f1"
if ldd "$PODFENCED" 2>/dev/null | grep -q libasan; then
	echo "# RSS $m0 -> $m1 KiB (sanitized build: not compared, LeakSanitizer checks at exit)"
else
	# 2 MiB: the engine's own tables are sized for the 20 pods and never shrink below that
	[ $((m1 - m0)) -le 2048 ] || fail "RSS grew $m0 -> $m1 KiB over $CYCLES cycles"
	pass "RSS $m0 -> $m1 KiB"
fi
[ "$(status_field 's["n_pods"]')" = 20 ] || fail "pods after the cycles: $(status_field 's["n_pods"]')"
pass "20 pods registered after the cycles"
register "$WEB" bench web c-web
expect "$WEB" 10.99.0.1 8080 refused
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.2 80 timeout 0.3
engine_finish
