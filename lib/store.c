/* The sqlite store: migrations at open, policy/workload/pod/event writes, the engine's ruleset. */
#include <stdio.h>
#include <sqlite3.h>

#include "siphash.h"
#include "store.h"

#define BUSY_TIMEOUT_MS 5000
#ifndef SQLITE_OPEN_EXRESCODE /* sqlite < 3.37: extended codes are switched on after open */
#define SQLITE_OPEN_EXRESCODE 0
#endif
#define STMT_CACHE 48

struct stmt_slot {
	const char *sql; /* keyed by the address of a static string */
	sqlite3_stmt *st;
};

struct pf_store {
	sqlite3 *db;
	bool readonly;
	bool in_txn;	 /* explicit pf_store_begin() */
	bool marking;	 /* between mark_workloads and sweep_workloads */
	uint64_t writes; /* statements that changed rows of the database (not temp scratch) */
	struct stmt_slot cache[STMT_CACHE];
};

/* ---- sqlite plumbing --------------------------------------------------------------------- */

static int errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_CANTOPEN:
		return ENOENT;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		return EINVAL;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return EBADMSG;
	default:
		return EIO;
	}
}

static int db_error(struct pf_store *s, struct pf_error *err, int rc, const char *what)
{
	int e = errno_of(rc);

	return pf_error_set(err, e ? e : EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(struct pf_store *s, const char *sql, struct pf_error *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_error(s, err, rc, sql);
}

/*
 * Switching to WAL needs a moment of exclusive access, and sqlite answers SQLITE_BUSY there
 * without calling the busy handler when several processes open a new database at once
 * (podfenced and podfence-sync starting together): retry for as long as the busy timeout.
 */
static int exec_busy_retry(struct pf_store *s, const char *sql, struct pf_error *err)
{
	uint64_t deadline = pf_mono_ns() + (uint64_t)BUSY_TIMEOUT_MS * 1000000ull;
	int r;

	while ((r = exec(s, sql, err)) == -EBUSY && pf_mono_ns() < deadline)
		usleep(10 * 1000);
	return r;
}

/* A cached prepared statement, reset and unbound. */
static int prep(struct pf_store *s, const char *sql, sqlite3_stmt **out, struct pf_error *err)
{
	struct stmt_slot *free_slot = NULL;
	int rc;

	for (size_t i = 0; i < STMT_CACHE; i++) {
		if (s->cache[i].sql == sql) {
			sqlite3_reset(s->cache[i].st);
			sqlite3_clear_bindings(s->cache[i].st);
			*out = s->cache[i].st;
			return 0;
		}
		if (!s->cache[i].sql && !free_slot)
			free_slot = &s->cache[i];
	}
	if (!free_slot)
		return pf_error_set(err, ENOSPC, "store: statement cache full");
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &free_slot->st, NULL);
	if (rc != SQLITE_OK)
		return db_error(s, err, rc, "prepare");
	free_slot->sql = sql;
	*out = free_slot->st;
	return 0;
}

/* Reset at scope exit so no statement keeps a read transaction open. */
static inline void stmt_resetp(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_reset(*st);
}
#define _cleanup_reset_ _cleanup_(stmt_resetp)

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Run a statement on the connection's private temp tables: not a change anyone sees. */
static int step_scratch(struct pf_store *s, sqlite3_stmt *st, struct pf_error *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_error(s, err, rc, sqlite3_sql(st));
	return 0;
}

/* Run a write statement; count it when it changed something. */
static int step_done(struct pf_store *s, sqlite3_stmt *st, struct pf_error *err)
{
	int r = step_scratch(s, st, err);

	if (r >= 0 && sqlite3_changes(s->db) > 0)
		s->writes++;
	return r;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Every public write is one transaction, or one savepoint inside pf_store_begin(). */
static int op_begin(struct pf_store *s, struct pf_error *err)
{
	if (s->readonly)
		return pf_error_set(err, EROFS, "store: opened read-only");
	return exec(s, s->in_txn ? "SAVEPOINT pf_op" : "BEGIN IMMEDIATE", err);
}

static int op_end(struct pf_store *s, int r, struct pf_error *err)
{
	if (r >= 0) {
		int c = exec(s, s->in_txn ? "RELEASE pf_op" : "COMMIT", err);

		if (c >= 0)
			return r;
		r = c;
	}
	if (s->in_txn)
		sqlite3_exec(s->db, "ROLLBACK TO pf_op; RELEASE pf_op", NULL, NULL, NULL);
	else
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* ---- open, migrations ------------------------------------------------------------------ */

static int user_version(struct pf_store *s, int *out, struct pf_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int r = db_error(s, err, rc, "read schema version");

		sqlite3_finalize(st);
		return r;
	}
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int refuse_newer(const char *path, int v, struct pf_error *err)
{
	return pf_error_set(err, EPROTO,
			    "%s: database schema version %d is newer than this build of podfence "
			    "supports (%d); upgrade podfence or use a different --db",
			    path, v, PF_SCHEMA_VERSION);
}

static int migrate(struct pf_store *s, const char *path, struct pf_error *err)
{
	for (;;) {
		int v, r;
		char sql[64];

		/* Read the version inside the write transaction: podfenced and podfence-sync may
		 * start together, and only one of them must run each step. */
		r = exec(s, "BEGIN IMMEDIATE", err);
		if (r < 0)
			return r;
		r = user_version(s, &v, err);
		if (r >= 0 && v > PF_SCHEMA_VERSION)
			r = refuse_newer(path, v, err);
		if (r >= 0 && v < 0)
			r = pf_error_set(err, EPROTO, "%s: invalid schema version %d", path, v);
		if (r >= 0 && v == PF_SCHEMA_VERSION)
			return op_end(s, 0, err);
		if (r >= 0) {
			const struct pf_schema_migration *m = &pf_schema_migrations[v];
			int rc = sqlite3_exec(s->db, m->sql, NULL, NULL, NULL);

			if (rc != SQLITE_OK) {
				r = db_error(s, err, rc, "migration");
				pf_error_prefix(err, "%s: schema/%s", path, m->name);
			}
		}
		if (r >= 0) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
			r = exec(s, sql, err);
		}
		r = op_end(s, r, err);
		if (r < 0)
			return r;
	}
}

static int dir_of(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');

	*out = NULL;
	if (!slash || slash == path)
		return 0;
	*out = pf_strndup0(path, (size_t)(slash - path));
	return *out ? 0 : -ENOMEM;
}

int pf_store_open(const char *path, unsigned flags, struct pf_store **out, struct pf_error *err)
{
	struct pf_store *s;
	int rc, r, v, oflags;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return pf_error_set(err, ENOMEM, "out of memory");
	s->readonly = flags & PF_STORE_READONLY;

	if (!s->readonly) {
		_cleanup_free_ char *dir = NULL;

		r = dir_of(path, &dir);
		if (r >= 0 && dir)
			r = pf_mkdir_p(dir, 0700);
		if (r < 0) {
			free(s);
			return pf_error_set(err, -r, "%s: cannot create its directory: %s", path,
					    strerror(-r));
		}
		/* Ours alone: sqlite would create it 0644 (less the umask), and the -wal and
		 * -shm files take its mode. */
		r = pf_file_private(path, (const char *const[]){"-wal", "-shm", NULL});
		if (r < 0) {
			free(s);
			return pf_error_set(err, -r, "%s: cannot create it 0600: %s", path,
					    strerror(-r));
		}
	}

	if (s->readonly && access(path, F_OK) < 0) {
		r = pf_error_set(err, errno,
				 "%s: %s; podfenced or podfence-sync create the store",
				 path, strerror(errno));
		free(s);
		return r;
	}

	oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
		 (s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		r = pf_error_set(err, errno_of(rc) ? errno_of(rc) : EIO, "%s: %s", path,
				 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

	r = exec(s, "PRAGMA foreign_keys = ON", err);
	if (r < 0)
		goto fail_prefix;
	if (!s->readonly) {
		/* WAL: readers see the last commit, never a write in progress, never block it. */
		r = exec_busy_retry(s, "PRAGMA journal_mode = WAL", err);
		if (r >= 0)
			r = exec(s, "PRAGMA synchronous = NORMAL", err);
		if (r < 0)
			goto fail_prefix;
	}

	r = user_version(s, &v, err);
	if (r < 0)
		goto fail_prefix;
	if (v > PF_SCHEMA_VERSION) {
		r = refuse_newer(path, v, err);
		goto fail;
	}
	if (s->readonly) {
		if (v < PF_SCHEMA_VERSION) {
			r = pf_error_set(
				err, EPROTO,
				"%s: database schema version %d is older than this build's (%d) "
				"or the database is missing; start podfenced or podfence-sync to "
				"create or migrate it",
				path, v, PF_SCHEMA_VERSION);
			goto fail;
		}
	} else {
		r = v < PF_SCHEMA_VERSION ? migrate(s, path, err) : 0;
		if (r < 0)
			goto fail;
		/* Connection-private scratch sets: marking them changes nothing others can see. */
		r = exec(s,
			 "CREATE TEMP TABLE seen_workload (id INTEGER PRIMARY KEY);"
			 "CREATE TEMP TABLE seen_policy (id INTEGER PRIMARY KEY);",
			 err);
		if (r < 0)
			goto fail_prefix;
	}
	*out = s;
	return 0;

fail_prefix:
	pf_error_prefix(err, "%s", path);
fail:
	pf_store_close(s);
	return r;
}

void pf_store_close(struct pf_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close_v2(s->db);
	free(s);
}

int pf_store_schema_version(struct pf_store *s)
{
	int v, r;

	r = user_version(s, &v, NULL);
	return r < 0 ? r : v;
}

int pf_store_data_version(struct pf_store *s, uint64_t *out)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	static const char sql[] = "PRAGMA data_version";
	int r, rc;

	r = prep(s, sql, &st, NULL);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return -errno_of(rc);
	*out = (uint64_t)sqlite3_column_int64(st, 0);
	return 0;
}

struct sqlite3 *pf_store_db(struct pf_store *s)
{
	return s->db;
}

uint64_t pf_store_write_count(struct pf_store *s)
{
	return s->writes;
}

int pf_store_begin(struct pf_store *s, struct pf_error *err)
{
	int r;

	if (s->in_txn)
		return pf_error_set(err, EBUSY, "store: transaction already open");
	if (s->readonly)
		return pf_error_set(err, EROFS, "store: opened read-only");
	r = exec(s, "BEGIN IMMEDIATE", err);
	if (r >= 0)
		s->in_txn = true;
	return r;
}

int pf_store_commit(struct pf_store *s, struct pf_error *err)
{
	int r;

	if (!s->in_txn)
		return pf_error_set(err, EINVAL, "store: no transaction open");
	r = exec(s, "COMMIT", err);
	if (r < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	s->in_txn = false;
	return r;
}

void pf_store_rollback(struct pf_store *s)
{
	if (!s->in_txn)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = false;
	s->marking = false;
}

/* ---- policies ---------------------------------------------------------------------------- */

static const char SQL_POLICY_FIND[] = "SELECT id, source, in_force, valid, error, spec FROM policy "
				      "WHERE namespace = ?1 AND name = ?2";
static const char SQL_POLICY_INSERT[] =
	"INSERT INTO policy (namespace, name, source, in_force, valid, error, priority, n_rules, "
	"spec, updated_at, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_POLICY_SET_VALID[] =
	"UPDATE policy SET in_force = 1, valid = 1, error = NULL, priority = ?2, n_rules = ?3, "
	"spec = ?4, updated_at = ?5 WHERE id = ?1";
static const char SQL_POLICY_SET_ERROR[] =
	"UPDATE policy SET valid = 0, error = ?2, updated_at = ?3 WHERE id = ?1";
static const char SQL_TARGET_CLEAR[] = "DELETE FROM policy_target WHERE policy_id = ?1";
static const char SQL_RULE_CLEAR[] = "DELETE FROM policy_rule WHERE policy_id = ?1";
static const char SQL_TARGET_INSERT[] = "INSERT INTO policy_target (policy_id, idx, kind, "
					"namespace, name) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_RULE_INSERT[] =
	"INSERT INTO policy_rule (policy_id, rule_index, action, log, any_dst, destination, ports) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_PEER_INSERT[] =
	"INSERT INTO rule_peer (policy_id, rule_index, idx, kind, namespace, name, cidr) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_PORT_INSERT[] = "INSERT INTO rule_port (policy_id, rule_index, idx, port, "
				      "end_port) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_SOURCE_ERROR_INSERT[] =
	"INSERT INTO source_error (source, doc_index, namespace, name, error, updated_at, kind) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_SEEN_POLICY[] = "INSERT OR IGNORE INTO temp.seen_policy (id) VALUES (?1)";

struct policy_row {
	int64_t id;
	char *source;
	bool in_force, valid;
	char *error;
	char *spec;
};

static void policy_row_done(struct policy_row *p)
{
	free(p->source);
	free(p->error);
	free(p->spec);
	memset(p, 0, sizeof(*p));
}

static char *dup_col(sqlite3_stmt *st, int i, bool *oom)
{
	const char *t = col_text(st, i);
	char *d;

	if (!t)
		return NULL;
	d = strdup(t);
	if (!d)
		*oom = true;
	return d;
}

/* 1 found, 0 not found, <0 error. */
static int policy_find(struct pf_store *s, const char *ns, const char *name, struct policy_row *row,
		       struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	bool oom = false;
	int r, rc;

	memset(row, 0, sizeof(*row));
	r = prep(s, SQL_POLICY_FIND, &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, ns);
	bind_text(st, 2, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return db_error(s, err, rc, "find policy");
	row->id = sqlite3_column_int64(st, 0);
	row->source = dup_col(st, 1, &oom);
	row->in_force = sqlite3_column_int(st, 2);
	row->valid = sqlite3_column_int(st, 3);
	row->error = dup_col(st, 4, &oom);
	row->spec = dup_col(st, 5, &oom);
	if (oom || !row->source) {
		policy_row_done(row);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	return 1;
}

static int seen_policy(struct pf_store *s, int64_t id, struct pf_error *err)
{
	sqlite3_stmt *st;
	int r = prep(s, SQL_SEEN_POLICY, &st, err);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	return step_scratch(s, st, err);
}

/* "shop/web" for a FencePolicy, "web" for a ClusterFencePolicy (namespace ""). */
static const char *policy_label(const char *ns, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", ns, *ns ? "/" : "", name);
	return buf;
}

/* kind: the policy kind a document meant to be, NULL when its identity is unknown. */
static int source_error_add(struct pf_store *s, const char *source, int doc_index, const char *ns,
			    const char *name, const char *kind, const char *msg, int64_t now,
			    struct pf_error *err)
{
	sqlite3_stmt *st;
	int r = prep(s, SQL_SOURCE_ERROR_INSERT, &st, err);

	if (r < 0)
		return r;
	bind_text(st, 1, source);
	if (doc_index >= 0)
		sqlite3_bind_int(st, 2, doc_index);
	bind_text(st, 3, ns);
	bind_text(st, 4, name);
	bind_text(st, 5, msg);
	sqlite3_bind_int64(st, 6, now);
	bind_text(st, 7, ns && name ? kind : NULL);
	return step_done(s, st, err);
}

static int insert_rules(struct pf_store *s, int64_t id, const struct pf_policy *p,
			struct pf_error *err)
{
	sqlite3_stmt *st;
	int r;

	for (size_t i = 0; i < p->n_applies_to; i++) {
		const struct pf_ref *ref = &p->applies_to[i];

		r = prep(s, SQL_TARGET_INSERT, &st, err);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		bind_text(st, 3, pf_kind_to_string(ref->kind));
		/* A Namespace ref names the namespace; its namespace field is the same name. */
		bind_text(st, 4, ref->kind == PF_KIND_NAMESPACE ? ref->name : ref->namespace);
		bind_text(st, 5, ref->name);
		r = step_done(s, st, err);
		if (r < 0)
			return r;
	}

	for (size_t i = 0; i < p->n_egress; i++) {
		const struct pf_rule *rule = &p->egress[i];
		_cleanup_free_ char *dst = NULL, *ports = NULL;

		if (pf_rule_destination_string(rule, &dst) < 0 ||
		    pf_rule_ports_string(rule, &ports) < 0)
			return pf_error_set(err, ENOMEM, "out of memory");
		r = prep(s, SQL_RULE_INSERT, &st, err);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		bind_text(st, 3, pf_action_to_string(rule->action));
		sqlite3_bind_int(st, 4, rule->log);
		sqlite3_bind_int(st, 5, rule->n_to == 0);
		bind_text(st, 6, dst);
		bind_text(st, 7, ports);
		r = step_done(s, st, err);
		if (r < 0)
			return r;

		for (size_t j = 0; j < rule->n_to; j++) {
			const struct pf_peer *peer = &rule->to[j];
			char buf[PF_PREFIX_STRLEN];

			r = prep(s, SQL_PEER_INSERT, &st, err);
			if (r < 0)
				return r;
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, (int64_t)i);
			sqlite3_bind_int64(st, 3, (int64_t)j);
			if (peer->is_cidr) {
				bind_text(st, 7, pf_prefix_fmt(&peer->cidr, buf));
			} else {
				bind_text(st, 4, pf_kind_to_string(peer->ref.kind));
				bind_text(st, 5,
					  peer->ref.kind == PF_KIND_NAMESPACE
						  ? peer->ref.name
						  : peer->ref.namespace);
				bind_text(st, 6, peer->ref.name);
			}
			r = step_done(s, st, err);
			if (r < 0)
				return r;
		}
		for (size_t j = 0; j < rule->n_ports; j++) {
			r = prep(s, SQL_PORT_INSERT, &st, err);
			if (r < 0)
				return r;
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, (int64_t)i);
			sqlite3_bind_int64(st, 3, (int64_t)j);
			sqlite3_bind_int(st, 4, rule->ports[j].port);
			sqlite3_bind_int(st, 5, rule->ports[j].end_port);
			r = step_done(s, st, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Store a valid policy as the version in force. 0 applied (or unchanged), 1 rejected. */
static int policy_write_valid(struct pf_store *s, const char *source, const struct pf_policy *p,
			      int doc_index, int64_t now, struct pf_error *err)
{
	_cleanup_free_ char *spec = NULL;
	struct policy_row row;
	sqlite3_stmt *st;
	int64_t id;
	int r, found;

	found = policy_find(s, p->namespace, p->name, &row, err);
	if (found < 0)
		return found;
	if (found && !pf_streq(row.source, source)) {
		char msg[1024], label[512];

		snprintf(msg, sizeof(msg), "%s is already defined in %s",
			 policy_label(p->namespace, p->name, label, sizeof(label)), row.source);
		policy_row_done(&row);
		r = source_error_add(s, source, doc_index, p->namespace, p->name,
				     pf_policy_kind_string(p->cluster), msg, now, err);
		return r < 0 ? r : 1;
	}
	if (pf_policy_to_json(p, &spec) < 0) {
		policy_row_done(&row);
		return pf_error_set(err, ENOMEM, "out of memory");
	}

	if (found) {
		id = row.id;
		if (row.in_force && row.valid && !row.error && pf_streq(row.spec, spec)) {
			policy_row_done(&row);
			return seen_policy(s, id, err);
		}
		policy_row_done(&row);
		r = prep(s, SQL_POLICY_SET_VALID, &st, err);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)p->priority);
		sqlite3_bind_int64(st, 3, (int64_t)p->n_egress);
		bind_text(st, 4, spec);
		sqlite3_bind_int64(st, 5, now);
		r = step_done(s, st, err);
		if (r < 0)
			return r;
		/* Replace the old version's rows; rule_peer and rule_port follow by cascade. */
		r = prep(s, SQL_TARGET_CLEAR, &st, err);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		r = step_done(s, st, err);
		if (r < 0)
			return r;
		r = prep(s, SQL_RULE_CLEAR, &st, err);
		if (r < 0)
			return r;
		sqlite3_bind_int64(st, 1, id);
		r = step_done(s, st, err);
		if (r < 0)
			return r;
	} else {
		r = prep(s, SQL_POLICY_INSERT, &st, err);
		if (r < 0)
			return r;
		bind_text(st, 1, p->namespace);
		bind_text(st, 2, p->name);
		bind_text(st, 3, source);
		sqlite3_bind_int(st, 4, 1);
		sqlite3_bind_int(st, 5, 1);
		sqlite3_bind_int(st, 7, (int)p->priority);
		sqlite3_bind_int64(st, 8, (int64_t)p->n_egress);
		bind_text(st, 9, spec);
		sqlite3_bind_int64(st, 10, now);
		bind_text(st, 11, pf_policy_kind_string(p->cluster));
		r = step_done(s, st, err);
		if (r < 0)
			return r;
		id = sqlite3_last_insert_rowid(s->db);
	}
	r = insert_rules(s, id, p, err);
	if (r < 0)
		return r;
	return seen_policy(s, id, err);
}

/* Record an invalid version; whatever version was in force stays. Returns 1 (rejected). */
static int policy_write_invalid(struct pf_store *s, const char *source, const char *ns,
				const char *name, bool cluster, int doc_index, const char *msg,
				int64_t now, struct pf_error *err)
{
	const char *kind = pf_policy_kind_string(cluster);
	struct policy_row row;
	sqlite3_stmt *st;
	int r, found;

	if (!ns || !name) {
		r = source_error_add(s, source, doc_index, ns, name, kind, msg, now, err);
		return r < 0 ? r : 1;
	}
	found = policy_find(s, ns, name, &row, err);
	if (found < 0)
		return found;
	if (found && !pf_streq(row.source, source)) {
		char buf[1024 + 256], label[512];

		snprintf(buf, sizeof(buf), "%.1000s (and %.200s is already defined in %s)", msg,
			 policy_label(ns, name, label, sizeof(label)), row.source);
		policy_row_done(&row);
		r = source_error_add(s, source, doc_index, ns, name, kind, buf, now, err);
		return r < 0 ? r : 1;
	}
	if (found) {
		int64_t id = row.id;
		bool same = !row.valid && pf_streq(row.error, msg);

		policy_row_done(&row);
		if (!same) {
			r = prep(s, SQL_POLICY_SET_ERROR, &st, err);
			if (r < 0)
				return r;
			sqlite3_bind_int64(st, 1, id);
			bind_text(st, 2, msg);
			sqlite3_bind_int64(st, 3, now);
			r = step_done(s, st, err);
			if (r < 0)
				return r;
		}
		r = seen_policy(s, id, err);
		return r < 0 ? r : 1;
	}
	r = prep(s, SQL_POLICY_INSERT, &st, err);
	if (r < 0)
		return r;
	bind_text(st, 1, ns);
	bind_text(st, 2, name);
	bind_text(st, 3, source);
	sqlite3_bind_int(st, 4, 0);
	sqlite3_bind_int(st, 5, 0);
	bind_text(st, 6, msg);
	sqlite3_bind_int64(st, 8, 0);
	sqlite3_bind_int64(st, 10, now);
	bind_text(st, 11, kind);
	r = step_done(s, st, err);
	if (r < 0)
		return r;
	r = seen_policy(s, sqlite3_last_insert_rowid(s->db), err);
	return r < 0 ? r : 1;
}

static const char *doc_ns(const struct pf_policy_doc *d)
{
	return d->policy ? d->policy->namespace : d->namespace;
}

static const char *doc_name(const struct pf_policy_doc *d)
{
	return d->policy ? d->policy->name : d->name;
}

/* The error as the policies view shows it: where in the source (as pf_policy_doc_format_error
 * words it, without the file: that is the source column), then what. */
static void doc_message(const struct pf_policy_doc *d, bool located, char *buf, size_t size)
{
	const char *e = d->error[0] ? d->error : "invalid";
	unsigned line = d->error_line ? d->error_line : d->line;

	if (!located)
		snprintf(buf, size, "%s", e);
	else if (line)
		snprintf(buf, size, "document %u (line %u): %s", d->index + 1, line, e);
	else
		snprintf(buf, size, "document %u: %s", d->index + 1, e);
}

static int write_doc(struct pf_store *s, const char *source, const struct pf_policy_doc *d,
		     bool located, int64_t now, struct pf_error *err)
{
	char msg[sizeof(d->error) + 64];

	if (d->policy)
		return policy_write_valid(s, source, d->policy, (int)d->index, now, err);
	doc_message(d, located, msg, sizeof(msg));
	return policy_write_invalid(s, source, d->namespace, d->name, d->cluster, (int)d->index, msg,
				    now, err);
}

static int exec_source(struct pf_store *s, const char *sql, const char *source,
		       struct pf_error *err)
{
	sqlite3_stmt *st;
	int r = prep(s, sql, &st, err);

	if (r < 0)
		return r;
	bind_text(st, 1, source);
	return step_done(s, st, err);
}

static const char SQL_SOURCE_ERRORS_CLEAR[] = "DELETE FROM source_error WHERE source = ?1";
static const char SQL_SEEN_POLICY_CLEAR[] = "DELETE FROM temp.seen_policy";
static const char SQL_SOURCE_DELETE_UNSEEN[] =
	"DELETE FROM policy WHERE source = ?1 AND id NOT IN (SELECT id FROM temp.seen_policy)";
static const char SQL_SOURCE_KEEP_UNSEEN[] =
	"UPDATE policy SET valid = 0, error = ?2, updated_at = ?3 WHERE source = ?1 "
	"AND id NOT IN (SELECT id FROM temp.seen_policy) AND (valid OR error IS NOT ?2)";

struct doc_key {
	const char *ns, *name;
	size_t i;
};

static int doc_key_order(const void *a, const void *b)
{
	const struct doc_key *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	if (!c)
		c = strcmp(x->name, y->name);
	if (!c)
		c = x->i < y->i ? -1 : x->i > y->i;
	return c;
}

/* dup[i]: docs[i] names a policy an earlier doc of the same source names too. */
static int find_duplicates(const struct pf_policy_doc *docs, size_t n, bool **out)
{
	_cleanup_free_ struct doc_key *keys = NULL;
	bool *dup;
	size_t k = 0;

	*out = NULL;
	dup = calloc(n ? n : 1, sizeof(*dup));
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!dup || !keys) {
		free(dup);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (doc_ns(&docs[i]) && doc_name(&docs[i]))
			keys[k++] = (struct doc_key){ doc_ns(&docs[i]), doc_name(&docs[i]), i };
	qsort(keys, k, sizeof(*keys), doc_key_order);
	for (size_t j = 1; j < k; j++)
		if (!strcmp(keys[j].ns, keys[j - 1].ns) && !strcmp(keys[j].name, keys[j - 1].name))
			dup[keys[j].i] = true;
	*out = dup;
	return 0;
}

static int sync_source_locked(struct pf_store *s, const char *source,
			      const struct pf_policy_doc *docs, size_t n_docs, int64_t now,
			      struct pf_error *err)
{
	_cleanup_free_ bool *dups = NULL;
	char msg[256]; /* bound SQLITE_STATIC: lives until the statement ran */
	sqlite3_stmt *st;
	size_t n_invalid = 0;
	int r, errors = 0;

	if (find_duplicates(docs, n_docs, &dups) < 0)
		return pf_error_set(err, ENOMEM, "out of memory");

	/* Errors of the source's previous version go; the docs below record the current ones. */
	r = exec_source(s, SQL_SOURCE_ERRORS_CLEAR, source, err);
	if (r < 0)
		return r;
	r = exec(s, SQL_SEEN_POLICY_CLEAR, err);
	if (r < 0)
		return r;

	for (size_t i = 0; i < n_docs; i++) {
		const struct pf_policy_doc *d = &docs[i];
		const char *ns = doc_ns(d), *name = doc_name(d);

		if (!d->policy)
			n_invalid++;
		if (dups[i]) {
			char dmsg[768], label[512];

			snprintf(dmsg, sizeof(dmsg),
				 "document %u: %s is defined more than once in this source",
				 d->index + 1, policy_label(ns, name, label, sizeof(label)));
			r = source_error_add(s, source, (int)d->index, ns, name,
					     pf_policy_kind_string(d->policy ? d->policy->cluster
									     : d->cluster),
					     dmsg, now, err);
			if (r < 0)
				return r;
			errors++;
			continue;
		}
		r = write_doc(s, source, d, true, now, err);
		if (r < 0)
			return r;
		errors += r;
	}

	if (n_invalid) {
		/* The invalid doc may be this policy with a mangled name: keep it in force. */
		snprintf(msg, sizeof(msg),
			 "no longer in the source, but kept in force while %zu of its documents %s "
			 "invalid",
			 n_invalid, n_invalid == 1 ? "is" : "are");
		r = prep(s, SQL_SOURCE_KEEP_UNSEEN, &st, err);
		if (r < 0)
			return r;
		bind_text(st, 1, source);
		bind_text(st, 2, msg);
		sqlite3_bind_int64(st, 3, now);
	} else {
		r = prep(s, SQL_SOURCE_DELETE_UNSEEN, &st, err);
		if (r < 0)
			return r;
		bind_text(st, 1, source);
	}
	r = step_done(s, st, err);
	return r < 0 ? r : errors;
}

int pf_store_sync_source(struct pf_store *s, const char *source, const struct pf_policy_doc *docs,
			 size_t n_docs, struct pf_error *err)
{
	int r = op_begin(s, err);

	if (r < 0)
		return r;
	r = sync_source_locked(s, source, docs, n_docs, pf_now_ms(), err);
	return op_end(s, r, err);
}

static const char SQL_SOURCE_SET_ERROR[] = "UPDATE policy SET valid = 0, error = ?2, updated_at = "
					   "?3 WHERE source = ?1 AND (valid OR error IS NOT ?2)";
static const char SQL_SOURCE_COUNT[] = "SELECT count(*) FROM policy WHERE source = ?1";
static const char SQL_SOURCE_ERROR_SAME[] =
	"SELECT count(*) FROM source_error WHERE source = ?1 AND doc_index IS NULL AND error = ?2";

int pf_store_source_error(struct pf_store *s, const char *source, const char *error,
			  struct pf_error *err)
{
	int64_t now = pf_now_ms();
	sqlite3_stmt *st;
	int r, rc;

	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_SOURCE_SET_ERROR, &st, err);
	if (r < 0)
		goto out;
	bind_text(st, 1, source);
	bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, now);
	r = step_done(s, st, err);
	if (r < 0)
		goto out;

	r = prep(s, SQL_SOURCE_COUNT, &st, err);
	if (r < 0)
		goto out;
	bind_text(st, 1, source);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = db_error(s, err, rc, "count policies");
		sqlite3_reset(st);
		goto out;
	}
	r = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (r > 0) {
		/* Its policies carry the error now. */
		r = exec_source(s, SQL_SOURCE_ERRORS_CLEAR, source, err);
		goto out;
	}

	/* No policy to carry it: one error row for the source (unchanged: no write). */
	r = prep(s, SQL_SOURCE_ERROR_SAME, &st, err);
	if (r < 0)
		goto out;
	bind_text(st, 1, source);
	bind_text(st, 2, error);
	rc = sqlite3_step(st);
	r = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	if (r > 0) {
		r = 0;
		goto out;
	}
	r = exec_source(s, SQL_SOURCE_ERRORS_CLEAR, source, err);
	if (r >= 0)
		r = source_error_add(s, source, -1, NULL, NULL, NULL, error, now, err);
out:
	return op_end(s, r < 0 ? r : 0, err);
}

static const char SQL_SOURCE_ERROR_CLEAR_ONE[] =
	"DELETE FROM source_error WHERE source = ?1 AND namespace IS ?2 AND name IS ?3";

int pf_store_put_policy(struct pf_store *s, const char *source, const struct pf_policy_doc *doc,
			struct pf_error *err)
{
	sqlite3_stmt *st;
	int r;

	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_SOURCE_ERROR_CLEAR_ONE, &st, err);
	if (r >= 0) {
		bind_text(st, 1, source);
		bind_text(st, 2, doc_ns(doc));
		bind_text(st, 3, doc_name(doc));
		r = step_done(s, st, err);
	}
	if (r >= 0)
		r = write_doc(s, source, doc, false, pf_now_ms(), err);
	return op_end(s, r, err);
}

static const char SQL_POLICY_DELETE[] = "DELETE FROM policy WHERE namespace = ?1 AND name = ?2";
static const char SQL_SOURCE_ERROR_DELETE_NAME[] =
	"DELETE FROM source_error WHERE namespace = ?1 AND name = ?2";

/* Run each of n statements with ?1 = a and ?2 = b, inside the caller's operation. */
static int exec_each(struct pf_store *s, const char *const *sqls, size_t n, const char *a,
		     const char *b, struct pf_error *err)
{
	sqlite3_stmt *st;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = prep(s, sqls[i], &st, err);
		if (r < 0)
			break;
		bind_text(st, 1, a);
		bind_text(st, 2, b);
		r = step_done(s, st, err);
	}
	return r;
}

int pf_store_delete_policy(struct pf_store *s, const char *namespace, const char *name,
			   struct pf_error *err)
{
	static const char *const sqls[] = { SQL_POLICY_DELETE, SQL_SOURCE_ERROR_DELETE_NAME };
	int r;

	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = exec_each(s, sqls, PF_ARRAY_SIZE(sqls), namespace, name, err);
	return op_end(s, r, err);
}

static const char SQL_SOURCE_DELETE[] = "DELETE FROM policy WHERE source = ?1";

/* Every policy and error row of source, inside the caller's operation. */
static int clear_source(struct pf_store *s, const char *source, struct pf_error *err)
{
	int r = exec_source(s, SQL_SOURCE_DELETE, source, err);

	return r < 0 ? r : exec_source(s, SQL_SOURCE_ERRORS_CLEAR, source, err);
}

int pf_store_delete_source(struct pf_store *s, const char *source, struct pf_error *err)
{
	int r = op_begin(s, err);

	if (r < 0)
		return r;
	r = clear_source(s, source, err);
	return op_end(s, r, err);
}

static const char SQL_SOURCE_RENAME[] = "UPDATE policy SET source = ?2 WHERE source = ?1";
static const char SQL_SOURCE_ERRORS_RENAME[] =
	"UPDATE source_error SET source = ?2 WHERE source = ?1";

int pf_store_rename_source(struct pf_store *s, const char *from, const char *to,
			   struct pf_error *err)
{
	static const char *const sqls[] = { SQL_SOURCE_RENAME, SQL_SOURCE_ERRORS_RENAME };
	int r;

	if (pf_streq(from, to))
		return 0;
	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = clear_source(s, to, err);
	if (r >= 0)
		r = exec_each(s, sqls, PF_ARRAY_SIZE(sqls), from, to, err);
	return op_end(s, r, err);
}

static const char SQL_SOURCES[] =
	"SELECT source FROM policy UNION SELECT source FROM source_error ORDER BY 1";

int pf_store_list_sources(struct pf_store *s, char ***out, size_t *n_out, struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r, rc;

	*out = NULL;
	*n_out = 0;
	r = prep(s, SQL_SOURCES, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (pf_grow((void **)&v, &cap, n, sizeof(*v)) < 0 ||
		    !(v[n] = strdup(col_text(st, 0)))) {
			for (size_t i = 0; i < n; i++)
				free(v[i]);
			free(v);
			return pf_error_set(err, ENOMEM, "out of memory");
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return db_error(s, err, rc, "list sources");
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- workloads ----------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int addr_order(const void *a, const void *b)
{
	return pf_addr_cmp(a, b);
}

/* Canonical text of each address, sorted (IPv4 before IPv6, numeric), duplicates removed. */
static int ip_texts(const struct pf_addr *ips, size_t n, char (**out)[PF_ADDR_STRLEN],
		    size_t *n_out)
{
	_cleanup_free_ struct pf_addr *sorted = NULL;
	char(*t)[PF_ADDR_STRLEN];
	size_t m = 0;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	t = calloc(n, sizeof(*t));
	sorted = calloc(n, sizeof(*sorted));
	if (!t || !sorted) {
		free(t);
		return -ENOMEM;
	}
	memcpy(sorted, ips, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), addr_order);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && pf_addr_eq(&sorted[i], &sorted[i - 1]))
			continue;
		pf_addr_fmt(&sorted[i], t[m++]);
	}
	*out = t;
	*n_out = m;
	return 0;
}

static const char SQL_WORKLOAD_FIND[] =
	"SELECT id FROM workload WHERE kind = ?1 AND namespace = ?2 AND name = ?3";
static const char SQL_WORKLOAD_IPS[] =
	"SELECT ip FROM workload_ip WHERE workload_id = ?1 ORDER BY ip";
static const char SQL_WORKLOAD_INSERT[] =
	"INSERT INTO workload (kind, namespace, name, updated_at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_WORKLOAD_TOUCH[] = "UPDATE workload SET updated_at = ?2 WHERE id = ?1";
static const char SQL_WORKLOAD_IPS_CLEAR[] = "DELETE FROM workload_ip WHERE workload_id = ?1";
static const char SQL_WORKLOAD_IP_INSERT[] =
	"INSERT OR IGNORE INTO workload_ip (workload_id, ip) VALUES (?1, ?2)";
static const char SQL_SEEN_WORKLOAD[] = "INSERT OR IGNORE INTO temp.seen_workload (id) VALUES (?1)";

static const char *kind_name(enum pf_kind kind)
{
	return pf_kind_to_string(kind);
}

static const char SQL_WORKLOAD_PODS[] =
	"SELECT pod_name FROM workload_pod WHERE workload_id = ?1 ORDER BY pod_name";
static const char SQL_WORKLOAD_PODS_CLEAR[] = "DELETE FROM workload_pod WHERE workload_id = ?1";
static const char SQL_WORKLOAD_POD_INSERT[] = "INSERT OR IGNORE INTO workload_pod (workload_id, "
					      "pod_name, pod_namespace) VALUES (?1, ?2, ?3)";

/* What a workload resolves to, one table each: its addresses, and the names of its pods. */
struct member_set {
	const char *sql_list;	/* ?1 workload id; values ORDER BY value */
	const char *sql_clear;	/* ?1 workload id */
	const char *sql_insert; /* ?1 workload id, ?2 value[, ?3 namespace] */
	bool with_namespace;
};

static const struct member_set workload_ips = {SQL_WORKLOAD_IPS, SQL_WORKLOAD_IPS_CLEAR,
					       SQL_WORKLOAD_IP_INSERT, false};
static const struct member_set workload_pods = {SQL_WORKLOAD_PODS, SQL_WORKLOAD_PODS_CLEAR,
						SQL_WORKLOAD_POD_INSERT, true};

/* Does the stored set of workload id equal sorted[0..n) (sorted, unique)? 1, 0 or -errno. */
static int member_set_equal(struct pf_store *s, const struct member_set *set, int64_t id,
			    const char *const *sorted, size_t n, struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	size_t i = 0;
	int r, rc;

	r = prep(s, set->sql_list, &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (i >= n || !pf_streq(col_text(st, 0), sorted[i]))
			return 0;
		i++;
	}
	if (rc != SQLITE_DONE)
		return db_error(s, err, rc, "read workload");
	return i == n;
}

/*
 * Replace one member set of workload (k, namespace, name), creating the workload if needed,
 * in one transaction. sorted[0..n) is sorted and unique. An unchanged set writes nothing, so
 * the engine's data_version moves only on real changes; the workload is marked seen for a
 * full resync either way.
 */
static int put_workload_set(struct pf_store *s, const char *k, const char *namespace, const char *name,
			    const struct member_set *set, const char *const *sorted, size_t n,
			    struct pf_error *err)
{
	sqlite3_stmt *st;
	int64_t id = -1;
	int r, rc;

	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_WORKLOAD_FIND, &st, err);
	if (r < 0)
		goto out;
	bind_text(st, 1, k);
	bind_text(st, 2, namespace);
	bind_text(st, 3, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = db_error(s, err, rc, "find workload");
		goto out;
	}

	if (id >= 0) {
		r = member_set_equal(s, set, id, sorted, n, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			r = prep(s, SQL_WORKLOAD_TOUCH, &st, err);
			if (r < 0)
				goto out;
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, pf_now_ms());
			r = step_done(s, st, err);
			if (r < 0)
				goto out;
			r = prep(s, set->sql_clear, &st, err);
			if (r < 0)
				goto out;
			sqlite3_bind_int64(st, 1, id);
			r = step_done(s, st, err);
			if (r < 0)
				goto out;
		} else {
			n = 0; /* unchanged: write nothing */
		}
	} else {
		r = prep(s, SQL_WORKLOAD_INSERT, &st, err);
		if (r < 0)
			goto out;
		bind_text(st, 1, k);
		bind_text(st, 2, namespace);
		bind_text(st, 3, name);
		sqlite3_bind_int64(st, 4, pf_now_ms());
		r = step_done(s, st, err);
		if (r < 0)
			goto out;
		id = sqlite3_last_insert_rowid(s->db);
	}
	for (size_t i = 0; i < n; i++) {
		r = prep(s, set->sql_insert, &st, err);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, sorted[i]);
		if (set->with_namespace)
			bind_text(st, 3, namespace);
		r = step_done(s, st, err);
		if (r < 0)
			goto out;
	}
	if (s->marking) {
		r = prep(s, SQL_SEEN_WORKLOAD, &st, err);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(st, 1, id);
		r = step_scratch(s, st, err);
	}
out:
	return op_end(s, r < 0 ? r : 0, err);
}

int pf_store_put_workload(struct pf_store *s, enum pf_kind kind, const char *namespace,
			  const char *name, const struct pf_addr *ips, size_t n_ips,
			  struct pf_error *err)
{
	_cleanup_free_ char(*t)[PF_ADDR_STRLEN] = NULL;
	_cleanup_free_ const char **sorted = NULL;
	const char *k = kind_name(kind);
	size_t n = 0;
	int r;

	if (!k || !namespace || !name)
		return pf_error_set(err, EINVAL, "store: invalid workload");
	if (kind == PF_KIND_NAMESPACE)
		namespace = name;
	r = ip_texts(ips, n_ips, &t, &n);
	if (r < 0)
		return pf_error_set(err, -r, "out of memory");
	if (n) {
		/* ip_texts is unique; the stored set is compared in text order. */
		sorted = calloc(n, sizeof(*sorted));
		if (!sorted)
			return pf_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			sorted[i] = t[i];
		qsort(sorted, n, sizeof(*sorted), cmp_str);
	}
	return put_workload_set(s, k, namespace, name, &workload_ips, sorted, n, err);
}

int pf_store_put_workload_pods(struct pf_store *s, enum pf_kind kind, const char *namespace,
			       const char *name, const char *const *pod_names, size_t n_pods,
			       struct pf_error *err)
{
	_cleanup_free_ const char **sorted = NULL;
	const char *k = kind_name(kind);
	size_t n = 0;

	if (!k || !namespace || !name || (n_pods && !pod_names))
		return pf_error_set(err, EINVAL, "store: invalid workload");
	if (kind == PF_KIND_NAMESPACE)
		namespace = name;
	if (n_pods) {
		sorted = calloc(n_pods, sizeof(*sorted));
		if (!sorted)
			return pf_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < n_pods; i++) {
			if (!pod_names[i] || !*pod_names[i])
				return pf_error_set(err, EINVAL, "store: invalid pod name");
			sorted[i] = pod_names[i];
		}
		qsort(sorted, n_pods, sizeof(*sorted), cmp_str);
		for (size_t i = 0; i < n_pods; i++)
			if (n == 0 || strcmp(sorted[n - 1], sorted[i]) != 0)
				sorted[n++] = sorted[i];
	}
	return put_workload_set(s, k, namespace, name, &workload_pods, sorted, n, err);
}

static const char SQL_WORKLOAD_DELETE[] =
	"DELETE FROM workload WHERE kind = ?1 AND namespace = ?2 AND name = ?3";

int pf_store_delete_workload(struct pf_store *s, enum pf_kind kind, const char *namespace,
			     const char *name, struct pf_error *err)
{
	const char *k = kind_name(kind);
	sqlite3_stmt *st;
	int r;

	if (!k || !namespace || !name)
		return pf_error_set(err, EINVAL, "store: invalid workload");
	if (kind == PF_KIND_NAMESPACE)
	namespace = name;
	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_WORKLOAD_DELETE, &st, err);
	if (r >= 0) {
		bind_text(st, 1, k);
		bind_text(st, 2, namespace);
		bind_text(st, 3, name);
		r = step_done(s, st, err);
	}
	return op_end(s, r, err);
}

int pf_store_mark_workloads(struct pf_store *s, struct pf_error *err)
{
	int r;

	if (s->readonly)
		return pf_error_set(err, EROFS, "store: opened read-only");
	r = exec(s, "DELETE FROM temp.seen_workload", err);
	if (r >= 0)
		s->marking = true;
	return r;
}

static const char SQL_WORKLOAD_SWEEP[] =
	"DELETE FROM workload WHERE id NOT IN (SELECT id FROM temp.seen_workload)";

int pf_store_sweep_workloads(struct pf_store *s, struct pf_error *err)
{
	sqlite3_stmt *st;
	int r;

	if (!s->marking)
		return pf_error_set(err, EINVAL, "store: sweep without mark");
	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_WORKLOAD_SWEEP, &st, err);
	if (r >= 0)
		r = step_done(s, st, err);
	r = op_end(s, r, err);
	if (r >= 0)
		s->marking = false;
	return r;
}

/* ---- pods ------------------------------------------------------------------------------------ */

static const char SQL_POD_FIND[] = "SELECT id FROM pod WHERE netns_dev = ?1 AND netns_ino = ?2";
static const char SQL_POD_INSERT[] =
	"INSERT INTO pod (netns_dev, netns_ino, namespace, name, uid, kind, netns_path, ips, "
	"containers, registered_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_POD_UPDATE[] =
	"UPDATE pod SET namespace = ?3, name = ?4, uid = ?5, kind = ?6, netns_path = ?7, ips = ?8, "
	"containers = ?9, registered_at = ?10, state = ?11 WHERE netns_dev = ?1 AND netns_ino = ?2";
static const char SQL_POD_CHILDREN_CLEAR_IP[] = "DELETE FROM pod_ip WHERE pod_id = ?1";
static const char SQL_POD_CHILDREN_CLEAR_CT[] = "DELETE FROM pod_container WHERE pod_id = ?1";
static const char SQL_POD_IP_INSERT[] = "INSERT OR IGNORE INTO pod_ip (pod_id, ip) VALUES (?1, ?2)";
static const char SQL_POD_CT_INSERT[] =
	"INSERT INTO pod_container (pod_id, idx, container, pid, start_time, caps) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/* "a, b, c" of n strings, the i-th at get(v, i). */
static char *join(const void *v, size_t n, const char *(*get)(const void *v, size_t i))
{
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(get(v, i)) + 2;
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	*p = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			p = stpcpy(p, ", ");
		p = stpcpy(p, get(v, i));
	}
	return out;
}

static const char *get_ip_text(const void *v, size_t i)
{
	return ((const char(*)[PF_ADDR_STRLEN])v)[i];
}

static const char *get_str(const void *v, size_t i)
{
	const char *e = ((char *const *)v)[i];

	return e ? e : "";
}

int pf_store_put_pod(struct pf_store *s, const struct pf_pod_record *p, struct pf_error *err)
{
	_cleanup_free_ char(*t)[PF_ADDR_STRLEN] = NULL;
	_cleanup_free_ char *ips = NULL, *containers = NULL;
	sqlite3_stmt *st;
	int64_t id = -1;
	size_t n = 0;
	int r, rc;

	if (!p->namespace || !p->name || !p->kind || !p->state)
		return pf_error_set(err, EINVAL,
				    "store: pod record without namespace, name, kind or state");
	if (p->netns_dev > INT64_MAX || p->netns_ino > INT64_MAX)
		return pf_error_set(err, ERANGE, "store: netns identity out of range");
	r = ip_texts(p->ips, p->n_ips, &t, &n);
	if (r < 0)
		return pf_error_set(err, -r, "out of memory");
	ips = join(t, n, get_ip_text);
	containers = join(p->containers, p->n_containers, get_str);
	if (!ips || !containers)
		return pf_error_set(err, ENOMEM, "out of memory");

	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_POD_FIND, &st, err);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (int64_t)p->netns_dev);
	sqlite3_bind_int64(st, 2, (int64_t)p->netns_ino);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = db_error(s, err, rc, "find pod");
		goto out;
	}

	r = prep(s, id >= 0 ? SQL_POD_UPDATE : SQL_POD_INSERT, &st, err);
	if (r < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (int64_t)p->netns_dev);
	sqlite3_bind_int64(st, 2, (int64_t)p->netns_ino);
	bind_text(st, 3, p->namespace);
	bind_text(st, 4, p->name);
	bind_text(st, 5, p->uid);
	bind_text(st, 6, p->kind);
	bind_text(st, 7, p->netns_path);
	bind_text(st, 8, ips);
	bind_text(st, 9, containers);
	sqlite3_bind_int64(st, 10, p->registered_at_ms ? p->registered_at_ms : pf_now_ms());
	bind_text(st, 11, p->state);
	r = step_done(s, st, err);
	if (r < 0)
		goto out;
	if (id < 0) {
		id = sqlite3_last_insert_rowid(s->db);
	} else {
		const char *clear[] = { SQL_POD_CHILDREN_CLEAR_IP, SQL_POD_CHILDREN_CLEAR_CT };

		for (size_t i = 0; i < PF_ARRAY_SIZE(clear); i++) {
			r = prep(s, clear[i], &st, err);
			if (r < 0)
				goto out;
			sqlite3_bind_int64(st, 1, id);
			r = step_done(s, st, err);
			if (r < 0)
				goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = prep(s, SQL_POD_IP_INSERT, &st, err);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, t[i]);
		r = step_done(s, st, err);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < p->n_containers; i++) {
		r = prep(s, SQL_POD_CT_INSERT, &st, err);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		bind_text(st, 3, p->containers[i]);
		if (p->procs && p->procs[i].pid > 0) {
			sqlite3_bind_int64(st, 4, p->procs[i].pid);
			sqlite3_bind_int64(
			    st, 5, (int64_t)MIN(p->procs[i].start_time, (uint64_t)INT64_MAX));
		} else {
			sqlite3_bind_null(st, 4);
			sqlite3_bind_null(st, 5);
		}
		sqlite3_bind_int64(st, 6, p->procs ? (int64_t)p->procs[i].caps : 0);
		r = step_done(s, st, err);
		if (r < 0)
			goto out;
	}
out:
	return op_end(s, r < 0 ? r : 0, err);
}

static const char SQL_POD_DELETE[] = "DELETE FROM pod WHERE netns_dev = ?1 AND netns_ino = ?2";

int pf_store_delete_pod(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			struct pf_error *err)
{
	sqlite3_stmt *st;
	int r;

	r = op_begin(s, err);
	if (r < 0)
		return r;
	r = prep(s, SQL_POD_DELETE, &st, err);
	if (r >= 0) {
		sqlite3_bind_int64(st, 1, (int64_t)netns_dev);
		sqlite3_bind_int64(st, 2, (int64_t)netns_ino);
		r = step_done(s, st, err);
	}
	return op_end(s, r, err);
}

void pf_pod_record_clear(struct pf_pod_record *p)
{
	free(p->namespace);
	free(p->name);
	free(p->uid);
	free(p->kind);
	free(p->netns_path);
	for (size_t j = 0; j < p->n_containers; j++)
		free(p->containers[j]);
	free(p->containers);
	free(p->procs);
	free(p->ips);
	free(p->state);
	memset(p, 0, sizeof(*p));
}

void pf_pod_records_free(struct pf_pod_record *p, size_t n)
{
	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		pf_pod_record_clear(&p[i]);
	free(p);
}

/* Read statements run in one transaction so they see one snapshot. */
static int read_begin(struct pf_store *s, struct pf_error *err)
{
	return s->in_txn ? 0 : exec(s, "BEGIN", err);
}

static void read_end(struct pf_store *s)
{
	if (!s->in_txn)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

/* Binary search in records sorted by a leading int64 id. */
static void *find_by_id(void *base, size_t n, size_t size, size_t off, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v;

		memcpy(&v, (char *)base + mid * size + off, sizeof(v));
		if (v == id)
			return (char *)base + mid * size;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char SQL_PODS_LIST[] = "SELECT id, namespace, name, uid, kind, netns_dev, netns_ino, "
				    "netns_path, registered_at, state "
				    "FROM pod ORDER BY id";
static const char SQL_PODS_IPS[] = "SELECT pod_id, ip FROM pod_ip ORDER BY pod_id";
static const char SQL_PODS_CTS[] =
	"SELECT pod_id, container, pid, start_time, caps FROM pod_container ORDER BY pod_id, idx";

struct pod_slot {
	int64_t id;
	size_t cap_ips, cap_cts, cap_procs;
};

static int list_pods_locked(struct pf_store *s, struct pf_pod_record **out, size_t *n_out,
			    struct pf_error *err)
{
	struct pf_pod_record *v = NULL;
	_cleanup_free_ struct pod_slot *slots = NULL;
	size_t n = 0, cap = 0, cap_slots = 0;
	sqlite3_stmt *st;
	bool oom = false;
	int r, rc;

	r = prep(s, SQL_PODS_LIST, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_pod_record *p;

		if (pf_grow((void **)&v, &cap, n, sizeof(*v)) < 0 ||
		    pf_grow((void **)&slots, &cap_slots, n, sizeof(*slots)) < 0) {
			oom = true;
			break;
		}
		p = &v[n];
		memset(p, 0, sizeof(*p));
		memset(&slots[n], 0, sizeof(slots[n]));
		n++;
		slots[n - 1].id = sqlite3_column_int64(st, 0);
		p->namespace = dup_col(st, 1, &oom);
		p->name = dup_col(st, 2, &oom);
		p->uid = dup_col(st, 3, &oom);
		p->kind = dup_col(st, 4, &oom);
		p->netns_dev = (uint64_t)sqlite3_column_int64(st, 5);
		p->netns_ino = (uint64_t)sqlite3_column_int64(st, 6);
		p->netns_path = dup_col(st, 7, &oom);
		p->registered_at_ms = sqlite3_column_int64(st, 8);
		p->state = dup_col(st, 9, &oom);
	}
	sqlite3_reset(st);
	if (!oom && rc != SQLITE_DONE) {
		pf_pod_records_free(v, n);
		return db_error(s, err, rc, "list pods");
	}

	r = oom ? -ENOMEM : prep(s, SQL_PODS_IPS, &st, err);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pod_slot *sl =
			find_by_id(slots, n, sizeof(*slots), 0, sqlite3_column_int64(st, 0));
		struct pf_pod_record *p;

		if (!sl)
			continue;
		p = &v[sl - slots];
		if (pf_grow((void **)&p->ips, &sl->cap_ips, p->n_ips, sizeof(*p->ips)) < 0) {
			r = -ENOMEM;
			break;
		}
		if (pf_addr_parse(col_text(st, 1), &p->ips[p->n_ips]) == 0)
			p->n_ips++;
	}
	if (r >= 0)
		sqlite3_reset(st);

	if (r >= 0)
		r = prep(s, SQL_PODS_CTS, &st, err);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pod_slot *sl =
			find_by_id(slots, n, sizeof(*slots), 0, sqlite3_column_int64(st, 0));
		struct pf_pod_record *p;
		char *c;

		if (!sl)
			continue;
		p = &v[sl - slots];
		if (pf_grow((void **)&p->containers, &sl->cap_cts, p->n_containers,
			    sizeof(char *)) < 0 ||
		    pf_grow((void **)&p->procs, &sl->cap_procs, p->n_containers,
			    sizeof(*p->procs)) < 0 ||
		    !(c = strdup(col_text(st, 1) ? col_text(st, 1) : ""))) {
			r = -ENOMEM;
			break;
		}
		{
			int64_t pid = sqlite3_column_int64(st, 2), t = sqlite3_column_int64(st, 3);

			p->procs[p->n_containers] = (struct pf_pod_proc){
			    .pid = pid > 0 && pid <= INT32_MAX ? (int32_t)pid : 0,
			    .start_time = t > 0 ? (uint64_t)t : 0,
			    .caps = (unsigned)(sqlite3_column_int64(st, 4) & 3),
			};
		}
		p->containers[p->n_containers++] = c;
	}
	if (r >= 0)
		sqlite3_reset(st);
	if (r < 0) {
		sqlite3_reset(st);
		pf_pod_records_free(v, n);
		return r == -ENOMEM ? pf_error_set(err, ENOMEM, "out of memory") : r;
	}
	*out = v;
	*n_out = n;
	return 0;
}

int pf_store_list_pods(struct pf_store *s, struct pf_pod_record **out, size_t *n,
		       struct pf_error *err)
{
	int r;

	*out = NULL;
	*n = 0;
	r = read_begin(s, err);
	if (r < 0)
		return r;
	r = list_pods_locked(s, out, n, err);
	read_end(s);
	return r;
}

/* ---- events -------------------------------------------------------------------------------- */

static const char SQL_EVENT_INSERT[] =
	"INSERT INTO event (at, pod_namespace, pod_name, src, dst, dport, action, "
	"policy_namespace, "
	"policy_name, rule_index, count, reason) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
/* Ids only grow, so the newest max_rows are the ids from the max_rows-th largest on. */
static const char SQL_EVENT_TRIM[] = "DELETE FROM event WHERE id < (SELECT id FROM event ORDER BY "
				     "id DESC LIMIT 1 OFFSET ?1 - 1)";

int pf_store_append_events(struct pf_store *s, const struct pf_event *ev, size_t n, size_t max_rows,
			   struct pf_error *err)
{
	sqlite3_stmt *st;
	int r;

	if (n == 0)
		return 0;
	r = op_begin(s, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct pf_event *e = &ev[i];
		char src[PF_ADDR_STRLEN], dst[PF_ADDR_STRLEN];
		const char *action = pf_action_to_string(e->action);

		r = prep(s, SQL_EVENT_INSERT, &st, err);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(st, 1, e->at_ms);
		bind_text(st, 2, e->pod_namespace);
		bind_text(st, 3, e->pod_name);
		bind_text(st, 4, pf_addr_fmt(&e->src, src));
		bind_text(st, 5, pf_addr_fmt(&e->dst, dst));
		sqlite3_bind_int(st, 6, e->dport);
		bind_text(st, 7, action ? action : "?");
		bind_text(st, 8, e->policy_namespace);
		bind_text(st, 9, e->policy_name);
		if (e->policy_name && e->rule_index >= 0)
			sqlite3_bind_int(st, 10, e->rule_index);
		sqlite3_bind_int64(st, 11, e->count ? e->count : 1);
		bind_text(st, 12, e->reason);
		r = step_done(s, st, err);
		if (r < 0)
			goto out;
	}
	if (max_rows > 0) {
		r = prep(s, SQL_EVENT_TRIM, &st, err);
		if (r < 0)
			goto out;
		sqlite3_bind_int64(st, 1, (int64_t)MIN(max_rows, (size_t)INT64_MAX));
		r = step_done(s, st, err);
	}
out:
	return op_end(s, r, err);
}

/* ---- the engine's ruleset ------------------------------------------------------------------ */

/*
 * The engine waits for this on every registration, so it reads each table once, in primary-key
 * order, and resolves refs in C: joining every rule_peer row to workloads and pods in SQL (a
 * UNION per branch) made sqlite build and dedup a temp b-tree of every (rule, IP) pair, tens of
 * milliseconds at 10,000 rules, while a node has a few hundred pods and workloads and the
 * rules name a few hundred distinct refs. Each IP text is parsed once, each distinct ref
 * resolved once.
 *
 * The result is what the joins gave: a ref resolves to the IPs of its workload (kind,
 * namespace, name), of the registered pods its workload names, and for kind Pod of the
 * registered pods (namespace, name), for kind Namespace of the registered pods in namespace
 * `name`; a policy's src and a rule's dst_ips are the union over its refs, without duplicate
 * texts, in text (BINARY) order; dst_nets and ports in idx order.
 */
static const char SQL_RS_POLICIES[] =
	"SELECT id, namespace, name, priority, n_rules, kind FROM policy WHERE in_force = 1 "
	"ORDER BY id";
static const char SQL_RS_RULES[] = "SELECT policy_id, rule_index, action, log, any_dst "
				   "FROM policy_rule ORDER BY policy_id, rule_index";
static const char SQL_RS_PODS[] = "SELECT p.id, p.namespace, p.name, pi.ip FROM pod p "
				  "LEFT JOIN pod_ip pi ON pi.pod_id = p.id ORDER BY p.id";
static const char SQL_RS_WORKLOADS[] =
	"SELECT w.id, w.kind, w.namespace, w.name, wi.ip FROM workload w "
	"LEFT JOIN workload_ip wi ON wi.workload_id = w.id ORDER BY w.id";
static const char SQL_RS_WORKLOAD_PODS[] =
	"SELECT workload_id, pod_namespace, pod_name FROM workload_pod ORDER BY workload_id";
static const char SQL_RS_TARGETS[] = "SELECT policy_id, kind, namespace, name FROM policy_target "
				     "ORDER BY policy_id, idx";
static const char SQL_RS_PEERS[] = "SELECT policy_id, rule_index, kind, namespace, name, cidr "
				   "FROM rule_peer ORDER BY policy_id, rule_index, idx";
static const char SQL_RS_PORTS[] = "SELECT policy_id, rule_index, port, end_port FROM rule_port "
				   "ORDER BY policy_id, rule_index, idx";

/* A set of addresses: ranks into rs_load.ips (distinct IP texts in BINARY order), so sorting
 * ranks sorts texts and equal ranks are equal texts. */
struct rank_set {
	uint32_t *v;
	size_t n, cap;
};

/* A registered pod, or a workload (with kind); ips: its own, then (workloads) its pods'. */
struct rs_owner {
	int64_t id;
	char *kind; /* workloads only */
	char *namespace;
	char *name;
	struct rank_set ips;
};

/* An IP text read from pod_ip or workload_ip, before ranking. */
struct rs_text {
	char *text;
	uint32_t owner; /* pods first, then workloads */
};

struct rs_ip {
	struct pf_addr a;
	bool ok; /* parsed: an unparsable text resolves to nothing, as before */
};

/* What a distinct (kind, namespace, name) resolves to (open addressing on hash). */
struct rs_ref {
	uint64_t hash;
	char *key; /* 'n' kind \0 namespace \0 name ('-' kind \0 \0 name without namespace),
		    * or NULL for an empty slot */
	size_t key_len;
	struct rank_set set;
};

/* A policy in force by id (rows of the other tables name it by id). */
struct rs_slot {
	int64_t id;
	size_t index; /* into rs->policies */
};

struct rs_load {
	struct pf_ruleset *rs;
	struct rs_slot *slots; /* sorted by id */
	size_t n;
	struct rs_owner *pods, *wls; /* sorted by id */
	size_t n_pods, n_wls;
	size_t *pods_by_name, *wls_by_key; /* indexes, sorted by (namespace, name) / key */
	struct rs_text *texts;
	size_t n_texts;
	struct rs_ip *ips; /* by rank */
	size_t n_ips;
	struct rs_ref *refs;
	size_t n_refs, cap_refs; /* cap_refs: a power of two */
	struct rank_set acc;	 /* the src or dst_ips being collected */
};

static void rank_set_free(struct rank_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int rank_set_add(struct rank_set *s, const uint32_t *v, size_t n)
{
	if (!n)
		return 0;
	if (n > SIZE_MAX / 2 - s->n)
		return -ENOMEM;
	if (s->n + n > s->cap) {
		size_t cap = s->cap ? s->cap : 8;
		uint32_t *nv;

		while (cap < s->n + n)
			cap *= 2;
		nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates: a set of texts in BINARY order, as UNION gave it. */
static void rank_set_normalize(struct rank_set *s)
{
	size_t k = 0;

	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	for (size_t i = 0; i < s->n; i++)
		if (!k || s->v[k - 1] != s->v[i])
			s->v[k++] = s->v[i];
	s->n = k;
}

static void rs_owners_free(struct rs_owner *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].kind);
		free(o[i].namespace);
		free(o[i].name);
		rank_set_free(&o[i].ips);
	}
	free(o);
}

static void rs_texts_free(struct rs_load *l)
{
	for (size_t i = 0; i < l->n_texts; i++)
		free(l->texts[i].text);
	free(l->texts);
	l->texts = NULL;
	l->n_texts = 0;
}

static void rs_load_done(struct rs_load *l)
{
	free(l->slots);
	rs_owners_free(l->pods, l->n_pods);
	rs_owners_free(l->wls, l->n_wls);
	free(l->pods_by_name);
	free(l->wls_by_key);
	rs_texts_free(l);
	free(l->ips);
	for (size_t i = 0; i < l->cap_refs; i++) {
		free(l->refs[i].key);
		rank_set_free(&l->refs[i].set);
	}
	free(l->refs);
	rank_set_free(&l->acc);
}

static int rs_step(struct pf_store *s, sqlite3_stmt *st, int rc, struct pf_error *err)
{
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, err, rc, "load ruleset");
}

static int rs_oom(sqlite3_stmt *st, struct pf_error *err)
{
	if (st)
		sqlite3_reset(st);
	return pf_error_set(err, ENOMEM, "out of memory");
}

/* The slot of a policy id; rows come in id order, so the last one found is tried first. */
static struct rs_slot *rs_slot_of(struct rs_load *l, int64_t id, struct rs_slot **last)
{
	if (*last && (*last)->id == id)
		return *last;
	*last = find_by_id(l->slots, l->n, sizeof(*l->slots), 0, id);
	return *last;
}

/* The rule (policy_id, rule_index) of the current row, or NULL when it is not in force. */
static struct pf_rs_rule *rs_rule(struct rs_load *l, sqlite3_stmt *st, struct rs_slot **last)
{
	struct rs_slot *sl = rs_slot_of(l, sqlite3_column_int64(st, 0), last);
	struct pf_rs_policy *p;
	int64_t ri = sqlite3_column_int64(st, 1);

	if (!sl)
		return NULL;
	p = &l->rs->policies[sl->index];
	if (ri < 0 || (uint64_t)ri >= p->n_rules)
		return NULL;
	return &p->rules[ri];
}

static int load_policies(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct pf_ruleset *rs = l->rs;
	struct rs_slot *last = NULL;
	size_t cap = 0, cap_slots = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = prep(s, SQL_RS_POLICIES, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_policy *p;
		struct rs_slot *sl;
		int64_t n_rules = sqlite3_column_int64(st, 4);
		bool oom = false;

		if (n_rules < 0 || n_rules > PF_POLICY_MAX_RULES)
			continue;
		if (pf_grow((void **)&rs->policies, &cap, rs->n_policies, sizeof(*rs->policies)) <
			    0 ||
		    pf_grow((void **)&l->slots, &cap_slots, l->n, sizeof(*l->slots)) < 0)
			return rs_oom(st, err);
		p = &rs->policies[rs->n_policies++];
		memset(p, 0, sizeof(*p));
		sl = &l->slots[l->n++];
		sl->id = sqlite3_column_int64(st, 0);
		sl->index = rs->n_policies - 1;
		p->id = (uint32_t)sl->id;
		p->namespace = dup_col(st, 1, &oom);
		p->name = dup_col(st, 2, &oom);
		p->priority = (uint32_t)sqlite3_column_int(st, 3);
		p->cluster = pf_streq(col_text(st, 5), PF_POLICY_KIND_CLUSTER);
		p->n_rules = (size_t)n_rules;
		if (n_rules) {
			p->rules = calloc(p->n_rules, sizeof(*p->rules));
			oom = oom || !p->rules;
		}
		if (oom || !p->namespace || !p->name) {
			if (!p->rules)
				p->n_rules = 0;
			return rs_oom(st, err);
		}
		for (size_t j = 0; j < p->n_rules; j++) {
			p->rules[j].rule_index = (uint32_t)j;
			p->rules[j].any_dst = false;
			p->rules[j].action = PF_ACTION_DENY; /* until its row is read */
		}
	}
	r = rs_step(s, st, rc, err);
	if (r < 0)
		return r;

	r = prep(s, SQL_RS_RULES, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_rule *rule = rs_rule(l, st, &last);
		int a;

		if (!rule)
			continue;
		a = pf_action_from_string(col_text(st, 2));
		rule->action = a < 0 ? PF_ACTION_DENY : (enum pf_action)a;
		rule->log = sqlite3_column_int(st, 3);
		rule->any_dst = sqlite3_column_int(st, 4);
	}
	return rs_step(s, st, rc, err);
}

/* Pods (with_kind false) or workloads with their IP texts: one row per (owner, IP), owners
 * without IPs once with a NULL IP. */
static int load_owners(struct pf_store *s, struct rs_load *l, bool with_kind, size_t *cap_texts,
		       struct pf_error *err)
{
	struct rs_owner **v = with_kind ? &l->wls : &l->pods;
	size_t *n = with_kind ? &l->n_wls : &l->n_pods, cap = 0;
	uint32_t base = with_kind ? (uint32_t)l->n_pods : 0;
	int c = with_kind ? 1 : 0; /* workload rows have kind after id */
	sqlite3_stmt *st;
	int r, rc;

	r = prep(s, with_kind ? SQL_RS_WORKLOADS : SQL_RS_PODS, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *ip = col_text(st, 3 + c);

		if (!*n || (*v)[*n - 1].id != id) {
			struct rs_owner *o;
			bool oom = false;

			if (*n >= UINT32_MAX / 2 ||
			    pf_grow((void **)v, &cap, *n, sizeof(**v)) < 0)
				return rs_oom(st, err);
			o = &(*v)[(*n)++];
			memset(o, 0, sizeof(*o));
			o->id = id;
			o->kind = with_kind ? dup_col(st, 1, &oom) : NULL;
			o->namespace = dup_col(st, 1 + c, &oom);
			o->name = dup_col(st, 2 + c, &oom);
			if (oom || !o->namespace || !o->name || (with_kind && !o->kind))
				return rs_oom(st, err);
		}
		if (ip) {
			struct rs_text *t;

			if (pf_grow((void **)&l->texts, cap_texts, l->n_texts, sizeof(*l->texts)) <
			    0)
				return rs_oom(st, err);
			t = &l->texts[l->n_texts];
			t->owner = base + (uint32_t)(*n - 1);
			t->text = strdup(ip);
			if (!t->text)
				return rs_oom(st, err);
			l->n_texts++;
		}
	}
	return rs_step(s, st, rc, err);
}

static int text_order(const void *a, const void *b, void *arg)
{
	const struct rs_text *t = arg;

	return strcmp(t[*(const size_t *)a].text, t[*(const size_t *)b].text);
}

/* Number the distinct IP texts in BINARY order, parse each once, and give every pod and
 * workload the ranks of its own IPs. */
static int rank_texts(struct rs_load *l, struct pf_error *err)
{
	_cleanup_free_ size_t *perm = calloc(l->n_texts ? l->n_texts : 1, sizeof(*perm));
	_cleanup_free_ uint32_t *rank = calloc(l->n_texts ? l->n_texts : 1, sizeof(*rank));

	l->ips = calloc(l->n_texts ? l->n_texts : 1, sizeof(*l->ips));
	if (!perm || !rank || !l->ips || l->n_texts >= UINT32_MAX)
		return rs_oom(NULL, err);
	for (size_t i = 0; i < l->n_texts; i++)
		perm[i] = i;
	qsort_r(perm, l->n_texts, sizeof(*perm), text_order, l->texts);
	for (size_t i = 0; i < l->n_texts; i++) {
		const char *t = l->texts[perm[i]].text;

		if (!i || strcmp(l->texts[perm[i - 1]].text, t)) {
			struct rs_ip *ip = &l->ips[l->n_ips++];

			ip->ok = pf_addr_parse(t, &ip->a) == 0;
		}
		rank[perm[i]] = (uint32_t)(l->n_ips - 1);
	}
	for (size_t i = 0; i < l->n_texts; i++) {
		uint32_t o = l->texts[i].owner;
		struct rs_owner *w = o < l->n_pods ? &l->pods[o] : &l->wls[o - l->n_pods];

		if (rank_set_add(&w->ips, &rank[i], 1) < 0)
			return rs_oom(NULL, err);
	}
	rs_texts_free(l);
	return 0;
}

static int pod_name_order(const void *a, const void *b, void *arg)
{
	const struct rs_owner *p = arg, *x = &p[*(const size_t *)a], *y = &p[*(const size_t *)b];
	int c = strcmp(x->namespace, y->namespace);

	return c ? c : strcmp(x->name, y->name);
}

static int wl_key_order(const void *a, const void *b, void *arg)
{
	const struct rs_owner *w = arg, *x = &w[*(const size_t *)a], *y = &w[*(const size_t *)b];
	int c = strcmp(x->kind, y->kind);

	return c ? c : pod_name_order(a, b, arg);
}

/* First index in pods_by_name whose pod is >= (ns, name); name NULL: >= namespace ns. */
static size_t pods_lower(const struct rs_load *l, const char *ns, const char *name)
{
	size_t lo = 0, hi = l->n_pods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rs_owner *p = &l->pods[l->pods_by_name[mid]];
		int c = strcmp(p->namespace, ns);

		if (!c && name)
			c = strcmp(p->name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add the IPs of the registered pods (ns, name), or of namespace ns when name is NULL. */
static int add_pods(const struct rs_load *l, const char *ns, const char *name,
		    struct rank_set *out)
{
	for (size_t i = pods_lower(l, ns, name); i < l->n_pods; i++) {
		const struct rs_owner *p = &l->pods[l->pods_by_name[i]];

		if (strcmp(p->namespace, ns) || (name && strcmp(p->name, name)))
			break;
		if (rank_set_add(out, p->ips.v, p->ips.n) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const struct rs_owner *find_workload(const struct rs_load *l, const char *kind,
					    const char *ns, const char *name)
{
	size_t lo = 0, hi = l->n_wls;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rs_owner *w = &l->wls[l->wls_by_key[mid]];
		int c = strcmp(w->kind, kind);

		if (!c)
			c = strcmp(w->namespace, ns);
		if (!c)
			c = strcmp(w->name, name);
		if (!c)
			return w;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Index pods by name and workloads by key, then add to each workload its pods' IPs. */
static int load_workload_pods(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_owner *last = NULL;
	sqlite3_stmt *st;
	int r, rc;

	l->pods_by_name = calloc(l->n_pods ? l->n_pods : 1, sizeof(size_t));
	l->wls_by_key = calloc(l->n_wls ? l->n_wls : 1, sizeof(size_t));
	if (!l->pods_by_name || !l->wls_by_key)
		return rs_oom(NULL, err);
	for (size_t i = 0; i < l->n_pods; i++)
		l->pods_by_name[i] = i;
	for (size_t i = 0; i < l->n_wls; i++)
		l->wls_by_key[i] = i;
	qsort_r(l->pods_by_name, l->n_pods, sizeof(size_t), pod_name_order, l->pods);
	qsort_r(l->wls_by_key, l->n_wls, sizeof(size_t), wl_key_order, l->wls);

	r = prep(s, SQL_RS_WORKLOAD_PODS, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *ns = col_text(st, 1), *name = col_text(st, 2);

		if (!last || last->id != id)
			last = find_by_id(l->wls, l->n_wls, sizeof(*l->wls), 0, id);
		if (!last || !ns || !name)
			continue;
		if (add_pods(l, ns, name, &last->ips) < 0)
			return rs_oom(st, err);
	}
	return rs_step(s, st, rc, err);
}

/* Keyed: the names in a policy's refs are the tenant's to choose. */
static uint64_t key_hash(const char *key, size_t len)
{
	return pf_keyed_hash(key, len);
}

static struct rs_ref *ref_slot(struct rs_ref *refs, size_t cap, uint64_t h, const char *key,
			       size_t len)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!refs[i].key || (refs[i].hash == h && refs[i].key_len == len &&
				     !memcmp(refs[i].key, key, len)))
			return &refs[i];
}

static int refs_grow(struct rs_load *l)
{
	size_t cap = l->cap_refs ? l->cap_refs * 2 : 256;
	struct rs_ref *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < l->cap_refs; i++)
		if (l->refs[i].key)
			*ref_slot(v, cap, l->refs[i].hash, l->refs[i].key, l->refs[i].key_len) =
				l->refs[i];
	free(l->refs);
	l->refs = v;
	l->cap_refs = cap;
	return 0;
}

/* What the ref of columns kind, namespace, name at c resolves to, a sorted set (resolved once
 * per distinct ref); NULL on ENOMEM. A row without kind (a cidr) resolves to nothing; one
 * without namespace (no writer stores that) only by the Namespace rule, as the joins did. */
static const struct rank_set *resolve_ref(struct rs_load *l, sqlite3_stmt *st, int c)
{
	static const struct rank_set none;
	const char *kind = col_text(st, c), *ns = col_text(st, c + 1), *name = col_text(st, c + 2);
	size_t lk, ln, lm, len;
	char buf[512], *key;
	struct rs_ref *ref;
	const struct rs_owner *w;
	uint64_t h;

	if (!kind || !name)
		return &none;
	lk = strlen(kind);
	ln = ns ? strlen(ns) : 0;
	lm = strlen(name);
	len = 1 + lk + 1 + ln + 1 + lm;
	key = len <= sizeof(buf) ? buf : malloc(len);
	if (!key)
		return NULL;
	key[0] = ns ? 'n' : '-';
	memcpy(key + 1, kind, lk + 1);
	memcpy(key + lk + 2, ns ? ns : "", ln + 1);
	memcpy(key + lk + ln + 3, name, lm);
	h = key_hash(key, len);
	if ((l->n_refs + 1) * 2 > l->cap_refs && refs_grow(l) < 0)
		goto oom;
	ref = ref_slot(l->refs, l->cap_refs, h, key, len);
	if (ref->key) {
		if (key != buf)
			free(key);
		return &ref->set;
	}

	w = ns ? find_workload(l, kind, ns, name) : NULL;
	if (w && rank_set_add(&ref->set, w->ips.v, w->ips.n) < 0)
		goto oom_set;
	if (ns && !strcmp(kind, "Pod") && add_pods(l, ns, name, &ref->set) < 0)
		goto oom_set;
	if (!strcmp(kind, "Namespace") && add_pods(l, name, NULL, &ref->set) < 0)
		goto oom_set;
	rank_set_normalize(&ref->set);
	ref->key = key == buf ? pf_strndup0(buf, len) : key;
	if (!ref->key)
		goto oom_set;
	ref->hash = h;
	ref->key_len = len;
	l->n_refs++;
	return &ref->set;

oom_set:
	rank_set_free(&ref->set);
oom:
	if (key != buf)
		free(key);
	return NULL;
}

/* The collected set as addresses (NULL when empty), in rank order, unparsable texts left out. */
static int acc_flush(struct rs_load *l, bool merged, struct pf_addr **out, size_t *n_out)
{
	struct rank_set *a = &l->acc;
	size_t n = 0;

	if (merged)
		rank_set_normalize(a);
	if (a->n) {
		*out = malloc(a->n * sizeof(**out));
		if (!*out)
			return -ENOMEM;
		for (size_t i = 0; i < a->n; i++)
			if (l->ips[a->v[i]].ok)
				(*out)[n++] = l->ips[a->v[i]].a;
	}
	*n_out = n;
	a->n = 0;
	return 0;
}

static int load_sources(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL, *cur = NULL;
	size_t n_refs = 0; /* refs collected for cur */
	sqlite3_stmt *st;
	int r, rc;

	r = prep(s, SQL_RS_TARGETS, &st, err);
	if (r < 0)
		return r;
	for (;;) {
		struct rs_slot *sl = NULL;
		const struct rank_set *set;

		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			sl = rs_slot_of(l, sqlite3_column_int64(st, 0), &last);
		if (cur && (rc != SQLITE_ROW || sl != cur)) {
			struct pf_rs_policy *p = &l->rs->policies[cur->index];

			if (acc_flush(l, n_refs > 1, &p->src, &p->n_src) < 0)
				return rs_oom(st, err);
			cur = NULL;
		}
		if (rc != SQLITE_ROW)
			break;
		if (!sl)
			continue;
		if (!cur) {
			cur = sl;
			n_refs = 0;
		}
		set = resolve_ref(l, st, 1);
		if (!set || rank_set_add(&l->acc, set->v, set->n) < 0)
			return rs_oom(st, err);
		n_refs++;
	}
	return rs_step(s, st, rc, err);
}

static int load_peers(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL;
	struct pf_rs_rule *cur = NULL;
	size_t n_refs = 0, cap_nets = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = prep(s, SQL_RS_PEERS, &st, err);
	if (r < 0)
		return r;
	for (;;) {
		struct pf_rs_rule *rule = NULL;
		const char *cidr;

		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			rule = rs_rule(l, st, &last);
		if (cur && (rc != SQLITE_ROW || rule != cur)) {
			if (acc_flush(l, n_refs > 1, &cur->dst_ips, &cur->n_dst_ips) < 0)
				return rs_oom(st, err);
			cur = NULL;
		}
		if (rc != SQLITE_ROW)
			break;
		if (!rule)
			continue;
		if (!cur) {
			cur = rule;
			n_refs = 0;
			cap_nets = 0;
		}
		cidr = col_text(st, 5);
		if (cidr) {
			if (pf_grow((void **)&rule->dst_nets, &cap_nets, rule->n_dst_nets,
				    sizeof(*rule->dst_nets)) < 0)
				return rs_oom(st, err);
			if (pf_prefix_parse(cidr, &rule->dst_nets[rule->n_dst_nets], NULL) == 0)
				rule->n_dst_nets++;
		}
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			const struct rank_set *set = resolve_ref(l, st, 2);

			if (!set || rank_set_add(&l->acc, set->v, set->n) < 0)
				return rs_oom(st, err);
			n_refs++;
		}
	}
	return rs_step(s, st, rc, err);
}

static int load_ports(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL;
	struct pf_rs_rule *cur = NULL;
	size_t cap = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = prep(s, SQL_RS_PORTS, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_rule *rule = rs_rule(l, st, &last);
		struct pf_port_range *pr;

		if (!rule)
			continue;
		if (rule != cur) {
			cur = rule;
			cap = 0;
		}
		if (pf_grow((void **)&rule->ports, &cap, rule->n_ports, sizeof(*rule->ports)) < 0)
			return rs_oom(st, err);
		pr = &rule->ports[rule->n_ports++];
		pr->port = (uint16_t)sqlite3_column_int(st, 2);
		pr->end_port = (uint16_t)sqlite3_column_int(st, 3);
	}
	return rs_step(s, st, rc, err);
}

static int load_ruleset_locked(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	size_t cap_texts = 0;
	int r;

	r = load_policies(s, l, err);
	if (r >= 0)
		r = load_owners(s, l, false, &cap_texts, err);
	if (r >= 0)
		r = load_owners(s, l, true, &cap_texts, err);
	if (r >= 0)
		r = rank_texts(l, err);
	if (r >= 0)
		r = load_workload_pods(s, l, err);
	if (r >= 0)
		r = load_sources(s, l, err);
	if (r >= 0)
		r = load_peers(s, l, err);
	if (r >= 0)
		r = load_ports(s, l, err);
	return r;
}

int pf_store_load_ruleset(struct pf_store *s, struct pf_ruleset **out, struct pf_error *err)
{
	struct rs_load l = { 0 };
	int r;

	*out = NULL;
	l.rs = calloc(1, sizeof(*l.rs));
	if (!l.rs)
		return pf_error_set(err, ENOMEM, "out of memory");
	r = read_begin(s, err);
	if (r >= 0) {
		r = load_ruleset_locked(s, &l, err);
		read_end(s);
	}
	rs_load_done(&l);
	if (r < 0) {
		pf_ruleset_free(l.rs);
		return r;
	}
	pf_ruleset_sort(l.rs);
	*out = l.rs;
	return 0;
}
