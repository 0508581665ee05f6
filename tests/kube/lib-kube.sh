# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Sourced by tests/shell/kube-*.sh after tests/shell/lib.sh: a CA and server certificate made
# with openssl, a bearer token, the test API server on a free loopback port, a kubeconfig for
# kubectl and podfence-sync, and helpers to drive both.
need_cmd openssl sqlite3
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
[ -n "$KUBECTL" ] && [ -x "$KUBECTL" ] || skip "needs kubectl"
PYTHON3=${PYTHON3:-python3}
command -v "$PYTHON3" >/dev/null 2>&1 || skip "needs python3"
APISERVER="$top_srcdir/tests/kube/apiserver.py"
KDIR=$TMP/kube
DB=$TMP/podfence.db
KCFG=$KDIR/kubeconfig

kube_certs() {
	mkdir -p "$KDIR"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=podfence-test-ca" -keyout "$KDIR/ca.key" -out "$KDIR/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=127.0.0.1" -keyout "$KDIR/server.key" -out "$KDIR/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		>"$KDIR/ext.cnf"
	openssl x509 -req -in "$KDIR/server.csr" -CA "$KDIR/ca.crt" -CAkey "$KDIR/ca.key" \
		-CAcreateserial -days 2 -extfile "$KDIR/ext.cnf" -out "$KDIR/server.crt" 2>/dev/null
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KDIR/token"
	echo >>"$KDIR/token"
}

# kube_start [apiserver args...]: start the server; KPORT, KSERVER, KCFG set.
kube_start() {
	kube_certs
	rm -f "$KDIR/port"
	bg_start "$PYTHON3" "$APISERVER" --cert "$KDIR/server.crt" --key "$KDIR/server.key" \
		--token-file "$KDIR/token" --port-file "$KDIR/port" --log "$KDIR/apiserver.log" "$@"
	KPID=$BG_PID
	wait_until 100 test -s "$KDIR/port" || fail "test API server did not start"
	KPORT=$(cat "$KDIR/port")
	KSERVER="https://127.0.0.1:$KPORT"
	kube_write_config "$KCFG" "token: $(head -1 "$KDIR/token")"
}

# kube_write_config FILE USER-LINE: a kubeconfig with the CA inline (base64), as kubeadm writes.
kube_write_config() {
	cat >"$1" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $KSERVER
    certificate-authority-data: $(base64 -w0 "$KDIR/ca.crt")
users:
- name: tester
  user:
    $2
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: test
  context:
    cluster: test
    user: tester
    namespace: default
current-context: test
EOC
}

kc() { "$KUBECTL" --kubeconfig "$KCFG" --cache-dir "$KDIR/cache" --request-timeout=20s "$@"; }
# kubectl create/replace from stdin; the test server has no OpenAPI schema to validate with.
kapply() { local verb=$1; shift; kc "$verb" --validate=false -f - "$@" >/dev/null; }

# POST a JSON body (or @FILE) to the server's control endpoint (faults, bulk objects).
kube_control() {
	"$PYTHON3" - "$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")" "$1" <<'EOP'
import ssl, sys, urllib.request
srv, ca, tok, body = sys.argv[1:5]
if body.startswith("@"):
    body = open(body[1:]).read()
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request(srv + "/_control", data=body.encode(), method="POST",
                             headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
print(urllib.request.urlopen(req, context=ctx, timeout=20).read().decode())
EOP
}

# YAML generators for the objects tests create.
y_ns() { printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$1"; }
# y_owned KIND NS NAME OWNER-KIND OWNER-NAME: an apps/batch object owned by another.
y_obj() {
	local kind=$1 ns=$2 name=$3 okind=${4:-} oname=${5:-} api
	case $kind in
	Deployment|ReplicaSet|StatefulSet|DaemonSet) api=apps/v1 ;;
	Job|CronJob) api=batch/v1 ;;
	esac
	printf 'apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n' "$api" "$kind" "$name" "$ns"
	[ -z "$okind" ] || y_ownerref "$okind" "$ns" "$oname"
	printf 'spec: {}\n'
}
# ownerReferences block for an existing owner (looked up for its uid).
y_ownerref() {
	local okind=$1 ns=$2 oname=$3 oapi res uid
	case $okind in
	Deployment|ReplicaSet|StatefulSet|DaemonSet) oapi=apps/v1 ;;
	Job|CronJob) oapi=batch/v1 ;;
	esac
	res=$(echo "$okind" | tr 'A-Z' 'a-z')
	uid=$(kc get -n "$ns" "$res.${oapi%/v1}" "$oname" -o jsonpath='{.metadata.uid}')
	printf '  ownerReferences:\n  - apiVersion: %s\n    kind: %s\n    name: %s\n    uid: %s\n    controller: true\n' \
		"$oapi" "$okind" "$oname" "$uid"
}
# y_pod NS NAME "IP [IP...]" [OWNER-KIND OWNER-NAME]: a running pod with podIPs.
y_pod() {
	local ns=$1 name=$2 ips=$3 okind=${4:-} oname=${5:-} ip first
	printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$ns"
	[ -z "$okind" ] || y_ownerref "$okind" "$ns" "$oname"
	printf 'spec:\n  nodeName: node1\n  containers:\n  - name: c\n    image: busybox\nstatus:\n  phase: Running\n'
	if [ -n "$ips" ]; then
		first=${ips%% *}
		printf '  podIP: %s\n  podIPs:\n' "$first"
		for ip in $ips; do printf '  - ip: %s\n' "$ip"; done
	fi
}
# y_svc NS NAME "CLUSTER-IPS" (None for headless)
y_svc() {
	local ns=$1 name=$2 ips=$3 ip first=${3%% *}
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  clusterIP: %s\n  clusterIPs:\n' \
		"$name" "$ns" "$first"
	for ip in $ips; do printf '  - %s\n' "$ip"; done
	printf '  ports:\n  - port: 80\n'
}
# y_slice NS NAME SERVICE FAMILY "IP..."
y_slice() {
	local ns=$1 name=$2 svc=$3 fam=$4 ips=$5 ip
	printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$ns"
	printf '  labels:\n    kubernetes.io/service-name: %s\naddressType: %s\nendpoints:\n' "$svc" "$fam"
	for ip in $ips; do printf -- '- addresses: ["%s"]\n  conditions: {ready: true}\n' "$ip"; done
	printf 'ports:\n- port: 80\n  protocol: TCP\n'
}
# y_fp NS NAME PRIORITY APPLIES-KIND APPLIES-NAME [extra egress YAML]
y_fp() {
	printf 'apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  priority: %s\n  appliesTo:\n  - kind: %s\n    name: %s\n  egress:\n' \
		"$2" "$1" "$3" "$4" "$5"
	if [ -n "${6:-}" ]; then printf '%s\n' "$6"; else printf '  - action: Deny\n'; fi
}
# y_cfp NAME PRIORITY APPLIES-KIND APPLIES-NAME APPLIES-NAMESPACE [extra egress YAML]: a
# ClusterFencePolicy (cluster-scoped: no metadata.namespace); APPLIES-NAMESPACE "" for kind
# Namespace.
y_cfp() {
	printf 'apiVersion: podfence.io/v1alpha1\nkind: ClusterFencePolicy\nmetadata:\n  name: %s\nspec:\n  priority: %s\n  appliesTo:\n  - kind: %s\n    name: %s\n' \
		"$1" "$2" "$3" "$4"
	[ -z "$5" ] || printf '    namespace: %s\n' "$5"
	printf '  egress:\n'
	if [ -n "${6:-}" ]; then printf '%s\n' "$6"; else printf '  - action: Deny\n'; fi
}

# The store, as sqlite3 users see it.
q() { sqlite3 -batch -noheader "$DB" "$1"; }

# The server's whole state as JSON.
kube_state() {
	"$PYTHON3" - "$KSERVER" "$KDIR/ca.crt" "$(head -1 "$KDIR/token")" <<'EOP'
import ssl, sys, urllib.request
srv, ca, tok = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request(srv + "/_control/state", headers={"Authorization": "Bearer " + tok})
print(urllib.request.urlopen(req, context=ctx, timeout=20).read().decode())
EOP
}

# Rows of the store, in the oracle's forms (tests/kube/expect.py).
store_workloads() {
	q "SELECT w.kind || '|' || w.namespace || '|' || w.name || '|' || coalesce(wi.ip, '')
	   FROM workload w LEFT JOIN workload_ip wi ON wi.workload_id = w.id" | LC_ALL=C sort
}
store_workload_pods() {
	q "SELECT w.kind || '|' || w.namespace || '|' || w.name || '|' || wp.pod_name
	   FROM workload w JOIN workload_pod wp ON wp.workload_id = w.id" | LC_ALL=C sort
}
store_policies() {
	q "SELECT coalesce(namespace, '') || '|' || name || '|' || priority FROM policies WHERE source = 'kube'" | LC_ALL=C sort
}
expect_workloads() { kube_state | "$PYTHON3" "$top_srcdir/tests/kube/expect.py" | LC_ALL=C sort; }
expect_workload_pods() { kube_state | "$PYTHON3" "$top_srcdir/tests/kube/expect.py" --pods | LC_ALL=C sort; }
expect_policies() { kube_state | "$PYTHON3" "$top_srcdir/tests/kube/expect.py" --policies | LC_ALL=C sort; }
# The store holds exactly what the API server says (used with wait_until).
store_matches() {
	[ "$(store_workloads)" = "$(expect_workloads)" ] && [ "$(store_policies)" = "$(expect_policies)" ] &&
		[ "$(store_workload_pods)" = "$(expect_workload_pods)" ]
}
# Show the difference (for a failure message).
store_diff() {
	diff <(expect_workloads) <(store_workloads) | head -40
	diff <(expect_policies) <(store_policies) | head -20
	diff <(expect_workload_pods) <(store_workload_pods) | head -20
}
# q_is VALUE SQL: the query answers VALUE now (for wait_until, which must re-run the query).
q_is() { [ "$(q "$2" 2>/dev/null)" = "$1" ]; }
# wait_for SECONDS CMD...: like wait_until, but bounded by time, for checks that take a while.
wait_for() {
	local end=$((SECONDS + $1)); shift
	while :; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}
