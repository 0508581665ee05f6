#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How podfence-sync reaches the API server: kubeconfig with a bearer token, a client
# certificate (inline data or files relative to the kubeconfig), the in-cluster service
# account; and what it refuses: an unknown CA, a bad token, insecure-skip-tls-verify.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/kube/lib-kube.sh"
kube_certs
# A client CA and a client certificate signed by it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=client-ca" -keyout "$KDIR/client-ca.key" -out "$KDIR/client-ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=podfence-sync" \
	-keyout "$KDIR/client.key" -out "$KDIR/client.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$KDIR/client-ext.cnf"
openssl x509 -req -in "$KDIR/client.csr" -CA "$KDIR/client-ca.crt" -CAkey "$KDIR/client-ca.key" \
	-CAcreateserial -days 2 -extfile "$KDIR/client-ext.cnf" -out "$KDIR/client.crt" 2>/dev/null
cp "$KDIR/token" "$KDIR/token.keep"
kube_start --client-ca "$KDIR/client-ca.crt"
# kube_start made new server certificates; the client ones above stay valid.
y_ns shop | kapply create
y_pod shop a "10.1.0.1" | kapply create

sync_once() { $VALGRIND "$PODFENCE_SYNC" --kube --db "$DB" --once "$@"; }
pods_in_store() { q "SELECT count(*) FROM workload WHERE kind = 'Pod' AND name = 'a'"; }

sync_once --kubeconfig "$KCFG" 2>"$TMP/err" || { cat "$TMP/err"; fail "token kubeconfig"; }
[ "$(pods_in_store)" = 1 ] || fail "pod not in the store"
pass "kubeconfig with a token and certificate-authority-data"

rm -f "$DB"
mkdir -p "$KDIR/rel"
cp "$KDIR/client.crt" "$KDIR/client.key" "$KDIR/ca.crt" "$KDIR/rel/"
cat >"$KDIR/rel/config" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$KSERVER", certificate-authority: ca.crt}
users:
- name: u
  user: {client-certificate: client.crt, client-key: client.key}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
EOC
sync_once --kubeconfig "$KDIR/rel/config" 2>"$TMP/err" || { cat "$TMP/err"; fail "client certificate files"; }
[ "$(pods_in_store)" = 1 ] || fail "pod not in the store"
pass "client certificate and CA as files relative to the kubeconfig"

rm -f "$DB"
kube_write_config "$KDIR/cfg-data" "client-certificate-data: $(base64 -w0 "$KDIR/client.crt")
    client-key-data: $(base64 -w0 "$KDIR/client.key")"
sync_once --kubeconfig "$KDIR/cfg-data" 2>"$TMP/err" || { cat "$TMP/err"; fail "client certificate data"; }
pass "client certificate as inline data"

rm -f "$DB"
mkdir -p "$TMP/sa"
cp "$KDIR/ca.crt" "$TMP/sa/ca.crt"
head -1 "$KDIR/token" >"$TMP/sa/token"
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$KPORT PODFENCE_SERVICEACCOUNT_DIR=$TMP/sa \
	sync_once 2>"$TMP/err" || { cat "$TMP/err"; fail "in-cluster"; }
[ "$(pods_in_store)" = 1 ] || fail "pod not in the store"
pass "in-cluster service account (token, ca.crt, KUBERNETES_SERVICE_HOST/PORT)"

rc=0
(unset KUBERNETES_SERVICE_HOST; sync_once 2>"$TMP/err") || rc=$?
[ "$rc" = 2 ] && grep -q -- --kubeconfig "$TMP/err" || fail "outside a cluster without --kubeconfig: exit $rc, want 2"
rc=0
sync_once --kubeconfig "$TMP/nonexistent" 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -q nonexistent "$TMP/err" || fail "missing kubeconfig: exit $rc, want 2"
sed 's/^    server:/    insecure-skip-tls-verify: true\n    server:/' "$KCFG" >"$KDIR/cfg-insecure"
rc=0
sync_once --kubeconfig "$KDIR/cfg-insecure" 2>"$TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -q insecure-skip-tls-verify "$TMP/err" || { cat "$TMP/err"; fail "insecure-skip-tls-verify: exit $rc, want 2"; }
pass "usage errors exit 2 and name the problem (no kubeconfig, missing file, insecure-skip-tls-verify)"

# A CA that did not sign the server's certificate.
sed "s|certificate-authority-data: .*|certificate-authority-data: $(base64 -w0 "$KDIR/client-ca.crt")|" "$KCFG" >"$KDIR/cfg-wrongca"
rc=0
sync_once --kubeconfig "$KDIR/cfg-wrongca" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -qi 'certificate' "$TMP/err" || { cat "$TMP/err"; fail "unknown CA: exit $rc, want 1"; }
kube_write_config "$KDIR/cfg-badtoken" "token: not-the-token"
rc=0
sync_once --kubeconfig "$KDIR/cfg-badtoken" 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -q '401' "$TMP/err" || { cat "$TMP/err"; fail "bad token: exit $rc, want 1"; }
pass "an unverifiable server and a refused token fail (exit 1) with the reason"
