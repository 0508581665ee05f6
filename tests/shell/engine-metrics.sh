#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The metrics endpoint as a scraper sees it: Prometheus text on GET /metrics over TCP on
# loopback and over a unix socket, counters that follow real verdicts, HTTP errors for
# everything else, bounds on requests, and idle or trickling clients never delaying a verdict.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod

load_policies "$top_srcdir/tests/data/shell/web-egress.yaml" || fail "loading policies"

# A loopback port nobody uses right now.
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$PORT
URL=http://$ADDR/metrics

# http TARGET RAW_REQUEST: send raw bytes (Python escapes allowed), print the status line's
# code of the answer, or "closed" when the server hung up without one.
PY_HTTP='
import socket, sys
target, req = sys.argv[1], sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
if target.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(target[5:])
else:
    h, p = target.rsplit(":", 1); s = socket.create_connection((h, int(p)))
s.settimeout(5)
try:
    s.sendall(req)
except OSError:
    pass
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
except OSError:
    pass
if len(sys.argv) > 3:
    sys.stdout.write(data.decode("utf-8", "replace"))
elif data.startswith(b"HTTP/1.1 "):
    print(data.split(b" ")[1].decode())
else:
    print("closed")
'
http() { "$PY" -c "$PY_HTTP" "$@"; }
expect_code() {
	local got
	got=$(http "$1" "$2")
	[ "$got" = "$3" ] || fail "$4: expected $3, got $got"
	pass "$4: $3"
}

# fetch [TARGET]: the body of GET /metrics through urllib (TCP) or a raw unix-socket request.
fetch() {
	if [ "${1:-}" ]; then
		http "$1" 'GET /metrics HTTP/1.0\r\n\r\n' body | sed '1,/^\r$/d'
	else
		"$PY" -c 'import sys, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=5)
assert r.status == 200, r.status
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
sys.stdout.write(r.read().decode())' "$URL"
	fi
}
# metric NAME_WITH_LABELS [TARGET]: its value.
metric() { fetch "${2:-}" | awk -v k="podfence_$1" '$1 == k { print $2 }'; }
metric_is() { [ "$(metric "$2" "${3:-}")" = "$1" ]; }

start_engine --metrics "$ADDR"
grep -q "Metrics on http://$ADDR/metrics" "$ENGINE_LOG" || fail "no log line for the metrics address"
register "$WEB" shop web c-web-1

expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused
fetch >"$TMP/m1" || fail "GET $URL failed"
# Every metric, with its HELP and TYPE, in the text format.
for m in 'verdicts_total counter' 'packets_unparsed_total counter' 'pods gauge' \
	'cache_reloads_total counter' 'cache_reload_failures_total counter' \
	'cache_build_failures_total counter' 'cache_stale gauge' 'pods_unresolved gauge' \
	'cache_build_seconds gauge' 'cache_sources gauge' 'cache_bytes gauge' \
	'events_recorded_total counter' 'events_suppressed_total counter' \
	'events_written_total counter' 'events_dropped_total counter' \
	'nfqueue_errors_total counter' 'engine_start_time_seconds gauge' 'build_info gauge'; do
	set -- $m
	grep -q "^# HELP podfence_$1 ." "$TMP/m1" || fail "no HELP for podfence_$1"
	grep -q "^# TYPE podfence_$1 $2\$" "$TMP/m1" || fail "no TYPE $2 for podfence_$1"
	grep -qE "^podfence_$1(\{[^}]*\})? [0-9]" "$TMP/m1" || fail "no sample of podfence_$1"
done
pass "all metrics present with HELP and TYPE"
# Exposition syntax: every line a comment or `name{labels} number`.
! grep -vE '^(# (HELP|TYPE) podfence_[a-z_]+ .+|podfence_[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9]+(\.[0-9]+)?)$' "$TMP/m1" ||
	fail "lines that are not in the text format"
rej=$(awk '$1 == "podfence_verdicts_total{action=\"reject\"}" { print $2 }' "$TMP/m1")
acc=$(awk '$1 == "podfence_verdicts_total{action=\"accept\"}" { print $2 }' "$TMP/m1")
[ "$rej" = 1 ] || fail "reject counter is '$rej', expected 1"
[ "$acc" -ge 1 ] || fail "accept counter is '$acc'"
[ "$rej" = "$(status_field 's["verdicts"]["reject"]')" ] || fail "reject counter differs from status"
grep -qx 'podfence_pods 1' "$TMP/m1" || fail "pods gauge: $(grep '^podfence_pods ' "$TMP/m1")"
grep -qx "podfence_build_info{version=\"$(status_field 's["version"]')\"} 1" "$TMP/m1" ||
	fail "build_info: $(grep '^podfence_build_info' "$TMP/m1")"
start=$(awk '$1 == "podfence_engine_start_time_seconds" { print int($2) }' "$TMP/m1")
now=$(date +%s)
[ "$start" -le "$now" ] && [ "$start" -gt $((now - 600)) ] || fail "start time $start (now $now)"
pass "reject counter 1, pods 1, build_info and start time agree with status"
expect "$WEB" 10.99.0.2 443 ok # no rule: the default action, Allow
[ "$(metric 'verdicts_total{action="accept"}')" = $((acc + 1)) ] || fail "accept counter did not move by 1"
[ "$(metric 'verdicts_total{action="reject"}')" = 1 ] || fail "an accepted connection counted as reject"
pass "counters follow verdicts"

# HTTP errors.
expect_code "$ADDR" 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n' 200 "HEAD /metrics"
expect_code "$ADDR" 'GET /metrics?x=1 HTTP/1.0\n\n' 200 "query string and bare LF line ends"
expect_code "$ADDR" 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' 404 "GET /"
expect_code "$ADDR" 'GET /metricsx HTTP/1.0\r\n\r\n' 404 "GET /metricsx"
expect_code "$ADDR" 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' 405 "POST /metrics"
expect_code "$ADDR" 'DELETE /metrics HTTP/1.0\r\n\r\n' 405 "DELETE /metrics"
expect_code "$ADDR" 'garbage\r\n\r\n' 400 "garbage"
expect_code "$ADDR" 'GET /metrics\r\n\r\n' 400 "HTTP/0.9 request line"
expect_code "$ADDR" 'GET /metrics HTTP/1.1 extra\r\n\r\n' 400 "four words"
expect_code "$ADDR" 'GET /me\x01trics HTTP/1.1\r\n\r\n' 400 "control character"
expect_code "$ADDR" 'GET /metrics HTTP/2.0\r\n\r\n' 505 "HTTP/2.0"
"$PY" - "$PORT" <<'PY' || fail "oversized request"
import socket, sys
port = int(sys.argv[1])
# Headers past 8 KiB, in one go and with no end in sight: refused with 431, then closed.
for extra in (b"\r\n\r\n", b""):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 9000 + extra)
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    assert data.startswith(b"HTTP/1.1 431 "), data[:80]
# Just under the bound is fine.
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
s.sendall(b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 8000 + b"\r\n\r\n")
assert s.recv(64).startswith(b"HTTP/1.1 200 "), "8000-byte request refused"
PY
pass "a request over 8 KiB is refused with 431"

# 20 idle connections and one trickling a byte every 100 ms: verdicts and scrapes go on at
# once, and the server hangs up on every one of them after 2 s.
"$PY" - "$PORT" "$TMP/idle.ready" >"$TMP/idle.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
slow = socket.create_connection(("127.0.0.1", port))
t0 = time.monotonic()
open(sys.argv[2], "w").close()
for s in idle + [slow]:
    s.setblocking(False)
closed = {}
i = 0
while len(closed) < 21 and time.monotonic() - t0 < 8:
    if slow not in closed:
        try:
            slow.send(b"GET /metrics HTTP/1.1\r\nX: "[i:i + 1] or b"a")
        except OSError:
            closed[slow] = time.monotonic() - t0
    i += 1
    for s in idle + [slow]:
        if s in closed:
            continue
        try:
            if s.recv(100) == b"":
                closed[s] = time.monotonic() - t0
        except BlockingIOError:
            pass
        except OSError:
            closed[s] = time.monotonic() - t0
    time.sleep(0.1)
print(len(closed), "%.1f" % max(closed.values(), default=99), "%.1f" % closed.get(slow, 99))
PY
IDLE_PID=$!
on_exit "kill $IDLE_PID; wait $IDLE_PID"
wait_until 50 test -f "$TMP/idle.ready" || fail "idle clients did not connect"
got=$(probe "$WEB" 10.99.0.1 443)
[ "${got%% *}" = refused ] && [ "${got#* }" -lt 500 ] || fail "verdict with idle metrics clients: $got"
pass "Reject still answered in ${got#* } ms with 21 metrics connections opened and left idle"
fetch >/dev/null || fail "/metrics with 21 idle connections"
[ "$(metric 'verdicts_total{action="reject"}')" -ge 2 ] || fail "reject counter did not move"
pass "/metrics answers beside idle connections"
wait "$IDLE_PID" || fail "idle client helper: $(cat "$TMP/idle.out")"
read -r n_closed last slow_at <"$TMP/idle.out"
[ "$n_closed" = 21 ] || fail "only $n_closed of 21 idle connections closed by the server"
awk -v l="$last" 'BEGIN { exit !(l <= 3.5) }' || fail "idle connections held for ${last} s"
awk -v l="$slow_at" 'BEGIN { exit !(l >= 1.5 && l <= 3.5) }' || fail "trickling client closed after ${slow_at} s"
pass "idle and trickling connections closed after ${last} s (trickling: ${slow_at} s)"

# A second engine cannot take the address: exit 1, and the error names it.
rc=0
timeout 30 "$PODFENCED" --foreground --config "$ENGINE_CONFIG" --db "$TMP/other.db" \
	--socket "$TMP/run/other.sock" --state-dir "$TMP/other-state" --metrics "$ADDR" \
	>"$TMP/other.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "second engine on a taken metrics address exited $rc: $(cat "$TMP/other.log")"
grep -q "Cannot listen for metrics on $ADDR" "$TMP/other.log" ||
	fail "bind failure does not name the address: $(cat "$TMP/other.log")"
! grep -qE 'Sanitizer|runtime error' "$TMP/other.log" || fail "sanitizer report: $(cat "$TMP/other.log")"
pass "a taken address stops the start with exit 1: $(grep -o 'Cannot listen.*' "$TMP/other.log")"
rc=0
"$PODFENCED" --foreground --config "$ENGINE_CONFIG" --metrics localhost:http >"$TMP/bad.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "localhost" "$TMP/bad.log" || fail "invalid address: exit $rc: $(cat "$TMP/bad.log")"
pass "an invalid address is a usage error (exit 2)"
engine_finish

# The same over a unix socket, after a restart that re-adopts the pod.
MSOCK=$TMP/run/metrics/podfenced-metrics.sock
start_engine --metrics "unix:$MSOCK"
[ -S "$MSOCK" ] || fail "no metrics socket at $MSOCK"
wait_until 50 metric_is 1 pods "unix:$MSOCK" || fail "pods gauge over unix: $(metric pods "unix:$MSOCK")"
expect "$WEB" 10.99.0.1 443 refused
wait_until 30 metric_is 1 'verdicts_total{action="reject"}' "unix:$MSOCK" ||
	fail "reject counter over unix: $(metric 'verdicts_total{action="reject"}' "unix:$MSOCK")"
pass "unix:$MSOCK serves the same metrics"
expect_code "unix:$MSOCK" 'PUT /metrics HTTP/1.0\r\n\r\n' 405 "PUT over unix"
http "$ADDR" 'GET /metrics HTTP/1.0\r\n\r\n' >/dev/null 2>&1 && fail "the TCP address still answers" || true
engine_finish
[ ! -e "$MSOCK" ] || fail "metrics socket left behind"
pass "metrics socket removed on shutdown"
