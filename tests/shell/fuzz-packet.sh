#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the packet-parser fuzz target over its corpus plus deterministic mutations (run_fuzz in
# lib.sh); scripts/fuzz.sh packet fuzzes it open-ended with libFuzzer.
. "$(dirname "$0")/lib.sh"
FUZZ_ITERATIONS=200000 run_fuzz packet "$top_srcdir/tests/fuzz/corpus/packet"
