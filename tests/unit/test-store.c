/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sqlite store: migrations, policy mirroring (invalid updates keep the last valid version),
 * resolution into the engine's ruleset, pods, workloads and events; the ruleset loader against
 * an independent one and a reader during a big write are test-store-ruleset.c's. `test-store
 * --populate DB` writes the fixed data set tests/shell/store-views.sh reads back with the
 * sqlite3 CLI.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "store-testutil.h"
#include "store.h"
#include "tap.h"

/* other/lockdown: every pod of namespace other: Reject 10.0.0.0/24, Alert fd00::/64 port 443. */
static struct pf_policy *lockdown_policy(void)
{
	struct pf_policy *p = mk_policy("other", "lockdown", 50);
	struct pf_rule *r;

	add_target(p, PF_KIND_NAMESPACE, "other", "other");
	r = add_rule(p, PF_ACTION_REJECT);
	to_cidr(r, "10.0.0.0/24");
	r = add_rule(p, PF_ACTION_ALERT);
	to_cidr(r, "fd00::/64");
	add_ports(r, 443, 443);
	return p;
}

static int put_pod(struct pf_store *s, const char *ns, const char *name, uint64_t ino,
		   const char *addr, struct pf_error *err)
{
	char *containers[] = {(char *)"c0ffee", (char *)"decaf"};
	struct pf_addr a[2];
	struct pf_pod_record p = {
	    .namespace = (char *)ns,
	    .name = (char *)name,
	    .kind = (char *)"Pod",
	    .netns_dev = 4,
	    .netns_ino = ino,
	    .netns_path = (char *)"/proc/1234/ns/net",
	    .containers = containers,
	    .n_containers = 2,
	    .ips = a,
	    .n_ips = 0,
	    .registered_at_ms = 1767225600000, /* 2026-01-01T00:00:00Z */
	    .state = (char *)"enforced",
	};

	if (addr) {
		a[p.n_ips++] = ip(addr);
		if (strchr(addr, '.')) {
			/* a dual-stack pod: the view shows both */
			char v6[64];

			snprintf(v6, sizeof(v6), "fd00::%u", (unsigned)ino);
			a[p.n_ips++] = ip(v6);
		}
	}
	return pf_store_put_pod(s, &p, err);
}

static const struct pf_rs_policy *rs_find(const struct pf_ruleset *rs, const char *ns,
					  const char *name)
{
	for (size_t i = 0; i < rs->n_policies; i++)
		if (!strcmp(rs->policies[i].namespace, ns) && !strcmp(rs->policies[i].name, name))
			return &rs->policies[i];
	return NULL;
}

static bool has_ip(const struct pf_addr *v, size_t n, const char *s)
{
	struct pf_addr a = ip(s);

	for (size_t i = 0; i < n; i++)
		if (pf_addr_eq(&v[i], &a))
			return true;
	return false;
}

static void verdict(const struct pf_ruleset *rs, const char *src, const char *dst, uint16_t port,
		    struct pf_verdict *v)
{
	struct pf_addr s = ip(src), d = ip(dst);

	pf_ruleset_eval(rs, PF_ACTION_ALLOW, &s, &d, port, v);
}

/* A one-row, one-column query as text (NULL on no row). */
static char *query1(struct pf_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *out = NULL;

	if (sqlite3_prepare_v2(pf_store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		tap_diag("query '%s': %s", sql, sqlite3_errmsg(pf_store_db(s)));
		return NULL;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

static long long query_int(struct pf_store *s, const char *sql)
{
	_cleanup_free_ char *t = query1(s, sql);

	return t ? strtoll(t, NULL, 10) : -1;
}
/* ---- tests --------------------------------------------------------------------------------- */

static void test_open(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	const char *path = db_path("sub/dir/new.db");
	struct stat st;
	int r;

	r = pf_store_open(path, 0, &s, &err);
	is_int(r, 0, "open creates the database and its directories (%s)", err.msg);
	if (r < 0)
		return;
	is_int(pf_store_schema_version(s), PF_SCHEMA_VERSION,
	       "new database is at schema version %d", PF_SCHEMA_VERSION);
	ok(PF_SCHEMA_VERSION >= 2 && pf_schema_migrations[0].version == 1,
	   "migrations are numbered from 1");
	{
		_cleanup_free_ char *mode = query1(s, "PRAGMA journal_mode");
		is_str(mode, "wal", "journal mode is WAL");
	}
	is_int(query_int(s, "PRAGMA foreign_keys"), 1, "foreign keys are enforced");
	ok(stat(db_path("sub/dir"), &st) == 0 && (st.st_mode & 07777) == 0700,
	   "directory created with mode 0700");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "database created with mode 0600");
	pf_store_close(s);

	/* Opening again changes nothing. */
	r = pf_store_open(path, 0, &s, &err);
	is_int(r, 0, "reopen");
	pf_store_close(s);
	r = pf_store_open(path, PF_STORE_READONLY, &s, &err);
	is_int(r, 0, "read-only open of a current database");
	if (r == 0) {
		struct pf_error e2 = {0};

		ok(pf_store_delete_source(s, "x", &e2) == -EROFS, "read-only store refuses writes");
		pf_store_close(s);
	}
	r = pf_store_open(db_path("missing.db"), PF_STORE_READONLY, &s, &err);
	ok(r < 0, "read-only open of a missing database fails");
	has_str(err.msg, "missing.db", "and names the file: %s", err.msg);
}

static void test_migrate_old(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	const char *path = db_path("v1.db");
	sqlite3 *db = NULL;
	char *emsg = NULL;
	int r;

	/* A database as a build with only migration 1 left it, with a policy in it. */
	if (sqlite3_open(path, &db) != SQLITE_OK)
		abort();
	r = sqlite3_exec(db, pf_schema_migrations[0].sql, NULL, NULL, &emsg);
	if (r == SQLITE_OK)
		r = sqlite3_exec(
		    db,
		    "PRAGMA user_version = 1;"
		    "INSERT INTO policy (namespace, name, source, in_force, valid, priority, "
		    "n_rules, updated_at)"
		    " VALUES ('shop', 'old', '/etc/old.yaml', 1, 1, 7, 0, 1767225600000);",
		    NULL, NULL, &emsg);
	is_int(r, SQLITE_OK, "built a version-1 database (%s)", emsg ? emsg : "");
	sqlite3_free(emsg);
	sqlite3_close(db);

	r = pf_store_open(path, PF_STORE_READONLY, &s, &err);
	ok(r < 0, "read-only open does not migrate an old database");
	has_str(err.msg, "older", "and says so: %s", err.msg);

	pf_error_clear(&err);
	r = pf_store_open(path, 0, &s, &err);
	is_int(r, 0, "open migrates a version-1 database (%s)", err.msg);
	if (r < 0)
		return;
	is_int(pf_store_schema_version(s), PF_SCHEMA_VERSION, "now at version %d",
	       PF_SCHEMA_VERSION);
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT namespace || '/' || name || ' ' || priority || ' ' || "
			      "updated_at FROM policies");
		is_str(row, "shop/old 7 2026-01-01T00:00:00.000Z",
		       "its data shows in the new views");
	}
	pf_store_close(s);
}

/* podfenced and podfence-sync start together on a new database: each migration runs once. */
static void test_concurrent_open(void)
{
	const char *path = db_path("race.db");
	pid_t pids[6];
	int failed = 0;

	fflush(stdout);
	for (size_t i = 0; i < PF_ARRAY_SIZE(pids); i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct pf_error err = {0};
			struct pf_store *s = NULL;

			if (pf_store_open(path, 0, &s, &err) < 0) {
				fprintf(stderr, "child %zu: %s\n", i, err.msg);
				_exit(1);
			}
			_exit(pf_store_schema_version(s) == PF_SCHEMA_VERSION ? 0 : 1);
		}
	}
	for (size_t i = 0; i < PF_ARRAY_SIZE(pids); i++) {
		int status = 0;

		waitpid(pids[i], &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	is_int(failed, 0, "%zu processes opening a new database at once all succeed",
	       PF_ARRAY_SIZE(pids));
}

static void test_refuse_newer(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	const char *path = db_path("future.db");
	sqlite3 *db = NULL;
	char sql[64];
	int r;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		abort();
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", PF_SCHEMA_VERSION + 1);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);

	r = pf_store_open(path, 0, &s, &err);
	is_int(r, -EPROTO, "a database newer than the build is refused");
	has_str(err.msg, "newer than this build", "with a clear message: %s", err.msg);
	has_str(err.msg, "future.db", "naming the file");
	r = pf_store_open(path, PF_STORE_READONLY, &s, &err);
	is_int(r, -EPROTO, "also read-only");

	/* And the refusal left it alone. */
	if (sqlite3_open(path, &db) == SQLITE_OK) {
		sqlite3_stmt *st;

		sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
		sqlite3_step(st);
		is_int(sqlite3_column_int(st, 0), PF_SCHEMA_VERSION + 1,
		       "the newer database is untouched");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static void test_resolution(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_ruleset *rs = NULL;
	const struct pf_rs_policy *p;
	struct pf_policy_doc docs[2];
	struct pf_verdict v;
	int r;

	if (pf_store_open(db_path("resolve.db"), 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	ok(put_pod(s, "shop", "web", 1, "10.0.0.1", &err) == 0, "register pod shop/web");
	ok(put_pod(s, "shop", "db", 2, "10.0.0.2", &err) == 0, "register pod shop/db");
	ok(put_pod(s, "other", "x", 3, "10.0.1.1", &err) == 0, "register pod other/x");
	ok(put_pod(s, "other", "y", 4, "10.0.1.2", &err) == 0, "register pod other/y");

	docs[0] = valid_doc(web_policy(100), 0);
	docs[1] = valid_doc(lockdown_policy(), 1);
	r = pf_store_sync_source(s, "/etc/podfence/policies/a.yaml", docs, 2, &err);
	is_int(r, 0, "sync a source of two valid policies (%s)", err.msg);
	docs_clear(docs, 2);

	r = pf_store_load_ruleset(s, &rs, &err);
	is_int(r, 0, "load ruleset");
	if (r < 0)
		goto out;
	is_int(rs->n_policies, 2, "two policies in force");
	is_str(rs->policies[0].name, "lockdown", "sorted: priority 50 first");
	p = rs_find(rs, "shop", "web-egress");
	ok(p && p->n_src == 2 && has_ip(p->src, p->n_src, "10.0.0.1") &&
	       has_ip(p->src, p->n_src, "fd00::1"),
	   "appliesTo Pod resolves to the registered pod's IPs (v4 and v6)");
	ok(p && p->n_rules == 3 && p->rules[0].n_dst_ips == 2 &&
	       has_ip(p->rules[0].dst_ips, 2, "10.0.0.2"),
	   "to Pod resolves to the registered pod's IPs");
	ok(p && p->rules[1].n_dst_ips == 0 && p->rules[1].n_dst_nets == 1 && !p->rules[1].any_dst,
	   "to Service without a workload yet: only the cidr");
	ok(p && p->rules[1].log && p->rules[1].n_ports == 1 &&
	       p->rules[1].ports[0].end_port == 5433,
	   "log flag and port range kept");
	ok(p && p->rules[2].any_dst && p->rules[2].n_ports == 0 &&
	       p->rules[2].action == PF_ACTION_DENY,
	   "rule without to/ports: any");
	p = rs_find(rs, "other", "lockdown");
	ok(p && p->n_src == 4 && has_ip(p->src, p->n_src, "10.0.1.1") &&
	       has_ip(p->src, p->n_src, "10.0.1.2"),
	   "appliesTo Namespace resolves to every registered pod in it");

	verdict(rs, "10.0.0.1", "10.0.0.2", 5432, &v);
	ok(v.matched && v.action == PF_ACTION_ALLOW && v.rule_index == 0,
	   "web -> db:5432 allowed by rule 0");
	verdict(rs, "10.0.0.1", "10.0.0.2", 80, &v);
	ok(v.matched && v.action == PF_ACTION_DENY && v.rule_index == 2,
	   "web -> db:80 denied by rule 2");
	verdict(rs, "10.0.0.1", "10.20.3.4", 5433, &v);
	ok(v.action == PF_ACTION_ALLOW && v.rule_index == 1 && v.log,
	   "web -> 10.20.3.4:5433 allowed, logged");
	verdict(rs, "10.0.1.2", "10.0.0.9", 80, &v);
	ok(v.action == PF_ACTION_REJECT && pf_streq(v.policy_name, "lockdown"),
	   "other/y -> 10.0.0.9 rejected");
	verdict(rs, "10.0.9.9", "10.0.0.9", 80, &v);
	ok(!v.matched, "an unknown source: no policy");
	pf_ruleset_free(rs);
	rs = NULL;

	/* Names that do not exist yet take effect when they appear. */
	{
		struct pf_addr a[] = {ip("10.0.0.9"), ip("10.0.0.9"), ip("fd00::9")};
		struct pf_addr svc[] = {ip("10.96.0.10")};

		ok(pf_store_put_workload(s, PF_KIND_DEPLOYMENT, "shop", "api", a, 3, &err) == 0,
		   "workload Deployment shop/api appears");
		ok(pf_store_put_workload(s, PF_KIND_SERVICE, "shop", "db-svc", svc, 1, &err) == 0,
		   "workload Service shop/db-svc appears");
	}
	ok(put_pod(s, "shop", "db", 5, "10.0.0.3", &err) == 0, "a second netns named shop/db");
	r = pf_store_load_ruleset(s, &rs, &err);
	is_int(r, 0, "reload ruleset");
	if (r < 0)
		goto out;
	p = rs_find(rs, "shop", "web-egress");
	ok(p && p->n_src == 4 && has_ip(p->src, p->n_src, "10.0.0.9") &&
	       has_ip(p->src, p->n_src, "fd00::9"),
	   "appliesTo Deployment now resolves to its IPs (deduplicated)");
	ok(p && p->rules[1].n_dst_ips == 1 && has_ip(p->rules[1].dst_ips, 1, "10.96.0.10"),
	   "to Service now resolves to its IP");
	ok(p && p->rules[0].n_dst_ips == 4 && has_ip(p->rules[0].dst_ips, 4, "10.0.0.3"),
	   "to Pod covers every registered netns of that pod");
	verdict(rs, "10.0.0.9", "10.96.0.10", 5433, &v);
	ok(v.action == PF_ACTION_ALLOW && v.rule_index == 1, "api -> db-svc:5433 allowed");
	verdict(rs, "10.0.0.9", "10.96.0.10", 5434, &v);
	ok(v.action == PF_ACTION_DENY, "api -> db-svc:5434 denied");
	pf_ruleset_free(rs);
	rs = NULL;

	/* Unregistering and deleting take effect too. */
	ok(pf_store_delete_pod(s, 4, 1, &err) == 0, "unregister shop/web");
	ok(pf_store_delete_workload(s, PF_KIND_DEPLOYMENT, "shop", "api", &err) == 0,
	   "delete workload");
	r = pf_store_load_ruleset(s, &rs, &err);
	p = r == 0 ? rs_find(rs, "shop", "web-egress") : NULL;
	ok(p && p->n_src == 0, "the policy is kept but applies to nothing");
	{
		struct pf_pod_record *pods = NULL;
		size_t n = 0;

		r = pf_store_list_pods(s, &pods, &n, &err);
		ok(r == 0 && n == 4, "list_pods: 4 registered");
		ok(n == 4 && pf_streq(pods[0].name, "db") && pods[0].n_ips == 2 &&
		       pods[0].n_containers == 2 && pf_streq(pods[0].containers[1], "decaf") &&
		       pods[0].registered_at_ms == 1767225600000 &&
		       pf_streq(pods[0].state, "enforced") && pods[0].netns_ino == 2,
		   "list_pods returns what was put");
		pf_pod_records_free(pods, n);
	}
out:
	pf_ruleset_free(rs);
	pf_store_close(s);
}

static void test_invalid_update(void)
{
	const char *src_a = "/p/a.yaml", *src_b = "/p/b.yaml";
	struct pf_error err = {0};
	struct pf_store *s = NULL, *reader = NULL;
	struct pf_ruleset *rs = NULL;
	struct pf_policy_doc docs[3];
	uint64_t dv0 = 0, dv1 = 0;
	int r;

	if (pf_store_open(db_path("invalid.db"), 0, &s, &err) < 0 ||
	    pf_store_open(db_path("invalid.db"), 0, &reader, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	ok(put_pod(s, "shop", "web", 1, "10.0.0.1", &err) == 0, "register pod");
	docs[0] = valid_doc(web_policy(100), 0);
	r = pf_store_sync_source(s, src_a, docs, 1, &err);
	is_int(r, 0, "valid version of shop/web-egress");

	/* Re-syncing the same content writes nothing: the engine is not woken for nothing. */
	pf_store_data_version(reader, &dv0);
	r = pf_store_sync_source(s, src_a, docs, 1, &err);
	pf_store_data_version(reader, &dv1);
	is_int(r, 0, "same version again");
	ok(dv0 == dv1, "an unchanged source changes nothing (data_version %llu)",
	   (unsigned long long)dv1);
	docs_clear(docs, 1);

	/* A typo in the update. */
	docs[0] = invalid_doc("shop", "web-egress", 0,
			      "spec.egress[0].action: must be one of Allow, Deny, Reject, Alert");
	r = pf_store_sync_source(s, src_a, docs, 1, &err);
	is_int(r, 1, "an invalid update is recorded as one error");
	docs_clear(docs, 1);
	pf_store_data_version(reader, &dv0);
	ok(dv0 != dv1, "and is a change other connections see");
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT valid || ' ' || in_force || ' ' || rules || ' ' || error "
			      "FROM policies WHERE name = 'web-egress'");
		is_str(row,
		       "0 1 3 document 1 (line 7): spec.egress[0].action: must be one of Allow, "
		       "Deny, Reject, Alert",
		       "policies view: invalid, error shown, last valid version in force");
	}
	r = pf_store_load_ruleset(reader, &rs, &err);
	ok(r == 0 && rs->n_policies == 1 && rs->policies[0].n_rules == 3 &&
	       rs->policies[0].n_src == 2,
	   "the last valid version stays in force");
	is_int(query_int(s, "SELECT count(*) FROM applied_policies"), 3,
	       "applied_policies still lists its 3 rules");
	pf_ruleset_free(rs);
	rs = NULL;

	/* A new invalid policy enforces nothing; a doc without identity is an error row. */
	docs[0] = invalid_doc("shop", "brand-new", 0, "spec.appliesTo: required");
	docs[1] = invalid_doc(NULL, NULL, 1, "metadata.name: required");
	r = pf_store_sync_source(s, src_b, docs, 2, &err);
	is_int(r, 2, "a new source with two invalid docs");
	docs_clear(docs, 2);
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT valid || ' ' || in_force || ' ' || error FROM policies "
			      "WHERE name = 'brand-new'");
		is_str(row, "0 0 document 1 (line 7): spec.appliesTo: required",
		       "new invalid policy: not in force");
		_cleanup_free_ char *row2 =
		    query1(s, "SELECT source || ' ' || error FROM policies WHERE name IS NULL");
		is_str(row2, "/p/b.yaml document 2 (line 7): metadata.name: required",
		       "a doc without identity shows as an error of its source");
	}
	r = pf_store_load_ruleset(reader, &rs, &err);
	ok(r == 0 && rs->n_policies == 1, "only the valid policy is in force");
	pf_ruleset_free(rs);
	rs = NULL;

	/* b.yaml now claims a/web-egress: refused, a keeps it. */
	docs[0] = valid_doc(web_policy(1), 0);
	r = pf_store_sync_source(s, src_b, docs, 1, &err);
	is_int(r, 1, "a name owned by another source is an error");
	docs_clear(docs, 1);
	is_int(query_int(s, "SELECT count(*) FROM policies WHERE name = 'brand-new'"), 0,
	       "policies gone from a valid source are deleted");
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT error FROM policies WHERE source = '/p/b.yaml'");
		is_str(row, "shop/web-egress is already defined in /p/a.yaml",
		       "the conflict is shown");
		_cleanup_free_ char *prio =
		    query1(s, "SELECT priority FROM policies WHERE source = '/p/a.yaml'");
		is_str(prio, "100", "the owner's version stays");
	}

	/* The fix: valid again, error cleared. */
	docs[0] = valid_doc(web_policy(90), 0);
	r = pf_store_sync_source(s, src_a, docs, 1, &err);
	is_int(r, 0, "fixed version");
	docs_clear(docs, 1);
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT valid || ' ' || in_force || ' ' || priority || ' ' || "
			      "ifnull(error, '-') FROM policies WHERE name = 'web-egress'");
		is_str(row, "1 1 90 -", "valid, error cleared, new priority");
	}

	/* A mangled metadata.name must not delete the policy it was. */
	docs[0] = invalid_doc(NULL, NULL, 0, "metadata.name: invalid DNS-1123 name");
	r = pf_store_sync_source(s, src_a, docs, 1, &err);
	is_int(r, 1, "a file whose only doc lost its name");
	docs_clear(docs, 1);
	r = pf_store_load_ruleset(reader, &rs, &err);
	ok(r == 0 && rs->n_policies == 1 && rs->policies[0].priority == 90,
	   "the policy stays in force");
	pf_ruleset_free(rs);
	rs = NULL;
	{
		_cleanup_free_ char *row = query1(
		    s, "SELECT valid || ' ' || error FROM policies WHERE name = 'web-egress'");
		has_str(row, "0 no longer in the source, but kept in force", "and says why: %s",
			pf_strna(row));
	}

	/* The whole file unreadable. */
	r = pf_store_source_error(s, src_a,
				  "/p/a.yaml: line 3: mapping values are not allowed here", &err);
	is_int(r, 0, "source error");
	r = pf_store_load_ruleset(reader, &rs, &err);
	ok(r == 0 && rs->n_policies == 1, "an unreadable file keeps its policies in force");
	pf_ruleset_free(rs);
	rs = NULL;
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT error FROM policies WHERE name = 'web-egress'");
		is_str(row, "/p/a.yaml: line 3: mapping values are not allowed here",
		       "with the error shown");
	}
	r = pf_store_source_error(s, "/p/c.yaml", "/p/c.yaml: not YAML", &err);
	is_int(query_int(
		   s, "SELECT count(*) FROM policies WHERE source = '/p/c.yaml' AND in_force = 0"),
	       1, "an unreadable new file shows one error row");

	/* Deleting the files. */
	ok(pf_store_delete_source(s, src_a, &err) == 0, "delete source a");
	r = pf_store_load_ruleset(reader, &rs, &err);
	ok(r == 0 && rs->n_policies == 0, "nothing in force");
	pf_ruleset_free(rs);
	rs = NULL;
	ok(pf_store_delete_source(s, src_b, &err) == 0 &&
	       pf_store_delete_source(s, "/p/c.yaml", &err) == 0,
	   "delete sources b, c");
	is_int(query_int(s, "SELECT count(*) FROM policies"), 0, "policies view empty");
	is_int(query_int(s, "SELECT count(*) FROM policy_rule"), 0, "no rule rows left (cascade)");
	is_int(query_int(s, "SELECT count(*) FROM rule_port") +
		   query_int(s, "SELECT count(*) FROM rule_peer"),
	       0, "no peer or port rows left (cascade)");

	pf_store_close(reader);
	pf_store_close(s);
}

static void test_duplicates(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_policy_doc docs[3];
	int r;

	if (pf_store_open(db_path("dups.db"), 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	docs[0] = valid_doc(web_policy(10), 0);
	docs[1] = valid_doc(lockdown_policy(), 1);
	docs[2] = valid_doc(web_policy(20), 2);
	r = pf_store_sync_source(s, "/p/dups.yaml", docs, 3, &err);
	docs_clear(docs, 3);
	is_int(r, 1, "a name defined twice in one source: one error");
	{
		_cleanup_free_ char *prio = query1(
		    s, "SELECT priority FROM policies WHERE name = 'web-egress' AND in_force");
		_cleanup_free_ char *e = query1(
		    s, "SELECT error FROM policies WHERE name = 'web-egress' AND NOT in_force");

		is_str(prio, "10", "the first definition is in force");
		is_str(e, "document 3: shop/web-egress is defined more than once in this source",
		       "the second is an error");
	}
	pf_store_close(s);
}

static void test_kube_api(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_policy_doc d;
	struct pf_addr a[] = {ip("10.1.0.1")};
	int r;

	if (pf_store_open(db_path("kube.db"), 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	/* A full resync: mark, put what exists, sweep the rest. */
	ok(pf_store_put_workload(s, PF_KIND_DEPLOYMENT, "shop", "gone", a, 1, &err) == 0,
	   "workload to be swept");
	ok(pf_store_begin(s, &err) == 0, "begin");
	ok(pf_store_mark_workloads(s, &err) == 0, "mark");
	ok(pf_store_put_workload(s, PF_KIND_DEPLOYMENT, "shop", "kept", a, 1, &err) == 0,
	   "put in batch");
	ok(pf_store_put_workload(s, PF_KIND_NAMESPACE, "ignored", "shop", a, 1, &err) == 0,
	   "put Namespace");
	d = valid_doc(web_policy(5), 0);
	r = pf_store_put_policy(s, "kube", &d, &err);
	is_int(r, 0, "put_policy in batch");
	pf_policy_doc_clear(&d);
	d = invalid_doc("shop", "web-egress", 0, "spec.priority: must be <= 65535");
	r = pf_store_put_policy(s, "kube", &d, &err);
	is_int(r, 1, "invalid put_policy: recorded, last valid kept");
	pf_policy_doc_clear(&d);
	ok(pf_store_sweep_workloads(s, &err) == 0, "sweep");
	ok(pf_store_commit(s, &err) == 0, "commit");
	is_int(query_int(s, "SELECT count(*) FROM workload"), 2, "the unmarked workload was swept");
	is_int(query_int(s, "SELECT count(*) FROM workload WHERE kind = 'Namespace' AND namespace "
			    "= 'shop'"),
	       1, "a Namespace workload is stored under its own name");
	{
		_cleanup_free_ char *row =
		    query1(s, "SELECT valid || in_force || ' ' || error FROM policies");
		is_str(row, "01 spec.priority: must be <= 65535",
		       "kube objects carry their error verbatim");
	}

	/* A rolled back batch leaves nothing. */
	ok(pf_store_begin(s, &err) == 0, "begin");
	ok(pf_store_delete_policy(s, "shop", "web-egress", &err) == 0, "delete in batch");
	pf_store_rollback(s);
	is_int(query_int(s, "SELECT count(*) FROM policies"), 1, "rollback undoes it");
	ok(pf_store_delete_policy(s, "shop", "web-egress", &err) == 0, "delete alone");
	is_int(query_int(s, "SELECT count(*) FROM policies"), 0, "gone");
	pf_store_close(s);
}

/* Kube mode: a scaled-up pod's IP reaches the API only after its sandbox starts, but its name
 * (and owner) is there before. A workload that resolves to pod names but no IPs yet applies to a
 * registered pod of that name from its first packet, as source and as destination. */
static void test_workload_pods(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_ruleset *rs = NULL;
	const struct pf_rs_policy *p;
	struct pf_policy *pol = mk_policy("shop", "web-deploy", 10);
	struct pf_policy_doc d;
	struct pf_rule *rule;
	struct pf_verdict v;
	const char *web_pods[] = {"web-1-b", "web-1-a", "web-1-a"};
	const char *web_again[] = {"web-1-a", "web-1-b"};
	const char *be_pods[] = {"be-0"};
	uint64_t dv0 = 0, dv1 = 0, w0;
	int r;

	if (pf_store_open(db_path("workload-pods.db"), 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		pf_policy_free(pol);
		return;
	}
	add_target(pol, PF_KIND_DEPLOYMENT, "shop", "web");
	rule = add_rule(pol, PF_ACTION_ALLOW);
	to_ref(rule, PF_KIND_DEPLOYMENT, "shop", "backend");
	add_ports(rule, 8080, 8080);
	rule = add_rule(pol, PF_ACTION_REJECT);
	to_cidr(rule, "10.99.0.0/24");
	d = valid_doc(pol, 0);
	r = pf_store_put_policy(s, "kube", &d, &err);
	is_int(r, 0, "put policy for Deployment shop/web (%s)", err.msg);
	pf_policy_doc_clear(&d);

	/* What sync writes: the Deployment's pods exist in the API, none has an IP yet. */
	ok(pf_store_begin(s, &err) == 0, "begin");
	ok(pf_store_put_workload(s, PF_KIND_DEPLOYMENT, "shop", "web", NULL, 0, &err) == 0,
	   "put workload Deployment shop/web without IPs");
	r = pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "web", web_pods, 3, &err);
	is_int(r, 0, "put its pod names (%s)", err.msg);
	ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "backend", be_pods, 1, &err) ==
	       0,
	   "put_workload_pods creates Deployment shop/backend");
	ok(pf_store_commit(s, &err) == 0, "commit");
	is_int(query_int(s, "SELECT count(*) FROM workload_pod"), 3,
	       "three pod names stored (duplicates dropped)");
	is_int(query_int(s, "SELECT count(*) FROM workload w JOIN workload_ip wi ON wi.workload_id "
			    "= w.id"),
	       0, "no workload IPs");
	r = pf_store_load_ruleset(s, &rs, &err);
	p = r == 0 ? rs_find(rs, "shop", "web-deploy") : NULL;
	ok(p && p->n_src == 0, "no pod registered: the policy applies to nothing yet");
	pf_ruleset_free(rs);
	rs = NULL;

	/* Unchanged (another order) writes nothing: data_version does not move. */
	pf_store_data_version(s, &dv0);
	w0 = pf_store_write_count(s);
	ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "web", web_again, 2, &err) ==
	       0,
	   "put the same pod names again");
	ok(pf_store_write_count(s) == w0, "an unchanged pod set writes nothing");
	{
		struct pf_store *other = NULL;

		if (pf_store_open(db_path("workload-pods.db"), 0, &other, &err) == 0) {
			pf_store_data_version(other, &dv0);
			ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "web",
						      web_again, 2, &err) == 0,
			   "and again");
			pf_store_data_version(other, &dv1);
			ok(dv0 == dv1, "another connection's data_version does not move");
			pf_store_close(other);
		}
	}

	/* The engine registers the scaled-up pod (CRI-O annotations name it): it is in the
	 * ruleset and applied_policies by name, before sync knows its IP. */
	ok(put_pod(s, "shop", "web-1-a", 21, "10.5.0.1", &err) == 0, "register pod shop/web-1-a");
	ok(put_pod(s, "other", "web-1-b", 22, "10.5.0.2", &err) == 0,
	   "register other/web-1-b (same name, other namespace)");
	r = pf_store_load_ruleset(s, &rs, &err);
	is_int(r, 0, "load ruleset (%s)", err.msg);
	p = r == 0 ? rs_find(rs, "shop", "web-deploy") : NULL;
	ok(p && p->n_src == 2 && has_ip(p->src, p->n_src, "10.5.0.1") &&
	       has_ip(p->src, p->n_src, "fd00::21"),
	   "appliesTo Deployment resolves to the registered pod matched by name (v4 and v6)");
	ok(p && !has_ip(p->src, p->n_src, "10.5.0.2"), "a namesake in another namespace does not");
	if (rs) {
		verdict(rs, "10.5.0.1", "10.99.0.5", 443, &v);
		ok(v.matched && v.action == PF_ACTION_REJECT && v.rule_index == 1,
		   "its first SYN to 10.99.0.5:443 is rejected by the Deployment's policy");
		verdict(rs, "10.5.0.2", "10.99.0.5", 443, &v);
		ok(!v.matched, "the namesake elsewhere: no policy");
	}
	pf_ruleset_free(rs);
	rs = NULL;
	{
		_cleanup_free_ char *row = query1(
		    s, "SELECT group_concat(pod_namespace || '/' || pod_name || ' ' || pod_ip || "
		       "' ' || rule_index || ' ' || action, '; ') FROM applied_policies "
		       "WHERE policy_name = 'web-deploy'");
		is_str(row,
		       "shop/web-1-a 10.5.0.1, fd00::21 0 Allow; shop/web-1-a 10.5.0.1, fd00::21 "
		       "1 Reject",
		       "applied_policies shows the pod matched by name");
	}

	/* As destination: to Deployment shop/backend reaches its registered pod by name. */
	ok(put_pod(s, "shop", "be-0", 23, "10.5.1.1", &err) == 0, "register pod shop/be-0");
	r = pf_store_load_ruleset(s, &rs, &err);
	p = r == 0 ? rs_find(rs, "shop", "web-deploy") : NULL;
	ok(p && p->rules[0].n_dst_ips == 2 && has_ip(p->rules[0].dst_ips, 2, "10.5.1.1"),
	   "to Deployment resolves to the registered pod matched by name");
	if (rs) {
		verdict(rs, "10.5.0.1", "10.5.1.1", 8080, &v);
		ok(v.matched && v.action == PF_ACTION_ALLOW && v.rule_index == 0,
		   "web-1-a -> be-0:8080 allowed by rule 0");
	}
	pf_ruleset_free(rs);
	rs = NULL;

	/* Scale-down: web-1-a leaves the Deployment. */
	ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "web", web_pods, 1, &err) == 0,
	   "only web-1-b left");
	is_int(query_int(s, "SELECT count(*) FROM applied_policies WHERE policy_name = "
			    "'web-deploy'"),
	       0, "web-1-a no longer in applied_policies");

	/* Namespace workloads keep pod names in the namespace itself. */
	ok(pf_store_put_workload_pods(s, PF_KIND_NAMESPACE, "ignored", "shop", be_pods, 1, &err) ==
	       0,
	   "put_workload_pods for Namespace shop");
	is_int(query_int(s,
			 "SELECT count(*) FROM workload_pod wp JOIN workload w ON w.id = "
			 "wp.workload_id WHERE w.kind = 'Namespace' AND w.namespace = 'shop' AND "
			 "wp.pod_namespace = 'shop'"),
	       1, "stored under the namespace's own name");

	/* Delete and sweep drop the pod names with the workload. */
	ok(pf_store_delete_workload(s, PF_KIND_NAMESPACE, "shop", "shop", &err) == 0,
	   "delete the Namespace workload");
	ok(pf_store_begin(s, &err) == 0, "begin");
	ok(pf_store_mark_workloads(s, &err) == 0, "mark");
	ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "backend", be_pods, 1, &err) ==
	       0,
	   "put_workload_pods alone marks a workload seen");
	ok(pf_store_sweep_workloads(s, &err) == 0, "sweep");
	ok(pf_store_commit(s, &err) == 0, "commit");
	is_int(query_int(s, "SELECT count(*) FROM workload"), 1,
	       "only Deployment shop/backend kept");
	is_int(query_int(s, "SELECT count(*) FROM workload_pod"), 1,
	       "pod names of deleted and swept workloads are gone");
	{
		const char *bad[] = {""};

		pf_error_clear(&err);
		ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "web", bad, 1, &err) ==
		       -EINVAL,
		   "an empty pod name is refused");
	}
	pf_store_close(s);
}

/* A table's column names in order, comma-separated (NULL if it has none). */
static char *table_columns(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st = NULL;
	char *out = NULL;

	if (sqlite3_prepare_v2(db,
			       "SELECT group_concat(name, ',') FROM (SELECT name FROM "
			       "pragma_table_info(?) ORDER BY cid)",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* Checks that building a database of an older schema version (r, emsg) went well, notes the
 * columns table had then in *cols_before and closes it; opens it again, which migrates it to
 * the current version. */
static struct pf_store *migrate_old_db(sqlite3 *db, int r, char *emsg, const char *path,
				       int version, const char *table, char **cols_before)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;

	is_int(r, SQLITE_OK, "built a version-%d database (%s)", version, emsg ? emsg : "");
	sqlite3_free(emsg);
	*cols_before = table_columns(db, table);
	sqlite3_close(db);

	r = pf_store_open(path, 0, &s, &err);
	is_int(r, 0, "open migrates a version-%d database (%s)", version, err.msg);
	if (r < 0)
		return NULL;
	is_int(pf_store_schema_version(s), PF_SCHEMA_VERSION, "now at version %d",
	       PF_SCHEMA_VERSION);
	return s;
}

/* A database a schema-2 build left: migration 3 adds pod names, the views keep their columns. */
static void test_migrate_v2(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	const char *path = db_path("v2.db");
	sqlite3 *db = NULL;
	char *emsg = NULL;
	_cleanup_free_ char *cols_before = NULL;
	int r;

	if (PF_SCHEMA_VERSION < 3) {
		ok(0, "schema version 3 expected");
		return;
	}
	if (sqlite3_open(path, &db) != SQLITE_OK)
		abort();
	r = sqlite3_exec(db, pf_schema_migrations[0].sql, NULL, NULL, &emsg);
	if (r == SQLITE_OK)
		r = sqlite3_exec(db, pf_schema_migrations[1].sql, NULL, NULL, &emsg);
	if (r == SQLITE_OK)
		r = sqlite3_exec(
		    db,
		    "PRAGMA user_version = 2;"
		    "INSERT INTO policy (id, namespace, name, source, in_force, valid, priority, "
		    "n_rules, updated_at)"
		    " VALUES (1, 'shop', 'p', 'kube', 1, 1, 7, 1, 1767225600000);"
		    "INSERT INTO policy_target VALUES (1, 0, 'Deployment', 'shop', 'web');"
		    "INSERT INTO policy_rule VALUES (1, 0, 'Deny', 0, 1, '*', '*');"
		    "INSERT INTO workload (id, kind, namespace, name, updated_at)"
		    " VALUES (1, 'Deployment', 'shop', 'web', 1767225600000);"
		    "INSERT INTO workload_ip VALUES (1, '10.1.0.1');"
		    "INSERT INTO pod (id, netns_dev, netns_ino, namespace, name, kind, ips, "
		    "registered_at, state) VALUES (1, 4, 1, 'shop', 'web-a', 'Pod', '10.1.0.1', "
		    "1767225600000, 'enforced');"
		    "INSERT INTO pod_ip VALUES (1, '10.1.0.1');",
		    NULL, NULL, &emsg);
	s = migrate_old_db(db, r, emsg, path, 2, "applied_policies", &cols_before);
	if (!s)
		return;
	{
		_cleanup_free_ char *cols = table_columns(pf_store_db(s), "applied_policies");
		size_t nb = cols_before ? strlen(cols_before) : 0;

		/* columns are only ever added at the end */
		ok(cols_before && cols && !strncmp(cols, cols_before, nb) &&
		       (cols[nb] == '\0' || cols[nb] == ','),
		   "applied_policies keeps its columns: %s", cols ? cols : "(none)");
	}
	{
		_cleanup_free_ char *row = query1(
		    s,
		    "SELECT pod_name || ' ' || policy_name || ' ' || action FROM applied_policies");
		is_str(row, "web-a p Deny", "a pod matched by IP before is still matched");
	}
	is_int(query_int(s, "SELECT count(*) FROM workload_pod"), 0, "workload_pod exists, empty");
	{
		const char *names[] = {"web-b"};

		ok(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, "shop", "web", names, 1,
					      &err) == 0,
		   "pod names added to the migrated workload");
		ok(put_pod(s, "shop", "web-b", 2, "10.1.0.2", &err) == 0, "register shop/web-b");
		is_int(query_int(s, "SELECT count(*) FROM applied_policies"), 2,
		       "both pods now in applied_policies");
	}
	pf_store_close(s);
}

/* kind Cluster: a ClusterFencePolicy (namespace ""), as the parser makes one. */
static struct pf_policy *mk_cluster(const char *name, uint32_t priority)
{
	struct pf_policy *p = mk_policy("", name, priority);

	p->cluster = true;
	return p;
}

/*
 * ClusterFencePolicy in the store: kept apart from a FencePolicy of the same name, shown by
 * the views with its kind (namespace NULL), loaded as the tier evaluated first, its Pass kept.
 */
static void test_cluster_policies(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_ruleset *rs = NULL;
	struct pf_policy_doc docs[3];
	struct pf_policy *c;
	struct pf_rule *r;
	struct pf_verdict v;
	int ret;

	ret = pf_store_open(db_path("cluster.db"), 0, &s, &err);
	is_int(ret, 0, "cluster: open (%s)", err.msg);
	if (ret < 0)
		return;
	ok(put_pod(s, "shop", "web", 1, "10.1.0.1", &err) == 0, "register shop/web");
	/* cluster "web-egress", same name as shop's, priority 65535: still first */
	c = mk_cluster("web-egress", 65535);
	add_target(c, PF_KIND_POD, "shop", "web");
	r = add_rule(c, PF_ACTION_PASS);
	to_cidr(r, "10.20.0.0/16");
	r = add_rule(c, PF_ACTION_DENY);
	to_cidr(r, "192.0.2.0/24");
	docs[0] = valid_doc(web_policy(0), 0);
	docs[1] = valid_doc(c, 1);
	ret = pf_store_sync_source(s, "/p/a.yaml", docs, 2, &err);
	is_int(ret, 0, "a FencePolicy and a ClusterFencePolicy of one name (%s)", err.msg);
	docs_clear(docs, 2);

	{
		_cleanup_free_ char *a =
		    query1(s, "SELECT group_concat(coalesce(namespace, '-') || ' ' "
			      "|| name || ' ' || kind, ', ') FROM policies");
		_cleanup_free_ char *b =
		    query1(s, "SELECT group_concat(coalesce(policy_namespace, '-') "
			      "|| ' ' || rule_index || ' ' || action || ' ' || "
			      "kind, ', ') FROM applied_policies WHERE pod_name = 'web'");

		is_str(a, "- web-egress ClusterFencePolicy, shop web-egress FencePolicy",
		       "policies view: kind, no namespace for the cluster one");
		is_str(b,
		       "- 0 Pass ClusterFencePolicy, - 1 Deny ClusterFencePolicy, shop 0 Allow "
		       "FencePolicy, shop 1 Allow FencePolicy, shop 2 Deny FencePolicy",
		       "applied_policies: the cluster tier first, Pass kept");
	}
	ret = pf_store_load_ruleset(s, &rs, &err);
	is_int(ret, 0, "load ruleset (%s)", err.msg);
	if (rs) {
		ok(rs->n_policies == 2 && rs->policies[0].cluster && !rs->policies[1].cluster &&
		       !strcmp(rs->policies[0].namespace, ""),
		   "the cluster policy loads as the first tier");
		verdict(rs, "10.1.0.1", "192.0.2.9", 80, &v);
		ok(v.matched && v.cluster && v.action == PF_ACTION_DENY && v.rule_index == 1,
		   "cluster Deny decides over shop's Allow");
		verdict(rs, "10.1.0.1", "10.20.0.9", 5432, &v);
		ok(v.matched && !v.cluster && v.action == PF_ACTION_ALLOW && v.rule_index == 1 &&
		       v.pass_name && v.pass_rule_index == 0,
		   "cluster Pass hands down to shop's rule 1");
		pf_ruleset_free(rs);
		rs = NULL;
	}

	/* an invalid update of the cluster policy: its last valid version stays in force */
	docs[0] = valid_doc(web_policy(0), 0);
	docs[1] = invalid_doc("", "web-egress", 1, "metadata.namespace: must be omitted");
	docs[1].cluster = true;
	ret = pf_store_sync_source(s, "/p/a.yaml", docs, 2, &err);
	is_int(ret, 1, "invalid cluster update: rejected");
	docs_clear(docs, 2);
	{
		_cleanup_free_ char *a =
		    query1(s, "SELECT valid || ' ' || in_force || ' ' || kind || ' ' "
			      "|| coalesce(namespace, 'NULL') FROM policies WHERE "
			      "name = 'web-egress' AND kind = 'ClusterFencePolicy'");

		is_str(a, "0 1 ClusterFencePolicy NULL", "  shown invalid, still in force");
	}
	/* a second source defining the same cluster policy is refused, named without a slash */
	docs[0] = valid_doc(mk_cluster("web-egress", 1), 0);
	add_target(docs[0].policy, PF_KIND_NAMESPACE, "", "shop");
	ret = pf_store_sync_source(s, "/p/b.yaml", docs, 1, &err);
	is_int(ret, 1, "the same cluster policy in another source: refused");
	docs_clear(docs, 1);
	{
		_cleanup_free_ char *a =
		    query1(s, "SELECT error || ' ' || kind FROM policies WHERE "
			      "source = '/p/b.yaml'");

		is_str(a, "web-egress is already defined in /p/a.yaml ClusterFencePolicy",
		       "  with the kind of what it meant");
	}
	ok(pf_store_delete_policy(s, "", "web-egress", &err) == 0, "delete the cluster policy");
	is_int(query_int(s, "SELECT count(*) FROM policy WHERE kind = 'ClusterFencePolicy'"), 0,
	       "  gone");
	is_int(query_int(s, "SELECT count(*) FROM policy WHERE namespace = 'shop'"), 1,
	       "  shop's of the same name stays");
	is_int(query_int(s,
			 "SELECT count(*) FROM policy_rule r JOIN policy p ON p.id = r.policy_id "
			 "WHERE p.namespace = ''"),
	       0, "  and its rules");
	pf_store_close(s);
}

/* A database a schema-4 build left: migration 5 rebuilds policy_rule (Pass) and its children
 * without losing a row or a cascade, adds kind, and the views keep their columns. */
static void test_migrate_v4(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	const char *path = db_path("v4.db");
	sqlite3 *db = NULL;
	char *emsg = NULL;
	_cleanup_free_ char *pol_before = NULL;
	int r = SQLITE_OK;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		abort();
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	for (int i = 0; i < 4 && r == SQLITE_OK; i++)
		r = sqlite3_exec(db, pf_schema_migrations[i].sql, NULL, NULL, &emsg);
	if (r == SQLITE_OK)
		r = sqlite3_exec(
		    db,
		    "PRAGMA user_version = 4;"
		    "INSERT INTO policy (id, namespace, name, source, in_force, valid, priority, "
		    "n_rules, updated_at)"
		    " VALUES (1, 'shop', 'p', 'kube', 1, 1, 7, 2, 1767225600000);"
		    "INSERT INTO policy_target VALUES (1, 0, 'Pod', 'shop', 'web-a');"
		    "INSERT INTO policy_rule VALUES (1, 0, 'Allow', 0, 0, '10.9.0.0/16', '80/TCP');"
		    "INSERT INTO policy_rule VALUES (1, 1, 'Deny', 0, 1, 'any', 'any');"
		    "INSERT INTO rule_peer VALUES (1, 0, 0, NULL, NULL, NULL, '10.9.0.0/16');"
		    "INSERT INTO rule_port VALUES (1, 0, 0, 80, 80);"
		    "INSERT INTO pod (id, netns_dev, netns_ino, namespace, name, kind, ips, "
		    "registered_at, state) VALUES (1, 4, 1, 'shop', 'web-a', 'Pod', '10.1.0.1', "
		    "1767225600000, 'enforced');"
		    "INSERT INTO pod_ip VALUES (1, '10.1.0.1');",
		    NULL, NULL, &emsg);
	s = migrate_old_db(db, r, emsg, path, 4, "policies", &pol_before);
	if (!s)
		return;
	{
		_cleanup_free_ char *cols = table_columns(pf_store_db(s), "policies");
		_cleanup_free_ char *want = NULL;

		if (pol_before && asprintf(&want, "%s,kind,mode", pol_before) < 0)
			abort();
		is_str(cols, want,
		       "policies keeps its columns and adds kind (then mode) at the end");
	}
	{
		_cleanup_free_ char *a =
		    query1(s, "SELECT group_concat(rule_index || ' ' || action || "
			      "' ' || kind, ', ') FROM applied_policies");

		is_str(a, "0 Allow FencePolicy, 1 Deny FencePolicy",
		       "old rules still applied, as FencePolicy");
	}
	{
		/* migration 7: the rows before it were TCP; a rule without ports is any protocol */
		_cleanup_free_ char *a = query1(s, "SELECT group_concat(rule_index || ' ' || "
						   "protocol, ', ') FROM applied_policies");
		_cleanup_free_ char *p = query1(s, "SELECT protocol FROM rule_port");

		is_str(a, "0 TCP, 1 any", "applied_policies shows each rule's protocols");
		is_str(p, "TCP", "old port ranges are TCP");
		is_int(query_int(s, "SELECT count(*) FROM dns_names"), 0, "dns_names view exists");
	}
	is_int(query_int(s, "SELECT count(*) FROM rule_peer"), 1, "rule_peer rows kept");
	is_int(query_int(s, "SELECT count(*) FROM rule_port"), 1, "rule_port rows kept");
	is_int(query_int(s, "SELECT count(*) FROM pragma_foreign_key_check"), 0,
	       "foreign keys consistent");
	is_int(query_int(s, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%_old%'"), 0,
	       "nothing refers to the rebuilt tables' old names");
	is_int(query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'rule_peer_ref'"), 1,
	       "rule_peer's index is back");
	/* Pass is admitted now; deleting the policy still cascades to peers and ports */
	{
		char *e = NULL;
		int rc = sqlite3_exec(
		    pf_store_db(s),
		    "INSERT INTO policy_rule (policy_id, rule_index, action, log, any_dst, "
		    "destination, ports) VALUES (1, 2, 'Pass', 0, 1, 'any', 'any')",
		    NULL, NULL, &e);

		is_int(rc, SQLITE_OK, "policy_rule admits Pass (%s)", e ? e : "");
		sqlite3_free(e);
	}
	ok(pf_store_delete_policy(s, "shop", "p", &err) == 0, "delete the migrated policy");
	is_int(query_int(s, "SELECT (SELECT count(*) FROM rule_peer) + (SELECT count(*) FROM "
			    "rule_port) + (SELECT count(*) FROM policy_rule)"),
	       0, "  its rules, peers and ports go by cascade");
	pf_store_close(s);
}

static void test_events(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_event ev[10];
	int r;

	if (pf_store_open(db_path("events.db"), 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	for (unsigned i = 0; i < 10; i++) {
		ev[i] = (struct pf_event){
		    .at_ms = 1767225600000 + i * 1000,
		    .pod_namespace = "shop",
		    .pod_name = "web",
		    .src = ip("10.0.0.1"),
		    .dst = ip(i % 2 ? "fd00::5" : "10.0.0.5"),
		    .dport = (uint16_t)(1000 + i),
		    .action = i % 2 ? PF_ACTION_REJECT : PF_ACTION_DENY,
		    .policy_namespace = i == 9 ? NULL : "shop",
		    .policy_name = i == 9 ? NULL : "web-egress",
		    .rule_index = i == 9 ? -1 : 2,
		    .count = i,
		    .reason = i == 3 ? "unparsed" : NULL,
		};
	}
	r = pf_store_append_events(s, ev, 6, 0, &err);
	is_int(r, 0, "append 6 events");
	r = pf_store_append_events(s, ev + 6, 4, 5, &err);
	is_int(r, 0, "append 4 more, at most 5 kept");
	is_int(query_int(s, "SELECT count(*) FROM recent_events"), 5, "the table is bounded");
	{
		_cleanup_free_ char *first =
		    query1(s, "SELECT at || ' ' || src || ' ' || dst || ' ' || dport || ' ' || "
			      "action || ' ' || ifnull(policy_name, '-') || ' ' || "
			      "ifnull(rule_index, '-') || ' ' || count FROM recent_events");
		is_str(first, "2026-01-01T00:00:09.000Z 10.0.0.1 fd00::5 1009 Reject - - 9",
		       "newest first; default-action events have no policy");
		_cleanup_free_ char *oldest = query1(s, "SELECT min(dport) FROM recent_events");
		is_str(oldest, "1005", "the oldest were dropped");
	}
	r = pf_store_append_events(s, ev + 3, 1, 0, &err);
	is_int(r, 0, "append an event with a reason");
	{
		_cleanup_free_ char *why = query1(
		    s, "SELECT group_concat(dport || '=' || ifnull(reason, '-')) FROM "
		       "(SELECT dport, reason FROM recent_events WHERE dport IN (1003, 1009))");
		is_str(why, "1009=-,1003=unparsed", "reason is kept, NULL for a verdict");
	}
	pf_store_close(s);
}

/* The fixed data set of tests/shell/store-views.sh. */
static int populate(const char *path)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_policy_doc docs[3];
	struct pf_addr svc[] = {ip("10.96.0.10")};
	struct pf_event ev[2];
	int r;

	if (pf_store_open(path, 0, &s, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	r = put_pod(s, "shop", "web", 11, "10.0.0.1", &err);
	if (r >= 0)
		r = put_pod(s, "other", "x", 12, "10.0.1.1", &err);
	if (r >= 0)
		r = pf_store_put_workload(s, PF_KIND_SERVICE, "shop", "db-svc", svc, 1, &err);
	docs[0] = valid_doc(web_policy(100), 0);
	docs[1] = valid_doc(lockdown_policy(), 1);
	docs[2] =
	    invalid_doc("shop", "typo", 2, "spec.egress[0].ports[0].endPort: must be >= port (80)");
	if (r >= 0)
		r = pf_store_sync_source(s, "/etc/podfence/policies/shop.yaml", docs, 3, &err);
	docs_clear(docs, 3);
	ev[0] = (struct pf_event){.at_ms = 1767225600000,
				  .pod_namespace = "shop",
				  .pod_name = "web",
				  .src = ip("10.0.0.1"),
				  .dst = ip("10.0.0.99"),
				  .dport = 80,
				  .action = PF_ACTION_DENY,
				  .policy_namespace = "shop",
				  .policy_name = "web-egress",
				  .rule_index = 2,
				  .count = 3};
	ev[1] = (struct pf_event){.at_ms = 1767225601500,
				  .pod_namespace = "other",
				  .pod_name = "x",
				  .src = ip("10.0.1.1"),
				  .dst = ip("fd00::7"),
				  .dport = 443,
				  .action = PF_ACTION_ALERT,
				  .policy_namespace = "other",
				  .policy_name = "lockdown",
				  .rule_index = 1,
				  .count = 1};
	if (r >= 0)
		r = pf_store_append_events(s, ev, 2, 1000, &err);
	pf_store_close(s);
	if (r < 0) {
		fprintf(stderr, "populate: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--populate"))
		return populate(argv[2]);

	if (!mkdtemp(tmpdir))
		return tap_skip_all("mkdtemp failed");
	test_open();
	test_migrate_old();
	test_concurrent_open();
	test_refuse_newer();
	test_resolution();
	test_invalid_update();
	test_duplicates();
	test_kube_api();
	test_workload_pods();
	test_migrate_v2();
	test_cluster_policies();
	test_migrate_v4();
	test_events();
	rm_rf(tmpdir);
	return tap_done();
}
