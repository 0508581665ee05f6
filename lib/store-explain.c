/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `podfencectl explain` reads from the store: a pod's addresses, a rule's text. */
#include <sqlite3.h>
#include <stdio.h>

#include "store.h"

int pf_store_pod_ips(struct pf_store *s, const char *namespace, const char *name,
		     struct pf_addr **ips, size_t *n)
{
	/* The registered pod's own addresses and those sync learnt for it (a pod of another
	 * node, or one registered before its IP was known). */
	static const char sql[] =
	    "SELECT pi.ip FROM pod_ip pi JOIN pod p ON p.id = pi.pod_id "
	    "WHERE p.namespace = ?1 AND p.name = ?2 "
	    "UNION SELECT wi.ip FROM workload_ip wi JOIN workload w ON w.id = wi.workload_id "
	    "WHERE w.kind = 'Pod' AND w.namespace = ?1 AND w.name = ?2 ORDER BY 1";
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;

	*ips = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(pf_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, namespace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_addr a;

		if (pf_addr_parse((const char *)sqlite3_column_text(st, 0), &a) < 0)
			continue;
		if (pf_grow((void **)ips, &cap, *n, sizeof(**ips)) < 0) {
			sqlite3_finalize(st);
			free(*ips);
			*ips = NULL;
			*n = 0;
			return -ENOMEM;
		}
		(*ips)[(*n)++] = a;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		free(*ips);
		*ips = NULL;
		*n = 0;
		return -EIO;
	}
	return 0;
}

int pf_store_rule_text(struct pf_store *s, const char *namespace, const char *name,
		       int32_t rule_index, char **destination, char **ports)
{
	static const char sql[] =
	    "SELECT r.destination, r.ports FROM policy_rule r JOIN policy p ON "
	    "p.id = r.policy_id WHERE p.namespace = ?1 AND p.name = ?2 AND "
	    "r.rule_index = ?3";
	sqlite3_stmt *st;
	int r;

	*destination = *ports = NULL;
	if (sqlite3_prepare_v2(pf_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, namespace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, rule_index);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 1);

		*destination = strdup(d ? d : "");
		*ports = strdup(p ? p : "");
		r = *destination && *ports ? 0 : -ENOMEM;
		if (r < 0) {
			free(*destination);
			free(*ports);
			*destination = *ports = NULL;
		}
	} else {
		r = r == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(st);
	return r;
}
