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


def fds_settled():
    """The engine's fds once released pods' sockets are closed (off the loop, a grace period
    each): the count once it has not fallen for half a second (at most 30 s)."""
    last, since, end = fds(), time.monotonic(), time.monotonic() + 30
    while time.monotonic() < end and time.monotonic() - since < 0.5:
        time.sleep(0.05)
        now = fds()
        if now < last:
            last, since = now, time.monotonic()
    return last


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
# unregistered again, with the others in place; the pods taken in turn from 16, as new pods
# come (a netns comes back ~100 ms after its release, past the 20-30 ms its released sockets
# take to close: with 4, some runs met that), and then one pod again at once (its netns
# released a moment before: the kernel still holds that netns's nf_tables commit mutex while
# the released sockets close).
hook = os.environ.get("BENCH_HOOK")
if hook:
    pids = [int(x) for x in os.environ["BENCH_HOOK_PIDS"].split(",")]

    def hook_run(k, h):
        d = {"ociVersion": "1.0.2", "id": "h%d" % k, "status": "creating",
             "bundle": os.environ["BENCH_HOOK_BUNDLE"] + str(h + 1), "pid": pids[h],
             "annotations": {"podfence.io/namespace": "bench", "podfence.io/name": "hooked%d" % h}}
        args = [hook, "--socket", sock, "--state-dir", os.environ["BENCH_HOOK_STATE"],
                "--fail-mode", "closed"]
        t = time.monotonic()
        subprocess.run(args + ["prestart"], input=json.dumps(d).encode(), check=True,
                       stderr=subprocess.DEVNULL)
        ms = (time.monotonic() - t) * 1000
        d["status"] = "stopped"
        del d["pid"]
        subprocess.run(args + ["poststop"], input=json.dumps(d).encode(), check=True,
                       stderr=subprocess.DEVNULL)
        return ms

    hl = [hook_run(k, k % len(pids)) for k in range(50)]
    print("through podfence-hook prestart at %d pods, 50 runs (ms): p50 %.2f  p99 %.2f  max %.2f"
          % (n, pct(hl, .5), pct(hl, .99), max(hl)))
    hl = [hook_run(50 + k, 0) for k in range(20)]
    print("  the same pod again right after its poststop, 20 runs (ms): p50 %.2f  max %.2f"
          % (pct(hl, .5), max(hl)))

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

# Register/unregister cycles of 8 more pods in turn with the others in place: fds and memory;
# then one pod again at once (see the hook's runs).
extra = [n + 1 + k for k in range(8)]
for k in range(100):
    register(extra[k % 8], "x%d" % k)
    req({"op": "unregister", "container": "x%d" % k})
f0, m0 = fds_settled(), rss_kib()
cyc, unr = [], []
t0 = time.monotonic()
for k in range(cycles):
    t = time.monotonic()
    register(extra[k % 8], "y%d" % k)
    t1 = time.monotonic()
    req({"op": "unregister", "container": "y%d" % k})
    cyc.append((t1 - t) * 1000)
    unr.append((time.monotonic() - t1) * 1000)
dt = time.monotonic() - t0
f1 = fds_settled()
print("\n%d register/unregister cycles at %d pods in %.1f s: register p50 %.2f p99 %.2f ms, "
      "unregister p50 %.2f p99 %.2f ms; fds %d -> %d, RSS %.1f -> %.1f MiB"
      % (cycles, n, dt, pct(cyc, .5), pct(cyc, .99), pct(unr, .5), pct(unr, .99), f0, f1,
         m0 / 1024.0, rss_kib() / 1024.0))
same = []
for k in range(50):
    t = time.monotonic()
    register(extra[0], "z%d" % k)
    same.append((time.monotonic() - t) * 1000)
    req({"op": "unregister", "container": "z%d" % k})
print("  the same pod again right after its unregister, 50 cycles: register p50 %.2f  max %.2f ms"
      % (pct(same, .5), max(same)))
act = req({"op": "status"}).get("activations", {})
print("after the cycles: pods enforced with their own cache %d, only after a full build %d"
      % (act.get("own_cache", 0), act.get("after_build", 0)))
