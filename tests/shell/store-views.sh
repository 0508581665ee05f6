#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The store's public views (doc/architecture.md) as a sqlite3 user sees them, and schema migrations done
# by a real program: an old database migrated, a newer one refused and left alone.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/shell/lib.sh"
need_cmd sqlite3
TEST_STORE=${TEST_STORE:-"$top_builddir/tests/unit/test-store"}
[ -x "$TEST_STORE" ] || skip "$TEST_STORE not built"

DB=$TMP/podfence.db
"$TEST_STORE" --populate "$DB" || fail "could not populate the store"
q() { sqlite3 -batch -noheader -separator '|' "$DB" "$1"; }
# expect NAME SQL <<EXPECTED: the query's output, line for line
expect() {
	local got want
	got=$(q "$2")
	want=$(cat)
	if [ "$got" != "$want" ]; then
		echo "--- want"; echo "$want"; echo "--- got"; echo "$got"
		fail "$1"
	fi
	pass "$1"
}
columns() { q "SELECT group_concat(name, ', ') FROM pragma_table_info('$1')"; }

[ "$(q "PRAGMA journal_mode")" = wal ] || fail "not in WAL mode"
[ "$(q "PRAGMA user_version")" -ge 2 ] || fail "schema version $(q "PRAGMA user_version")"
pass "WAL mode, schema version $(q "PRAGMA user_version")"

# Column names are the public interface: the documented ones first (doc/architecture.md), in that order.
case "$(columns applied_policies)" in
"pod_namespace, pod_name, pod_ip, policy_namespace, policy_name, priority, rule_index, action, destination, ports"*) ;;
*) fail "applied_policies columns: $(columns applied_policies)" ;;
esac
case "$(columns pods)" in
"namespace, name, kind, ips, netns, containers, registered_at, state"*) ;;
*) fail "pods columns: $(columns pods)" ;;
esac
case "$(columns policies)" in
"namespace, name, priority, valid, error, source, updated_at"*) ;;
*) fail "policies columns: $(columns policies)" ;;
esac
case "$(columns recent_events)" in
"at, pod_namespace, pod_name, src, dst, dport, action, policy_namespace, policy_name, rule_index, count"*) ;;
*) fail "recent_events columns: $(columns recent_events)" ;;
esac
pass "the four views have the documented columns"

# Pod shop/web is named by web-egress; other/x is in Namespace other (lockdown). The invalid
# policy shop/typo applies nothing.
expect "applied_policies: one row per (pod, rule in force), in evaluation order" \
	"SELECT pod_namespace, pod_name, pod_ip, policy_namespace, policy_name, priority, rule_index,
		action, destination, ports FROM applied_policies" <<'EOF'
other|x|10.0.1.1, fd00::12|other|lockdown|50|0|Reject|10.0.0.0/24|any
other|x|10.0.1.1, fd00::12|other|lockdown|50|1|Alert|fd00::/64|443/TCP
shop|web|10.0.0.1, fd00::11|shop|web-egress|100|0|Allow|Pod shop/db|5432/TCP
shop|web|10.0.0.1, fd00::11|shop|web-egress|100|1|Allow|Service shop/db-svc, 10.20.0.0/16|5432-5433/TCP
shop|web|10.0.0.1, fd00::11|shop|web-egress|100|2|Deny|any|any
EOF

expect "pods: one row per registered netns, addresses and containers as text, ISO time" \
	"SELECT namespace, name, kind, ips, netns, containers, registered_at, state FROM pods" <<'EOF'
other|x|Pod|10.0.1.1, fd00::12|/proc/1234/ns/net|c0ffee, decaf|2026-01-01T00:00:00.000Z|enforced
shop|web|Pod|10.0.0.1, fd00::11|/proc/1234/ns/net|c0ffee, decaf|2026-01-01T00:00:00.000Z|enforced
EOF

expect "policies: valid ones and the invalid one with its error" \
	"SELECT namespace, name, ifnull(priority, '-'), valid, ifnull(error, '-'), source FROM policies" <<'EOF'
other|lockdown|50|1|-|/etc/podfence/policies/shop.yaml
shop|typo|-|0|document 3 (line 7): spec.egress[0].ports[0].endPort: must be >= port (80)|/etc/podfence/policies/shop.yaml
shop|web-egress|100|1|-|/etc/podfence/policies/shop.yaml
EOF
n=$(q "SELECT count(*) FROM policies WHERE updated_at GLOB '[2-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'")
[ "$n" = 3 ] || fail "policies.updated_at is not ISO-8601 UTC: $(q "SELECT updated_at FROM policies")"
pass "policies.updated_at is ISO-8601 UTC"

expect "recent_events: newest first, human-readable" \
	"SELECT at, pod_namespace, pod_name, src, dst, dport, action, policy_namespace, policy_name, rule_index, count, ifnull(reason, '-') FROM recent_events" <<'EOF'
2026-01-01T00:00:01.500Z|other|x|10.0.1.1|fd00::7|443|Alert|other|lockdown|1|1|-
2026-01-01T00:00:00.000Z|shop|web|10.0.0.1|10.0.0.99|80|Deny|shop|web-egress|2|3|-
EOF

# The views are read-only for users: writing to one fails, the data stays.
if sqlite3 "$DB" "DELETE FROM policies" 2>/dev/null; then fail "a view accepted a DELETE"; fi
[ "$(q "SELECT count(*) FROM policies")" = 3 ] || fail "policies changed"
pass "views cannot be written"

# --- migrations by a real program ------------------------------------------------------------
[ -x "$PODFENCE_SYNC" ] || skip "$PODFENCE_SYNC not built (views checked)"
mkdir -p "$TMP/empty"
OLD=$TMP/old.db
sqlite3 "$OLD" <"$top_srcdir/schema/001-initial.sql"
sqlite3 "$OLD" "INSERT INTO policy (namespace, name, source, in_force, valid, priority, n_rules, updated_at)
	VALUES ('shop', 'old', '/elsewhere/old.yaml', 1, 1, 7, 0, 1767225600000); PRAGMA user_version = 1;"
"$PODFENCE_SYNC" --policy-dir "$TMP/empty" --db "$OLD" --once 2>"$TMP/err" || fail "migrating: $(cat "$TMP/err")"
[ "$(sqlite3 "$OLD" "PRAGMA user_version")" = "$(q "PRAGMA user_version")" ] || fail "old database not migrated"
[ "$(sqlite3 "$OLD" "SELECT name || ' ' || priority || ' ' || updated_at FROM policies")" = "old 7 2026-01-01T00:00:00.000Z" ] ||
	fail "data lost or views missing after migration"
pass "a version-1 database is migrated at open, its data kept"

NEW=$TMP/new.db
cp "$DB" "$NEW"
sqlite3 "$NEW" "PRAGMA user_version = 999"
rc=0
"$PODFENCE_SYNC" --policy-dir "$TMP/empty" --db "$NEW" --once 2>"$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "a newer database: exit $rc, want 1"
grep -q "schema version 999 is newer than this build" "$TMP/err" || fail "unclear refusal: $(cat "$TMP/err")"
[ "$(sqlite3 "$NEW" "PRAGMA user_version")" = 999 ] || fail "the newer database was changed"
pass "a newer database is refused clearly and left alone"
