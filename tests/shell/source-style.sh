#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The source tree as a contributor meets it: every C file is formatted as .clang-format says
# (the check CI runs: clang-format, then no diff), and every source file carries its SPDX
# licence line.
. "$(dirname "$0")/lib.sh"
need_cmd clang-format
cd "$top_srcdir"
[ -f .clang-format ] || skip "no .clang-format in $top_srcdir"

# The C files we write (generated ones, e.g. an in-tree build's schema/schema.c, excluded).
mapfile -t c_files < <(find lib engine hook cli policy-sync tests bench -name '*.[ch]' \
	-not -path '*/corpus/*' | sort)
[ "${#c_files[@]}" -gt 50 ] || fail "only ${#c_files[@]} C files found under $top_srcdir"
bad=()
for f in "${c_files[@]}"; do
	clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
	for f in "${bad[@]:0:5}"; do
		echo "--- $f: clang-format would change it:" >&2
		clang-format --style=file "$f" | diff -u "$f" - | head -20 >&2
	done
	fail "${#bad[@]} file(s) not formatted (run: clang-format -i FILE): ${bad[*]:0:10}"
fi
pass "${#c_files[@]} C files formatted as .clang-format says"

mapfile -t src < <(find lib engine hook cli policy-sync tests bench schema scripts \
	\( -name '*.[ch]' -o -name '*.sh' -o -name '*.py' -o -name '*.sql' -o -name '*.am' \) \
	-not -path '*/corpus/*' -not -path 'tests/data/*' -not -name schema.c | sort)
missing=()
for f in "${src[@]}" configure.ac Makefile.am; do
	head -3 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' || missing+=("$f")
done
[ "${#missing[@]}" -eq 0 ] || fail "no SPDX line atop: ${missing[*]:0:10}"
pass "$(( ${#src[@]} + 2 )) source files carry SPDX-License-Identifier: GPL-2.0-or-later"
