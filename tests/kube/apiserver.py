#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A test Kubernetes API server (Python standard library only) that kubectl and podfence-sync
talk to: discovery, CRUD + merge-patch, list with limit/continue, watch with resourceVersion and
bookmarks, 410 Expired, bearer tokens, TLS, owner-reference garbage collection, and fault
injection through POST /_control. State lives in memory; the resourceVersion is one global
counter as etcd's revision is.

Usage: apiserver.py --cert C --key K --token-file T --port-file P [--port N] [--history N]
                    [--bookmark-interval S] [--client-ca CA] [--log F]

Discovery is the legacy kind (/api, /apis, /api/v1, /apis/G/V): kubectl asks for aggregated
discovery first and falls back when it gets a plain APIGroupList. There is no OpenAPI document
(/openapi/v2, v3 answer 404), so kubectl needs --validate=false for create/replace. Status and
server-owned metadata are kept as written on create/update (tests set pod IPs that way).

Control endpoint (bearer token required), not part of the Kubernetes API:
  GET  /_control/state        every object, the resourceVersion, counters
  GET  /_control/write-times  resourceVersion -> wall-clock time of the write
  POST /_control {            any of:
    "faults": [{"method", "path" (regex), "query" (regex on the query string), "watch" (bool),
                "agent" (User-Agent substring), "status", "retry_after", "delay" (s), "count"}],
                              first match fires, count times
    "delay": S,               every request waits S seconds
    "cut_after": N|null,      watch streams are cut mid-event after N events
    "cut_watches": true,      cut every open watch now, half-way through a chunk
    "compact": true,          forget the event history (older resourceVersions get 410) and
                              every list snapshot (continue tokens expire)
    "bulk": [objects],        create objects directly (they may bring their uid)
    "pad": {"env": N}}        with bulk: each pod carries N bytes in container env values of
                              500 kB at most (large objects without a large request)
"""
import argparse
import base64
import copy
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# (group, version, plural, kind, namespaced, short names)
RESOURCES = [
    ("", "v1", "namespaces", "Namespace", False, ["ns"]),
    ("", "v1", "pods", "Pod", True, ["po"]),
    ("", "v1", "services", "Service", True, ["svc"]),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"]),
    ("apps", "v1", "deployments", "Deployment", True, ["deploy"]),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"]),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"]),
    ("batch", "v1", "jobs", "Job", True, []),
    ("batch", "v1", "cronjobs", "CronJob", True, ["cj"]),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, []),
    ("podfence.io", "v1alpha1", "fencepolicies", "FencePolicy", True, ["fp"]),
    ("podfence.io", "v1alpha1", "clusterfencepolicies", "ClusterFencePolicy", False, ["cfp"]),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, []),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ["crd"]),
]
# Resources whose status is a subresource: a write of the object keeps the status it had, a
# write of /status changes only the status (what the CRDs declare with subresources.status).
STATUS_SUBRESOURCE = {"pods", "fencepolicies", "clusterfencepolicies"}
BY_PATH = {(g, v, p): (g, v, p, k, ns, s) for (g, v, p, k, ns, s) in RESOURCES}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def api_version(g, v):
    return f"{g}/{v}" if g else v


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {},
         "status": "Success" if code < 300 else "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class Faults:
    """Rules POSTed to /_control: each matches method/path/watch and fires `count` times."""

    def __init__(self):
        self.rules = []
        self.delay = 0.0
        self.cut_after = None  # cut each watch after this many events

    def match(self, method, path, is_watch, agent, query=""):
        for r in self.rules:
            if r["count"] <= 0:
                continue
            if r.get("agent") and r["agent"] not in agent:
                continue
            if r.get("method") and r["method"] != method:
                continue
            if "watch" in r and bool(r["watch"]) != is_watch:
                continue
            if r.get("path") and not re.search(r["path"], path):
                continue
            if r.get("query") and not re.search(r["query"], query):
                continue
            r["count"] -= 1
            return r
        return None


class State:
    def __init__(self, history, bookmark_interval):
        self.lock = threading.Condition()
        self.rv = 1
        self.objects = {}  # (plural, ns, name) -> obj
        self.history = deque()  # (rv, plural, type, obj)
        self.history_max = history
        self.compacted = 0  # events at or below this rv are gone
        self.snapshots = {}  # list snapshots for continue tokens, key -> items
        self.watches = set()  # live watch connections (for cutting)
        self.bookmark_interval = bookmark_interval
        self.faults = Faults()
        self.requests = 0
        self.write_times = {}
        self.writes = deque(maxlen=10000)  # (method, path, User-Agent, code) of every write

    def _record(self, plural, etype, obj):
        # caller holds the lock and has bumped self.rv into obj
        self.history.append((self.rv, plural, etype, copy.deepcopy(obj)))
        # When each resourceVersion was written (wall clock), for the propagation benchmark.
        self.write_times[self.rv] = time.time()
        if len(self.write_times) > 100000:
            self.write_times.pop(next(iter(self.write_times)))
        while len(self.history) > self.history_max:
            self.compacted = self.history.popleft()[0]
        self.lock.notify_all()

    def _bump(self, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def create(self, res, ns, obj, keep_uid=False):
        g, v, plural, kind, namespaced, _ = res
        md = obj.setdefault("metadata", {})
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        name = md.get("name")
        if not name:
            return 422, status(422, "Invalid", f"{kind} \"\" is invalid: metadata.name: Required value")
        if namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                return 400, status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            md["namespace"] = ns
            if ("namespaces", "", ns) not in self.objects:
                return 404, status(404, "NotFound", f"namespaces \"{ns}\" not found",
                                   {"name": ns, "kind": "namespaces"})
        else:
            md.pop("namespace", None)
        key = (plural, ns if namespaced else "", name)
        with self.lock:
            if key in self.objects:
                return 409, status(409, "AlreadyExists", f"{plural}.{g or 'core'} \"{name}\" already exists",
                                   {"name": name, "group": g, "kind": plural})
            obj["apiVersion"] = api_version(g, v)
            obj["kind"] = kind
            if not (keep_uid and md.get("uid")):
                md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            md["generation"] = 1
            md.pop("deletionTimestamp", None)
            if kind == "Namespace":
                obj["status"] = {"phase": "Active"}
            self._bump(obj)
            self.objects[key] = obj
            self._record(plural, "ADDED", obj)
            return 201, obj

    def update(self, res, ns, name, obj, subresource=None):
        g, v, plural, kind, namespaced, _ = res
        key = (plural, ns if namespaced else "", name)
        with self.lock:
            cur = self.objects.get(key)
            if cur is None:
                return 404, status(404, "NotFound", f"{plural}.{g or 'core'} \"{name}\" not found",
                                   {"name": name, "group": g, "kind": plural})
            md = obj.setdefault("metadata", {})
            if md.get("name", name) != name:
                return 400, status(400, "BadRequest", "the name of the object does not match the name on the URL")
            want = md.get("resourceVersion")
            if want and want != cur["metadata"]["resourceVersion"]:
                return 409, status(409, "Conflict", f"Operation cannot be fulfilled on {plural}.{g or 'core'} \"{name}\": the object has been modified; please apply your changes to the latest version and try again")
            if subresource == "status":
                if plural not in STATUS_SUBRESOURCE:
                    return 404, status(404, "NotFound", "the server could not find the requested resource")
                new = copy.deepcopy(cur)
                new["status"] = obj.get("status", {})
            else:
                new = obj
                # metadata the server owns
                for k in ("uid", "creationTimestamp", "generation", "namespace"):
                    if k in cur["metadata"]:
                        md[k] = cur["metadata"][k]
                md["name"] = name
                new["apiVersion"] = api_version(g, v)
                new["kind"] = kind
                # generation counts changes of the spec only, as a real server's does
                if new.get("spec") != cur.get("spec"):
                    md["generation"] = cur["metadata"].get("generation", 1) + 1
                # with a status subresource the object's own endpoint cannot change status;
                # Pods are the exception here, tests write their IPs that way
                if plural in STATUS_SUBRESOURCE and plural != "pods":
                    if "status" in cur:
                        new["status"] = copy.deepcopy(cur["status"])
                    else:
                        new.pop("status", None)
            self._bump(new)
            self.objects[key] = new
            self._record(plural, "MODIFIED", new)
            return 200, new

    def delete(self, res, ns, name, orphan=False):
        g, v, plural, kind, namespaced, _ = res
        key = (plural, ns if namespaced else "", name)
        with self.lock:
            cur = self.objects.get(key)
            if cur is None:
                return 404, status(404, "NotFound", f"{plural}.{g or 'core'} \"{name}\" not found",
                                   {"name": name, "group": g, "kind": plural})
            self._delete_locked(key, orphan)
            return 200, cur

    def _delete_locked(self, key, orphan):
        cur = self.objects.pop(key)
        self._bump(cur)
        self._record(key[0], "DELETED", cur)
        if key[0] == "namespaces":
            for k in [k for k in self.objects if k[1] == key[2] and k[0] != "namespaces"]:
                if k in self.objects:
                    self._delete_locked(k, True)
        if orphan:
            return
        # The garbage collector: dependents whose ownerReferences name the deleted uid.
        uid = cur["metadata"].get("uid")
        for k, o in list(self.objects.items()):
            if k not in self.objects:
                continue
            for ref in o["metadata"].get("ownerReferences") or []:
                if ref.get("uid") == uid:
                    self._delete_locked(k, False)
                    break

    def list_items(self, plural, ns, selector):
        items = [o for (p, n, _), o in self.objects.items()
                 if p == plural and (ns is None or n == ns) and selector(o)]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items


def jsonpath(obj, expr):
    """The JSONPath forms printer columns use: .a.b, .a[*].b, .a[N], .a[?(@.k=="v")].b. Every value
    found, in order."""
    vals = [obj]
    for m in re.finditer(r'\.([A-Za-z0-9_-]+)|\[\*\]|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_-]+)==["\']([^"\']*)["\']\)\]', expr):
        nxt = []
        for v in vals:
            if m.group(1) is not None:
                if isinstance(v, dict) and m.group(1) in v:
                    nxt.append(v[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(v, list) and int(m.group(2)) < len(v):
                    nxt.append(v[int(m.group(2))])
            elif m.group(3) is not None:
                if isinstance(v, list):
                    nxt += [e for e in v if isinstance(e, dict) and str(e.get(m.group(3))) == m.group(4)]
            elif isinstance(v, list):
                nxt += v
        vals = nxt
    return vals


def age(ts):
    try:
        s = int(time.time() - time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) + time.timezone)
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(s, 0)
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h"


def field_selector(q):
    """Only what kubectl uses: metadata.name=X, metadata.namespace=X."""
    fs = q.get("fieldSelector", [""])[0]
    conds = []
    for part in filter(None, fs.split(",")):
        m = re.fullmatch(r"(metadata\.name|metadata\.namespace)(==|=|!=)(.*)", part)
        if not m:
            raise ValueError(f"field label not supported: {part}")
        conds.append((m.group(1).split(".")[1], m.group(2) != "!=", m.group(3)))

    def match(o):
        for f, eq, val in conds:
            if (o["metadata"].get(f, "") == val) != eq:
                return False
        return True
    return match


def label_selector(q):
    ls = q.get("labelSelector", [""])[0]
    conds = []
    for part in filter(None, ls.split(",")):
        m = re.fullmatch(r"([^=!]+)(==|=|!=)(.*)", part)
        if m:
            conds.append((m.group(1), m.group(2) != "!=", m.group(3)))
        else:
            conds.append((part, None, None))

    def match(o):
        labels = o["metadata"].get("labels") or {}
        for k, eq, val in conds:
            if eq is None:
                if k not in labels:
                    return False
            elif (labels.get(k) == val) != eq:
                return False
        return True
    return match


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as Go's net/http: watch events must not wait for an ACK
    server_version = "podfence-test-apiserver/1"

    def log_message(self, fmt, *args):
        if self.server.logf:
            self.server.logf.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
            self.server.logf.flush()

    # ---- plumbing ----
    def send_json(self, code, obj, extra=None):
        if self.command not in ("GET", "HEAD") and not self.path.startswith("/_control"):
            with self.server.state.lock:
                self.server.state.writes.append({"method": self.command, "path": urlsplit(self.path).path,
                                                 "agent": self.headers.get("User-Agent", ""), "code": code})
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 << 20:
            raise ValueError("request body too large")
        data = self.rfile.read(n) if n else b""
        return json.loads(data) if data else {}

    def authorized(self):
        try:
            with open(self.server.token_file) as f:
                tokens = {t.strip() for t in f.read().split() if t.strip()}
        except OSError:
            tokens = set()
        try:
            if self.connection.getpeercert():
                return True  # a client certificate the --client-ca verified
        except (AttributeError, ValueError):
            pass
        h = self.headers.get("Authorization", "")
        return h.startswith("Bearer ") and h[7:].strip() in tokens

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        st = self.server.state
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        q = parse_qs(url.query)
        with st.lock:
            st.requests += 1
        if not self.authorized():
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        try:
            if path.startswith("/_control"):
                return self.control(method, path)
            is_watch = q.get("watch", ["false"])[0] in ("true", "1")
            with st.lock:
                rule = st.faults.match(method, path, is_watch, self.headers.get("User-Agent", ""),
                                       url.query)
                delay = st.faults.delay
            if delay:
                time.sleep(delay)
            if rule:
                if rule.get("delay"):
                    time.sleep(rule["delay"])
                if rule.get("status"):
                    extra = {}
                    if rule.get("retry_after") is not None:
                        extra["Retry-After"] = str(rule["retry_after"])
                    code = rule["status"]
                    reason = {429: "TooManyRequests", 410: "Expired", 500: "InternalError",
                              503: "ServiceUnavailable"}.get(code, "InternalError")
                    self.send_json(code, status(code, reason, f"injected fault {code}"), extra)
                    return
            return self.route(method, path, q, is_watch)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except ValueError as e:
            self.send_json(400, status(400, "BadRequest", str(e)))

    def control(self, method, path):
        st = self.server.state
        if method == "GET" and path == "/_control/write-times":
            with st.lock:
                out = {str(k): v for k, v in st.write_times.items()}
            return self.send_json(200, out)
        if method == "GET" and path == "/_control/writes":
            with st.lock:
                out = list(st.writes)
            return self.send_json(200, out)
        if method == "GET" and path == "/_control/state":
            with st.lock:
                out = {"resourceVersion": str(st.rv), "compacted": st.compacted,
                       "requests": st.requests, "watches": len(st.watches),
                       "objects": [o for o in st.objects.values()]}
            return self.send_json(200, out)
        body = self.read_body()
        with st.lock:
            if "faults" in body:
                st.faults.rules = [dict(r, count=r.get("count", 1)) for r in body["faults"]]
            if "delay" in body:
                st.faults.delay = float(body["delay"])
            if "cut_after" in body:
                st.faults.cut_after = body["cut_after"]
            if body.get("compact"):
                if st.history:
                    st.compacted = st.history[-1][0]
                st.history.clear()
                st.snapshots.clear()
            if body.get("bulk"):
                n = int((body.get("pad") or {}).get("env", 0))
                chunk = "x" * min(n, 500000)
                env = [{"name": "PAD%d" % i, "value": chunk[:min(500000, n - i * 500000)]}
                       for i in range((n + 499999) // 500000)]
                for o in body["bulk"]:
                    if env and o["kind"] == "Pod":
                        o.setdefault("spec", {})["containers"] = [
                            {"name": "c", "image": "busybox", "env": env}]
                    g, _, v = o["apiVersion"].rpartition("/")
                    res = next(r for r in RESOURCES if r[0] == g and r[1] == v and r[3] == o["kind"])
                    # Bulk objects may bring their uid, so that ownerReferences can name it.
                    st.create(res, o["metadata"].get("namespace", "default"), o, keep_uid=True)
            cut = list(st.watches) if body.get("cut_watches") else []
        for conn in cut:
            # Cut mid-stream: half a chunk, then a reset.
            try:
                conn.sendall(b"7f\r\n{\"type\":\"MODI")
            except OSError:
                pass
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.send_json(200, {"ok": True, "cut": len(cut)})

    # ---- discovery ----
    def route(self, method, path, q, is_watch):
        if method == "GET":
            if path == "/version":
                return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-podfence-test",
                                            "platform": "linux/amd64"})
            if path == "/api":
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                            "serverAddress": "127.0.0.1"}]})
            if path == "/apis":
                groups = []
                for g, v in sorted({(r[0], r[1]) for r in RESOURCES if r[0]}):
                    gv = {"groupVersion": f"{g}/{v}", "version": v}
                    groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
                return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
            if m:
                g, v = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
                res = [{"name": p, "singularName": k.lower(), "namespaced": ns, "kind": k, "verbs": VERBS,
                        "shortNames": s} for (rg, rv, p, k, ns, s) in RESOURCES if rg == g and rv == v]
                if not res:
                    return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
                for r in list(res):
                    if r["name"] in STATUS_SUBRESOURCE:
                        res.append({"name": r["name"] + "/status", "singularName": "", "namespaced": r["namespaced"],
                                    "kind": r["kind"], "verbs": ["get", "patch", "update"]})
                return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                            "groupVersion": api_version(g, v), "resources": res})
        # /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]  or /apis/G/V/...
        m = re.fullmatch(r"/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
                         r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?", path)
        if not m:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        g, v = ("", "v1") if m.group("cv") else (m.group("g"), m.group("v"))
        ns, plural, name, sub = m.group("ns"), m.group("plural"), m.group("name"), m.group("sub")
        res = BY_PATH.get((g, v, plural))
        if path.startswith("/api/v1/namespaces/") and ns is not None and res is None:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        if re.fullmatch(r"/api/v1/namespaces/[^/]+", path):
            res, name, ns = BY_PATH[("", "v1", "namespaces")], path.rsplit("/", 1)[1], None
        if res is None:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        namespaced = res[4]
        if not namespaced and ns is not None and res[2] != "namespaces":
            # a cluster-scoped resource has no namespaced path (as on a real server)
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        if not namespaced:
            ns = None
        st = self.server.state
        if method == "GET" and name is None:
            return self.watch(res, ns, q) if is_watch else self.list(res, ns, q)
        if method == "GET":
            with st.lock:
                o = st.objects.get((res[2], ns or "", name))
            if o is None:
                return self.send_json(404, status(404, "NotFound", f"{res[2]}.{res[0] or 'core'} \"{name}\" not found",
                                                  {"name": name, "group": res[0], "kind": res[2]}))
            cols = self.printer_columns(res) if sub is None else None
            if cols is not None:
                return self.send_table(cols, [o], {"resourceVersion": o["metadata"]["resourceVersion"]})
            return self.send_json(200, o)
        if method == "POST" and name is None:
            if namespaced and ns is None:
                return self.send_json(405, status(405, "MethodNotAllowed", "namespace required"))
            code, out = st.create(res, ns or "", self.read_body())
            return self.send_json(code, out)
        if method == "PUT" and name:
            code, out = st.update(res, ns or "", name, self.read_body(), sub)
            return self.send_json(code, out)
        if method == "PATCH" and name:
            patch = self.read_body()
            with st.lock:
                cur = st.objects.get((res[2], ns or "", name))
                if cur is None:
                    return self.send_json(404, status(404, "NotFound", f"{res[2]} \"{name}\" not found"))
                new = merge_patch(copy.deepcopy(cur), patch)
                new["metadata"]["resourceVersion"] = patch.get("metadata", {}).get("resourceVersion") or \
                    cur["metadata"]["resourceVersion"]
                code, out = st.update(res, ns or "", name, new, sub)
            return self.send_json(code, out)
        if method == "DELETE" and name:
            try:
                opts = self.read_body()
            except ValueError:
                opts = {}
            orphan = (opts.get("propagationPolicy") == "Orphan"
                      or q.get("propagationPolicy", [""])[0] == "Orphan")
            code, out = st.delete(res, ns or "", name, orphan)
            return self.send_json(code, out)
        return self.send_json(405, status(405, "MethodNotAllowed", f"{method} not allowed"))

    def printer_columns(self, res):
        """A CRD's additionalPrinterColumns when kubectl asks for a Table of its resource."""
        if "as=Table" not in self.headers.get("Accept", ""):
            return None
        st = self.server.state
        with st.lock:
            crd = st.objects.get(("customresourcedefinitions", "", f"{res[2]}.{res[0]}"))
        if crd is None:
            return None
        for ver in crd.get("spec", {}).get("versions", []):
            if ver.get("name") == res[1]:
                return ver.get("additionalPrinterColumns") or []
        return None

    def send_table(self, cols, items, md):
        defs = [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}]
        defs += [{"name": c["name"], "type": c.get("type", "string"), "format": c.get("format", ""),
                  "description": c.get("description", ""), "priority": c.get("priority", 0)} for c in cols]
        rows = []
        for o in items:
            cells = [o["metadata"]["name"]]
            for c in cols:
                vals = jsonpath(o, c["jsonPath"])
                if c.get("type") == "date":
                    cells.append(age(vals[0]) if vals else "<unknown>")
                else:
                    cells.append(",".join(v if isinstance(v, str) else json.dumps(v) for v in vals))
            rows.append({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                    "metadata": o["metadata"]}})
        self.send_json(200, {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
                             "columnDefinitions": defs, "rows": rows})

    def list(self, res, ns, q):
        st = self.server.state
        g, v, plural, kind, _, _ = res
        limit = int(q.get("limit", ["0"])[0] or 0)
        cont = q.get("continue", [""])[0]
        sel_f, sel_l = field_selector(q), label_selector(q)
        with st.lock:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont.encode()))
                    snap = st.snapshots.get(tok["snap"])
                except (ValueError, KeyError):
                    return self.send_json(400, status(400, "BadRequest", "invalid continue token"))
                if snap is None:
                    return self.send_json(410, status(410, "Expired",
                                                      "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."))
                rv, items = snap
                start = tok["start"]
            else:
                items = copy.deepcopy(st.list_items(plural, ns, lambda o: sel_f(o) and sel_l(o)))
                rv = str(st.rv)
                start = 0
            page = items[start:start + limit] if limit > 0 else items[start:]
            md = {"resourceVersion": rv}
            nxt = start + len(page)
            if nxt < len(items):
                key = str(uuid.uuid4())
                st.snapshots[key] = (rv, items)
                while len(st.snapshots) > 32:
                    st.snapshots.pop(next(iter(st.snapshots)))
                md["continue"] = base64.urlsafe_b64encode(json.dumps({"snap": key, "start": nxt}).encode()).decode()
                md["remainingItemCount"] = len(items) - nxt
            cols = self.printer_columns(res)
            if cols is not None:
                return self.send_table(cols, page, md)
        self.send_json(200, {"kind": kind + "List", "apiVersion": api_version(g, v), "metadata": md, "items": page})

    def watch(self, res, ns, q):
        st = self.server.state
        g, v, plural, kind, _, _ = res
        sel_f, sel_l = field_selector(q), label_selector(q)
        rv_s = q.get("resourceVersion", [""])[0]
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] == "true"
        timeout = float(q.get("timeoutSeconds", ["0"])[0] or 0) or 1800.0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        conn = self.connection
        self.close_connection = True

        def send(ev):
            data = (json.dumps(ev) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def matches(o):
            return (ns is None or o["metadata"].get("namespace") == ns) and sel_f(o) and sel_l(o)

        with st.lock:
            st.watches.add(conn)
            initial = []
            if rv_s in ("", "0"):
                initial = [{"type": "ADDED", "object": copy.deepcopy(o)}
                           for o in st.list_items(plural, ns, lambda o: sel_f(o) and sel_l(o))]
                last = st.rv
            else:
                try:
                    last = int(rv_s)
                except ValueError:
                    st.watches.discard(conn)
                    initial = None
                    last = 0
                if initial is not None and last < st.compacted:
                    initial = [{"type": "ERROR", "object": status(
                        410, "Expired", f"too old resource version: {last} ({st.compacted + 1})")}]
                    last = None
        sent = 0
        try:
            if initial is None:
                send({"type": "ERROR", "object": status(400, "BadRequest", "invalid resourceVersion")})
                return
            for ev in initial:
                send(ev)
            if last is None:
                return
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + st.bookmark_interval
            while True:
                with st.lock:
                    if last < st.compacted:
                        evs = [{"type": "ERROR", "object": status(410, "Expired", "too old resource version")}]
                        last = None
                    else:
                        evs = []
                        # Newest first, back to what this watch has seen: O(new events).
                        for (erv, p, t, o) in reversed(st.history):
                            if erv <= last:
                                break
                            if p == plural and matches(o):
                                evs.append({"type": t, "object": o})
                        evs.reverse()
                        if st.history:
                            last = max(last, st.history[-1][0])
                    if not evs:
                        wait = min(deadline, next_bookmark) - time.monotonic()
                        if wait > 0:
                            st.lock.wait(wait)
                    cut_after = st.faults.cut_after
                for ev in evs:
                    if cut_after is not None and sent >= cut_after:
                        conn.sendall(b"40\r\n{\"type\":")
                        conn.shutdown(socket.SHUT_RDWR)
                        return
                    send(ev)
                    sent += 1
                if last is None:
                    return
                t = time.monotonic()
                if t >= deadline:
                    break
                if bookmarks and t >= next_bookmark:
                    if not evs:
                        send({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version(g, v),
                                                             "metadata": {"resourceVersion": str(last)}}})
                    next_bookmark = t + st.bookmark_interval
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError, ssl.SSLError):
            pass
        finally:
            with st.lock:
                st.watches.discard(conn)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients that give up on our certificate or hang up are part of the tests.
        if self.logf:
            self.logf.write("%s connection error from %s: %s\n" % (time.strftime("%H:%M:%S"), client_address,
                                                                    sys.exc_info()[1]))
            self.logf.flush()

    def get_request(self):
        sock, addr = self.socket.accept()
        # Handshake in the handler thread, not here: one slow client must not stall accept.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token-file", required=True, help="accepted bearer tokens, one per line, re-read per request")
    ap.add_argument("--history", type=int, default=10000, help="watch events kept; older resourceVersions get 410")
    ap.add_argument("--bookmark-interval", type=float, default=2.0)
    ap.add_argument("--client-ca", help="accept client certificates signed by this CA instead of a token")
    ap.add_argument("--log")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.ctx.load_cert_chain(a.cert, a.key)
    if a.client_ca:
        srv.ctx.load_verify_locations(a.client_ca)
        srv.ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.state = State(a.history, a.bookmark_interval)
    srv.token_file = a.token_file
    srv.logf = open(a.log, "a") if a.log else None
    with srv.state.lock:
        for n in ("default", "kube-system"):
            srv.state.create(BY_PATH[("", "v1", "namespaces")], "", {"metadata": {"name": n}})
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
