# SPDX-License-Identifier: GPL-2.0-or-later
# Builds a one-layer OCI image archive from local static binaries, for `ctr images import`.
#
#   mkimage.py OUT.tar NAME --entrypoint PATH [--file SRC=DEST]... [--link DEST=TARGET]...
#
# NAME is the full reference the image is imported as (io.containerd.image.name), e.g.
# podfence.test/pause:1. The layer holds the files (mode 0755, root-owned), the symlinks and
# the few directories a runtime mounts over; no registry is involved.
import argparse
import hashlib
import io
import json
import platform
import sys
import tarfile

GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
          "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}


def layer_bytes(files, links):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add_dir(name):
            ti = tarfile.TarInfo(name)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        dirs = {"bin", "dev", "proc", "sys", "tmp", "etc", "run", "var"}
        for dest in [d for _, d in files] + [d for d, _ in links]:
            parts = dest.strip("/").split("/")[:-1]
            dirs.update("/".join(parts[:i + 1]) for i in range(len(parts)))
        for d in sorted(dirs):
            add_dir(d)
        for src, dest in files:
            with open(src, "rb") as f:
                data = f.read()
            ti = tarfile.TarInfo(dest.strip("/"))
            ti.size = len(data)
            ti.mode = 0o755
            t.addfile(ti, io.BytesIO(data))
        for dest, target in links:
            ti = tarfile.TarInfo(dest.strip("/"))
            ti.type = tarfile.SYMTYPE
            ti.linkname = target
            t.addfile(ti)
        passwd = b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        ti = tarfile.TarInfo("etc/passwd")
        ti.size = len(passwd)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(passwd))
    return buf.getvalue()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("name")
    p.add_argument("--entrypoint", required=True)
    p.add_argument("--file", action="append", default=[], help="SRC=DEST")
    p.add_argument("--link", action="append", default=[], help="DEST=TARGET")
    a = p.parse_args()
    files = [tuple(f.split("=", 1)) for f in a.file]
    links = [tuple(x.split("=", 1)) for x in a.link]
    if any(len(f) != 2 for f in files + links):
        sys.exit("mkimage.py: --file and --link take SRC=DEST / DEST=TARGET")
    arch = GOARCH.get(platform.machine())
    if not arch:
        sys.exit("mkimage.py: unknown machine %s" % platform.machine())

    layer = layer_bytes(files, links)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Entrypoint": [a.entrypoint], "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }, sort_keys=True).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(layer)}],
    }, sort_keys=True).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    tag = a.name.rsplit(":", 1)[1] if ":" in a.name.rsplit("/", 1)[-1] else "latest"
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": len(manifest),
                       "platform": {"architecture": arch, "os": "linux"},
                       "annotations": {"io.containerd.image.name": a.name,
                                       "org.opencontainers.image.ref.name": tag}}],
    }, sort_keys=True).encode()

    with tarfile.open(a.out, "w") as t:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", index)
        for d, data in ((layer_digest, layer), (config_digest, config), (manifest_digest, manifest)):
            put("blobs/sha256/" + d.split(":", 1)[1], data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
