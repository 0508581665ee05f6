#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The native nft queue backend (family inet), where the kernel has it (CONFIG_NFT_QUEUE).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup
backend=$(in_c "$HELPER" probe)
in_c nft list tables | grep -q probe && fail "probe left a table behind"
[ "$backend" = native ] || skip "kernel has no native nft queue expression (probe: $backend)"

bg_ready "$SNS" "$TMP/server" listen "$S4" 8001 8002 8003
bg_ready "$SNS" "$TMP/server6" listen "$S6" 8001 8002 8003
in_c "$HELPER" install --backend native >/dev/null
in_c "$HELPER" install --backend native >/dev/null
[ "$(pf_tables)" = 1 ] || fail "want one inet table: $(in_c nft list tables)"
in_c nft list ruleset | grep -q 'queue.* num 1 bypass' || fail "no queue rule"
bg_ready "$CNS" "$TMP/verdicts" verdicts --queue 1 --accept 8001 --drop 8002 --reject 8003
for dst in "$S4" "$S6"; do
	expect_connect connected "$dst" 8001
	expect_connect timeout "$dst" 8002 1000
	expect_connect refused "$dst" 8003 3000
done
in_c "$HELPER" remove >/dev/null
[ "$(pf_tables)" = 0 ] || fail "remove left tables"
