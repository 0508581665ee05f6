#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job, end to end on one host (run as root on Debian 12):
# install dependencies, build, start podfenced and podfence-sync on a policy directory, run a
# few Podman containers through the OCI hook, try connections between them, and show which
# were allowed, refused and dropped, and what the store recorded. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces and containers)" >&2; exit 2; }

say() { printf '\n== %s\n' "$*"; }

say "installing dependencies and building (build-demo/)"
scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build-demo
(cd build-demo && { [ -f Makefile ] || ../configure >configure.out 2>&1 || { tail -20 configure.out; exit 1; }; } &&
	make -j"$(nproc)" >make.out 2>&1 || { tail -30 make.out; exit 1; })
B=$top/build-demo

id=$$
T=$(mktemp -d /tmp/podfence-demo.XXXXXX)
net=pf-demo-$id
ctrs=()
pids=()
cleanup() {
	set +e
	for c in "${ctrs[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
	podman network rm -f "$net" >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

# Configuration shared by engine, sync, hook and CLI: everything under $T.
cat >"$T/podfence.conf" <<CONF
db = $T/podfence.db
socket = $T/podfenced.sock
state_dir = $T/state
fail_mode = open
default_action = Allow
CONF
mkdir -p "$T/policies" "$T/hooks.d" "$T/state"
cp doc/examples/shop.yaml "$T/policies/"
# An Audit policy: what shop/batch would get if it were enforced (recorded, never enforced).
cat >"$T/policies/batch-trial.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: batch-trial, namespace: shop}
spec:
  mode: Audit
  appliesTo: [{kind: Pod, name: batch}]
  egress:
  - action: Allow
    to: [{kind: Pod, name: db}]
    ports: [{port: 5432}]
  - action: Deny
YAML
cat >"$T/hooks.d/podfence.json" <<HOOK
{
  "version": "1.0.0",
  "hook": {"path": "$B/podfence-hook", "args": ["podfence-hook", "--config", "$T/podfence.conf", "prestart"], "timeout": 10},
  "when": {"always": true},
  "stages": ["prestart"]
}
HOOK
sed 's/"prestart"\]/"poststop"]/; s/"prestart"\],/"poststop"],/' "$T/hooks.d/podfence.json" >"$T/hooks.d/podfence-poststop.json"

# A busybox root filesystem for the containers.
R=$T/rootfs
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/etc" "$R/tmp" "$R/www"
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
echo "hello from db" >"$R/www/index.html"

say "starting podfenced and podfence-sync (policy directory $T/policies)"
"$B/podfenced" --foreground --config "$T/podfence.conf" 2>"$T/podfenced.log" &
pids+=($!)
"$B/podfence-sync" --config "$T/podfence.conf" --policy-dir "$T/policies" 2>"$T/sync.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/podfenced.sock" ] && break; sleep 0.1; done
[ -S "$T/podfenced.sock" ] || { cat "$T/podfenced.log"; exit 1; }
"$B/podfencectl" --config "$T/podfence.conf" check "$T/policies/shop.yaml" "$T/policies/batch-trial.yaml"

subnet="10.$((200 + id % 50)).$((id / 50 % 250)).0/24"
podman network create --subnet "$subnet" "$net" >/dev/null
run() { # name namespace podname command...
	local name=$1 ns=$2 pod=$3; shift 3
	podman --runtime runc --hooks-dir "$T/hooks.d" run -d --name "$name" --network "$net" \
		--ulimit nofile=1024:4096 --ulimit nproc=4096:4096 \
		--annotation podfence.io/namespace="$ns" --annotation podfence.io/name="$pod" \
		--rootfs "$R" "$@" >/dev/null 2>>"$T/podman.log" || { cat "$T/podman.log"; exit 1; }
	ctrs+=("$name")
}
say "starting containers: shop/db (server on 22, 5432, 8080, 9000), shop/web, shop/batch"
run "pf-demo-db-$id" shop db /bin/sh -c 'for p in 22 5432 8080 9000; do httpd -p $p -h /www; done; exec sleep 3600'
run "pf-demo-web-$id" shop web /bin/sleep 3600
run "pf-demo-batch-$id" shop batch /bin/sleep 3600
db_ip=$(podman inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "pf-demo-db-$id")
sleep 0.5

say "connections (db is $db_ip)"
ctl() { "$B/podfencectl" --config "$T/podfence.conf" "$@"; }
# Every verdict as the engine gives it, in the background (shown below).
ctl trace >"$T/trace.out" 2>&1 &
pids+=($!)
sleep 0.3
printf '%-6s %-18s %-8s %-9s %-8s %s\n' FROM TO POLICY OUTCOME TIME "WHAT THE CLIENT SAW"
for from in web batch; do
	for port in 5432 8080 22 9000; do
		t0=$(date +%s%N)
		out=$(podman exec "pf-demo-$from-$id" timeout 3 wget -q -O - "http://$db_ip:$port/" 2>&1) && rc=0 || rc=$?
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		if [ $rc = 0 ]; then outcome=allowed
		elif echo "$out" | grep -qi refused; then outcome=refused
		else outcome=dropped; out=${out:-"no answer within 3 s"}
		fi
		verdict=$(ctl explain --from "shop/$from" --to "$db_ip" --port "$port" | sed -n 's/.* -> [^ ]*: //p' | head -1)
		printf '%-6s %-18s %-8s %-9s %-8s %s\n' "$from" "$db_ip:$port" "$verdict" "$outcome" "${ms}ms" "$(echo "$out" | head -1)"
	done
done

cat <<TXT

shop/web is named by policy shop/web-egress (doc/examples/shop.yaml): Allow db:5432, Alert
db:8080 (allowed, and recorded), Reject port 22 (the client is refused at once), Deny the
rest (the SYN is dropped: the client waits and gives up). shop/batch is named only by the
Audit policy shop/batch-trial, which never changes a verdict: the engine's default action
(Allow) applies, and what batch-trial would have denied is recorded (mode Audit).
TXT
sleep 0.5
say "podfencectl pods"; ctl pods
say "podfencectl policies"; ctl policies
say "podfencectl explain --from shop/web --to $db_ip --port 9000 (asks the running engine)"
ctl explain --from shop/web --to "$db_ip" --port 9000
say "podfencectl explain --from shop/batch --to $db_ip --port 8080 (an Audit policy's would-be denial)"
ctl explain --from shop/batch --to "$db_ip" --port 8080
say "podfencectl trace (the first lines, as the connections above were judged)"
head -8 "$T/trace.out"
say "podfencectl events --since 5m (mode Audit: what batch-trial would have denied)"
ctl events --since 5m
mkdir -p build-demo
if command -v dot >/dev/null; then
	ctl graph | dot -Tsvg >build-demo/graph.svg
	say "podfencectl graph | dot -Tsvg > build-demo/graph.svg"
	ctl graph | head -6
else
	say "podfencectl graph (DOT; install graphviz to render it)"; ctl graph
fi
say "events the store recorded (sqlite3 $T/podfence.db 'SELECT ... FROM recent_events')"
sqlite3 -header -column "$T/podfence.db" \
	"SELECT at, pod_namespace || '/' || pod_name AS pod, dst, dport, action, policy_name, rule_index, count, mode FROM recent_events"
say "done; cleaning up"
