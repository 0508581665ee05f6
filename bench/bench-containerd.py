# SPDX-License-Identifier: GPL-2.0-or-later
# What podfence's base runtime spec adds to a containerd pod start, as a kubelet sees it.
#
#   bench-containerd.py SOCKET N LOGDIR CGROUP_PARENT HANDLER...
#
# For each of N rounds and each runtime handler in turn (interleaved, so drift hits all
# alike): RunPodSandbox, CreateContainer, StartContainer of the probe image, timed each from
# the client over the CRI; then the pod is stopped and removed outside the measurement.
# Prints the medians per handler and the difference and ratio of each to the first handler.
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cri"))
import cri  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("n", type=int)
    p.add_argument("logdir")
    p.add_argument("cgroup_parent")
    p.add_argument("handlers", nargs="+")
    p.add_argument("--image", default="podfence.test/probe:1")
    a = p.parse_args()
    pb = cri.load(os.environ["CRI_GEN_DIR"])
    cl = cri.Client(a.socket, pb, 60)
    times = {h: {"run": [], "create": [], "start": []} for h in a.handlers}
    for i in range(a.n):
        for h in a.handlers:
            name = "bench-%s-%d" % (h, i)
            ns = argparse.Namespace(name=name, namespace="bench", uid="uid-%s-%d" % (h, i), attempt=0,
                                    hostname="", log_dir=os.path.join(a.logdir, name),
                                    cgroup_parent=a.cgroup_parent, label=None, annotation=None,
                                    host_network=False)
            os.makedirs(ns.log_dir, exist_ok=True)
            sc = cri.sandbox_config(pb, ns)
            t0 = time.monotonic()
            pod = cl.call("RunPodSandbox", pb.RunPodSandboxRequest(config=sc, runtime_handler=h)).pod_sandbox_id
            t1 = time.monotonic()
            c = pb.ContainerConfig()
            c.metadata.name = "app"
            c.image.image = a.image
            c.command.extend(["/bin/sleep", "600"])
            c.log_path = "app_0.log"
            c.linux.security_context.namespace_options.CopyFrom(sc.linux.security_context.namespace_options)
            cid = cl.call("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=pod, config=c,
                                                                        sandbox_config=sc)).container_id
            t2 = time.monotonic()
            cl.call("StartContainer", pb.StartContainerRequest(container_id=cid))
            t3 = time.monotonic()
            times[h]["run"].append((t1 - t0) * 1000)
            times[h]["create"].append((t2 - t1) * 1000)
            times[h]["start"].append((t3 - t2) * 1000)
            cl.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod))
            cl.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod))

    med = {h: {k: statistics.median(v) for k, v in t.items()} for h, t in times.items()}
    for h in a.handlers:
        t = times[h]
        med[h]["total"] = statistics.median([r + s for r, s in zip(t["run"], t["start"])])
        med[h]["all"] = statistics.median([r + c + s for r, c, s in zip(t["run"], t["create"], t["start"])])
    base = a.handlers[0]
    print("median of %d, ms (interleaved)   %s" % (a.n, "  ".join("%14s" % h for h in a.handlers)))
    for k, label in (("run", "RunPodSandbox"), ("create", "CreateContainer"), ("start", "StartContainer"),
                     ("total", "RunPodSandbox+StartContainer"), ("all", "all three")):
        row = "  ".join("%14.1f" % med[h][k] for h in a.handlers)
        extra = "  ".join("%+8.1f ms x%.2f" % (med[h][k] - med[base][k], med[h][k] / med[base][k])
                          for h in a.handlers[1:])
        print("%-32s %s   %s" % (label, row, extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
