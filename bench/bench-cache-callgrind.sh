#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Instructions per verdict lookup counted by callgrind, for machines where perf_event_open
# has no hardware counter (VMs). Usage: bench-cache-callgrind.sh [path/to/bench-cache] [RULES...]
set -eu
prog=${1:-bench/bench-cache}
[ $# -gt 0 ] && shift
sizes=${*:-10 1000 100000}
queries=${QUERIES:-2048}
if ! command -v valgrind >/dev/null 2>&1; then
	echo "# callgrind: valgrind not installed, instruction counts n/a"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# instructions per lookup (callgrind, inclusive, $queries connections)"
printf '%7s %11s %12s\n' rules cache_insn naive_insn
for n in $sizes; do
	line=$(printf '%7s' "$n")
	for m in cache naive; do
		case $m in
		cache) fn=pf_cache_lookup ;;
		naive) fn=pf_ruleset_eval ;;
		esac
		valgrind --tool=callgrind --callgrind-out-file="$tmp/out" --collect-atstart=no \
			--toggle-collect="$fn" "$prog" --rules "$n" --queries "$queries" --only "$m" \
			>/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
		ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$tmp/out" | head -1)
		line="$line $(awk -v ir="$ir" -v q="$queries" 'BEGIN { printf "%11.0f", ir / q }')"
	done
	echo "$line"
done
