#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build one fuzz target with clang's libFuzzer (+ASan/UBSan) and fuzz it for a while.
# Usage: scripts/fuzz.sh NAME [SECONDS]   (NAME: tests/fuzz/fuzz-NAME.c; seeds: tests/fuzz/corpus/NAME
# and the test documents of tests/data the target reads, as tests/shell/fuzz-NAME.sh)
set -e
cd "$(dirname "$0")/.."
name=$1; secs=${2:-60}
[ -f build-fuzz/Makefile ] || { mkdir -p build-fuzz && (cd build-fuzz && CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" ../configure --enable-sanitizers >/dev/null); }
make -C build-fuzz -j"$(nproc)" lib/libpodfence.a >/dev/null
deps="$(pkg-config --cflags --libs libnetfilter_queue libnftnl libmnl libnetfilter_conntrack yajl sqlite3 yaml-0.1)"
clang -g -O1 -fsanitize=fuzzer,address,undefined -include build-fuzz/config.h -Ilib \
	"tests/fuzz/fuzz-$name.c" build-fuzz/lib/libpodfence.a $deps -o "build-fuzz/fuzz-$name"
mkdir -p "build-fuzz/corpus-$name"
case $name in
oci) seeds="tests/data/oci" ;;
json | yaml | policy) seeds="tests/fuzz/corpus/$name tests/data/policies" ;;
*) seeds="tests/fuzz/corpus/$name" ;;
esac
# shellcheck disable=SC2086 # $seeds is a list of directories
"build-fuzz/fuzz-$name" -max_total_time="$secs" "build-fuzz/corpus-$name" $seeds
