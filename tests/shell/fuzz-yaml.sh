#!/bin/bash
# Runs the yaml fuzz target over its corpus plus deterministic mutations (tests/fuzz/driver.c).
. "$(dirname "$0")/lib.sh"
FUZZ=${FUZZ:-"$top_builddir/tests/fuzz/fuzz-yaml"}
[ -x "$FUZZ" ] || fail "$FUZZ not built"
PF_FUZZ_ITERATIONS=${PF_FUZZ_ITERATIONS:-20000} "$FUZZ" "$top_srcdir/tests/fuzz/corpus/yaml"
pass "fuzz-yaml: corpus and mutations ran clean"
