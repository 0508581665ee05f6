/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `podfencectl explain` reads from the store: a pod's addresses, a rule's text. */
#include "store-internal.h"

/* The registered pod's own addresses and those sync learnt for it (a pod of another node, or
 * one registered before its IP was known). */
int pf_store_pod_ips(struct pf_store *s, const char *namespace, const char *name,
		     struct pf_addr **ips, size_t *n)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	struct pf_error err = {};
	size_t cap = 0;
	int r, rc;

	*ips = NULL;
	*n = 0;
	r = pf_stmt_query(s, EXPLAIN_POD_IPS, &st, &err, B_TEXT(namespace), B_TEXT(name));
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_addr a;

		if (pf_addr_parse(pf_col_text(st, 0), &a) < 0)
			continue;
		if (pf_grow((void **)ips, &cap, *n, sizeof(**ips)) < 0) {
			r = -ENOMEM;
			break;
		}
		(*ips)[(*n)++] = a;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	if (r < 0) {
		free(*ips);
		*ips = NULL;
		*n = 0;
	}
	return r;
}

int pf_store_rule_text(struct pf_store *s, const char *namespace, const char *name,
		       int32_t rule_index, char **destination, char **ports)
{
	_cleanup_reset_ sqlite3_stmt *st = NULL;
	struct pf_error err = {};
	bool oom = false;
	int r, rc;

	*destination = *ports = NULL;
	r = pf_stmt_query(s, EXPLAIN_RULE_TEXT, &st, &err, B_TEXT(namespace), B_TEXT(name),
			  B_INT(rule_index));
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	*destination = pf_col_dup(st, 0, &oom);
	*ports = pf_col_dup(st, 1, &oom);
	if (!*destination && !oom)
		oom = !(*destination = strdup(""));
	if (!*ports && !oom)
		oom = !(*ports = strdup(""));
	if (oom) {
		free(*destination);
		free(*ports);
		*destination = *ports = NULL;
		return -ENOMEM;
	}
	return 0;
}
