#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian maintainer scripts keep CRI-O from ever seeing a hooks.d entry without its
# binary: postinst installs the entries only when the binary is there, prerm removes them
# first on remove (and keeps them on upgrade, when dpkg swaps the binary by rename).
# Run against a scratch root through DPKG_ROOT, as dpkg --root does.
. "$(dirname "$0")/lib.sh"
D=$top_srcdir/debian
for s in podfence.postinst podfence.prerm podfence.postrm; do sh -n "$D/$s" || fail "$s: syntax"; done
grep -q '^Package: podfence$' "$D/control" && grep -q 'debhelper-compat' "$D/control" || fail "control"
grep -q 'with-hooksdir=/usr/share/podfence/hooks.d' "$D/rules" || fail "rules: hooks.d files must be staged outside hooks.d"
pass "maintainer scripts parse; rules stage the hooks.d files"

R=$TMP/root
export DPKG_ROOT=$R
HD=$R/usr/share/containers/oci/hooks.d
mkdir -p "$R/usr/share/podfence/hooks.d" "$HD" "$R/usr/libexec/podfence"
echo '{}' >"$R/usr/share/podfence/hooks.d/podfence.json"
echo '{}' >"$R/usr/share/podfence/hooks.d/podfence-poststop.json"
run() { sed 's/^#DEBHELPER#$//' "$D/$1" >"$TMP/$1"; sh "$TMP/$1" "${@:2}"; }

run podfence.postinst configure
[ -z "$(ls -A "$HD")" ] || fail "postinst installed hooks.d entries without the binary"
printf '#!/bin/sh\n' >"$R/usr/libexec/podfence/podfence-hook"; chmod +x "$R/usr/libexec/podfence/podfence-hook"
run podfence.postinst configure
[ -f "$HD/podfence.json" ] && [ -f "$HD/podfence-poststop.json" ] || fail "postinst did not install the entries"
[ "$(ls -A "$HD" | wc -l)" = 2 ] || fail "temporary files left in hooks.d: $(ls -A "$HD")"
pass "postinst: entries only once the binary exists, no partial files"
run podfence.prerm upgrade 0.2.0
[ -f "$HD/podfence.json" ] || fail "prerm upgrade removed the entries"
run podfence.prerm remove
[ -z "$(ls -A "$HD")" ] || fail "prerm remove left entries"
run podfence.postrm purge
pass "prerm: entries kept on upgrade, removed first on remove"

# The rpm spec, filled at make time, follows the same order (%post / %preun).
spec=$top_builddir/packaging/rpm/podfence.spec
[ -f "$spec" ] || fail "packaging/rpm/podfence.spec not generated"
! grep -n '@[A-Za-z_]*@' "$spec" || fail "rpm spec: placeholder left"
grep -Eq '^Version: +[0-9]+\.[0-9]+' "$spec" || fail "rpm spec: Version"
grep -q '^%post$' "$spec" && grep -q '^%preun$' "$spec" && grep -q '%ghost.*hooks.d/podfence.json' "$spec" ||
	fail "rpm spec: hooks.d entries must be put in place by %post and owned as %ghost"
if command -v rpmspec >/dev/null 2>&1; then
	rpmspec -P "$spec" >/dev/null || fail "rpmspec -P"
fi
pass "rpm spec generated: version filled, hooks.d entries placed in %post"
