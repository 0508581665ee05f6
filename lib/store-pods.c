/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's pods (podfenced): registered network namespaces. */

#include <inttypes.h>

#include "store-internal.h"

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
	int64_t id = -1;
	size_t n = 0;
	int r;

	if (!p->namespace || !p->name || !p->kind || !p->state)
		return pf_error_set(err, EINVAL,
				    "store: pod record without namespace, name, kind or state");
	if (p->netns_dev > INT64_MAX || p->netns_ino > INT64_MAX)
		return pf_error_set(err, ERANGE, "store: netns identity out of range");
	r = pf_store_ip_texts(p->ips, p->n_ips, &t, &n);
	if (r < 0)
		return pf_error_set(err, -r, "out of memory");
	ips = join(t, n, get_ip_text);
	containers = join(p->containers, p->n_containers, get_str);
	if (!ips || !containers)
		return pf_error_set(err, ENOMEM, "out of memory");

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_int(s, POD_FIND, "find pod", &id, err, B_INT(p->netns_dev),
			B_INT(p->netns_ino));
	if (r < 0)
		goto out;

	r = pf_stmt_exec(s, id >= 0 ? PF_STMT_POD_UPDATE : PF_STMT_POD_INSERT, false,
			 PF_BINDS(B_INT(p->netns_dev), B_INT(p->netns_ino), B_TEXT(p->namespace),
				  B_TEXT(p->name), B_TEXT(p->uid), B_TEXT(p->kind),
				  B_TEXT(p->netns_path), B_TEXT(ips), B_TEXT(containers),
				  B_INT(p->registered_at_ms ? p->registered_at_ms : pf_now_ms()),
				  B_TEXT(p->state)),
			 err);
	if (r < 0)
		goto out;
	if (id < 0) {
		id = sqlite3_last_insert_rowid(s->db);
	} else {
		r = pf_stmt_run(s, POD_IPS_CLEAR, err, B_INT(id));
		if (r >= 0)
			r = pf_stmt_run(s, POD_CTS_CLEAR, err, B_INT(id));
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = pf_stmt_run(s, POD_IP_INSERT, err, B_INT(id), B_TEXT(t[i]));
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < p->n_containers; i++) {
		const struct pf_pod_proc *pr =
		    p->procs && p->procs[i].pid > 0 ? &p->procs[i] : NULL;

		r = pf_stmt_run(s, POD_CT_INSERT, err, B_INT(id), B_INT(i),
				B_TEXT(p->containers[i]), pr ? B_INT(pr->pid) : B_NULL,
				pr ? B_INT(MIN(pr->start_time, (uint64_t)INT64_MAX)) : B_NULL,
				B_INT(p->procs ? p->procs[i].caps : 0));
		if (r < 0)
			goto out;
	}
out:
	return pf_store_op_end(s, r < 0 ? r : 0, err);
}

int pf_store_delete_pod(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			struct pf_error *err)
{
	int r;

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_run(s, POD_DELETE, err, B_INT(netns_dev), B_INT(netns_ino));
	return pf_store_op_end(s, r, err);
}

int pf_store_set_dns_names(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			   const struct pf_dns_name_row *rows, size_t n, struct pf_error *err)
{
	int r;

	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	r = pf_stmt_run(s, DNS_CLEAR, err, B_INT(netns_dev), B_INT(netns_ino));
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = pf_stmt_run(s, DNS_INSERT, err, B_INT(netns_dev), B_INT(netns_ino),
				B_TEXT(rows[i].name), B_TEXT(rows[i].ip),
				B_INT(rows[i].expires_ms));
	return pf_store_op_end(s, r, err);
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

	r = pf_stmt_bind(s, PF_STMT_PODS_LIST, &st, NULL, 0, err);
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
		p->namespace = pf_col_dup(st, 1, &oom);
		p->name = pf_col_dup(st, 2, &oom);
		p->uid = pf_col_dup(st, 3, &oom);
		p->kind = pf_col_dup(st, 4, &oom);
		p->netns_dev = (uint64_t)sqlite3_column_int64(st, 5);
		p->netns_ino = (uint64_t)sqlite3_column_int64(st, 6);
		p->netns_path = pf_col_dup(st, 7, &oom);
		p->registered_at_ms = sqlite3_column_int64(st, 8);
		p->state = pf_col_dup(st, 9, &oom);
	}
	sqlite3_reset(st);
	if (!oom && rc != SQLITE_DONE) {
		pf_pod_records_free(v, n);
		return pf_store_db_error(s, err, rc, "list pods");
	}

	r = oom ? -ENOMEM : pf_stmt_bind(s, PF_STMT_PODS_IPS, &st, NULL, 0, err);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pod_slot *sl =
		    pf_store_find_by_id(slots, n, sizeof(*slots), 0, sqlite3_column_int64(st, 0));
		struct pf_pod_record *p;

		if (!sl)
			continue;
		p = &v[sl - slots];
		if (pf_grow((void **)&p->ips, &sl->cap_ips, p->n_ips, sizeof(*p->ips)) < 0) {
			r = -ENOMEM;
			break;
		}
		if (pf_addr_parse(pf_col_text(st, 1), &p->ips[p->n_ips]) == 0)
			p->n_ips++;
	}
	if (r >= 0)
		sqlite3_reset(st);

	if (r >= 0)
		r = pf_stmt_bind(s, PF_STMT_PODS_CTS, &st, NULL, 0, err);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pod_slot *sl =
		    pf_store_find_by_id(slots, n, sizeof(*slots), 0, sqlite3_column_int64(st, 0));
		struct pf_pod_record *p;
		char *c;

		if (!sl)
			continue;
		p = &v[sl - slots];
		if (pf_grow((void **)&p->containers, &sl->cap_cts, p->n_containers,
			    sizeof(char *)) < 0 ||
		    pf_grow((void **)&p->procs, &sl->cap_procs, p->n_containers,
			    sizeof(*p->procs)) < 0 ||
		    !(c = strdup(pf_col_text(st, 1) ? pf_col_text(st, 1) : ""))) {
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
	r = pf_store_read_begin(s, err);
	if (r < 0)
		return r;
	r = list_pods_locked(s, out, n, err);
	pf_store_read_end(s);
	return r;
}

static int pod_policies_locked(struct pf_store *s, uint64_t dev, uint64_t ino,
			       struct pf_source_policy **out, size_t *n_out, bool *shared,
			       struct pf_error *err)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	int64_t id = -1, n_shared = 0;
	size_t cap = 0;
	int r, rc;

	r = pf_stmt_int(s, POD_FIND, "find pod", &id, err, B_INT(dev), B_INT(ino));
	if (r < 0)
		return r;
	if (r == 0)
		return pf_error_set(err, ENOENT, "store: no pod of netns %" PRIu64 ":%" PRIu64, dev,
				    ino);
	r = pf_stmt_int(s, POD_IP_SHARED, "pod addresses shared", &n_shared, err, B_INT(dev),
			B_INT(ino));
	if (r < 0)
		return r;
	*shared = n_shared > 0;
	r = pf_stmt_query(s, POD_POLICIES, &st, err, B_INT(dev), B_INT(ino));
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t pid = sqlite3_column_int64(st, 0);
		const char *ip = pf_col_text(st, 1);
		struct pf_source_policy sp = {.all = !ip};

		if (pid < 0 || pid > UINT32_MAX)
			continue;
		sp.policy_id = (uint32_t)pid;
		/* an address the full load cannot parse resolves to nothing there either */
		if (ip && pf_addr_parse(ip, &sp.ip) < 0)
			continue;
		if (pf_grow((void **)out, &cap, *n_out, sizeof(**out)) < 0)
			return pf_error_set(err, ENOMEM, "out of memory");
		(*out)[(*n_out)++] = sp;
	}
	if (rc != SQLITE_DONE)
		return pf_store_db_error(s, err, rc, "pod policies");
	return 0;
}

int pf_store_pod_policies(struct pf_store *s, uint64_t netns_dev, uint64_t netns_ino,
			  struct pf_source_policy **out, size_t *n, bool *shared,
			  struct pf_error *err)
{
	int r;

	*out = NULL;
	*n = 0;
	*shared = false;
	if (netns_dev > INT64_MAX || netns_ino > INT64_MAX)
		return pf_error_set(err, ERANGE, "store: netns identity out of range");
	r = pf_store_read_begin(s, err);
	if (r < 0)
		return r;
	r = pod_policies_locked(s, netns_dev, netns_ino, out, n, shared, err);
	pf_store_read_end(s);
	if (r < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}
