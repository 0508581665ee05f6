#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the DNS answer parser's fuzz target over its corpus plus deterministic mutations
# (run_fuzz in lib.sh); scripts/fuzz.sh dns fuzzes it open-ended with libFuzzer.
. "$(dirname "$0")/lib.sh"
FUZZ_ITERATIONS=200000 run_fuzz dns "$top_srcdir/tests/fuzz/corpus/dns"
