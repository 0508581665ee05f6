#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The oracle for the kube tests: from the test API server's state (GET /_control/state on
stdin) print what podfence-sync must have written, one line per row, in the forms the tests
select from sqlite:
  workloads: KIND|NAMESPACE|NAME|IP   (IP empty for a workload that resolves to nothing)
  policies:  NAMESPACE|NAME|PRIORITY  (--policies; every policy is assumed valid; a
             ClusterFencePolicy has an empty NAMESPACE)
  pods:      KIND|NAMESPACE|NAME|POD  (--pods; the pods an owner kind resolves to by name,
                                       with or without an IP yet, finished ones not, and the
                                       pods a Service's selector picks; Pod and Namespace
                                       refs match by name in the store already)
Written independently of the C resolver, from fencepolicy(5)."""
import ipaddress
import json
import sys

OWNER_KINDS = {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
NAMED_KINDS = OWNER_KINDS | {"Pod", "Namespace", "Service"}


def ip(s):
    try:
        return ipaddress.ip_address(s).compressed
    except ValueError:
        return None


def main():
    st = json.load(sys.stdin)
    objs = st["objects"]
    if "--policies" in sys.argv:
        for o in objs:
            if o["kind"] in ("FencePolicy", "ClusterFencePolicy"):
                md = o["metadata"]
                print(f'{md.get("namespace", "")}|{md["name"]}|{o["spec"].get("priority", 1000)}')
        return
    by = {}
    for o in objs:
        md = o["metadata"]
        by[(o["kind"], md.get("namespace", ""), md["name"])] = o
    wl = {}
    pods = set()
    for (kind, ns, name), o in by.items():
        if kind == "Namespace":
            wl[(kind, name, name)] = set()
        elif kind in NAMED_KINDS:
            wl[(kind, ns, name)] = set()
    for (kind, ns, name), o in by.items():
        if kind == "Pod":
            stt = o.get("status") or {}
            if stt.get("phase") in ("Succeeded", "Failed"):
                continue
            ips = {ip(x.get("ip", "")) for x in stt.get("podIPs") or []} - {None}
            if not ips and stt.get("podIP") and ip(stt["podIP"]):
                ips = {ip(stt["podIP"])}
            wl[("Pod", ns, name)] |= ips
            if ("Namespace", ns, ns) in wl:
                wl[("Namespace", ns, ns)] |= ips
            cur = o
            for _ in range(4):
                ref = next((r for r in cur["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
                if not ref or ref.get("kind") not in OWNER_KINDS:
                    break
                owner = by.get((ref["kind"], ns, ref["name"]))
                if not owner or owner["metadata"]["uid"] != ref.get("uid"):
                    break
                wl[(ref["kind"], ns, ref["name"])] |= ips
                pods.add(f'{ref["kind"]}|{ns}|{ref["name"]}|{name}')
                cur = owner
        elif kind == "Service":
            spec = o.get("spec") or {}
            ips = {ip(x) for x in spec.get("clusterIPs") or []} - {None}
            if not ips and spec.get("clusterIP") and ip(spec["clusterIP"]):
                ips = {ip(spec["clusterIP"])}
            wl[("Service", ns, name)] |= ips
        elif kind == "EndpointSlice":
            svc = (o["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            if not svc or ("Service", ns, svc) not in wl or o.get("addressType") == "FQDN":
                continue
            for ep in o.get("endpoints") or []:
                wl[("Service", ns, svc)] |= {ip(a) for a in ep.get("addresses") or []} - {None}
    for (kind, ns, name), o in by.items():
        sel = (o.get("spec") or {}).get("selector") if kind == "Service" else None
        if not sel:
            continue
        for (pkind, pns, pname), p in by.items():
            labels = p["metadata"].get("labels") or {}
            if (pkind == "Pod" and pns == ns and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                    and all(labels.get(k) == v for k, v in sel.items())):
                pods.add(f"Service|{ns}|{name}|{pname}")
    if "--pods" in sys.argv:
        for line in sorted(pods):
            print(line)
        return
    for (kind, ns, name), ips in wl.items():
        for x in sorted(ips) or [""]:
            print(f"{kind}|{ns}|{name}|{x}")


if __name__ == "__main__":
    main()
