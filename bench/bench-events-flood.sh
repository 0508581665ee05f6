#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A quiet pod's connect latency while another pod floods the event table with keys that
# collide under the old, unkeyed bucket function: the hostile pod reads its own netns dev and
# inode, computes 16384 destinations in one old bucket (bench/events-flood), and sends SYNs to
# them round after round; each is judged Reject (the default action), so each asks for an
# event. Prints the quiet pod's p50/p99 connect latency alone and during the flood, and the
# engine's CPU per flood SYN. Run it against two builds to compare (the base has the old hash):
#   top_builddir=BUILD bench/bench-events-flood.sh [N [SECONDS]]   (or `make bench-events-flood`)
# FLOOD=path/to/events-flood (default: BUILD's, else this tree's build).
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-3000}
SECS=${2:-15}
CONNECT=$top_builddir/bench/connect-bench
FLOOD=${FLOOD:-$top_builddir/bench/events-flood}
engine_need
[ -x "$CONNECT" ] && [ -x "$FLOOD" ] || skip "build bench/connect-bench and bench/events-flood first (or set FLOOD)"

connect_server
add_pod 1
QUIET=$POD
add_pod 2
HOSTILE=$POD
cat >"$TMP/p.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: quiet-egress, namespace: bench}
spec:
  appliesTo: [{kind: Pod, name: quiet}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.1/32}]
    ports: [{port: 80}]
YAML
load_policies "$TMP/p.yaml" || fail "loading the policy"
start_engine --default-action Reject
register "$QUIET" bench quiet c-quiet
register "$HOSTILE" bench hostile c-hostile
read -r dev ino < <(stat -L -c '%d %i' "/run/netns/$HOSTILE")

measure() { ip netns exec "$QUIET" "$CONNECT" run 10.99.0.1 80 "$N" 200; }
cpu_ns() { local t s=0; for t in /proc/"$1"/task/*/schedstat; do read -r ns _ <"$t"; s=$((s + ns)); done; echo "$s"; }
alone=$(measure) || fail "quiet pod alone"
c0=$(cpu_ns "$ENGINE_PID")
v0=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "hostile"][0]')
ip netns exec "$HOSTILE" "$FLOOD" "$dev" "$ino" 443 16384 "$SECS" >"$TMP/flood.out" &
flood_pid=$!
on_exit "kill $flood_pid"
sleep 3 # the flood's first round fills the table
q0=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "quiet"][0]')
during=$(measure) || fail "quiet pod during the flood"
q1=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "quiet"][0]')
wait "$flood_pid" || fail "flood: $(cat "$TMP/flood.out")"
c1=$(cpu_ns "$ENGINE_PID")
v1=$(status_field '[p["verdicts"] for p in s["pods"] if p["name"] == "hostile"][0]')
echo "build: $top_builddir"
echo "quiet pod alone:        $alone"
echo "quiet pod during flood: $during judged=$((q1 - q0))"
echo "flood: $(cat "$TMP/flood.out"), $((v1 - v0)) judged, engine CPU $(( (c1 - c0) / 1000000 )) ms =" \
	"$("$PY" -c "print('%.1f' % (($c1 - $c0) / 1000.0 / max(1, $v1 - $v0)))") us per judged SYN"
engine_finish >/dev/null
