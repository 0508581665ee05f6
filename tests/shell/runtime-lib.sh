# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/shell/runtime-*.sh and bench/bench-hook.sh after lib.sh: a busybox-static
# root filesystem and OCI bundles whose config.json carries podfence-hook, run with runc.
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNC=${RUNC:-runc}
RUNC_ROOT=$TMP/runc
PY=${PYTHON3:-python3}

rt_need() {
	need_root
	need_cmd "$RUNC" "$PY"
	[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
	[ -x "$BUSYBOX" ] || skip "needs $BUSYBOX (Debian package busybox-static)"
	file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
		ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' || skip "$BUSYBOX is not static (install busybox-static)"
}

# mk_rootfs DIR: busybox and a few applets; read-only in the containers.
mk_rootfs() {
	mkdir -p "$1"/bin "$1"/proc "$1"/sys "$1"/dev "$1"/tmp "$1"/etc "$1"/run
	cp "$BUSYBOX" "$1/bin/busybox"
	for a in sh nc echo sleep cat true wget printf; do ln -sf busybox "$1/bin/$a"; done
	echo "root:x:0:0:root:/:/bin/sh" >"$1/etc/passwd"
}

# mk_bundle DIR ROOTFS NETNS_PATH|"" ANNOTATIONS_JSON HOOK_ARGS_JSON|"" ARGS...
# NETNS_PATH "" lets runc create the netns; HOOK_ARGS_JSON is a JSON list of options given to
# podfence-hook before the stage ("" = no hooks).
mk_bundle() {
	local dir=$1 rootfs=$2 netns=$3 ann=$4 hookargs=$5
	shift 5
	mkdir -p "$dir"
	(cd "$dir" && rm -f config.json && "$RUNC" spec)
	"$PY" - "$dir/config.json" "$rootfs" "$netns" "$ann" "$hookargs" "${RT_HOOK:-$PODFENCE_HOOK}" "$@" <<'PY'
import json, sys
path, rootfs, netns, ann, hookargs, hook = sys.argv[1:7]
args = sys.argv[7:]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = args
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
c["hostname"] = "pf"
c["annotations"] = json.loads(ann)
ns = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
n = {"type": "network"}
if netns:
    n["path"] = netns
ns.append(n)
c["linux"]["namespaces"] = ns
if hookargs:
    opts = json.loads(hookargs)
    env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    c["hooks"] = {
        stage: [{"path": hook, "args": ["podfence-hook"] + opts + [stage], "env": env, "timeout": 15}]
        for stage in ("prestart", "poststop")
    }
json.dump(c, open(path, "w"), indent=1)
PY
}

# rt_run ID BUNDLE: runc run in the foreground; output in $TMP/ID.out/.err, status in RT_RC.
rt_run() {
	RT_RC=0
	"$RUNC" --root "$RUNC_ROOT" run --bundle "$2" "$1" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" || RT_RC=$?
}

# rt_start ID BUNDLE: detached; removed (with its poststop hook) at exit.
rt_start() {
	"$RUNC" --root "$RUNC_ROOT" run --detach --bundle "$2" "$1" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err"
	on_exit "$RUNC --root $RUNC_ROOT delete --force $1"
}

rt_exec() { local id=$1; shift; "$RUNC" --root "$RUNC_ROOT" exec "$id" "$@"; }

# rt_stop ID: kill and delete (runs poststop).
rt_stop() {
	"$RUNC" --root "$RUNC_ROOT" kill "$1" KILL 2>/dev/null || true
	wait_until 50 sh -c "$RUNC --root $RUNC_ROOT state $1 | grep -q '\"status\": \"stopped\"'" || true
	"$RUNC" --root "$RUNC_ROOT" delete "$1"
}

# engine_has_pod NAMESPACE NAME: the engine's status lists it.
engine_has_pod() {
	ctl '{"op":"status"}' | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
ns, name = sys.argv[1], sys.argv[2]
sys.exit(0 if any(p.get("namespace") == ns and p.get("name") == name for p in s.get("pods", [])) else 1)
' "$1" "$2"
}
engine_lacks_pod() { ! engine_has_pod "$@"; }

# Mirror a policy directory into the test's store, the way a node does (podfence-sync --once).
sync_policies() {
	"$PODFENCE_SYNC" --policy-dir "$1" --db "$DB" --socket "$SOCK" --state-dir "$STATE" --once ||
		fail "podfence-sync --once on $1"
}
