#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The containerd files as shipped (packaging/containerd/, filled by make): the base runtime
# spec is an OCI spec whose prestart and poststop hooks run the installed podfence-hook (the
# same path and options as the hooks.d entries), and the config.toml snippets for containerd
# 1.6/1.7 (version 2) and 2.x (version 3) parse as TOML and name that spec in the runc
# handler's table of each version's CRI plugin. containerd-cri.sh runs the version 2 snippet
# and the spec with a real containerd; 2.x is not packaged for Debian 12, so its snippet is
# checked here by shape only.
. "$(dirname "$0")/lib.sh"
PY=${PYTHON3:-python3}
need_cmd "$PY"
"$PY" -c 'import tomllib' 2>/dev/null || skip "needs Python 3.11 (tomllib)"
D=$top_builddir/packaging/containerd
for f in base-runtime-spec.json config-v2.toml config-v3.toml; do
	[ -f "$D/$f" ] || fail "$D/$f not generated (make)"
done
HOOKSD=$top_builddir/packaging/hooks.d/podfence.json
[ -f "$HOOKSD" ] || fail "$HOOKSD not generated"

"$PY" - "$D" "$HOOKSD" <<'PY' || fail "shipped containerd files"
import json, os, sys, tomllib
d, hooksd = sys.argv[1:]
hook = json.load(open(hooksd))["hook"]
spec = json.load(open(os.path.join(d, "base-runtime-spec.json")))
assert spec["ociVersion"].startswith("1."), spec["ociVersion"]
assert "cgroupsPath" not in spec.get("linux", {}), "a fixed cgroupsPath would put every container in one cgroup"
h = spec["hooks"]
assert sorted(h) == ["poststop", "prestart"], sorted(h)
for stage in ("prestart", "poststop"):
    assert len(h[stage]) == 1, h[stage]
    e = h[stage][0]
    assert e["path"] == hook["path"], (e["path"], hook["path"])
    assert e["args"] == hook["args"][:-1] + [stage], e["args"]
    assert e["timeout"] == hook["timeout"] and e["env"] == hook["env"], e
    assert "@" not in json.dumps(e), "unfilled template: %s" % e
caps = spec["process"]["capabilities"]["bounding"]
assert "CAP_NET_ADMIN" not in caps and "CAP_SYS_ADMIN" not in caps, caps
print("spec: hooks run", hook["path"])

want = None
for name, version, plugin in (("config-v2.toml", 2, 'io.containerd.grpc.v1.cri'),
                              ("config-v3.toml", 3, 'io.containerd.cri.v1.runtime')):
    with open(os.path.join(d, name), "rb") as f:
        t = tomllib.load(f)
    assert t["version"] == version, (name, t["version"])
    runc = t["plugins"][plugin]["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2", runc
    path = runc["base_runtime_spec"]
    assert path.endswith("/containerd/base-runtime-spec.json") and path.startswith("/"), path
    assert "@" not in path, path
    want = want or path
    assert path == want, (name, path, want)
    assert list(t) == ["version", "plugins"] and list(t["plugins"]) == [plugin], t
    print("%s: version %d, %s runtimes.runc base_runtime_spec = %s" % (name, version, plugin, path))
PY
pass "base runtime spec: the installed hook, as the hooks.d entries run it, no fixed cgroupsPath"
pass "config-v2.toml (containerd 1.6/1.7) and config-v3.toml (2.x): TOML, runc handler, the installed spec, nothing else"
