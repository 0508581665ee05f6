#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what podfence needs to build and test on Debian 12 (run as root).
set -e
export DEBIAN_FRONTEND=noninteractive
PKGS="
build-essential autoconf automake pkg-config git ca-certificates
libnetfilter-queue-dev libnftnl-dev libmnl-dev libyajl-dev libsqlite3-dev libyaml-dev
libcurl4-openssl-dev libnetfilter-conntrack-dev dnsmasq-base
sqlite3 nftables iproute2 procps psmisc openssl python3 python3-yaml systemd clang-format
runc podman busybox-static containernetworking-plugins uidmap
prometheus graphviz curl
containerd python3-grpcio python3-protobuf protobuf-compiler
debhelper dh-autoreconf lintian rpm xz-utils debootstrap systemd-container util-linux
"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
