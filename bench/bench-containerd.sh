#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What podfence adds to a containerd pod start (RunPodSandbox + StartContainer over the CRI):
# a private containerd (tests/shell/containerd-lib.sh) with two runtime handlers, "nohook"
# (the shipped base runtime spec without its hooks: containerd's default spec) and "runc" (the
# shipped spec with podfence-hook, fail_mode closed, a running podfenced and a policy for the
# pods' namespace), N pods each, interleaved; medians side by side (bench/bench-containerd.py).
# Usage: top_builddir=BUILD bench/bench-containerd.sh [N]      (or `make bench-containerd`)
top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
. "$top_srcdir/tests/shell/lib.sh"
. "$top_srcdir/tests/shell/engine-lib.sh"
. "$top_srcdir/tests/shell/runtime-lib.sh"
. "$top_srcdir/tests/shell/containerd-lib.sh"
N=${1:-${N:-30}}
cd_setup closed nohook=none
load_policy_yaml <<YAML
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: bench, namespace: bench}
spec:
  appliesTo: [{kind: Namespace, name: bench}]
  egress:
  - action: Reject
    to: [{cidr: $SERVER_IP}]
    ports: [{port: 443}]
YAML
start_engine
# The hooks ran: the engine enforced every "runc" pod (and no other).
"$PY" "$top_srcdir/bench/bench-containerd.py" "$CD_SOCK" "$N" "$TMP/logs" "$CGROUP_PARENT" nohook runc ||
	fail "bench-containerd.py"
n=$(grep -c 'Enforcing pod bench/bench-runc-' "$ENGINE_LOG" || true)
m=$(grep -c 'Enforcing pod bench/bench-nohook-' "$ENGINE_LOG" || true)
echo "pods enforced: runc $n of $N, nohook $m of $N"
[ "$n" = "$N" ] && [ "$m" = 0 ] || fail "the hooks did not run as configured"
engine_finish >/dev/null
