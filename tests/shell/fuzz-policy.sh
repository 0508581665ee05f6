#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the policy fuzz target over its seeds plus deterministic mutations (run_fuzz in lib.sh).
. "$(dirname "$0")/lib.sh"
run_fuzz policy "$top_srcdir/tests/fuzz/corpus/policy" "$top_srcdir/tests/data/policies"
