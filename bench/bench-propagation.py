#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Propagation latency: kubectl create/replace of a FencePolicy -> podfence-sync has committed it
to the store. Alternates create and replace (priority changes) N times and prints p50/p99 of
(a) kubectl start -> store and (b) the API server's write -> store (the sync's own share).
Usage: bench-propagation.py KUBECTL KUBECONFIG CACHEDIR DB NAMESPACE N LABEL SERVER CA TOKEN"""
import json
import sqlite3
import ssl
import subprocess
import urllib.request
import sys
import time

kubectl, kcfg, cache, db, ns, n, label, server, ca, token = sys.argv[1:11]
# Optional: "pod DEPLOYMENT REPLICASET RS-UID": scale-up pods (create, then an address change)
# instead of FencePolicies; the store must show the address under the Deployment.
# Or "engine NETNS": replace a FencePolicy's action on 10.99.0.1:443 (Reject <-> Allow) and time
# until a connection from the pod's network namespace sees the change (podfenced enforcing).
mode = sys.argv[11:]
n = int(n)

PROBER = r"""
import socket, sys, time
for line in sys.stdin:
    want = line.strip()
    while True:
        s = socket.socket()
        # a dropped SYN (a Deny) is retried by TCP after 1 s: ask again sooner instead
        s.settimeout(0.05)
        try:
            s.connect(("10.99.0.1", 443))
            got = "ok"
        except ConnectionRefusedError:
            got = "refused"
        except OSError:
            got = "other"
        s.close()
        if got == want:
            break
        time.sleep(0.0005)
    print(time.monotonic(), time.time(), flush=True)
"""


def engine_doc(name, action):
    return f"""apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: {name}
  namespace: {ns}
spec:
  priority: 1
  appliesTo:
  - kind: Deployment
    name: web
  egress:
  - action: {action}
    to:
    - cidr: 10.99.0.1
    ports:
    - port: 443
"""


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def since_written(seen):
    """(resourceVersion, wall time) pairs -> ms from when the API server wrote each change
    (its clock is ours: same host)."""
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(server + "/_control/write-times", headers={"Authorization": "Bearer " + token})
    written = json.load(urllib.request.urlopen(req, context=ctx, timeout=30))
    return [(wall - written[rv]) * 1000 for rv, wall in seen]


if mode and mode[0] == "engine":
    prober = subprocess.Popen(["ip", "netns", "exec", mode[1], sys.executable, "-c", PROBER],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lat, seen_at = [], []
    for i in range(n):
        action = "Reject" if i % 2 == 0 else "Allow"
        t0 = time.monotonic()
        out = subprocess.run([kubectl, "--kubeconfig", kcfg, "--cache-dir", cache, "create" if i == 0 else "replace",
                              "--validate=false", "-f", "-", "-o", "jsonpath={.metadata.resourceVersion}"],
                             input=engine_doc("fence", action).encode(), check=True, stdout=subprocess.PIPE)
        prober.stdin.write(("refused" if action == "Reject" else "ok") + "\n")
        prober.stdin.flush()
        mono, wall = map(float, prober.stdout.readline().split())
        lat.append((mono - t0) * 1000)
        seen_at.append((out.stdout.decode().strip(), wall))
    prober.stdin.close()
    prober.wait()
    acked = since_written(seen_at)

    def line(what, lat):
        return (f"  {what}: p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms  max {max(lat):.1f} ms "
                f"(change #{lat.index(max(lat))}; the first {lat[0]:.1f} ms)")
    print(f"propagation {label}: {n} changes of a FencePolicy's action (Reject <-> Allow)")
    print(line("kubectl start -> podfenced enforcing (first connection judged by the new version)", lat))
    print(line("API server write -> podfenced enforcing", acked))
    sys.exit(0)


def pod_doc(name, ip):
    _, dep, rs, uid = mode
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  ownerReferences:
  - {{apiVersion: apps/v1, kind: ReplicaSet, name: {rs}, uid: {uid}, controller: true}}
spec:
  nodeName: node1
  containers: [{{name: c, image: app}}]
status:
  phase: Running
  podIP: {ip}
  podIPs: [{{ip: {ip}}}]
"""


def doc(name, prio):
    return f"""apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata:
  name: {name}
  namespace: {ns}
spec:
  priority: {prio}
  appliesTo:
  - kind: Deployment
    name: web
  egress:
  - action: Deny
"""


con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)


def stored(name, prio):
    try:
        if mode:
            row = con.execute("SELECT 1 FROM workload w JOIN workload_ip wi ON wi.workload_id = w.id "
                              "WHERE w.kind = 'Deployment' AND w.namespace = ? AND w.name = ? AND wi.ip = ?",
                              (ns, mode[1], prio)).fetchone()
            return row is not None
        row = con.execute("SELECT priority FROM policies WHERE namespace = ? AND name = ? AND source = 'kube'",
                          (ns, name)).fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and row[0] == prio


full, acked = [], []
for i in range(n):
    name = f"bench-{i // 2}"
    verb = "create" if i % 2 == 0 else "replace"
    prio = 10000 + i
    text = doc(name, prio)
    if mode:
        prio = f"10.250.{i // 250}.{i % 250 + 1}"
        text = pod_doc(name, prio)
    t0 = time.monotonic()
    out = subprocess.run([kubectl, "--kubeconfig", kcfg, "--cache-dir", cache, verb, "--validate=false", "-f", "-",
                          "-o", "jsonpath={.metadata.resourceVersion}"],
                         input=text.encode(), check=True, stdout=subprocess.PIPE)
    while not stored(name, prio):
        if time.monotonic() - t0 > 30:
            sys.exit(f"change {i} did not reach the store in 30 s")
        time.sleep(0.0005)
    t2 = time.monotonic()
    wall = time.time()
    full.append((t2 - t0) * 1000)
    acked.append((out.stdout.decode().strip(), wall))

acked = since_written(acked)


what = "pods (scale-up create / address change)" if mode else "FencePolicies (create/replace)"
print(f"propagation {label}: {n} changes of {what}")
print(f"  kubectl start -> store committed: p50 {pct(full, 50):.1f} ms  p99 {pct(full, 99):.1f} ms  max {max(full):.1f} ms")
print(f"  API server write -> store committed: p50 {pct(acked, 50):.1f} ms  p99 {pct(acked, 99):.1f} ms  max {max(acked):.1f} ms")
