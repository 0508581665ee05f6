#!/bin/bash
# Runs the packet-parser fuzz target over its corpus plus deterministic mutations
# (tests/fuzz/driver.c); scripts/fuzz.sh packet fuzzes it open-ended with libFuzzer.
. "$(dirname "$0")/lib.sh"
FUZZ=${FUZZ:-"$top_builddir/tests/fuzz/fuzz-packet"}
[ -x "$FUZZ" ] || fail "$FUZZ not built"
PF_FUZZ_ITERATIONS=${PF_FUZZ_ITERATIONS:-200000} $VALGRIND "$FUZZ" "$top_srcdir/tests/fuzz/corpus/packet"
pass "fuzz-packet: corpus and mutations ran clean"
