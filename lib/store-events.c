/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's events (podfenced): verdicts and what else the engine saw, capped. */

#include "store-internal.h"

int pf_store_append_events(struct pf_store *s, const struct pf_event *ev, size_t n, size_t max_rows,
			   struct pf_error *err)
{
	int r;

	if (n == 0)
		return 0;
	r = pf_store_op_begin(s, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct pf_event *e = &ev[i];
		char src[PF_ADDR_STRLEN], dst[PF_ADDR_STRLEN];
		const char *action = pf_action_to_string(e->action);

		r = pf_stmt_run(s, EVENT_INSERT, err, B_INT(e->at_ms), B_TEXT(e->pod_namespace),
				B_TEXT(e->pod_name), B_TEXT(pf_addr_fmt(&e->src, src)),
				B_TEXT(pf_addr_fmt(&e->dst, dst)), B_INT(e->dport),
				B_TEXT(action ? action : "?"), B_TEXT(e->policy_namespace),
				B_TEXT(e->policy_name),
				e->policy_name && e->rule_index >= 0 ? B_INT(e->rule_index)
								     : B_NULL,
				B_INT(e->count ? e->count : 1), B_TEXT(e->reason),
				B_TEXT(e->protocol == PF_PROTO_UDP ? "UDP" : "TCP"),
				B_TEXT(e->audit ? "Audit" : "Enforce"));
		if (r < 0)
			goto out;
	}
	if (max_rows > 0)
		r = pf_stmt_run(s, EVENT_TRIM, err, B_INT(MIN(max_rows, (size_t)INT64_MAX)));
out:
	return pf_store_op_end(s, r, err);
}

int pf_store_trim_events_before(struct pf_store *s, int64_t at_ms, struct pf_error *err)
{
	int r = pf_store_op_begin(s, err);

	if (r < 0)
		return r;
	r = pf_stmt_run(s, EVENT_TRIM_AGE, err, B_INT(at_ms));
	return pf_store_op_end(s, r, err);
}
