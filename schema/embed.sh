#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Turn the numbered migrations schema/NNN-name.sql into a C table (schema.c) so the store
# applies them at open without reading files at run time. Versions must run 1, 2, 3, ...
set -e
n=0
for f in "$@"; do
	n=$((n + 1))
	base=${f##*/}
	v=$(printf '%s' "$base" | sed -n 's/^0*\([0-9][0-9]*\)-[A-Za-z0-9_-]*\.sql$/\1/p')
	if [ "$v" != "$n" ]; then
		echo "embed.sh: $f: expected migration number $n (files NNN-name.sql, in order)" >&2
		exit 1
	fi
done
[ "$n" -gt 0 ] || { echo "embed.sh: no migrations" >&2; exit 1; }

echo '/* Generated from the schema/NNN-name.sql migrations by schema/embed.sh: do not edit. */'
echo '#include "store.h"'
echo ''
echo 'const struct pf_schema_migration pf_schema_migrations[] = {'
awk '
function flush() {
	if (file != "")
		printf "\t},\n"
}
FNR == 1 {
	flush()
	file = FILENAME
	sub(/.*\//, "", file)
	ver = file
	sub(/-.*/, "", ver)
	printf "\t{\n\t\t.version = %d,\n\t\t.name = \"%s\",\n\t\t.sql =\n", ver + 0, file
}
{
	line = $0
	gsub(/\\/, "\\\\", line)
	gsub(/"/, "\\\"", line)
	gsub(/\t/, "\\t", line)
	printf "\t\t\t\"%s\\n\"\n", line
}
END { flush() }
' "$@"
echo '};'
echo "const size_t pf_schema_n_migrations = $n;"
