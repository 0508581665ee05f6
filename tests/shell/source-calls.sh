#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Calls run one way inside every source directory: no file of a folder calls (or reads data of)
# a file of the same folder that calls it, directly or around a loop (doc/architecture.md).
# Read off the built objects: each undefined symbol is matched to the object of the same
# folder that defines it, and the graph's strongly connected components must be single files.
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
PY=${PYTHON3:-python3}
command -v nm >/dev/null || skip "nm (binutils) not installed"
for d in lib engine policy-sync cli; do
	ls "$top_builddir/$d"/*.o >/dev/null 2>&1 || skip "$d/ not built"
done
"$PY" - "$top_builddir" lib engine policy-sync cli hook <<'PYEOF' || fail "a call cycle inside a folder (above)"
import glob, os, subprocess, sys

def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDRB":
            defined.add(f[2])
        elif len(f) == 2 and f[0] == "U":
            used.add(f[1])
    return defined, used

bad = False
for folder in sys.argv[2:]:
    objs = sorted(glob.glob(os.path.join(sys.argv[1], folder, "*.o")))
    # automake names a library's objects TARGET-FILE.o: the file is what follows the first '-'
    name = lambda o: os.path.basename(o).split("-", 1)[-1]
    info = {name(o): symbols(o) for o in objs}
    owner = {s: f for f, (d, _) in info.items() for s in d}
    edges = {f: {owner[s] for s in u if s in owner and owner[s] != f} for f, (_, u) in info.items()}
    index, low, stack, on, count, cycles = {}, {}, [], set(), [0], []

    def visit(v):
        index[v] = low[v] = count[0]
        count[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(info):
        if v not in index:
            visit(v)
    print(f"{folder}/: {len(info)} objects, {sum(len(e) for e in edges.values())} calls between them")
    for c in cycles:
        bad = True
        print(f"  cycle: {' <-> '.join(c)}")
        for f in c:
            print(f"    {f} -> {' '.join(sorted(edges[f] & set(c)))}")
sys.exit(1 if bad else 0)
PYEOF
pass "no call cycle between the files of any folder"
