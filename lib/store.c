/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sqlite store's core: open and migrate, transactions, the statement cache and how every
 * statement runs. Policies, workloads, pods, events and the ruleset each have a store-*.c. */
#include <stdio.h>

#include "store-internal.h"

#define BUSY_TIMEOUT_MS 5000
#ifndef SQLITE_OPEN_EXRESCODE /* sqlite < 3.37: extended codes are switched on after open */
#define SQLITE_OPEN_EXRESCODE 0
#endif

static const char *const stmt_sql[PF_STMT__COUNT] = {
#define PF_STMT_SQL(name, sql) [PF_STMT_##name] = sql,
    PF_STORE_STATEMENTS(PF_STMT_SQL)
#undef PF_STMT_SQL
};

/* ---- sqlite plumbing --------------------------------------------------------------------- */

int pf_store_errno(int rc)
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

int pf_store_db_error(struct pf_store *s, struct pf_error *err, int rc, const char *what)
{
	int e = pf_store_errno(rc);

	return pf_error_set(err, e ? e : EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

int pf_store_exec(struct pf_store *s, const char *sql, struct pf_error *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : pf_store_db_error(s, err, rc, sql);
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

	while ((r = pf_store_exec(s, sql, err)) == -EBUSY && pf_mono_ns() < deadline)
		usleep(10 * 1000);
	return r;
}

int pf_stmt_bind(struct pf_store *s, enum pf_stmt id, sqlite3_stmt **out, const struct pf_bind *b,
		 size_t n, struct pf_error *err)
{
	sqlite3_stmt **slot = &s->stmts[id];

	if (*slot) {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
	} else {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    slot, NULL);

		if (rc != SQLITE_OK)
			return pf_store_db_error(s, err, rc, "prepare");
	}
	for (size_t i = 0; i < n; i++) {
		int k = (int)i + 1;

		/* Binding cannot fail here but for a wrong index, which the step would show. */
		if (b[i].type == PF_BIND_INT)
			sqlite3_bind_int64(*slot, k, b[i].i);
		else if (b[i].type == PF_BIND_TEXT)
			sqlite3_bind_text(*slot, k, b[i].t, -1, SQLITE_STATIC);
	}
	*out = *slot;
	return 0;
}

int pf_stmt_exec(struct pf_store *s, enum pf_stmt id, bool scratch, const struct pf_bind *b,
		 size_t n, struct pf_error *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, id, &st, b, n, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return pf_store_db_error(s, err, rc, sqlite3_sql(st));
	if (!scratch && sqlite3_changes(s->db) > 0)
		s->writes++;
	return 0;
}

int pf_stmt_exec_int(struct pf_store *s, enum pf_stmt id, const char *what, int64_t *out,
		     const struct pf_bind *b, size_t n, struct pf_error *err)
{
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, id, &st, b, n, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	r = rc == SQLITE_ROW || rc == SQLITE_DONE ? rc == SQLITE_ROW
						  : pf_store_db_error(s, err, rc, what);
	sqlite3_reset(st);
	return r;
}

char *pf_col_dup(sqlite3_stmt *st, int i, bool *oom)
{
	const char *t = pf_col_text(st, i);
	char *d;

	if (!t)
		return NULL;
	d = strdup(t);
	if (!d)
		*oom = true;
	return d;
}

int pf_store_op_begin(struct pf_store *s, struct pf_error *err)
{
	if (s->readonly)
		return pf_error_set(err, EROFS, "store: opened read-only");
	return pf_store_exec(s, s->in_txn ? "SAVEPOINT pf_op" : "BEGIN IMMEDIATE", err);
}

int pf_store_op_end(struct pf_store *s, int r, struct pf_error *err)
{
	if (r >= 0) {
		int c = pf_store_exec(s, s->in_txn ? "RELEASE pf_op" : "COMMIT", err);

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

int pf_store_read_begin(struct pf_store *s, struct pf_error *err)
{
	return s->in_txn ? 0 : pf_store_exec(s, "BEGIN", err);
}

void pf_store_read_end(struct pf_store *s)
{
	if (!s->in_txn)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

void *pf_store_find_by_id(void *base, size_t n, size_t size, size_t off, int64_t id)
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

static int addr_order(const void *a, const void *b)
{
	return pf_addr_cmp(a, b);
}

int pf_store_ip_texts(const struct pf_addr *ips, size_t n, char (**out)[PF_ADDR_STRLEN],
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

/* ---- open, migrations ------------------------------------------------------------------ */

static int user_version(struct pf_store *s, int *out, struct pf_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int r = pf_store_db_error(s, err, rc, "read schema version");

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
		r = pf_store_exec(s, "BEGIN IMMEDIATE", err);
		if (r < 0)
			return r;
		r = user_version(s, &v, err);
		if (r >= 0 && v > PF_SCHEMA_VERSION)
			r = refuse_newer(path, v, err);
		if (r >= 0 && v < 0)
			r = pf_error_set(err, EPROTO, "%s: invalid schema version %d", path, v);
		if (r >= 0 && v == PF_SCHEMA_VERSION)
			return pf_store_op_end(s, 0, err);
		if (r >= 0) {
			const struct pf_schema_migration *m = &pf_schema_migrations[v];
			int rc = sqlite3_exec(s->db, m->sql, NULL, NULL, NULL);

			if (rc != SQLITE_OK) {
				r = pf_store_db_error(s, err, rc, "migration");
				pf_error_prefix(err, "%s: schema/%s", path, m->name);
			}
		}
		if (r >= 0) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
			r = pf_store_exec(s, sql, err);
		}
		r = pf_store_op_end(s, r, err);
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
		r = pf_error_set(err, errno, "%s: %s; podfenced or podfence-sync create the store",
				 path, strerror(errno));
		free(s);
		return r;
	}

	oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
		 (s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		r = pf_error_set(err, pf_store_errno(rc) ? pf_store_errno(rc) : EIO, "%s: %s", path,
				 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

	r = pf_store_exec(s, "PRAGMA foreign_keys = ON", err);
	if (r < 0)
		goto fail_prefix;
	if (!s->readonly) {
		/* WAL: readers see the last commit, never a write in progress, never block it. */
		r = exec_busy_retry(s, "PRAGMA journal_mode = WAL", err);
		if (r >= 0)
			r = pf_store_exec(s, "PRAGMA synchronous = NORMAL", err);
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
		r = pf_store_exec(s,
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
	for (size_t i = 0; i < PF_STMT__COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
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
	int64_t v;
	int r = pf_stmt_exec_int(s, PF_STMT_DATA_VERSION, "data_version", &v, NULL, 0, NULL);

	if (r > 0)
		*out = (uint64_t)v;
	return r < 0 ? r : 0;
}

int pf_store_set_autocheckpoint(struct pf_store *s, int pages)
{
	return -pf_store_errno(sqlite3_wal_autocheckpoint(s->db, pages));
}

int pf_store_checkpoint(struct pf_store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	/* SQLITE_BUSY: someone else checkpoints, or writes; the next one goes further */
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -pf_store_errno(rc);
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
	r = pf_store_exec(s, "BEGIN IMMEDIATE", err);
	if (r >= 0)
		s->in_txn = true;
	return r;
}

int pf_store_commit(struct pf_store *s, struct pf_error *err)
{
	int r;

	if (!s->in_txn)
		return pf_error_set(err, EINVAL, "store: no transaction open");
	r = pf_store_exec(s, "COMMIT", err);
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
