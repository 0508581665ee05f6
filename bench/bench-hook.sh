#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What podfence-hook adds to a container start: `runc create` (which runs the prestart hook;
# the container's process is ready to start when it returns) of a busybox container in a
# netns runc creates, N times each, interleaved: without hooks; with the hook and a running
# podfenced (register + rule install + queue bind, synchronous); with the hook and the engine
# down (fail-open: a pending record); and /bin/true as the hooks (runc's own cost of a hook). Prints medians side by side and the ratios.
# Usage: top_builddir=BUILD bench/bench-hook.sh [N]      (or `make bench-hook`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
. "$top_srcdir/tests/shell/runtime-lib.sh"
N=${1:-${N:-50}}
rt_need
# As installed, the state directory is under /run (tmpfs): the fail-open record's fsync is
# then nearly free, unlike on the disk under /tmp.
if [ "$(stat -f -c %T /run 2>/dev/null)" = tmpfs ]; then
	STATE=/run/pf-bench-hook-$TID
	on_exit "rm -rf $STATE"
fi
[ -x "$PODFENCED" ] || skip "podfenced not built"

mk_rootfs "$TMP/rootfs"
mkdir -p "$(dirname "$SOCK")"
mk_bundle "$TMP/plain" "$TMP/rootfs" "" '{}' "" /bin/true
mk_bundle "$TMP/hook" "$TMP/rootfs" "" '{"podfence.io/namespace":"bench","podfence.io/name":"b"}' \
	"[\"--socket\",\"$SOCK\",\"--state-dir\",\"$STATE\",\"--fail-mode\",\"closed\"]" /bin/true
mk_bundle "$TMP/open" "$TMP/rootfs" "" '{"podfence.io/namespace":"bench","podfence.io/name":"b"}' \
	"[\"--socket\",\"$TMP/nowhere.sock\",\"--state-dir\",\"$STATE\",\"--fail-mode\",\"open\"]" /bin/true
# runc's own cost of running a hook, to tell it from podfence's.
RT_HOOK=/bin/true mk_bundle "$TMP/noop" "$TMP/rootfs" "" '{}' '[]' /bin/true
start_engine

# one BUNDLE ID -> ms of `runc create` on stdout; the container is then started and deleted
# (poststop) outside the measurement.
one() {
	local t0 t1
	t0=$(date +%s%N)
	"$RUNC" --root "$RUNC_ROOT" create --bundle "$1" "$2" </dev/null >/dev/null 2>"$TMP/err" ||
		fail "runc create $1: $(cat "$TMP/err")"
	t1=$(date +%s%N)
	"$RUNC" --root "$RUNC_ROOT" start "$2"
	"$RUNC" --root "$RUNC_ROOT" delete --force "$2"
	echo $(( (t1 - t0) / 1000 ))
}

: >"$TMP/plain.us"; : >"$TMP/noop.us"; : >"$TMP/hook.us"; : >"$TMP/open.us"
for w in 1 2 3; do one "$TMP/plain" "pfb-$TID-w$w" >/dev/null; one "$TMP/hook" "pfb-$TID-h$w" >/dev/null; done
for i in $(seq 1 "$N"); do
	for k in plain noop hook open; do one "$TMP/$k" "pfb-$TID-$k$i" >>"$TMP/$k.us"; done
done
[ "$(status_field 's["n_pods"]')" = 0 ] || echo "warning: pods left registered after the runs" >&2

# The hook alone, without runc around it: prestart against the engine (register, rule
# install, queue bind; then an untimed poststop) and fail-open (record write), over 4 pod netns
# this script made, taken in turn as new pods come, then one of them again right after its
# poststop; timed from Python so the clock costs no fork.
hook_pods pfbn 4
"$PY" - "$N" "$PODFENCE_HOOK" "$SOCK" "$STATE" "$HOOK_PIDS" "$TMP/hb" "$TMP/nowhere.sock" >"$TMP/direct.txt" <<'PY'
import json, statistics, subprocess, sys, time
n, hook, sock, state, pids, bundle, nowhere = sys.argv[1:]
pids = pids.split(",")
def st(cid, status, with_pid, h=0):
    d = {"ociVersion": "1.0.2", "id": cid, "status": status, "bundle": bundle + str(h + 1),
         "annotations": {"podfence.io/namespace": "bench", "podfence.io/name": "direct%d" % h}}
    if with_pid: d["pid"] = int(pids[h])
    return json.dumps(d).encode()
def run(sockp, mode, stage, data):
    t = time.perf_counter()
    subprocess.run([hook, "--socket", sockp, "--state-dir", state, "--fail-mode", mode, stage],
                   input=data, check=True, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000
reg, again, opn, spawn = [], [], [], []
for i in range(int(n)):
    t = time.perf_counter()
    subprocess.run(["/bin/true"], input=b"{}", check=True)
    spawn.append((time.perf_counter() - t) * 1000)
    cid = "direct-%d" % i
    h = i % len(pids)
    reg.append(run(sock, "closed", "prestart", st(cid, "creating", True, h)))
    run(sock, "closed", "poststop", st(cid, "stopped", False, h))
    opn.append(run(nowhere, "open", "prestart", st(cid, "creating", True)))
    run(nowhere, "open", "poststop", st(cid, "stopped", False))
for i in range(20):
    cid = "again-%d" % i
    again.append(run(sock, "closed", "prestart", st(cid, "creating", True)))
    run(sock, "closed", "poststop", st(cid, "stopped", False))
for name, v in (("/bin/true, spawned the same way", spawn),
                ("podfence-hook prestart, engine registers", reg),
                ("  the same pod again after its poststop", again),
                ("podfence-hook prestart, fail-open record", opn)):
    v.sort()
    print("%-42s median %6.2f ms  p90 %6.2f ms" % (name, statistics.median(v), v[int(0.9 * len(v))]))
PY

"$PY" - "$N" "$TMP/plain.us" "$TMP/noop.us" "$TMP/hook.us" "$TMP/open.us" <<'PY'
import statistics, sys
n = int(sys.argv[1])
def load(p): return sorted(int(x) / 1000 for x in open(p))
plain, noop, hook, opn = (load(p) for p in sys.argv[2:6])
def q(v, f): return v[min(len(v) - 1, int(f * len(v)))]
print("runc create (prestart hook included), %d runs each, ms" % n)
print("%-34s %8s %8s %8s" % ("", "median", "p90", "min"))
for name, v in (("no hook", plain), ("/bin/true as the hooks", noop),
                ("hook + podfenced (registered)", hook),
                ("hook, engine down (fail-open)", opn)):
    print("%-34s %8.2f %8.2f %8.2f" % (name, statistics.median(v), q(v, 0.9), v[0]))
m0 = statistics.median(plain)
for name, v in (("/bin/true hooks", noop), ("hook + podfenced", hook), ("fail-open", opn)):
    m = statistics.median(v)
    print("%-18s adds %6.2f ms to the median start (x%.2f)" % (name, m - m0, m / m0))
PY
echo
echo "the hook alone, $N runs each"
cat "$TMP/direct.txt"
