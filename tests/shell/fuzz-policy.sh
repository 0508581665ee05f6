#!/bin/bash
# Runs the policy fuzz target over its corpus plus deterministic mutations (tests/fuzz/driver.c).
. "$(dirname "$0")/lib.sh"
FUZZ=${FUZZ:-"$top_builddir/tests/fuzz/fuzz-policy"}
[ -x "$FUZZ" ] || fail "$FUZZ not built"
PF_FUZZ_ITERATIONS=${PF_FUZZ_ITERATIONS:-20000} "$FUZZ" "$top_srcdir/tests/fuzz/corpus/policy"
pass "fuzz-policy: corpus and mutations ran clean"
