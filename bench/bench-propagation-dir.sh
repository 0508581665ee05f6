#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Policy propagation end to end in standalone mode: podfence-sync --policy-dir telling
# podfenced to reload, a pod connecting in a loop; a policy file is rewritten (written aside,
# renamed into place, as an editor or a config tool does) toggling Allow <-> Deny, N times,
# the first change right after start; measured from the rename to the first connect begun
# after it that gets the new verdict (connects of 20 ms timeout, back to back). Prints p50,
# p99, max and the first change's time. Extra rules: RULES (default 10,000) in other policies.
# Usage: top_builddir=BUILD bench/bench-propagation-dir.sh [N]   (or `make bench-propagation-dir`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
N=${1:-20}
RULES=${RULES:-10000}
engine_need
[ -x "$PODFENCE_SYNC" ] || skip "podfence-sync not built"
setup_server
add_pod 1
POLDIR=$TMP/policies
mkdir -p "$POLDIR"
filler_policies "$POLDIR/filler.yaml" others $(((RULES + 249) / 250))
pol() {
	cat <<YAML
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: bench}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: $1
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 80}]
YAML
}
pol Allow >"$POLDIR/web.yaml"
start_engine
bg_start "$PODFENCE_SYNC" --policy-dir "$POLDIR" --db "$DB" --socket "$SOCK" 2>"$TMP/sync.log"
register "$POD" bench web c-web
wait_until 100 ctl_ok '{"op":"status"}' || fail "engine"
expect "$POD" 10.99.0.1 80 ok
pol Deny >"$TMP/deny.yaml"
pol Allow >"$TMP/allow.yaml"
ip netns exec "$POD" "$PY" - "$POLDIR/web.yaml" "$TMP/deny.yaml" "$TMP/allow.yaml" "$N" <<'PYEOF'
import os, shutil, socket, statistics, sys, time
target, deny, allow, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def ok():
    s = socket.socket(); s.settimeout(0.02)
    try:
        s.connect(("10.99.0.1", 80)); return True
    except OSError:
        return False
    finally:
        s.close()
ms = []
for k in range(n):
    want_ok = k % 2 == 1          # first change: Allow -> Deny
    src = allow if want_ok else deny
    shutil.copy(src, target + ".tmp")
    t = time.monotonic()
    os.rename(target + ".tmp", target)
    while True:
        t1 = time.monotonic()
        if ok() == want_ok and t1 >= t:
            break
        if t1 - t > 10:
            sys.exit("change %d not seen in 10 s" % k)
    ms.append((t1 - t) * 1000)
    time.sleep(0.2)
s = sorted(ms)
print("policy file renamed -> first connect begun after it with the new verdict, %d changes (ms)" % n)
print("p50 %.1f  p99 %.1f  max %.1f  first change after start %.1f"
      % (statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.99))], s[-1], ms[0]))
PYEOF
