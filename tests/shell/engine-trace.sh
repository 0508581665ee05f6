#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfencectl trace against a real engine and pods: each verdict as it happens (time, pod,
# destination, protocol, action, policy and rule, judged), the --pod and --action filters, an
# Audit policy's opinion on the line; a reader that never reads loses lines (counted, and told
# when it reads again) while verdicts keep their pace; at most 4 traces; the trace ends when the
# engine goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
add_pod 2; OTHER=$POD

cat >"$TMP/p.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: base, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Reject
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 80}]
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: trial, namespace: shop}
spec:
  mode: Audit
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Deny
    to: [{cidr: 10.99.0.1}]
YAML
load_policies "$TMP/p.yaml" || fail "loading"
start_engine
register "$WEB" shop web c-web
register "$OTHER" shop other c-other
CTL() { $PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" "$@"; }

trace_bg() { # OUT ARGS...: a trace in the background, its pid in TRACE_PID
	local out=$1; shift
	$PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" trace "$@" >"$out" 2>"$out.err" &
	TRACE_PID=$!
	on_exit "kill $TRACE_PID 2>/dev/null; wait $TRACE_PID 2>/dev/null"
}
trace_bg "$TMP/all"; ALL=$TRACE_PID
trace_bg "$TMP/web" --pod shop/web; WEBT=$TRACE_PID
trace_bg "$TMP/rej" --action Reject; REJ=$TRACE_PID
trace_bg "$TMP/json" -o json --pod shop/other; JS=$TRACE_PID
sleep 0.5
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.2 80 refused
expect "$OTHER" 10.99.0.2 80 ok
lines() { grep -c . "$1" 2>/dev/null || true; }
lines_ge() { [ "$(lines "$1")" -ge "$2" ]; } # for wait_until, which runs its command again
wait_until 50 lines_ge "$TMP/all" 3 || fail "trace shows $(lines "$TMP/all") lines: $(cat "$TMP/all" "$TMP/all.err")"
grep -Eq '^20[0-9-]+T[0-9:.]+Z shop/web 10\.99\.0\.2:80 TCP Reject +shop/base#0 judged$' "$TMP/all" ||
	fail "the Reject line: $(cat "$TMP/all")"
grep -Eq '^20[0-9-]+T[0-9:.]+Z shop/web 10\.99\.0\.1:80 TCP Allow +default judged \(Audit would Deny: shop/trial#0\)$' "$TMP/all" ||
	fail "the Allow line with the Audit opinion: $(cat "$TMP/all")"
grep -q 'shop/other 10.99.0.2:80 TCP Allow' "$TMP/all" || fail "the other pod: $(cat "$TMP/all")"
pass "trace: one line per verdict (time, pod, destination, protocol, action, rule, judged, Audit)"

wait_until 50 lines_ge "$TMP/json" 1 || fail "trace -o json"
wait_until 50 lines_ge "$TMP/web" 2 || fail "trace --pod"
[ "$(lines "$TMP/web")" = 2 ] && ! grep -q other "$TMP/web" || fail "--pod shop/web: $(cat "$TMP/web")"
[ "$(lines "$TMP/rej")" = 1 ] && grep -q Reject "$TMP/rej" || fail "--action Reject: $(cat "$TMP/rej")"
"$PY" -c 'import json,sys
ls = [json.loads(l) for l in open(sys.argv[1])]
assert len(ls) == 1 and ls[0]["pod_name"] == "other" and ls[0]["action"] == "Allow" and ls[0]["path"] == "judged" and ls[0]["protocol"] == "TCP" and ls[0]["lost"] == 0, ls' "$TMP/json" ||
	fail "trace -o json: $(cat "$TMP/json")"
pass "trace --pod, --action and -o json filter and shape the lines"

# A fifth trace is refused while four run.
rc=0; timeout 5 $PODFENCECTL --config /dev/null --socket "$SOCK" trace >/dev/null 2>"$TMP/busy" || rc=$?
[ "$rc" = 2 ] && grep -q '4 traces run already' "$TMP/busy" || fail "fifth trace: exit $rc: $(cat "$TMP/busy")"
kill "$WEBT" "$REJ" "$JS"; wait "$WEBT" "$REJ" "$JS" 2>/dev/null || true
pass "at most 4 traces at once (exit 2, says why)"

# A reader that stops reading: its lines are lost past its ring, verdicts keep their pace.
"$PY" - "$SOCK" "$TMP/slow.ready" "$TMP/slow.go" "$TMP/slow.out" <<'PY' &
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(b'{"op":"trace","pod":"shop/web"}')
assert json.loads(s.recv(65536))["ok"]
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.1)
s.settimeout(2)
last = None
try:
    while True:
        last = json.loads(s.recv(65536))
except socket.timeout:
    pass
open(sys.argv[4], "w").write(json.dumps(last))
PY
SLOW=$!
on_exit "kill $SLOW 2>/dev/null; wait $SLOW 2>/dev/null"
wait_until 50 test -f "$TMP/slow.ready" || fail "slow reader did not start"
ip netns exec "$WEB" "$PY" - <<'PY' >"$TMP/burst" || fail "burst"
import socket, time
t = time.monotonic(); n = 0
while n < 3000:
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(("10.99.0.2", 80))
    except ConnectionRefusedError:
        n += 1
    s.close()
print(n, int((time.monotonic() - t) * 1000))
PY
read -r n ms <"$TMP/burst"
echo "# 3000 refused connects with a stalled trace reader: $ms ms"
[ "$ms" -lt 20000 ] || fail "verdicts slowed down: 3000 connects took $ms ms"
touch "$TMP/slow.go"
wait "$SLOW" || fail "slow reader"
"$PY" -c 'import json,sys; l=json.load(open(sys.argv[1])); assert l and l["lost"] > 0, l; print("# lost", l["lost"])' "$TMP/slow.out" ||
	fail "the slow reader was not told of lost lines: $(cat "$TMP/slow.out")"
wait_until 50 lines_ge "$TMP/all" 1000 || fail "the reading trace fell behind"
pass "a reader that stops reading loses lines (counted in 'lost'); verdicts keep their pace"

stop_engine
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_until 50 gone "$ALL" || fail "trace did not end with the engine"
grep -q 'the engine hung up' "$TMP/all.err" || fail "trace end: $(cat "$TMP/all.err")"
pass "trace ends (exit 1, says why) when the engine stops"
