# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/shell/engine-*.sh after lib.sh: a server netns, pod netns joined to it by
# veth pairs, podfenced under test, a control-socket client, a connect probe, policy loading.
#
# Topology (every address lives only inside namespaces the test created):
#   pod N netns  pfaN-TID 10.1.N.2/24 fd01:N::2/64  <-veth->  pfbN-TID 10.1.N.1 fd01:N::1  server netns
#   server lo: 10.99.0.1 10.99.0.2 10.99.1.1 fd99::1 fd99::2, listening on SERVER_PORTS (v4+v6).
ENGINE_POLICY_LOAD=${ENGINE_POLICY_LOAD:-"$top_builddir/tests/engine-policy-load"}
PY=${PYTHON3:-python3}
SRV=pfs-$TID
DB=$TMP/podfence.db
SOCK=$TMP/run/podfenced.sock
STATE=$TMP/state
ENGINE_LOG=$TMP/engine.log
SERVER_PORTS=${SERVER_PORTS:-"80 443 5432 5433 5434 8080 9000"}
ENGINE_PID=

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$ENGINE_LOG" ]; then
		echo "--- engine log (tail)" >&2
		tail -40 "$ENGINE_LOG" >&2
	fi
	exit 1
}

engine_need() {
	need_root
	need_cmd ip nft sqlite3 "$PY"
	[ -x "$PODFENCED" ] || skip "podfenced not built"
	[ -x "$ENGINE_POLICY_LOAD" ] || skip "engine-policy-load not built"
	ip netns add "pfprobe-$TID" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "pfprobe-$TID"
}

PY_SERVER='
import selectors, socket, sys
sel = selectors.DefaultSelector()
for p in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(p)))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
open(sys.argv[1], "w").close()
while True:
    for k, _ in sel.select():
        try:
            c, _ = k.fileobj.accept()
            c.close()
        except OSError:
            pass
'

# prints "<ok|refused|timeout|error:...> <elapsed ms>"
PY_CONNECT='
import socket, sys, time
host, port, to = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(to)
if len(sys.argv) > 4:
    s.bind((sys.argv[4], 0))
t = time.monotonic()
try:
    s.connect((host, port))
    r = "ok"
except ConnectionRefusedError:
    r = "refused"
except socket.timeout:
    r = "timeout"
except OSError as e:
    r = "error:" + str(e.errno)
print(r, int((time.monotonic() - t) * 1000))
'

# ctl SOCKET JSON [timeout]: one request, prints the reply.
PY_CTL='
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 20)
s.connect(sys.argv[1])
s.send(sys.argv[2].encode())
print(s.recv(1 << 20).decode())
'

setup_server() {
	mk_netns "$SRV"
	for a in 10.99.0.1 10.99.0.2 10.99.1.1; do ip -n "$SRV" addr add "$a/32" dev lo; done
	for a in fd99::1 fd99::2; do ip -n "$SRV" addr add "$a/128" dev lo; done
	ip netns exec "$SRV" "$PY" -c "$PY_SERVER" "$TMP/server.ready" $SERVER_PORTS &
	local pid=$!
	on_exit "kill $pid; wait $pid"
	wait_until 50 test -f "$TMP/server.ready" || fail "server did not start"
}

# connect_server: the benchmarks' server netns SRV, 10.99.0.1 on lo and bench/connect-bench
# ($CONNECT) accepting on port 80 (a C loop: the Python server of setup_server is too slow).
connect_server() {
	mk_netns "$SRV"
	ip -n "$SRV" addr add 10.99.0.1/32 dev lo
	ip netns exec "$SRV" "$CONNECT" serve 80 >"$TMP/server.out" &
	local pid=$!
	on_exit "kill $pid; wait $pid"
	wait_until 50 grep -q ready "$TMP/server.out" || fail "server did not start"
}

# add_pod N: creates netns pfpN-TID, linked to the server; sets POD.
add_pod() {
	local n=$1
	POD=pfp$n-$TID
	mk_netns "$POD"
	ip link add "pfa$n-$TID" netns "$POD" type veth peer name "pfb$n-$TID" netns "$SRV"
	ip -n "$POD" addr add "10.1.$n.2/24" dev "pfa$n-$TID"
	ip -n "$POD" addr add "fd01:$n::2/64" dev "pfa$n-$TID" nodad
	ip -n "$SRV" addr add "10.1.$n.1/24" dev "pfb$n-$TID"
	ip -n "$SRV" addr add "fd01:$n::1/64" dev "pfb$n-$TID" nodad
	ip -n "$POD" link set "pfa$n-$TID" up
	ip -n "$SRV" link set "pfb$n-$TID" up
	ip -n "$POD" route add default via "10.1.$n.1"
	ip -n "$POD" -6 route add default via "fd01:$n::1"
}

# start_engine [ARGS...]: podfenced in the foreground with every path under $TMP, reading
# ENGINE_CONFIG (default: an empty file, so no system configuration leaks into a test).
start_engine() {
	[ -n "${ENGINE_CONFIG:-}" ] || { ENGINE_CONFIG=$TMP/empty.conf; : >"$ENGINE_CONFIG"; }
	$VALGRIND "$PODFENCED" --foreground --config "$ENGINE_CONFIG" --db "$DB" --socket "$SOCK" \
		--state-dir "$STATE" "$@" >>"$ENGINE_LOG" 2>&1 &
	ENGINE_PID=$!
	on_exit "kill $ENGINE_PID; wait $ENGINE_PID"
	wait_until 100 ctl_ok '{"op":"status"}' || fail "podfenced did not come up"
}

stop_engine() {
	local rc=0
	kill -TERM "$ENGINE_PID"
	wait "$ENGINE_PID" || rc=$?
	[ "$rc" = 0 ] || fail "podfenced exited with status $rc on SIGTERM"
	! grep -qE 'Sanitizer|runtime error' "$ENGINE_LOG" || fail "sanitizer report in the engine log"
}

# At the end of a test: a clean shutdown, and nothing the sanitizers complained about.
engine_finish() {
	stop_engine
	pass "clean shutdown"
}

ctl() { "$PY" -c "$PY_CTL" "$SOCK" "$@"; }
ctl_ok() { ctl "$@" | grep -q '"ok":true'; }

# register POD NAMESPACE NAME CONTAINER [extra json fields]
register() {
	local reply
	# The engine answers a registration waiting for a build within its own budget (60 s);
	# wait that long, not the 20 s default: under sanitizers on a loaded machine a failing
	# build of engine-buildfail.sh takes longer than 20 s.
	reply=$(ctl "{\"op\":\"register\",\"netns\":\"/run/netns/$1\",\"namespace\":\"$2\",\"name\":\"$3\",\"container\":\"$4\"${5:+,$5}}" 65)
	echo "$reply" | grep -q '"ok":true' || fail "register $1 as $2/$3: $reply"
}

unregister() {
	ctl "{\"op\":\"unregister\",\"container\":\"$1\"}"
}

# probe POD HOST PORT [timeout [SOURCE]]: prints the outcome word and the elapsed ms.
probe() { ip netns exec "$1" "$PY" -c "$PY_CONNECT" "$2" "$3" "${4:-1.5}" ${5:+"$5"}; }

# expect POD HOST PORT OUTCOME [timeout [SOURCE]]
expect() {
	local got
	got=$(probe "$1" "$2" "$3" "${5:-1.5}" ${6:+"$6"})
	[ "${got%% *}" = "$4" ] || fail "$1 -> $2:$3: expected $4, got $got"
	pass "$1 -> $2:$3 $4 (${got#* } ms)"
}

# load_policies FILE...: replace the test's policy source in the store.
load_policies() { "$ENGINE_POLICY_LOAD" "$DB" test "$@"; }

# status_field PYEXPR: evaluate PYEXPR on the status reply `s`, e.g. 's["n_pods"]'.
status_field() { ctl '{"op":"status"}' | "$PY" -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
cache_generation() { ctl '{"op":"status"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["cache"]["generation"])'; }

sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }

# A pod's podfence tables as nft sees them.
pod_tables() { ip netns exec "$1" nft list tables 2>/dev/null | grep -c ' podfence$' || true; }

# Predicates for wait_until (which takes a command, so no $(...) in its arguments).
sql_is() { [ "$(sql "$2")" = "$1" ]; }
sql_ge() { [ "$(sql "$2")" -ge "$1" ]; }
tables_are() { [ "$(pod_tables "$1")" = "$2" ]; }
has_table() { [ "$(pod_tables "$1")" -ge 1 ]; }
status_is() { [ "$(status_field "$2")" = "$1" ]; }

# setup_web_pod: the usual start of a test: its needs checked, the server netns up, pod 1 added
# as WEB.
setup_web_pod() {
	engine_need
	setup_server
	add_pod 1
	WEB=$POD
}

# hook_pods PREFIX N [ADDR]: N pod netns PREFIX1-TID .. PREFIXN-TID for podfence-hook runs
# without runc, each holding a process (its state's pid) and named by a bundle $TMP/hbK; with
# ADDR (e.g. 10.49.0.), pod K gets ADDR.K/32. Sets HOOK_PIDS, their pids comma-separated.
hook_pods() {
	local k ns pid
	HOOK_PIDS=
	for k in $(seq 1 "$2"); do
		ns=$1$k-$TID
		mk_netns "$ns"
		[ -z "${3:-}" ] || ip -n "$ns" addr add "$3$k/32" dev lo
		ip netns exec "$ns" sleep 3600 &
		pid=$!
		on_exit "kill $pid"
		HOOK_PIDS=$HOOK_PIDS${HOOK_PIDS:+,}$pid
		mkdir -p "$TMP/hb$k"
		echo "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/$ns\"}]}}" >"$TMP/hb$k/config.json"
	done
}

# filler_policies FILE NAMESPACE N: write N FencePolicies of 250 Deny rules each, applying to
# the Namespace NAMESPACE, to FILE (rule i of policy p: 10.200.p.i/32, port 1000 + i), so that
# a build has many rules to compile; append a test's own documents after them.
filler_policies() {
	"$PY" - "$@" <<'PY'
import sys
out, ns, n = open(sys.argv[1], "w"), sys.argv[2], int(sys.argv[3])
for p in range(n):
    out.write("---\napiVersion: podfence.io/v1alpha1\nkind: FencePolicy\n"
              "metadata: {name: filler-%d, namespace: %s}\nspec:\n  priority: %d\n"
              "  appliesTo: [{kind: Namespace, name: %s}]\n  egress:\n" % (p, ns, 10 + p, ns))
    for i in range(250):
        out.write("  - action: Deny\n    to: [{cidr: 10.200.%d.%d/32}]\n    ports: [{port: %d}]\n"
                  % (p % 250, i, 1000 + i))
PY
}

# load_policy_yaml <<'YAML' ...: write the policy document on stdin to $TMP/policy.yaml and
# load it into the store as the test's only source.
load_policy_yaml() {
	cat >"$TMP/policy.yaml"
	load_policies "$TMP/policy.yaml" || fail "loading the policy"
}
