#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Kubernetes manifests: the CRDs' names, scope, printer columns and OpenAPI schemas
# (checked against the example policies and against policies podfence refuses), the RBAC rules
# the sync needs, and the DaemonSet's host access.
. "$(dirname "$0")/lib.sh"
: "${PYTHON3:=python3}"
"$PYTHON3" -c 'import yaml' 2>/dev/null || skip "needs python3-yaml"
K=$top_srcdir/packaging/k8s
"$PYTHON3" - "$K" "$top_srcdir/packaging/examples/web-egress.yaml" \
	"$top_srcdir/packaging/examples/cluster-baseline.yaml" <<'PY' || fail "manifests"
import copy, sys, yaml
kdir, example, cexample = sys.argv[1], sys.argv[2], sys.argv[3]
crds = [d for d in yaml.safe_load_all(open(kdir + "/crd.yaml")) if d]
assert len(crds) == 2, len(crds)
crd, ccrd = crds
assert crd["metadata"]["name"] == "fencepolicies.podfence.io"
s = crd["spec"]
assert s["group"] == "podfence.io" and s["scope"] == "Namespaced"
assert s["names"]["kind"] == "FencePolicy" and "fp" in s["names"]["shortNames"]
v = s["versions"][0]
assert v["name"] == "v1alpha1" and v["served"] and v["storage"]
cols = [c["name"] for c in v["additionalPrinterColumns"]]
for c in ("Priority", "AppliesTo", "Rules", "Age"):
    assert c in cols, cols
schema = v["schema"]["openAPIV3Schema"]

# The subset of OpenAPI v3 validation the CRD uses.
def check(x, sc, path="$"):
    t = sc.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        if not isinstance(x, int) or isinstance(x, bool):
            raise ValueError(path + ": not an integer")
    elif t in types and not isinstance(x, types[t]):
        raise ValueError(path + ": not " + t)
    if "enum" in sc and x not in sc["enum"]:
        raise ValueError(path + ": not one of " + ",".join(map(str, sc["enum"])))
    if "minimum" in sc and x < sc["minimum"]: raise ValueError(path + ": below minimum")
    if "maximum" in sc and x > sc["maximum"]: raise ValueError(path + ": above maximum")
    if "minLength" in sc and len(x) < sc["minLength"]: raise ValueError(path + ": too short")
    if "maxLength" in sc and len(x) > sc["maxLength"]: raise ValueError(path + ": too long")
    if "minItems" in sc and len(x) < sc["minItems"]: raise ValueError(path + ": too few")
    if "maxItems" in sc and len(x) > sc["maxItems"]: raise ValueError(path + ": too many")
    for r in sc.get("required", []):
        if r not in x: raise ValueError(path + ": missing " + r)
    if "anyOf" in sc:
        n = 0
        for alt in sc["anyOf"]:
            try: check(x, alt, path); n += 1
            except ValueError: pass
        if n == 0: raise ValueError(path + ": must match one of anyOf")
    if "oneOf" in sc:
        n = 0
        for alt in sc["oneOf"]:
            try: check(x, alt, path); n += 1
            except ValueError: pass
        if n != 1: raise ValueError(path + ": must match exactly one of oneOf")
    for k, sub in sc.get("properties", {}).items():
        if isinstance(x, dict) and k in x: check(x[k], sub, path + "." + k)
    if t == "array" and "items" in sc:
        for i, e in enumerate(x): check(e, sc["items"], "%s[%d]" % (path, i))
    if t == "object" and "properties" in sc and isinstance(x, dict):
        for k in x:
            if k not in sc["properties"]: raise ValueError(path + ": unknown field " + k)

docs = [d for d in yaml.safe_load_all(open(example)) if d]
assert docs and all(d["kind"] == "FencePolicy" for d in docs)
for d in docs:
    check(d, schema)

good = docs[0]
bad = []
def mut(f):
    d = copy.deepcopy(good); f(d); bad.append(d)
mut(lambda d: d["spec"].pop("appliesTo"))
mut(lambda d: d["spec"].__setitem__("appliesTo", []))
mut(lambda d: d["spec"].__setitem__("priority", 70000))
mut(lambda d: d["spec"]["egress"][0].__setitem__("action", "Permit"))
mut(lambda d: d["spec"]["appliesTo"][0].__setitem__("kind", "Service"))
mut(lambda d: d["spec"]["egress"][0]["ports"][0].__setitem__("port", 0))
mut(lambda d: d["spec"]["egress"][0]["ports"][0].__setitem__("protocol", "SCTP"))
mut(lambda d: d["spec"]["egress"][0]["to"].append({"fqdn": "db.shop.test", "cidr": "10.0.0.0/8"}))
mut(lambda d: d["spec"]["egress"][0]["to"].append({"cidr": "10.0.0.0/8", "kind": "Pod", "name": "x"}))
mut(lambda d: d["spec"]["egress"][0]["to"].append({"kind": "Pod"}))
mut(lambda d: d["spec"].__setitem__("egress", [{"action": "Deny"}] * 257))
mut(lambda d: d["spec"].__setitem__("appliesTo", [{"kind": "Pod", "name": "p"}] * 65))
mut(lambda d: d["spec"]["egress"][0].__setitem__("action", "Pass"))  # Pass: cluster tier only
for i, d in enumerate(bad):
    try:
        check(d, schema)
    except ValueError:
        continue
    raise SystemExit("invalid policy %d accepted by the CRD schema" % i)
# UDP ports and fqdn destinations are accepted
udp = copy.deepcopy(good)
udp["spec"]["egress"][0]["ports"][0]["protocol"] = "UDP"
udp["spec"]["egress"][0]["to"].append({"fqdn": "*.shop.test"})
check(udp, schema)

# ClusterFencePolicy: cluster-scoped, cfp, the same columns plus the namespaces, Pass allowed,
# every appliesTo ref (but Namespace) names its namespace.
assert ccrd["metadata"]["name"] == "clusterfencepolicies.podfence.io"
cs = ccrd["spec"]
assert cs["group"] == "podfence.io" and cs["scope"] == "Cluster"
assert cs["names"]["kind"] == "ClusterFencePolicy" and cs["names"]["plural"] == "clusterfencepolicies"
assert "cfp" in cs["names"]["shortNames"]
cv = cs["versions"][0]
assert cv["name"] == "v1alpha1" and cv["served"] and cv["storage"]
ccols = [c["name"] for c in cv["additionalPrinterColumns"]]
for c in ("Priority", "AppliesTo", "Namespaces", "Rules", "Age"):
    assert c in ccols, ccols
cschema = cv["schema"]["openAPIV3Schema"]
cdocs = [d for d in yaml.safe_load_all(open(cexample)) if d]
assert cdocs and all(d["kind"] == "ClusterFencePolicy" and "namespace" not in d["metadata"] for d in cdocs)
for d in cdocs:
    check(d, cschema)
cgood = cdocs[0]
assert any(r["action"] == "Pass" for r in cgood["spec"]["egress"])
try:
    check(cgood, schema)
    raise SystemExit("the FencePolicy schema accepts action Pass")
except ValueError:
    pass
cbad = []
def cmut(f):
    d = copy.deepcopy(cgood); f(d); cbad.append(d)
cmut(lambda d: d["spec"]["appliesTo"].append({"kind": "Deployment", "name": "web"}))
cmut(lambda d: d["spec"]["egress"].append({"action": "Deny", "to": [{"kind": "Service", "name": "db"}]}))
cmut(lambda d: d["spec"]["egress"][0].__setitem__("action", "pass"))
cmut(lambda d: d["spec"].pop("appliesTo"))
cmut(lambda d: d["spec"].__setitem__("priority", -1))
for i, d in enumerate(cbad):
    try:
        check(d, cschema)
    except ValueError:
        continue
    raise SystemExit("invalid cluster policy %d accepted by the CRD schema" % i)

rbac = list(yaml.safe_load_all(open(kdir + "/rbac.yaml")))
role = [d for d in rbac if d["kind"] == "ClusterRole"][0]
granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
           if {"get", "list", "watch"} <= set(rule["verbs"])}
for need in [("", "pods"), ("", "namespaces"), ("", "services"), ("discovery.k8s.io", "endpointslices"),
             ("apps", "replicasets"), ("apps", "deployments"), ("apps", "statefulsets"),
             ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"),
             ("podfence.io", "fencepolicies"), ("podfence.io", "clusterfencepolicies")]:
    assert need in granted, need
assert any(d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == role["metadata"]["name"] for d in rbac)
sa = [d for d in rbac if d["kind"] == "ServiceAccount"][0]
# status through the subresource, and the Lease that picks the one writer
writes = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
          if {"update", "patch"} <= set(rule["verbs"])}
assert ("podfence.io", "fencepolicies/status") in writes and ("podfence.io", "clusterfencepolicies/status") in writes, writes
assert not {("podfence.io", "fencepolicies"), ("podfence.io", "clusterfencepolicies")} & writes, "the sync may not change specs"
lrole = [d for d in rbac if d["kind"] == "Role" and any("leases" in r["resources"] for r in d["rules"])][0]
assert lrole["metadata"]["namespace"] == sa["metadata"]["namespace"]
assert {"get", "create", "update"} <= set(lrole["rules"][0]["verbs"])
assert any(d["kind"] == "RoleBinding" and d["roleRef"]["name"] == lrole["metadata"]["name"] and
           d["subjects"][0]["name"] == sa["metadata"]["name"] for d in rbac)
for v in (crd["spec"]["versions"][0], ccrd["spec"]["versions"][0]):
    assert v["subresources"] == {"status": {}}, v.get("subresources")
    col = [c for c in v["additionalPrinterColumns"] if c["name"] == "Valid"][0]
    assert col["jsonPath"] == '.status.conditions[?(@.type=="Valid")].status', col
    assert v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"]["enum"] == ["Enforce", "Audit"]

ds = yaml.safe_load(open(kdir + "/daemonset.yaml"))
p = ds["spec"]["template"]["spec"]
assert p["hostPID"] and p["hostNetwork"] and p["serviceAccountName"] == sa["metadata"]["name"]
c = {x["name"]: x for x in p["containers"]}
assert set(c) == {"podfenced", "podfence-sync"}
caps = set(c["podfenced"]["securityContext"]["capabilities"]["add"])
assert {"NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"} <= caps, caps
paths = {v["hostPath"]["path"] for v in p["volumes"] if "hostPath" in v}
assert {"/run/podfence", "/var/lib/podfence"} <= paths, paths
init = p["initContainers"][0]["command"][-1]
assert init.index("podfence-hook") < init.index("hooks.d"), "hook binary must be installed first"
PY
pass "CRD names, scope, printer columns (VALID), status subresource and schemas (FencePolicy and ClusterFencePolicy, mode); RBAC covers what podfence-sync watches, the status it writes and its Lease; DaemonSet host access"

if [ -x "$PODFENCECTL" ]; then
	"$PODFENCECTL" check "$top_srcdir/packaging/examples/web-egress.yaml" \
		"$top_srcdir/packaging/examples/cluster-baseline.yaml" >"$TMP/out" 2>&1 ||
		{ cat "$TMP/out"; fail "podfencectl check rejects an example policy"; }
	pass "podfencectl check accepts the example policies"
fi
