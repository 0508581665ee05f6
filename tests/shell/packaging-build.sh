#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The packages build the way users build them, from the tree `make dist` packs (nothing built
# in it): `dpkg-buildpackage -b -us -uc` at its top, `rpmbuild -ta` on its tarball. Checks what
# is inside (the listings a packager reads) and leaves the .debs in tests/packages/ for the
# systemd-*.sh tests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pkg-lib.sh"
need_cmd dpkg-buildpackage dh lintian rpmbuild rpm xz

# Nothing stale for the systemd-*.sh tests if this build fails.
rm -rf "$PF_PKG_OUT"
pf_distdir "$TMP/dist" || fail "make distdir"
src=$TMP/dist/podfence-$PF_VERSION
tar -C "$TMP/dist" -cJf "$TMP/podfence-$PF_VERSION.tar.xz" "podfence-$PF_VERSION"
[ "$(tar -tJf "$TMP/podfence-$PF_VERSION.tar.xz" | grep -c '\.spec$')" = 1 ] ||
	fail "the tarball must hold exactly one .spec (rpmbuild -ta reads every one it finds)"
[ -f "$src/debian/control" ] || fail "debian/ missing from the dist tree"
pass "dist tree holds debian/ and the generated spec"

# --- deb ---
mkdir -p "$TMP/deb"
cp -a "$src" "$TMP/deb/"
# nocheck (here only): the unit tests the package builds run would repeat what this very
# `make check` runs. One job: make check already runs tests side by side, some of them timed.
(cd "$TMP/deb/podfence-$PF_VERSION" && DEB_BUILD_OPTIONS="parallel=1 nocheck" pf_clean_env \
	dpkg-buildpackage -b -us -uc) >"$TMP/deb.log" 2>&1 || { tail -40 "$TMP/deb.log"; fail "dpkg-buildpackage"; }
deb=$TMP/deb/podfence_${PF_VERSION}_$(dpkg --print-architecture).deb
[ -f "$deb" ] && ls "$TMP/deb"/podfence-dbgsym_"$PF_VERSION"_*.deb >/dev/null || fail "podfence and podfence-dbgsym .debs"
pass "dpkg-buildpackage -b -us -uc: podfence and podfence-dbgsym"

lintian --fail-on error "$TMP/deb"/podfence_*.changes >"$TMP/lintian" 2>&1 || { cat "$TMP/lintian"; fail "lintian reports errors"; }
! grep '^E:' "$TMP/lintian" || fail "lintian errors"
pass "lintian: no errors ($(grep -c '^W:' "$TMP/lintian" || true) warnings)"

dpkg -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$TMP/deb.files"
for f in /usr/sbin/podfenced /usr/sbin/podfence-sync /usr/bin/podfencectl \
	/usr/libexec/podfence/podfence-hook /lib/systemd/system/podfenced.service \
	/lib/systemd/system/podfence-sync.service /usr/lib/tmpfiles.d/podfence.conf \
	/usr/share/podfence/hooks.d/podfence.json /usr/share/podfence/hooks.d/podfence-poststop.json \
	/usr/share/podfence/schema/001-initial.sql /etc/podfence/podfence.conf /etc/default/podfence-sync \
	/usr/share/man/man8/podfenced.8.gz /usr/share/man/man8/podfence-hook.8.gz \
	/usr/share/man/man5/fencepolicy.5.gz /usr/share/man/man5/podfence.conf.5.gz \
	/usr/share/doc/podfence/README.Debian /usr/share/doc/podfence/containerd.md; do
	grep -qx "$f" "$TMP/deb.files" || fail "the .deb lacks $f"
done
# The live hooks.d entries are the postinst's to place, never dpkg's to unpack.
! grep -q '^/usr/share/containers/oci/hooks.d/.' "$TMP/deb.files" || fail "the .deb unpacks into hooks.d"
dpkg-deb -f "$deb" Depends | grep -q libnetfilter-queue1 || fail "Depends lacks the shared libraries"
dpkg-deb -I "$deb" conffiles | sort >"$TMP/conffiles"
printf '%s\n' /etc/default/podfence-sync /etc/podfence/podfence.conf | cmp -s - "$TMP/conffiles" ||
	fail "conffiles: $(cat "$TMP/conffiles")"
pass "deb: programs, units, tmpfiles.d, staged hooks.d files, man pages; two conffiles"
mkdir -p "$PF_PKG_OUT"
rm -f "$PF_PKG_OUT"/*.deb
cp "$TMP/deb"/*.deb "$PF_PKG_OUT/"

# --- rpm ---
# Debian's rpm database lists no packages, so BuildRequires cannot be checked here.
nodeps=
rpm -q --whatprovides /bin/sh >/dev/null 2>&1 || nodeps=--nodeps
pf_clean_env rpmbuild -ta $nodeps --nocheck --define "_smp_mflags -j1" --define "_topdir $TMP/rpmbuild" \
	"$TMP/podfence-$PF_VERSION.tar.xz" >"$TMP/rpm.log" 2>&1 || { tail -40 "$TMP/rpm.log"; fail "rpmbuild -ta"; }
rpmf=$(ls "$TMP"/rpmbuild/RPMS/*/podfence-"$PF_VERSION"-*.rpm | head -1)
[ -f "$rpmf" ] && ls "$TMP"/rpmbuild/SRPMS/podfence-"$PF_VERSION"-*.src.rpm >/dev/null || fail "binary and source rpm"
pass "rpmbuild -ta podfence-$PF_VERSION.tar.xz: $(basename "$rpmf") and the source rpm"
rpm -qlp "$rpmf" 2>/dev/null >"$TMP/rpm.files"
for f in /usr/sbin/podfenced /usr/sbin/podfence-sync /usr/bin/podfencectl \
	/usr/libexec/podfence/podfence-hook /usr/lib/systemd/system/podfenced.service \
	/usr/lib/systemd/system/podfence-sync.service /usr/lib/tmpfiles.d/podfence.conf \
	/usr/share/podfence/hooks.d/podfence.json /etc/podfence/podfence.conf /etc/default/podfence-sync \
	/var/lib/podfence /usr/share/man/man8/podfenced.8 /usr/share/man/man5/fencepolicy.5; do
	grep -q "^$f\(\.gz\)\?$" "$TMP/rpm.files" || fail "the rpm lacks $f"
done
rpm -qp --configfiles "$rpmf" 2>/dev/null | sort >"$TMP/rpmconf"
printf '%s\n' /etc/default/podfence-sync /etc/podfence/podfence.conf | cmp -s - "$TMP/rpmconf" ||
	fail "rpm %config files: $(cat "$TMP/rpmconf")"
for f in /etc/default/podfence-sync /etc/podfence/podfence.conf; do
	rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpmf" 2>/dev/null | grep -qx "cn $f" ||
		fail "$f is not %config(noreplace)"
done
rpm -qp --scripts "$rpmf" 2>/dev/null >"$TMP/scripts"
grep -q 'systemctl' "$TMP/scripts" && grep -q 'systemd-tmpfiles --create' "$TMP/scripts" ||
	fail "rpm scriptlets lack the systemd and tmpfiles steps: $(cat "$TMP/scripts")"
cp "$rpmf" "$PF_PKG_OUT/"
pass "rpm: same files, %config(noreplace) configuration, systemd and tmpfiles scriptlets"
