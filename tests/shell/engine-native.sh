#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The native nftables queue path (family inet), where the kernel has it (CONFIG_NFT_QUEUE);
# skipped otherwise. The compat path is what every other engine-*.sh test runs here.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
setup_web_pod
load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    ports: [{port: 80}]
  - action: Reject
    ports: [{port: 443}]
  - action: Deny
YAML
start_engine
backend=$(status_field 's["backend"]')
[ "$backend" = native ] || skip "kernel lacks the native nft queue expression (engine uses $backend)"
register "$WEB" shop web c-web
ip netns exec "$WEB" nft list table inet podfence >/dev/null || fail "no inet table"
expect "$WEB" 10.99.0.1 80 ok
expect "$WEB" 10.99.0.1 443 refused
expect "$WEB" fd99::1 443 refused
expect "$WEB" 10.99.0.1 8080 timeout
