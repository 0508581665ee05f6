#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Nobody bound to the queue: with bypass (fail_mode=open) traffic flows; without bypass
# (fail_mode=closed) new connections are dropped, and flow again once a program binds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net-lib.sh"
net_setup
bg_ready "$SNS" "$TMP/server" listen "$S4" 8001
bg_ready "$SNS" "$TMP/server6" listen "$S6" 8001

in_c "$HELPER" install >/dev/null
expect_connect connected "$S4" 8001
expect_connect connected "$S6" 8001
pass "bypass on, nobody bound: traffic flows"

in_c "$HELPER" install --no-bypass >/dev/null
[ "$(pf_tables)" = 2 ] || fail "reinstall: $(in_c nft list tables)"
in_c nft list ruleset | grep -q 'queue num 1 bypass' && fail "bypass still set"
expect_connect timeout "$S4" 8001 1000
expect_connect timeout "$S6" 8001 1000
pass "bypass off, nobody bound: SYNs are dropped"

bg_ready "$CNS" "$TMP/verdicts" verdicts --queue 1
expect_connect connected "$S4" 8001
expect_connect connected "$S6" 8001
pass "bypass off, a program bound: traffic judged and accepted"

# Another queue number is another queue: a program on queue 1 does not serve queue 2.
in_c "$HELPER" install --no-bypass --queue 2 >/dev/null
expect_connect timeout "$S4" 8001 1000
in_c "$HELPER" remove >/dev/null
expect_connect connected "$S4" 8001
