# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/shell/containerd-*.sh (after lib.sh, engine-lib.sh, runtime-lib.sh) and bench/: a private
# containerd driven through its CRI by tests/cri/cri.py, the way a kubelet drives it.
#
# Everything is the test's own: containerd's root, state, sockets and config.toml under
# $TMP/cd; the runc root; a CNI bridge + host-local network (bridge pfcbTID in a /24 the test
# picks, host-local's data under $TMP); a server netns pfs-TID on that bridge; the pause and
# probe images, built from static binaries and imported with ctr; the cgroup parent
# /pfcd-TID. At exit: every sandbox is stopped and removed through the CRI, containerd is
# killed by pid, the shims and container processes it left are killed by the pids in its
# state, the pod netns (recorded by name as pods start) and the bridge are deleted by name.
CONTAINERD=${CONTAINERD:-containerd}
CTR=${CTR:-ctr}
CD=$TMP/cd
CD_SOCK=$CD/containerd.sock
CD_LOG=$TMP/containerd.log
CD_CONFIG=$CD/config.toml
CD_BASE_SPEC=$CD/base-spec.json
CNI_DIR=/usr/lib/cni
CRI="$top_srcdir/tests/cri/cri.py"
export CRI_GEN_DIR=$TMP/cri-gen
PAUSE_IMAGE=podfence.test/pause:1
PROBE_IMAGE=podfence.test/probe:1
BUSYBOX=${BUSYBOX:-/bin/busybox}
BRIDGE=pfcb$TID
CGROUP_PARENT=/pfcd-$TID
CD_PID=
CD_NETNS=()

# The server netns has its own fail() output; the containerd log matters here too.
fail() {
	echo "FAIL: $*" >&2
	if [ -f "$ENGINE_LOG" ]; then
		echo "--- engine log (tail)" >&2
		tail -30 "$ENGINE_LOG" >&2
	fi
	if [ -f "$CD_LOG" ]; then
		echo "--- containerd log (errors)" >&2
		grep -E 'level=(error|warning)' "$CD_LOG" | tail -15 >&2
	fi
	exit 1
}

cd_need() {
	need_root
	need_cmd "$CONTAINERD" "$CTR" runc ip nft sqlite3 "${CC:-cc}" "$PY"
	[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
	[ -x "$PODFENCED" ] || fail "podfenced not built"
	for p in bridge host-local loopback; do
		[ -x "$CNI_DIR/$p" ] || skip "needs the CNI plugin $CNI_DIR/$p (containernetworking-plugins)"
	done
	"$PY" -c 'import grpc, google.protobuf' 2>/dev/null || skip "needs python3-grpcio and python3-protobuf"
	command -v protoc >/dev/null 2>&1 || "$PY" -c 'import grpc_tools' 2>/dev/null ||
		skip "needs protoc (protobuf-compiler) or python3-grpc-tools"
	[ -x "$BUSYBOX" ] || skip "needs $BUSYBOX (busybox-static)"
	ip netns add "pfprobe-$TID" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "pfprobe-$TID"
}

cri() { "$PY" "$CRI" --socket "$CD_SOCK" "$@"; }

# cd_images: the pause image (tests/cri/pause.c, static) and the probe image (busybox-static
# with its applets), as OCI archives in $TMP/images.
cd_images() {
	local img=$TMP/images links=() a
	mkdir -p "$img"
	"${CC:-cc}" -static -O2 -o "$img/pause" "$top_srcdir/tests/cri/pause.c" ||
		skip "cannot link a static program (libc6-dev)"
	"$PY" "$top_srcdir/tests/cri/mkimage.py" "$img/pause.tar" "$PAUSE_IMAGE" --entrypoint /pause \
		--file "$img/pause=/pause" || fail "building the pause image"
	for a in sh nc echo sleep cat true wget printf ip; do links+=(--link "/bin/$a=busybox"); done
	"$PY" "$top_srcdir/tests/cri/mkimage.py" "$img/probe.tar" "$PROBE_IMAGE" --entrypoint /bin/sh \
		--file "$BUSYBOX=/bin/busybox" "${links[@]}" || fail "building the probe image"
}

# cd_network: the bridge, a /24 nobody on the host uses, the CNI config, and the server netns
# on the bridge (SERVER_IP, listening on SERVER_PORTS). Pods get addresses from .10 up.
cd_network() {
	local n=$(( 0x$TID % 200 + 20 )) i lock
	ip link add name "$BRIDGE" type bridge
	on_exit "ip link del $BRIDGE"
	# Tests running at once pick their /24 one at a time: the gateway address goes on the
	# bridge (the bridge plugin keeps it) before the next test looks at the routes.
	exec {lock}>>/run/podfence-test-containerd-subnet.lock
	flock "$lock"
	for i in $(seq 0 250); do
		SUBNET_PREFIX=10.233.$(( (n + i) % 250 + 1 ))
		ip -4 route show | grep -q "^$SUBNET_PREFIX\." || break
	done
	SERVER_IP=$SUBNET_PREFIX.250
	GATEWAY_IP=$SUBNET_PREFIX.1
	ip addr add "$GATEWAY_IP/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	exec {lock}>&-
	mk_netns "$SRV"
	ip link add "pfcs$TID" type veth peer name "pfct$TID" netns "$SRV"
	ip link set "pfcs$TID" master "$BRIDGE" up
	ip -n "$SRV" addr add "$SERVER_IP/24" dev "pfct$TID"
	ip -n "$SRV" link set "pfct$TID" up
	ip -n "$SRV" route add default via "$GATEWAY_IP" 2>/dev/null || true
	ip netns exec "$SRV" "$PY" -c "$PY_SERVER" "$TMP/server.ready" $SERVER_PORTS &
	local pid=$!
	on_exit "kill $pid; wait $pid"
	wait_until 50 test -f "$TMP/server.ready" || fail "server did not start"
	mkdir -p "$CD/cni"
	cat >"$CD/cni/10-podfence-test.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pf-cni-$TID",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "dataDir": "$CD/cni-ipam",
              "ranges": [[{"subnet": "$SUBNET_PREFIX.0/24", "rangeStart": "$SUBNET_PREFIX.10",
                           "rangeEnd": "$SUBNET_PREFIX.200", "gateway": "$GATEWAY_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
EOF
}

# hook_args FAIL_MODE: podfence-hook's options in the base spec (every path the test's own).
hook_args() {
	printf '["--socket","%s","--state-dir","%s","--fail-mode","%s","--runtime-timeout","10"]' \
		"$SOCK" "$STATE" "$1"
}

SHIPPED_SPEC=$top_builddir/packaging/containerd/base-runtime-spec.json
SHIPPED_CONFIG=$top_builddir/packaging/containerd/config-v2.toml

# cd_base_spec FAIL_MODE [FILE]: the shipped base runtime spec
# (packaging/containerd/base-runtime-spec.json) with its hooks pointed at the built hook and
# the test's paths. FAIL_MODE "none" takes the hooks out (the bench's baseline).
cd_base_spec() {
	local out=${2:-$CD_BASE_SPEC}
	[ -f "$SHIPPED_SPEC" ] || fail "$SHIPPED_SPEC not generated (make)"
	mkdir -p "$(dirname "$out")"
	"$PY" - "$SHIPPED_SPEC" "$out" "$PODFENCE_HOOK" "$1" "$(hook_args "$1")" <<'PY' || fail "base spec from $SHIPPED_SPEC"
import json, sys
src, dst, hook, mode, args = sys.argv[1:]
spec = json.load(open(src))
if mode == "none":
    del spec["hooks"]
else:
    for stage, entries in spec["hooks"].items():
        for e in entries:
            e["path"] = hook
            e["args"] = ["podfence-hook"] + json.loads(args) + [e["args"][-1]]
json.dump(spec, open(dst, "w"), indent=2)
PY
}

# cd_spec_is_default: the shipped spec is this containerd's own default (ctr oci spec) but for
# the hooks and the per-container cgroupsPath, so using it changes nothing else.
cd_spec_is_default() {
	"$CTR" oci spec >"$TMP/default-spec.json" || fail "ctr oci spec"
	"$PY" - "$TMP/default-spec.json" "$SHIPPED_SPEC" <<'PY'
import json, sys
d, s = (json.load(open(f)) for f in sys.argv[1:])
d.get("linux", {}).pop("cgroupsPath", None)
hooks = s.pop("hooks")
assert sorted(hooks) == ["poststop", "prestart"], hooks
if d != s:
    for k in sorted(set(d) | set(s)):
        if d.get(k) != s.get(k):
            print("%s: containerd %s, shipped %s" % (k, json.dumps(d.get(k)), json.dumps(s.get(k))))
    sys.exit(1)
PY
}

# cd_config [NAME=SPEC]...: config.toml for containerd 1.6/1.7 (version 2), everything under
# $CD. The default runtime handler "runc" uses $CD_BASE_SPEC; each NAME=SPEC adds a handler
# (RunPodSandbox's runtime_handler) whose base runtime spec is SPEC.
cd_config() {
	local h
	cat >"$CD_CONFIG" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CD_SOCK"
[ttrpc]
  address = "$CD_SOCK.ttrpc"
[debug]
  address = "$CD/debug.sock"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_DIR"
    conf_dir = "$CD/cni"
    max_conf_num = 1
EOF
	# Each handler's table is the shipped snippet's (packaging/containerd/config-v2.toml) with
	# its name and spec path, plus the options this machine needs.
	[ -f "$SHIPPED_CONFIG" ] || fail "$SHIPPED_CONFIG not generated (make)"
	for h in "runc=$CD_BASE_SPEC" "$@"; do
		sed -n '/^\[plugins/,$p' "$SHIPPED_CONFIG" |
			sed -e "s|runtimes\.runc\]|runtimes.${h%%=*}]|" \
			    -e "s|^\( *base_runtime_spec = \).*|\1\"${h#*=}\"|" >>"$CD_CONFIG"
		cat >>"$CD_CONFIG" <<EOF
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${h%%=*}.options]
    SystemdCgroup = false
    Root = "$CD/runc"
EOF
	done
	grep -q "base_runtime_spec = \"$CD_BASE_SPEC\"" "$CD_CONFIG" || fail "the shipped snippet's base_runtime_spec line was not found"
}

# cd_cleanup: what containerd leaves when it is killed, by the pids and names it recorded.
cd_cleanup() {
	local f ns d c
	[ -z "$CD_PID" ] || { cri --timeout 20 remove-all; kill "$CD_PID"; wait "$CD_PID"; }
	for f in "$CD"/state/io.containerd.runtime.v2.task/*/*/init.pid \
		"$CD"/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")"
	done
	for ns in "${CD_NETNS[@]}"; do ip netns del "$ns"; done
	# Mounts containerd made under its root (snapshots, shm) and our pod netns bind mounts.
	grep -F " $CD/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r d; do
		umount -l "$d"
	done
	for c in /sys/fs/cgroup/*/"${CGROUP_PARENT#/}" /sys/fs/cgroup/unified/"${CGROUP_PARENT#/}"; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \;
	done
	true
}

# cd_start: containerd in the background (after cd_network, cd_base_spec, cd_config), up when
# its CRI answers Version; the images imported into its k8s.io namespace.
cd_start() {
	mkdir -p "$CD"
	"$CONTAINERD" --config "$CD_CONFIG" --log-level info >>"$CD_LOG" 2>&1 &
	CD_PID=$!
	on_exit cd_cleanup
	wait_until 150 cri --timeout 1 version || fail "containerd did not come up (its CRI does not answer)"
	local f
	for f in pause probe; do
		"$CTR" --address "$CD_SOCK" -n k8s.io images import "$TMP/images/$f.tar" >>"$CD_LOG" 2>&1 ||
			fail "ctr images import $f.tar"
	done
}

# cd_setup FAIL_MODE [NAME=FAIL_MODE]...: the whole private containerd; handler runc's hooks
# in FAIL_MODE, and one more handler NAME for each NAME=FAIL_MODE.
cd_setup() {
	local h handlers=()
	cd_need
	cd_images
	cd_network
	mkdir -p "$(dirname "$SOCK")" "$STATE"
	cd_base_spec "$1"
	shift
	for h in "$@"; do
		cd_base_spec "${h#*=}" "$CD/spec-${h%%=*}.json"
		handlers+=("${h%%=*}=$CD/spec-${h%%=*}.json")
	done
	cd_config "${handlers[@]}"
	cd_start
}

# run_pod VAR NAMESPACE NAME UID [cri.py run-pod options]: RunPodSandbox with the metadata a
# kubelet sends; the sandbox id in $VAR, its config in $TMP/pod-ID.json, its netns recorded.
run_pod() {
	local var=$1 ns=$2 name=$3 uid=$4 id netns
	shift 4
	mkdir -p "$TMP/logs/$var"
	id=$(cri run-pod --namespace "$ns" --name "$name" --uid "$uid" --attempt 0 \
		--log-dir "$TMP/logs/$var" --cgroup-parent "$CGROUP_PARENT" --save "$TMP/$var.pod.json" \
		--label app=web --label pod-template-hash=7d9f8 "$@" 2>"$TMP/$var.run.err") ||
		{ RUN_POD_ERR=$(cat "$TMP/$var.run.err"); return 1; }
	printf -v "$var" '%s' "$id"
	mv "$TMP/$var.pod.json" "$TMP/pod-$id.json"
	netns=$(pod_field "$id" netns)
	case $netns in /var/run/netns/*|/run/netns/*) CD_NETNS+=("${netns##*/}") ;; esac
}

# pod_field SANDBOX KEY: one field of cri.py pod-status (state, ip, netns, pid, ...).
pod_field() { cri pod-status "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }

# start_ctr VAR POD NAME ARGV...: CreateContainer + StartContainer of the probe image; the
# container id in $VAR. On failure START_ERR holds the runtime's message.
start_ctr() {
	local var=$1 pod=$2 name=$3 id
	shift 3
	id=$(cri create "$pod" --pod-config "$TMP/pod-$pod.json" --name "$name" \
		--image "$PROBE_IMAGE" "$@" 2>"$TMP/$name.err") || { START_ERR=$(cat "$TMP/$name.err"); return 1; }
	printf -v "$var" '%s' "$id"
	cri start "$id" 2>"$TMP/$name.err" || { START_ERR=$(cat "$TMP/$name.err"); return 1; }
}

ctr_field() { cri status "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
ctr_exited() { [ "$(ctr_field "$1" state)" = CONTAINER_EXITED ]; }
# ctr_log ID: what the container wrote (the CRI log format: time stream tag text).
ctr_log() { sed -E 's/^[^ ]+ (stdout|stderr) [FP] //' "$(ctr_field "$1" log_path)"; }

# cexec ID ARGV...: ExecSync; prints stdout+stderr, returns the command's exit code.
cexec() {
	local out id=$1
	shift
	out=$(cri exec "$id" -- "$@") || return 125
	"$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); sys.stdout.write(r["stdout"]+r["stderr"]); sys.exit(r["exit_code"])' "$out"
}

# The engine's view of a pod: its row in the pods view.
pod_rows() { sql "SELECT count(*) FROM pods WHERE namespace = '$1' AND name = '$2'"; }
