# SPDX-License-Identifier: GPL-2.0-or-later
# A small CRI client for the tests: what a kubelet asks a runtime (containerd) to do, one call a command.
#
#   cri.py --socket SOCK COMMAND [ARGS...]
#
# Commands print one line (an id) or one JSON object and exit 0; a failed call prints the gRPC
# status and message on stderr and exits 1 (bad arguments: 2). The messages come from
# cri.proto, compiled at first use into --gen-dir (default $CRI_GEN_DIR) with protoc.
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = "/runtime.v1.RuntimeService/"


def compile_proto(gen_dir):
    """cri_pb2.py in gen_dir, made by protoc (or grpc_tools' bundled protoc) if missing."""
    target = os.path.join(gen_dir, "cri_pb2.py")
    if os.path.exists(target):
        return
    os.makedirs(gen_dir, exist_ok=True)
    tmp = os.path.join(gen_dir, ".tmp-%d" % os.getpid())
    os.makedirs(tmp)
    args = ["-I", HERE, "--python_out=" + tmp, os.path.join(HERE, "cri.proto")]
    err = "no protoc (protobuf-compiler) and no grpc_tools (python3-grpc-tools)"
    # protobuf-compiler's protoc is the python3-protobuf runtime's own version; grpc_tools
    # (python3-grpc-tools) bundles an older protoc, used when that one is missing.
    for cmd in (["protoc"], [sys.executable, "-m", "grpc_tools.protoc"]):
        try:
            r = subprocess.run(cmd + args, capture_output=True, text=True)
        except FileNotFoundError:
            continue
        if r.returncode == 0:
            os.rename(os.path.join(tmp, "cri_pb2.py"), target)
            os.rmdir(tmp)
            return
        err = r.stderr.strip()
    sys.exit("cri.py: cannot compile cri.proto: %s" % err)


def load(gen_dir):
    compile_proto(gen_dir)
    sys.path.insert(0, gen_dir)
    import cri_pb2
    return cri_pb2


class Client:
    def __init__(self, socket_path, pb, timeout):
        import grpc

        self.grpc = grpc
        self.pb = pb
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + socket_path)

    def call(self, method, request):
        resp_type = getattr(self.pb, method + "Response")
        fn = self.channel.unary_unary(
            SERVICE + method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=resp_type.FromString,
        )
        return fn(request, timeout=self.timeout)


def kv_pairs(items, what):
    out = {}
    for it in items or []:
        if "=" not in it:
            sys.exit("cri.py: %s '%s' is not KEY=VALUE" % (what, it))
        k, v = it.split("=", 1)
        out[k] = v
    return out


def sandbox_config(pb, a):
    c = pb.PodSandboxConfig()
    c.metadata.name = a.name
    c.metadata.namespace = a.namespace
    c.metadata.uid = a.uid
    c.metadata.attempt = a.attempt
    # As a kubelet: a host-network pod has the node's UTS namespace, so no hostname of its own.
    c.hostname = "" if a.host_network else (a.hostname or a.name[:63])
    c.log_directory = a.log_dir
    # What a kubelet sets on every pod sandbox.
    labels = {
        "io.kubernetes.pod.name": a.name,
        "io.kubernetes.pod.namespace": a.namespace,
        "io.kubernetes.pod.uid": a.uid,
    }
    labels.update(kv_pairs(a.label, "--label"))
    c.labels.update(labels)
    ann = {"kubernetes.io/config.source": "api", "kubernetes.io/config.seen": "2026-01-01T00:00:00Z"}
    ann.update(kv_pairs(a.annotation, "--annotation"))
    c.annotations.update(ann)
    if a.cgroup_parent:
        c.linux.cgroup_parent = a.cgroup_parent
    ns = c.linux.security_context.namespace_options
    ns.network = pb.NODE if a.host_network else pb.POD
    ns.pid = pb.CONTAINER
    ns.ipc = pb.POD
    return c


def netns_of(info):
    """The network namespace path of a sandbox from containerd's verbose info ("" = host)."""
    try:
        spec = json.loads(info.get("info", "{}")).get("runtimeSpec", {})
    except ValueError:
        return ""
    for n in spec.get("linux", {}).get("namespaces", []):
        if n.get("type") == "network":
            return n.get("path", "")
    return ""


def main():
    p = argparse.ArgumentParser(prog="cri.py", description=__doc__)
    p.add_argument("--socket", required=True)
    p.add_argument("--gen-dir", default=os.environ.get("CRI_GEN_DIR", ""))
    p.add_argument("--timeout", type=float, default=60)
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("version")
    rp = sub.add_parser("run-pod", help="RunPodSandbox; prints the sandbox id")
    rp.add_argument("--namespace", required=True)
    rp.add_argument("--name", required=True)
    rp.add_argument("--uid", required=True)
    rp.add_argument("--attempt", type=int, default=0)
    rp.add_argument("--hostname", default="")
    rp.add_argument("--log-dir", required=True)
    rp.add_argument("--cgroup-parent", default="")
    rp.add_argument("--label", action="append")
    rp.add_argument("--annotation", action="append")
    rp.add_argument("--host-network", action="store_true")
    rp.add_argument("--runtime-handler", default="", help="a runtimes.NAME of containerd's config")
    rp.add_argument("--save", required=True, help="file for the config CreateContainer needs")
    for name in ("pod-status", "stop-pod", "rm-pod"):
        sub.add_parser(name).add_argument("id")
    sub.add_parser("list-pods")
    cc = sub.add_parser("create", help="CreateContainer; prints the container id")
    cc.add_argument("pod")
    cc.add_argument("--pod-config", required=True, help="the file run-pod --save wrote")
    cc.add_argument("--name", required=True)
    cc.add_argument("--attempt", type=int, default=0)
    cc.add_argument("--image", required=True)
    cc.add_argument("--env", action="append")
    cc.add_argument("--cap-add", action="append")
    cc.add_argument("--cap-drop", action="append")
    cc.add_argument("argv", nargs="+")
    for name in ("start", "rm", "status"):
        sub.add_parser(name).add_argument("id")
    sc = sub.add_parser("stop")
    sc.add_argument("id")
    sc.add_argument("--grace", type=int, default=0)
    ex = sub.add_parser("exec", help="ExecSync; prints stdout, stderr and the exit code as JSON")
    ex.add_argument("id")
    ex.add_argument("--exec-timeout", type=int, default=10)
    ex.add_argument("argv", nargs="+")
    sub.add_parser("remove-all", help="stop and remove every sandbox (a test's cleanup)")
    a = p.parse_args()
    if not a.gen_dir:
        p.error("--gen-dir or CRI_GEN_DIR is needed")

    pb = load(a.gen_dir)
    cl = Client(a.socket, pb, a.timeout)
    import grpc
    from google.protobuf import json_format

    try:
        if a.cmd == "version":
            r = cl.call("Version", pb.VersionRequest(version="v1"))
            print(json.dumps({"runtime_name": r.runtime_name, "runtime_version": r.runtime_version,
                              "runtime_api_version": r.runtime_api_version}))
        elif a.cmd == "run-pod":
            c = sandbox_config(pb, a)
            with open(a.save, "w") as f:
                f.write(json_format.MessageToJson(c))
            t = time.monotonic()
            r = cl.call("RunPodSandbox", pb.RunPodSandboxRequest(config=c, runtime_handler=a.runtime_handler))
            print(r.pod_sandbox_id)
            print("RunPodSandbox %.1f ms" % ((time.monotonic() - t) * 1000), file=sys.stderr)
        elif a.cmd == "pod-status":
            r = cl.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=a.id, verbose=True))
            s = r.status
            print(json.dumps({"id": s.id, "state": pb.PodSandboxState.Name(s.state),
                              "namespace": s.metadata.namespace, "name": s.metadata.name,
                              "uid": s.metadata.uid, "ip": s.network.ip,
                              "netns": netns_of(r.info),
                              "pid": json.loads(r.info.get("info", "{}")).get("pid", 0)}))
        elif a.cmd == "list-pods":
            r = cl.call("ListPodSandbox", pb.ListPodSandboxRequest())
            print(json.dumps([{"id": i.id, "namespace": i.metadata.namespace, "name": i.metadata.name,
                               "state": pb.PodSandboxState.Name(i.state)} for i in r.items]))
        elif a.cmd == "stop-pod":
            cl.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=a.id))
        elif a.cmd == "rm-pod":
            cl.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=a.id))
        elif a.cmd == "create":
            sc = pb.PodSandboxConfig()
            with open(a.pod_config) as f:
                json_format.Parse(f.read(), sc)
            c = pb.ContainerConfig()
            c.metadata.name = a.name
            c.metadata.attempt = a.attempt
            c.image.image = a.image
            c.command.extend(a.argv[:1])
            c.args.extend(a.argv[1:])
            for k, v in kv_pairs(a.env, "--env").items():
                c.envs.add(key=k, value=v)
            c.log_path = "%s_%d.log" % (a.name, a.attempt)
            c.labels.update({"io.kubernetes.container.name": a.name,
                             "io.kubernetes.pod.name": sc.metadata.name,
                             "io.kubernetes.pod.namespace": sc.metadata.namespace,
                             "io.kubernetes.pod.uid": sc.metadata.uid})
            c.annotations.update({"io.kubernetes.container.restartCount": str(a.attempt)})
            caps = c.linux.security_context.capabilities
            caps.add_capabilities.extend(a.cap_add or [])
            caps.drop_capabilities.extend(a.cap_drop or [])
            ns = c.linux.security_context.namespace_options
            ns.CopyFrom(sc.linux.security_context.namespace_options)
            r = cl.call("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=a.pod, config=c,
                                                                      sandbox_config=sc))
            print(r.container_id)
        elif a.cmd == "start":
            t = time.monotonic()
            cl.call("StartContainer", pb.StartContainerRequest(container_id=a.id))
            print("StartContainer %.1f ms" % ((time.monotonic() - t) * 1000), file=sys.stderr)
        elif a.cmd == "stop":
            cl.call("StopContainer", pb.StopContainerRequest(container_id=a.id, timeout=a.grace))
        elif a.cmd == "rm":
            cl.call("RemoveContainer", pb.RemoveContainerRequest(container_id=a.id))
        elif a.cmd == "status":
            r = cl.call("ContainerStatus", pb.ContainerStatusRequest(container_id=a.id))
            s = r.status
            print(json.dumps({"id": s.id, "name": s.metadata.name, "state": pb.ContainerState.Name(s.state),
                              "exit_code": s.exit_code, "reason": s.reason, "message": s.message,
                              "log_path": s.log_path}))
        elif a.cmd == "exec":
            r = cl.call("ExecSync", pb.ExecSyncRequest(container_id=a.id, cmd=a.argv, timeout=a.exec_timeout))
            print(json.dumps({"stdout": r.stdout.decode(errors="replace"),
                              "stderr": r.stderr.decode(errors="replace"), "exit_code": r.exit_code}))
        elif a.cmd == "remove-all":
            r = cl.call("ListPodSandbox", pb.ListPodSandboxRequest())
            for i in r.items:
                for m, req in (("StopPodSandbox", pb.StopPodSandboxRequest),
                               ("RemovePodSandbox", pb.RemovePodSandboxRequest)):
                    try:
                        cl.call(m, req(pod_sandbox_id=i.id))
                    except grpc.RpcError as e:
                        print("%s %s: %s" % (m, i.id, e.details()), file=sys.stderr)
    except grpc.RpcError as e:
        print("cri.py %s: %s: %s" % (a.cmd, e.code().name, e.details()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
