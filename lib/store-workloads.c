/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's workloads (podfence-sync --kube): what a (kind, namespace, name) resolves to. */

#include "store-internal.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *kind_name(enum pf_kind kind)
{
	return pf_kind_to_string(kind);
}

/* What a workload resolves to, one table each: its addresses, and the names of its pods. */
struct member_set {
	enum pf_stmt list;   /* ?1 workload id; values ORDER BY value */
	enum pf_stmt clear;  /* ?1 workload id */
	enum pf_stmt insert; /* ?1 workload id, ?2 value[, ?3 namespace] */
	bool with_namespace;
};

static const struct member_set workload_ips = {PF_STMT_WORKLOAD_IPS, PF_STMT_WORKLOAD_IPS_CLEAR,
					       PF_STMT_WORKLOAD_IP_INSERT, false};
static const struct member_set workload_pods = {PF_STMT_WORKLOAD_PODS, PF_STMT_WORKLOAD_PODS_CLEAR,
						PF_STMT_WORKLOAD_POD_INSERT, true};

/* Does the stored set of workload id equal sorted[0..n) (sorted, unique)? 1, 0 or -errno. */
static int member_set_equal(struct pf_store *s, const struct member_set *set, int64_t id,
			    const char *const *sorted, size_t n, struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	size_t i = 0;
	int r, rc;

	r = pf_stmt_bind(s, set->list, &st, PF_BINDS(B_INT(id)), err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (i >= n || !pf_streq(pf_col_text(st, 0), sorted[i]))
			return 0;
		i++;
	}
	if (rc != SQLITE_DONE)
		return pf_store_db_error(s, err, rc, "read workload");
	return i == n;
}

/*
 * Replace one member set of workload (k, namespace, name), creating the workload if needed,
 * in one transaction. sorted[0..n) is sorted and unique. An unchanged set writes nothing, so
 * the engine's data_version moves only on real changes; the workload is marked seen for a
 * full resync either way.
 */
static int put_workload_set(struct pf_store *s, const char *k, const char *namespace,
			    const char *name, const struct member_set *set,
			    const char *const *sorted, size_t n, struct pf_error *err)
{
	int64_t id = -1;
	int r;

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_int(s, WORKLOAD_FIND, "find workload", &id, err, B_TEXT(k), B_TEXT(namespace),
			B_TEXT(name));
	if (r < 0)
		goto out;

	if (id >= 0) {
		r = member_set_equal(s, set, id, sorted, n, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			r = pf_stmt_run(s, WORKLOAD_TOUCH, err, B_INT(id), B_INT(pf_now_ms()));
			if (r >= 0)
				r = pf_stmt_exec(s, set->clear, false, PF_BINDS(B_INT(id)), err);
			if (r < 0)
				goto out;
		} else {
			n = 0; /* unchanged: write nothing */
		}
	} else {
		r = pf_stmt_run(s, WORKLOAD_INSERT, err, B_TEXT(k), B_TEXT(namespace), B_TEXT(name),
				B_INT(pf_now_ms()));
		if (r < 0)
			goto out;
		id = sqlite3_last_insert_rowid(s->db);
	}
	for (size_t i = 0; i < n; i++) {
		const struct pf_bind b[] = {B_INT(id), B_TEXT(sorted[i]), B_TEXT(namespace)};

		r = pf_stmt_exec(s, set->insert, false, b, set->with_namespace ? 3 : 2, err);
		if (r < 0)
			goto out;
	}
	if (s->marking)
		r = pf_stmt_scratch(s, SEEN_WORKLOAD, err, B_INT(id));
out:
	return pf_store_op_end(s, r < 0 ? r : 0, err);
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
	r = pf_store_ip_texts(ips, n_ips, &t, &n);
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

int pf_store_delete_workload(struct pf_store *s, enum pf_kind kind, const char *namespace,
			     const char *name, struct pf_error *err)
{
	const char *k = kind_name(kind);
	int r;

	if (!k || !namespace || !name)
		return pf_error_set(err, EINVAL, "store: invalid workload");
	if (kind == PF_KIND_NAMESPACE)
	namespace = name;
	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_run(s, WORKLOAD_DELETE, err, B_TEXT(k), B_TEXT(namespace), B_TEXT(name));
	return pf_store_op_end(s, r, err);
}

int pf_store_mark_workloads(struct pf_store *s, struct pf_error *err)
{
	int r;

	if (s->readonly)
		return pf_error_set(err, EROFS, "store: opened read-only");
	r = pf_store_exec(s, "DELETE FROM temp.seen_workload", err);
	if (r >= 0)
		s->marking = true;
	return r;
}

int pf_store_sweep_workloads(struct pf_store *s, struct pf_error *err)
{
	int r;

	if (!s->marking)
		return pf_error_set(err, EINVAL, "store: sweep without mark");
	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_exec(s, PF_STMT_WORKLOAD_SWEEP, false, NULL, 0, err);
	r = pf_store_op_end(s, r, err);
	if (r >= 0)
		s->marking = false;
	return r;
}
