#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# UDP, egress by DNS name and enforce_established through the running engine, as a pod sees
# them: UDP allowed / dropped / refused (ECONNREFUSED); DNS to the pod's resolver (dnsmasq in
# the server netns) with busybox nslookup; a name's address allowed only once the pod
# resolved it, another name's address denied, a CNAME, a one-label wildcard, an answer from a
# server that is not the pod's resolver ignored, the TTL (clamped to 30 s) running out; then
# an open TCP connection cut within 2 s when its policy turns to Deny, its neighbour going on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
HELPER=${HELPER:-"$top_builddir/tests/net-helper"}
[ -x "$HELPER" ] || fail "$HELPER not built"
need_cmd dnsmasq busybox
setup_web_pod
for a in 10.99.0.3 10.99.0.4 10.99.0.5 10.99.0.53 10.99.0.54; do ip -n "$SRV" addr add "$a/32" dev lo; done

# The pod's resolver, as `ip netns exec` gives it to the processes in the netns.
mkdir -p "/etc/netns/$WEB"
on_exit "rm -rf /etc/netns/$WEB"
echo "nameserver 10.99.0.53" >"/etc/netns/$WEB/resolv.conf"

dns() { # dns NAME ADDRESS ARGS...: a dnsmasq of the test's own in the server netns
	local name=$1 addr=$2; shift 2
	ip netns exec "$SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
		--no-hosts --no-poll --bind-interfaces --listen-address="$addr" --port=53 \
		--local-ttl=0 --pid-file="$TMP/$name.pid" --log-facility="$TMP/$name.log" --log-queries "$@" &
	local pid=$!
	on_exit "kill $pid; wait $pid"
	wait_until 50 grep -q 'started' "$TMP/$name.log" || { cat "$TMP/$name.log"; fail "dnsmasq $name did not start"; }
}
dns resolver 10.99.0.53 --host-record=db.shop.test,10.99.0.1 \
	--host-record=db2.internal.test,10.99.0.4 --cname=alias.shop.test,db2.internal.test \
	--address=/other.shop.test/10.99.0.2 --address=/wild.test/10.99.0.3 \
	--address=/deep.wild.test/10.99.0.5
dns spoofer 10.99.0.54 --address=/db.shop.test/10.99.0.2

bg_start ip netns exec "$SRV" "$HELPER" udpecho 10.99.0.1 9001 9002 9003 >"$TMP/echo" 2>&1
wait_until 50 grep -q '^ready' "$TMP/echo" || fail "udpecho did not start"

load_policy_yaml <<'YAML'
apiVersion: podfence.io/v1alpha1
kind: FencePolicy
metadata: {name: web-egress, namespace: shop}
spec:
  appliesTo: [{kind: Pod, name: web}]
  egress:
  - action: Allow
    to: [{cidr: 10.99.0.0/24}]
    ports: [{port: 53, protocol: UDP}]
  - action: Allow
    to: [{fqdn: db.shop.test}, {fqdn: "*.wild.test"}, {fqdn: alias.shop.test}]
    ports: [{port: 5432}]
  - action: Allow
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 9001, protocol: UDP}]
  - action: Reject
    to: [{cidr: 10.99.0.1}]
    ports: [{port: 9003, protocol: UDP}]
  - action: Allow
    to: [{cidr: 10.99.0.2}]
    ports: [{port: 7000, endPort: 7002}]
  - action: Deny
YAML
start_engine --default-action Allow --enforce-established true
register "$WEB" shop web c-web-1

# expect_udp OUTCOME ADDR PORT [TIMEOUT_MS]: answered | refused | timeout
expect_udp() {
	local want=$1 rc=0 out; shift
	out=$(ip netns exec "$WEB" "$HELPER" udp "$@") || rc=$?
	case "$want:$rc" in
	answered:0 | refused:3 | timeout:4) pass "UDP $1:$2 $want ($out)" ;;
	*) fail "UDP $1:$2: wanted $want, got rc=$rc ($out)" ;;
	esac
}
expect_udp answered 10.99.0.1 9001 1000 3
expect_udp timeout 10.99.0.1 9002 700
expect_udp refused 10.99.0.1 9003 2000
wait_until 50 sql_is "Reject UDP" "SELECT action || ' ' || protocol FROM recent_events WHERE dport = 9003" ||
	fail "the UDP Reject event: $(sql 'SELECT * FROM recent_events')"
pass "recent_events says the refused flow was UDP"

# lookup NAME [SERVER]: busybox nslookup in the pod; prints the addresses it got
lookup() { ip netns exec "$WEB" busybox nslookup -type=a "$@" 2>&1; }

expect "$WEB" 10.99.0.1 5432 timeout 1   # db.shop.test's address, not resolved yet
out=$(lookup db.shop.test) || fail "nslookup db.shop.test: $out"
echo "$out" | grep -q '10.99.0.1' || fail "nslookup db.shop.test: $out"
resolved_at=$(date +%s)
pass "DNS to the pod's resolver (UDP 53 allowed) answers db.shop.test"
expect "$WEB" 10.99.0.1 5432 ok          # allowed by name
expect "$WEB" 10.99.0.1 5432 ok
# Verdict reuse is on, but a verdict that may change with the next DNS answer is never left to
# the kernel: the pod's reuse sets hold nothing for it, and every SYN is judged again.
ip netns exec "$WEB" nft list ruleset | grep -q ' \. 5432' &&
	fail "a name-based Allow was remembered in the kernel: $(ip netns exec "$WEB" nft list ruleset | grep 5432)"
pass "a name-based Allow is not reused in the kernel"
out=$(lookup other.shop.test) || fail "nslookup other.shop.test: $out"
expect "$WEB" 10.99.0.2 5432 timeout 1   # another name's address: denied
out=$(lookup alias.shop.test) || fail "nslookup alias.shop.test: $out"
echo "$out" | grep -q '10.99.0.4' || fail "CNAME: $out"
expect "$WEB" 10.99.0.4 5432 ok          # through the CNAME
lookup api.wild.test >/dev/null || fail "nslookup api.wild.test"
expect "$WEB" 10.99.0.3 5432 ok          # *.wild.test: one label
lookup x.deep.wild.test >/dev/null || fail "nslookup x.deep.wild.test"
expect "$WEB" 10.99.0.5 5432 timeout 1   # two labels under wild.test: not the wildcard
# A server that is not the pod's resolver says db.shop.test is 10.99.0.2: not believed.
out=$(lookup db.shop.test 10.99.0.54) || fail "nslookup at the spoofer: $out"
echo "$out" | grep -q '10.99.0.2' || fail "the spoofer did not answer: $out"
expect "$WEB" 10.99.0.2 5432 timeout 1
wait_until 30 sql_is 10.99.0.1 "SELECT ip FROM dns_names WHERE pod_name = 'web' AND name = 'db.shop.test'" ||
	fail "dns_names: $(sql 'SELECT * FROM dns_names')"
wait_until 30 sql_is 10.99.0.4 "SELECT ip FROM dns_names WHERE pod_name = 'web' AND name = 'alias.shop.test'" ||
	fail "dns_names has no CNAME row: $(sql 'SELECT * FROM dns_names')"
pass "the store's dns_names view shows what the pod resolved ($(sql "SELECT count(*) FROM dns_names") rows)"
status_field 's["dns"]["answers"] >= 5' | grep -q True || fail "status dns counters: $(status_field 's["dns"]')"
pass "answers from the resolver counted, the spoofed one not believed"

# enforce_established: two open connections sending every 100 ms; the policy turns one to Deny.
bg_start ip netns exec "$SRV" "$HELPER" sink 10.99.0.2 7000 >"$TMP/sink0" 2>&1
bg_start ip netns exec "$SRV" "$HELPER" sink 10.99.0.2 7001 >"$TMP/sink1" 2>&1
wait_until 50 grep -q '^ready' "$TMP/sink0" || fail "sink 7000"
wait_until 50 grep -q '^ready' "$TMP/sink1" || fail "sink 7001"
bg_start ip netns exec "$SRV" "$HELPER" push 10.99.0.2 7002 >"$TMP/push" 2>&1
wait_until 50 grep -q '^ready' "$TMP/push" || fail "push 7002"
# the far end talks: after the cut its packet must not start an entry the pod's would match
bg_start ip netns exec "$WEB" "$HELPER" pull 10.99.0.2 7002 6000 >"$TMP/pull" 2>&1
bg_start ip netns exec "$WEB" "$HELPER" stream 10.99.0.2 7000 6000 >"$TMP/stream0" 2>&1
bg_start ip netns exec "$WEB" "$HELPER" stream 10.99.0.2 7001 6000 >"$TMP/stream1" 2>&1
sleep 1
sed -e 's/port: 7000, endPort: 7002/port: 7001/' "$TMP/policy.yaml" >"$TMP/cut.yaml"
changed=$(date +%s%3N)
load_policies "$TMP/cut.yaml" || fail "loading the changed policy"
sleep 3.5
last0=$(awk '$1 == "rx" {t = $2} END {print (t == "" ? 0 : t)}' "$TMP/sink0")
after1=$(awk -v t="$changed" '$1 == "rx" && $2 > t + 2000' "$TMP/sink1" | wc -l)
before0=$(awk -v t="$changed" '$1 == "rx" && $2 > t - 1000 && $2 <= t' "$TMP/sink0" | wc -l)
[ "$before0" -ge 5 ] || { cat "$TMP/sink0"; fail "7000 was not getting data before the change ($before0 reads in the second before)"; }
[ $((last0 - changed)) -le 2000 ] || fail "7000 still got data $((last0 - changed)) ms after the change"
pass "the connection the change denies ($before0 reads in the second before it) stopped $((last0 - changed)) ms after the change"
[ "$after1" -ge 8 ] || fail "the untouched connection stopped too ($after1 reads after 2 s)"
pass "the connection the change does not touch goes on ($after1 reads after 2 s)"
lastp=$(awk '$1 == "rx" {t = $2} END {print (t == "" ? 0 : t)}' "$TMP/pull")
beforep=$(awk -v t="$changed" '$1 == "rx" && $2 > t - 1000 && $2 <= t' "$TMP/pull" | wc -l)
[ "$beforep" -ge 5 ] || { cat "$TMP/pull"; fail "7002 was not getting data before the change"; }
[ $((lastp - changed)) -le 2000 ] || fail "the pod still got 7002's data $((lastp - changed)) ms after the change"
pass "a denied connection whose far end does the talking stopped $((lastp - changed)) ms after the change"
wait_until 50 sql_ge 1 "SELECT count(*) FROM recent_events WHERE reason = 'cut' AND dport = 7000 AND protocol = 'TCP'" ||
	fail "no 'cut' event: $(sql 'SELECT * FROM recent_events')"
pass "the cut is an event (reason cut)"

# The TTL (0 from dnsmasq, clamped to 30 s) runs out: db.shop.test's address is denied again.
while [ $(( $(date +%s) - resolved_at )) -lt 32 ]; do sleep 1; done
expect "$WEB" 10.99.0.1 5432 timeout 1
pass "the name's address expires with its (clamped) TTL"
engine_finish
