#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A stand-in for podfenced's control socket (lib/ctl.h protocol: SOCK_SEQPACKET, one JSON
object per message) for hook tests that must not depend on the engine.
Usage: mock-engine.py SOCKET LOG MODE   MODE: ok | refuse | silent | backlog
Each request is appended to LOG as one line; ok answers {"ok":true}, refuse answers
{"ok":false,"error":"mock refusal"}, silent never answers, backlog keeps its listen queue
full for 1.5 s, then answers like ok."""
import json, os, socket, sys

path, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(16)
if mode == "backlog":
    # A listen queue full for a while (an engine busy with a burst of registrations):
    # then it answers like ok.
    import time
    s.listen(0)
    fill = []
    for i in range(4):
        f = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        f.setblocking(False)
        try:
            f.connect(path)
            f.send(b"{}")
        except OSError:
            break
        fill.append(f)
    open(path + ".ready", "w").close()
    time.sleep(1.5)
    mode = "ok"
else:
    open(path + ".ready", "w").close()
held = []
while True:
    c, _ = s.accept()
    msg = c.recv(65536)
    with open(log, "a") as f:
        f.write(msg.decode() + "\n")
    if mode == "ok":
        c.send(json.dumps({"ok": True}).encode())
    elif mode == "refuse":
        c.send(json.dumps({"ok": False, "error": "mock refusal"}).encode())
    else:
        held.append(c)
        continue
    c.close()
