#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test command: install dependencies, build (strict warnings, ASan+UBSan), run `make check`,
# and print one summary line `N passed, N failed, N skipped`.
# Usage: scripts/test.sh [--no-sanitizers] [make-check-args...]
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
san=--enable-sanitizers
if [ "${1:-}" = --no-sanitizers ]; then san=; shift; fi

if [ "$(id -u)" = 0 ]; then
	scripts/install-deps.sh
fi
[ -x configure ] || autoreconf -fi >/dev/null
build=$top/build-test
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" --enable-werror $san >configure.out 2>&1 || { tail -30 configure.out; exit 1; }
fi
make -j"$(nproc)" >make.out 2>&1 || { grep -E 'error|warning' make.out | head -50; tail -20 make.out; exit 1; }
rc=0
# Results of tests that no longer exist (renamed, removed) must not be counted.
find . -name '*.trs' -delete
make -j"$(nproc)" check "$@" >check.out 2>&1 || rc=$?
# Per-case results from the automake harness: one `:test-result:` line per TAP case of a unit
# test (tests/unit/tap.h), one per shell test (exit 77 is SKIP). A test with a failed or
# erroring case is listed with its log.
pass=0; fail=0; skip=0
while IFS= read -r trs; do
	name=${trs%.trs}; name=${name#./}
	bad=0
	while read -r res rest; do
		case "$res" in
		PASS|XFAIL) pass=$((pass + 1)) ;;
		SKIP) skip=$((skip + 1)); echo "SKIP: $name${rest:+ $rest}" ;;
		*) fail=$((fail + 1)); bad=1; echo "$res: $name${rest:+ $rest}" ;;
		esac
	done < <(sed -n 's/^:test-result: //p' "$trs")
	if [ "$bad" = 1 ] && [ -f "$name.log" ]; then tail -40 "$name.log" | sed 's/^/    /'; fi
done < <(find . -name '*.trs' | sort)
if [ $((pass + fail + skip)) -eq 0 ]; then
	tail -30 check.out
	fail=1
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$rc" -eq 0 ]
