#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# podfence-hook's command line: --help, --version, usage errors, config file keys.
. "$(dirname "$0")/lib.sh"
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
H=$PODFENCE_HOOK

out=$("$H" --help); echo "$out" | grep -q "Usage: podfence-hook" || fail "--help"
echo "$out" | grep -q -- "--fail-mode" || fail "--help lists --fail-mode"
pass "--help"
"$H" --version | grep -Eq '^podfence-hook [0-9]' || fail "--version"
pass "--version"

rc=0; "$H" --fail-mode sideways prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] || fail "bad --fail-mode: exit $rc, want 2"
grep -q "open or closed" "$TMP/err" || fail "bad --fail-mode message: $(cat "$TMP/err")"
rc=0; "$H" --timeout 0 prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] || fail "--timeout 0: exit $rc"
rc=0; "$H" --timeout 12abc prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] || fail "--timeout 12abc: exit $rc"
rc=0; "$H" poststart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && grep -q "unknown stage 'poststart'" "$TMP/err" || fail "unknown stage: exit $rc, $(cat "$TMP/err")"
rc=0; "$H" prestart extra </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] || fail "two stages: exit $rc"
rc=0; "$H" --bogus prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] || fail "unknown option: exit $rc"
pass "usage errors exit 2 with a message"

# An explicit --config must exist; its errors name file and line.
rc=0; "$H" --config "$TMP/none.conf" prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && grep -q "none.conf" "$TMP/err" || fail "missing --config: exit $rc $(cat "$TMP/err")"
printf 'socket = /x\nfail_mode = maybe\n' >"$TMP/bad.conf"
rc=0; "$H" --config "$TMP/bad.conf" prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && grep -q "bad.conf:2: fail_mode" "$TMP/err" || fail "bad fail_mode in file: $(cat "$TMP/err")"
printf 'no equals sign\n' >"$TMP/bad2.conf"
rc=0; "$H" --config "$TMP/bad2.conf" prestart </dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && grep -q "bad2.conf:1" "$TMP/err" || fail "config syntax error: $(cat "$TMP/err")"
pass "config file errors name the file"
