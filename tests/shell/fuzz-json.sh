#!/bin/bash
# Runs the json fuzz target over its corpus plus deterministic mutations (tests/fuzz/driver.c).
. "$(dirname "$0")/lib.sh"
FUZZ=${FUZZ:-"$top_builddir/tests/fuzz/fuzz-json"}
[ -x "$FUZZ" ] || fail "$FUZZ not built"
PF_FUZZ_ITERATIONS=${PF_FUZZ_ITERATIONS:-20000} "$FUZZ" "$top_srcdir/tests/fuzz/corpus/json"
pass "fuzz-json: corpus and mutations ran clean"
