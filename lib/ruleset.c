/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The resolved ruleset and its plain, rule-walking evaluator (the reference semantics). */
#include "ruleset.h"

void pf_ruleset_free(struct pf_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_policies; i++) {
		struct pf_rs_policy *p = &rs->policies[i];

		for (size_t j = 0; j < p->n_rules; j++) {
			free(p->rules[j].dst_ips);
			free(p->rules[j].dst_nets);
			free(p->rules[j].ports);
		}
		free(p->rules);
		free(p->src);
		free(p->namespace);
		free(p->name);
	}
	free(rs->policies);
	free(rs);
}

static int policy_order(const void *a, const void *b)
{
	const struct pf_rs_policy *x = a, *y = b;
	int c;

	if (x->cluster != y->cluster)
		return x->cluster ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	c = strcmp(x->namespace, y->namespace);
	if (c)
		return c;
	return strcmp(x->name, y->name);
}

void pf_ruleset_sort(struct pf_ruleset *rs)
{
	if (rs->n_policies > 1)
		qsort(rs->policies, rs->n_policies, sizeof(*rs->policies), policy_order);
}

size_t pf_ruleset_n_rules(const struct pf_ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_policies; i++)
		n += rs->policies[i].n_rules;
	return n;
}

static bool rule_matches(const struct pf_rs_rule *r, const struct pf_addr *dst, uint16_t dport)
{
	bool to = r->any_dst, port = r->n_ports == 0;

	for (size_t i = 0; !to && i < r->n_dst_ips; i++)
		to = pf_addr_eq(&r->dst_ips[i], dst);
	for (size_t i = 0; !to && i < r->n_dst_nets; i++)
		to = pf_prefix_contains(&r->dst_nets[i], dst);
	for (size_t i = 0; !port && i < r->n_ports; i++)
		port = dport >= r->ports[i].port && dport <= r->ports[i].end_port;
	return to && port;
}

bool pf_ruleset_has_audit(const struct pf_ruleset *rs)
{
	for (size_t i = 0; rs && i < rs->n_policies; i++)
		if (rs->policies[i].audit)
			return true;
	return false;
}

int pf_ruleset_view(const struct pf_ruleset *rs, bool audit, struct pf_ruleset *view)
{
	memset(view, 0, sizeof(*view));
	if (!rs || !rs->n_policies)
		return 0;
	view->policies = calloc(rs->n_policies, sizeof(*view->policies));
	if (!view->policies)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n_policies; i++)
		if (rs->policies[i].audit == audit) {
			view->policies[view->n_policies] = rs->policies[i];
			view->policies[view->n_policies++].audit = false;
		}
	return 0;
}

void pf_ruleset_view_done(struct pf_ruleset *view)
{
	free(view->policies);
	memset(view, 0, sizeof(*view));
}

static void eval(const struct pf_ruleset *rs, bool audit, enum pf_action default_action,
		 const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		 struct pf_verdict *out)
{
	bool passed = false;

	memset(out, 0, sizeof(*out));
	out->action = default_action;
	out->rule_index = -1;
	out->pass_rule_index = -1;
	for (size_t i = 0; i < rs->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];
		bool applies = false;

		if (p->audit != audit)
			continue; /* an Audit policy never takes part in the verdict */
		if (passed && p->cluster)
			continue; /* the cluster tier ended for this connection */
		for (size_t s = 0; !applies && s < p->n_src; s++)
			applies = pf_addr_eq(&p->src[s], src);
		if (!applies)
			continue;
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *r = &p->rules[j];

			if (r->action == PF_ACTION_PASS && !p->cluster)
				continue;
			if (!rule_matches(r, dst, dport))
				continue;
			if (r->action == PF_ACTION_PASS) {
				passed = true;
				out->pass_policy_id = p->id;
				out->pass_name = p->name;
				out->pass_rule_index = (int32_t)r->rule_index;
				break;
			}
			out->action = r->action;
			out->cluster = p->cluster;
			out->log = r->log;
			out->matched = true;
			out->policy_id = p->id;
			out->policy_namespace = p->namespace;
			out->policy_name = p->name;
			out->rule_index = (int32_t)r->rule_index;
			return;
		}
	}
}

void pf_ruleset_eval(const struct pf_ruleset *rs, enum pf_action default_action,
		     const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		     struct pf_verdict *out)
{
	eval(rs, false, default_action, src, dst, dport, out);
}

void pf_ruleset_eval_audit(const struct pf_ruleset *rs, const struct pf_addr *src,
			   const struct pf_addr *dst, uint16_t dport, struct pf_verdict *out)
{
	eval(rs, true, PF_ACTION_ALLOW, src, dst, dport, out);
}
