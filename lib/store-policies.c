/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's policies (podfence-sync): mirror sources of FencePolicy documents. */
#include <stdio.h>

#include "store-internal.h"

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

/* 1 found, 0 not found, <0 error. */
static int policy_find(struct pf_store *s, const char *ns, const char *name, struct policy_row *row,
		       struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	bool oom = false;
	int r, rc;

	memset(row, 0, sizeof(*row));
	r = pf_stmt_query(s, POLICY_FIND, &st, err, B_TEXT(ns), B_TEXT(name));
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return pf_store_db_error(s, err, rc, "find policy");
	row->id = sqlite3_column_int64(st, 0);
	row->source = pf_col_dup(st, 1, &oom);
	row->in_force = sqlite3_column_int(st, 2);
	row->valid = sqlite3_column_int(st, 3);
	row->error = pf_col_dup(st, 4, &oom);
	row->spec = pf_col_dup(st, 5, &oom);
	if (oom || !row->source) {
		policy_row_done(row);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	return 1;
}

static int seen_policy(struct pf_store *s, int64_t id, struct pf_error *err)
{
	return pf_stmt_scratch(s, SEEN_POLICY, err, B_INT(id));
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
	return pf_stmt_run(s, SOURCE_ERROR_INSERT, err, B_TEXT(source),
			   doc_index >= 0 ? B_INT(doc_index) : B_NULL, B_TEXT(ns), B_TEXT(name),
			   B_TEXT(msg), B_INT(now), B_TEXT(ns && name ? kind : NULL));
}

/* A Namespace ref names the namespace; its namespace column holds the same name. */
static const char *ref_namespace(const struct pf_ref *ref)
{
	return ref->kind == PF_KIND_NAMESPACE ? ref->name : ref->namespace;
}

static int insert_rules(struct pf_store *s, int64_t id, const struct pf_policy *p,
			struct pf_error *err)
{
	int r;

	for (size_t i = 0; i < p->n_applies_to; i++) {
		const struct pf_ref *ref = &p->applies_to[i];

		r = pf_stmt_run(s, TARGET_INSERT, err, B_INT(id), B_INT(i),
				B_TEXT(pf_kind_to_string(ref->kind)), B_TEXT(ref_namespace(ref)),
				B_TEXT(ref->name));
		if (r < 0)
			return r;
	}

	for (size_t i = 0; i < p->n_egress; i++) {
		const struct pf_rule *rule = &p->egress[i];
		_cleanup_free_ char *dst = NULL, *ports = NULL;

		if (pf_rule_destination_string(rule, &dst) < 0 ||
		    pf_rule_ports_string(rule, &ports) < 0)
			return pf_error_set(err, ENOMEM, "out of memory");
		r = pf_stmt_run(s, RULE_INSERT, err, B_INT(id), B_INT(i),
				B_TEXT(pf_action_to_string(rule->action)), B_INT(rule->log),
				B_INT(rule->n_to == 0), B_TEXT(dst), B_TEXT(ports),
				B_TEXT(pf_rule_protocols_string(rule)));
		if (r < 0)
			return r;

		for (size_t j = 0; j < rule->n_to; j++) {
			const struct pf_peer *peer = &rule->to[j];
			const struct pf_ref *ref = peer->is_cidr ? NULL : &peer->ref;
			char buf[PF_PREFIX_STRLEN];

			if (peer->fqdn) {
				r = pf_stmt_run(s, FQDN_INSERT, err, B_INT(id), B_INT(i), B_INT(j),
						B_TEXT(peer->fqdn));
				if (r < 0)
					return r;
				continue;
			}
			r = pf_stmt_run(s, PEER_INSERT, err, B_INT(id), B_INT(i), B_INT(j),
					B_TEXT(ref ? pf_kind_to_string(ref->kind) : NULL),
					B_TEXT(ref ? ref_namespace(ref) : NULL),
					B_TEXT(ref ? ref->name : NULL),
					B_TEXT(ref ? NULL : pf_prefix_fmt(&peer->cidr, buf)));
			if (r < 0)
				return r;
		}
		for (size_t j = 0; j < rule->n_ports; j++) {
			r = pf_stmt_run(s, PORT_INSERT, err, B_INT(id), B_INT(i), B_INT(j),
					B_INT(rule->ports[j].port), B_INT(rule->ports[j].end_port),
					B_TEXT(pf_protocol_to_string(rule->ports[j].protocol)));
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
		r = pf_stmt_run(s, POLICY_SET_VALID, err, B_INT(id), B_INT((int)p->priority),
				B_INT(p->n_egress), B_TEXT(spec), B_INT(now));
		/* Replace the old version's rows; rule_peer and rule_port follow by cascade. */
		if (r >= 0)
			r = pf_stmt_run(s, TARGET_CLEAR, err, B_INT(id));
		if (r >= 0)
			r = pf_stmt_run(s, RULE_CLEAR, err, B_INT(id));
		if (r < 0)
			return r;
	} else {
		r = pf_stmt_run(s, POLICY_INSERT, err, B_TEXT(p->namespace), B_TEXT(p->name),
				B_TEXT(source), B_INT(1), B_INT(1), B_NULL, B_INT((int)p->priority),
				B_INT(p->n_egress), B_TEXT(spec), B_INT(now),
				B_TEXT(pf_policy_kind_string(p->cluster)));
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
			r = pf_stmt_run(s, POLICY_SET_ERROR, err, B_INT(id), B_TEXT(msg),
					B_INT(now));
			if (r < 0)
				return r;
		}
		r = seen_policy(s, id, err);
		return r < 0 ? r : 1;
	}
	r = pf_stmt_run(s, POLICY_INSERT, err, B_TEXT(ns), B_TEXT(name), B_TEXT(source), B_INT(0),
			B_INT(0), B_TEXT(msg), B_NULL, B_INT(0), B_NULL, B_INT(now), B_TEXT(kind));
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
	return policy_write_invalid(s, source, d->namespace, d->name, d->cluster, (int)d->index,
				    msg, now, err);
}

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
			keys[k++] = (struct doc_key){doc_ns(&docs[i]), doc_name(&docs[i]), i};
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
	size_t n_invalid = 0;
	int r, errors = 0;

	if (find_duplicates(docs, n_docs, &dups) < 0)
		return pf_error_set(err, ENOMEM, "out of memory");

	/* Errors of the source's previous version go; the docs below record the current ones. */
	r = pf_stmt_run(s, SOURCE_ERRORS_CLEAR, err, B_TEXT(source));
	if (r < 0)
		return r;
	r = pf_store_exec(s, "DELETE FROM temp.seen_policy", err);
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
			r = source_error_add(
			    s, source, (int)d->index, ns, name,
			    pf_policy_kind_string(d->policy ? d->policy->cluster : d->cluster),
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
		r = pf_stmt_run(s, SOURCE_KEEP_UNSEEN, err, B_TEXT(source), B_TEXT(msg),
				B_INT(now));
	} else {
		r = pf_stmt_run(s, SOURCE_DELETE_UNSEEN, err, B_TEXT(source));
	}
	return r < 0 ? r : errors;
}

int pf_store_sync_source(struct pf_store *s, const char *source, const struct pf_policy_doc *docs,
			 size_t n_docs, struct pf_error *err)
{
	int r = pf_store_op_begin(s, err);

	if (r < 0)
		return r;
	r = sync_source_locked(s, source, docs, n_docs, pf_now_ms(), err);
	return pf_store_op_end(s, r, err);
}

int pf_store_source_error(struct pf_store *s, const char *source, const char *error,
			  struct pf_error *err)
{
	int64_t now = pf_now_ms(), n = 0;
	int r;

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_run(s, SOURCE_SET_ERROR, err, B_TEXT(source), B_TEXT(error), B_INT(now));
	if (r < 0)
		goto out;

	r = pf_stmt_int(s, SOURCE_COUNT, "count policies", &n, err, B_TEXT(source));
	if (r == 0) /* count(*) always has a row */
		r = pf_store_db_error(s, err, SQLITE_DONE, "count policies");
	if (r < 0)
		goto out;
	if (n > 0) {
		/* Its policies carry the error now. */
		r = pf_stmt_run(s, SOURCE_ERRORS_CLEAR, err, B_TEXT(source));
		goto out;
	}

	/* No policy to carry it: one error row for the source (unchanged: no write). */
	r = pf_stmt_int(s, SOURCE_ERROR_SAME, "find source error", &n, err, B_TEXT(source),
			B_TEXT(error));
	if (r < 0)
		goto out;
	if (r > 0 && n > 0) {
		r = 0;
		goto out;
	}
	r = pf_stmt_run(s, SOURCE_ERRORS_CLEAR, err, B_TEXT(source));
	if (r >= 0)
		r = source_error_add(s, source, -1, NULL, NULL, NULL, error, now, err);
out:
	return pf_store_op_end(s, r < 0 ? r : 0, err);
}

int pf_store_put_policy(struct pf_store *s, const char *source, const struct pf_policy_doc *doc,
			struct pf_error *err)
{
	int r;

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_run(s, SOURCE_ERROR_CLEAR_ONE, err, B_TEXT(source), B_TEXT(doc_ns(doc)),
			B_TEXT(doc_name(doc)));
	if (r >= 0)
		r = write_doc(s, source, doc, false, pf_now_ms(), err);
	return pf_store_op_end(s, r, err);
}

int pf_store_delete_policy(struct pf_store *s, const char *namespace, const char *name,
			   struct pf_error *err)
{
	int r;

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_run(s, POLICY_DELETE, err, B_TEXT(namespace), B_TEXT(name));
	if (r >= 0)
		r = pf_stmt_run(s, SOURCE_ERROR_DELETE_NAME, err, B_TEXT(namespace), B_TEXT(name));
	return pf_store_op_end(s, r, err);
}

/* Every policy and error row of source, inside the caller's operation. */
static int clear_source(struct pf_store *s, const char *source, struct pf_error *err)
{
	int r = pf_stmt_run(s, SOURCE_DELETE, err, B_TEXT(source));

	return r < 0 ? r : pf_stmt_run(s, SOURCE_ERRORS_CLEAR, err, B_TEXT(source));
}

int pf_store_delete_source(struct pf_store *s, const char *source, struct pf_error *err)
{
	int r = pf_store_op_begin(s, err);

	if (r < 0)
		return r;
	r = clear_source(s, source, err);
	return pf_store_op_end(s, r, err);
}

int pf_store_rename_source(struct pf_store *s, const char *from, const char *to,
			   struct pf_error *err)
{
	int r;

	if (pf_streq(from, to))
		return 0;
	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = clear_source(s, to, err);
	if (r >= 0)
		r = pf_stmt_run(s, SOURCE_RENAME, err, B_TEXT(from), B_TEXT(to));
	if (r >= 0)
		r = pf_stmt_run(s, SOURCE_ERRORS_RENAME, err, B_TEXT(from), B_TEXT(to));
	return pf_store_op_end(s, r, err);
}

int pf_store_list_sources(struct pf_store *s, char ***out, size_t *n_out, struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r, rc;

	*out = NULL;
	*n_out = 0;
	r = pf_stmt_bind(s, PF_STMT_SOURCES, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (pf_grow((void **)&v, &cap, n, sizeof(*v)) < 0 ||
		    !(v[n] = strdup(pf_col_text(st, 0)))) {
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
		return pf_store_db_error(s, err, rc, "list sources");
	}
	*out = v;
	*n_out = n;
	return 0;
}
