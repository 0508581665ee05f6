#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Address families never mix: IPv4 is held as ::ffff:a.b.c.d, so an IPv6 prefix such as ::/0
# covers it bit-wise, yet [Allow ::/0, Reject] must refuse an IPv4 connect; and an IPv4
# 0.0.0.0/0 Allow lets no IPv6 connect through.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need

setup_server
add_pod 1; SIX=$POD
add_pod 2; FOUR=$POD

cat >"$TMP/policy.yaml" <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: v6-only, namespace: fam}
spec:
  appliesTo: [{kind: Pod, name: six}]
  egress:
  - action: Allow
    to: [{cidr: "::/0"}]
  - action: Reject
---
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: v4-only, namespace: fam}
spec:
  appliesTo: [{kind: Pod, name: four}]
  egress:
  - action: Reject
    to: [{cidr: "::/80"}]
  - action: Allow
    to: [{cidr: 0.0.0.0/0}]
  - action: Reject
YAML
load_policies "$TMP/policy.yaml" || fail "loading policies"

start_engine --default-action Allow
register "$SIX" fam six c-six-1
register "$FOUR" fam four c-four-1

expect "$SIX" 10.99.0.1 80 refused   # ::/0 holds no IPv4 address: the Reject decides
expect "$SIX" 10.99.1.1 443 refused
expect "$SIX" fd99::1 80 ok 5   # (a first IPv6 SYN can wait for neighbour discovery)
expect "$SIX" fd99::2 443 ok 5
expect "$FOUR" 10.99.0.1 80 ok 5     # ::/80 covers ::ffff:0:0/96 bit-wise, not IPv4
expect "$FOUR" fd99::1 80 refused    # 0.0.0.0/0 holds no IPv6 address

out=$($PODFENCECTL --config /dev/null --db "$DB" --socket "$SOCK" explain --from fam/six --to 10.99.0.1 --port 80)
echo "$out" | grep -q 'rule 1: Reject' || fail "explain for six -> 10.99.0.1: $out"
pass "podfencectl explain agrees"
engine_finish
