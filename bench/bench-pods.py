# SPDX-License-Identifier: GPL-2.0-or-later
# Driver of bench/bench-pods.sh: registrations at many pods, engine memory and fds, register /
# unregister cycles, and how long a policy change takes to reach every pod. Prints measured
# numbers only.
import json, os, socket, subprocess, sys, time

sock, prefix, n, cycles, pid, load, db, pol_a, pol_b = sys.argv[1:10]
n, cycles, pid = int(n), int(cycles), int(pid)


def req(o, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    s.connect(sock)
    s.send(json.dumps(o).encode())
    r = json.loads(s.recv(1 << 20).decode())
    s.close()
    if not r.get("ok"):
        sys.exit("request %s failed: %s" % (o.get("op"), r))
    return r


def register(i, c):
    return req({"op": "register", "netns": "/run/netns/%s%d" % (prefix, i), "namespace": "bench",
                "name": "p%d" % i, "container": c})


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def rss_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def fds():
    return len(os.listdir("/proc/%d/fd" % pid))


print("registrations, one at a time (ms, engine side: request to answer)")
print("%-14s %8s %8s %8s" % ("pods", "p50", "p99", "max"))
lat = []
for i in range(1, n + 1):
    t = time.monotonic()
    register(i, "c%d" % i)
    lat.append((time.monotonic() - t) * 1000)
    if i in (10, 100, 500, 1000, 2000) or i == n:
        w = lat[max(0, i - 100):i]
        print("%-14s %8.2f %8.2f %8.2f" % ("%d..%d" % (max(1, i - 99), i), pct(w, .5), pct(w, .99), max(w)))
st = req({"op": "status"})
print("at %d pods: engine RSS %.1f MiB, %d fds, cache %d sources %d bytes"
      % (st["n_pods"], rss_kib() / 1024.0, fds(), st["cache"]["sources"], st["cache"]["bytes"]))
act = st.get("activations", {})
print("pods enforced with their own cache at registration %d, only after a full build %d"
      % (act.get("own_cache", 0), act.get("after_build", 0)))

# Through the hook (what runc runs at prestart): a container of one more pod, registered and
# unregistered again, with the others in place.
hook = os.environ.get("BENCH_HOOK")
if hook:
    hl = []
    for k in range(50):
        d = {"ociVersion": "1.0.2", "id": "h%d" % k, "status": "creating",
             "bundle": os.environ["BENCH_HOOK_BUNDLE"], "pid": int(os.environ["BENCH_HOOK_PID"]),
             "annotations": {"podfence.io/namespace": "bench", "podfence.io/name": "hooked"}}
        args = [hook, "--socket", sock, "--state-dir", os.environ["BENCH_HOOK_STATE"],
                "--fail-mode", "closed"]
        t = time.monotonic()
        subprocess.run(args + ["prestart"], input=json.dumps(d).encode(), check=True,
                       stderr=subprocess.DEVNULL)
        hl.append((time.monotonic() - t) * 1000)
        d["status"] = "stopped"
        del d["pid"]
        subprocess.run(args + ["poststop"], input=json.dumps(d).encode(), check=True,
                       stderr=subprocess.DEVNULL)
    print("through podfence-hook prestart at %d pods, 50 runs (ms): p50 %.2f  p99 %.2f  max %.2f"
          % (n, pct(hl, .5), pct(hl, .99), max(hl)))

# A policy change with every pod registered: from the store commit (the loader has exited)
# to the reload's answer, which comes once the new cache is in place and every pod's reuse
# sets are emptied.
print("\npolicy change with %d pods: store commit -> every pod judged by it (ms)" % n)
prop = []
for k in range(10):
    subprocess.run([load, db, "test", pol_b if k % 2 == 0 else pol_a], check=True,
                   stdout=subprocess.DEVNULL)
    t = time.monotonic()
    r = req({"op": "reload"})
    prop.append((time.monotonic() - t) * 1000)
print("p50 %.1f  max %.1f  (last build %s us)" % (pct(prop, .5), max(prop), r.get("build_us")))

# Register/unregister cycles of one more pod with the others in place: fds and memory.
extra = n + 1
for k in range(100):
    register(extra, "x%d" % k)
    req({"op": "unregister", "container": "x%d" % k})
f0, m0 = fds(), rss_kib()
cyc = []
t0 = time.monotonic()
for k in range(cycles):
    t = time.monotonic()
    register(extra, "y%d" % k)
    cyc.append((time.monotonic() - t) * 1000)
    req({"op": "unregister", "container": "y%d" % k})
dt = time.monotonic() - t0
print("\n%d register/unregister cycles at %d pods in %.1f s: register p50 %.2f p99 %.2f ms; "
      "fds %d -> %d, RSS %.1f -> %.1f MiB"
      % (cycles, n, dt, pct(cyc, .5), pct(cyc, .99), f0, fds(), m0 / 1024.0, rss_kib() / 1024.0))
act = req({"op": "status"}).get("activations", {})
print("after the cycles: pods enforced with their own cache %d, only after a full build %d"
      % (act.get("own_cache", 0), act.get("after_build", 0)))
