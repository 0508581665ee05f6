#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Containers whose config.json grants CAP_NET_ADMIN (can change their ruleset) or
# CAP_NET_RAW (can send packets netfilter's output hook never sees): with
# privileged_pods = refuse the registration fails and the hook exits non-zero, so the
# runtime refuses the container; with warn (the default) it is enforced, with a 'privileged'
# event, the podfence_privileged_pods gauge and a log line. The file key and the flag both
# work, the flag beating the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine-lib.sh"
engine_need
[ -x "$PODFENCE_HOOK" ] || fail "$PODFENCE_HOOK not built"
H=$PODFENCE_HOOK

setup_server
add_pod 1; NS=$POD
add_pod 2; NS2=$POD
caps_config() { # DIR CAPS-JSON
	mkdir -p "$1"
	cat >"$1/config.json" <<JSON
{"process":{"capabilities":$2},"linux":{"namespaces":[{"type":"network","path":"/run/netns/$3"}]},
 "annotations":{"podfence.io/namespace":"shop","podfence.io/name":"$4"}}
JSON
}
state() { printf '{"ociVersion":"1.0.2","id":"%s","status":"creating","bundle":"%s"}' "$1" "$2"; }
HA=(--socket "$SOCK" --state-dir "$STATE" --fail-mode closed)
DEFAULT='{"bounding":["CAP_CHOWN","CAP_NET_BIND_SERVICE","CAP_KILL"],"effective":["CAP_CHOWN"]}'
caps_config "$TMP/admin" '{"bounding":["CAP_NET_ADMIN"],"effective":["CAP_NET_ADMIN"],"permitted":["CAP_NET_ADMIN"]}' "$NS" admin
caps_config "$TMP/raw" '{"bounding":["CAP_CHOWN","CAP_NET_RAW"]}' "$NS" raw
caps_config "$TMP/plain" "$DEFAULT" "$NS2" plain

ENGINE_CONFIG=$TMP/podfence.conf
echo "privileged_pods = refuse" >"$ENGINE_CONFIG"
start_engine
[ "$(status_field 's["privileged_pods"]["mode"]')" = refuse ] || fail "privileged_pods = refuse not read from the file"
rc=0
state "adm-$TID" "$TMP/admin" | "$H" "${HA[@]}" prestart 2>"$TMP/hook.err" || rc=$?
[ "$rc" != 0 ] || fail "hook exited 0 for a CAP_NET_ADMIN container under refuse"
grep -q "CAP_NET_ADMIN" "$TMP/hook.err" || fail "hook error does not name the capability: $(cat "$TMP/hook.err")"
grep -q "privileged_pods" "$TMP/hook.err" || fail "hook error does not name the setting: $(cat "$TMP/hook.err")"
[ "$(status_field 's["n_pods"]')" = 0 ] || fail "refused container registered anyway"
[ "$(pod_tables "$NS")" = 0 ] || fail "refused container left a ruleset"
pass "CAP_NET_ADMIN refused (hook exit $rc): $(head -1 "$TMP/hook.err")"
rc=0
state "raw-$TID" "$TMP/raw" | "$H" "${HA[@]}" prestart 2>"$TMP/hook.err" || rc=$?
[ "$rc" != 0 ] && grep -q CAP_NET_RAW "$TMP/hook.err" || fail "CAP_NET_RAW (bounding set) not refused: rc $rc $(cat "$TMP/hook.err")"
pass "CAP_NET_RAW in the bounding set refused"
# No config.json to read (a state with a pid and no bundle): cannot tell, so refused.
ip netns exec "$NS2" sleep 600 & NB=$!; on_exit "kill $NB"
wait_until 50 in_netns $NB "$NS2" || fail "sleep did not enter $NS2"
rc=0
printf '{"ociVersion":"1.0.2","id":"nob-%s","status":"creating","pid":%d}' "$TID" "$NB" |
	"$H" "${HA[@]}" prestart 2>"$TMP/hook.err" || rc=$?
[ "$rc" != 0 ] && grep -q "could not be read" "$TMP/hook.err" || fail "unknown capabilities not refused: rc $rc $(cat "$TMP/hook.err")"
pass "capabilities that cannot be read are refused under refuse"
state "plain-$TID" "$TMP/plain" | "$H" "${HA[@]}" prestart || fail "unprivileged container refused"
[ "$(status_field 's["privileged_pods"]["refused"]')" = 3 ] || fail "refused count"
pass "a container without them registers under refuse"
stop_engine

# The flag beats the file: warn.
start_engine --privileged-pods warn
state "adm-$TID" "$TMP/admin" | "$H" "${HA[@]}" prestart || fail "CAP_NET_ADMIN container refused under warn"
[ "$(pod_tables "$NS")" -ge 1 ] || fail "privileged container not enforced under warn"
wait_until 30 sql_ge 1 "SELECT count(*) FROM recent_events WHERE reason='privileged' AND pod_name='admin'" ||
	fail "no 'privileged' event: $(sql 'SELECT * FROM recent_events')"
[ "$(status_field 's["privileged_pods"]["current"]')" = 1 ] || fail "privileged gauge"
[ "$(status_field '[p["privileged"] for p in s["pods"] if p["name"]=="admin"][0]')" = True ] || fail "pod not marked privileged"
[ "$(status_field '[p["privileged"] for p in s["pods"] if p["name"]=="plain"][0]')" = False ] || fail "plain pod marked privileged"
grep -q "Container adm-$TID of pod shop/admin has CAP_NET_ADMIN" "$ENGINE_LOG" || fail "no warning in the log"
pass "warn: enforced, event, gauge, log"
engine_finish
