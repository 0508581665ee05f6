/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The resolved ruleset and its plain, rule-walking evaluator (the reference semantics). */
#include "ruleset.h"
#include "util.h"

struct pf_ruleset *pf_ruleset_ref(struct pf_ruleset *rs)
{
	__atomic_add_fetch(&rs->refs, 1, __ATOMIC_RELAXED);
	return rs;
}

void pf_ruleset_free(struct pf_ruleset *rs)
{
	if (!rs || __atomic_fetch_sub(&rs->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < rs->n_policies; i++) {
		struct pf_rs_policy *p = &rs->policies[i];

		for (size_t j = 0; j < p->n_rules; j++) {
			free(p->rules[j].dst_ips);
			free(p->rules[j].dst_nets);
			free(p->rules[j].ports);
			for (size_t k = 0; k < p->rules[j].n_fqdns; k++)
				free(p->rules[j].fqdns[k]);
			free(p->rules[j].fqdns);
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

static bool names_match(const struct pf_rs_rule *r, const struct pf_addr *dst,
			const struct pf_names *names)
{
	const char *const *v;
	size_t n;

	if (!r->n_fqdns || !names)
		return false;
	n = names->lookup(names->ctx, dst, &v);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < r->n_fqdns; k++)
			if (pf_fqdn_match(r->fqdns[k], v[i]))
				return true;
	return false;
}

bool pf_rs_rule_matches(const struct pf_rs_rule *r, const struct pf_addr *dst,
			enum pf_protocol proto, uint16_t dport, const struct pf_names *names)
{
	bool to = r->any_dst, port = r->n_ports == 0;

	for (size_t i = 0; !port && i < r->n_ports; i++)
		port = r->ports[i].protocol == proto && dport >= r->ports[i].port &&
		       dport <= r->ports[i].end_port;
	if (!port)
		return false;
	for (size_t i = 0; !to && i < r->n_dst_ips; i++)
		to = pf_addr_eq(&r->dst_ips[i], dst);
	for (size_t i = 0; !to && i < r->n_dst_nets; i++)
		to = pf_prefix_contains(&r->dst_nets[i], dst);
	return to || names_match(r, dst, names);
}

static void verdict_init(struct pf_verdict *out, enum pf_action default_action)
{
	memset(out, 0, sizeof(*out));
	out->action = default_action;
	out->rule_index = -1;
	out->pass_rule_index = -1;
}

/* One policy's rules: true when one decided (out filled), *passed set by a cluster Pass. */
static bool eval_policy(const struct pf_rs_policy *p, const struct pf_addr *dst,
			enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			bool *passed, struct pf_verdict *out)
{
	for (size_t j = 0; j < p->n_rules; j++) {
		const struct pf_rs_rule *r = &p->rules[j];

		if (r->action == PF_ACTION_PASS && !p->cluster)
			continue;
		if (!pf_rs_rule_matches(r, dst, proto, dport, names))
			continue;
		if (r->action == PF_ACTION_PASS) {
			*passed = true;
			out->pass_policy_id = p->id;
			out->pass_name = p->name;
			out->pass_rule_index = (int32_t)r->rule_index;
			return false;
		}
		out->action = r->action;
		out->cluster = p->cluster;
		out->log = r->log;
		out->matched = true;
		out->policy_id = p->id;
		out->policy_namespace = p->namespace;
		out->policy_name = p->name;
		out->rule_index = (int32_t)r->rule_index;
		return true;
	}
	return false;
}

void pf_ruleset_eval_some(const struct pf_ruleset *rs, const uint32_t *pols, size_t n,
			  enum pf_action default_action, const struct pf_addr *dst,
			  enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			  struct pf_verdict *out)
{
	bool passed = false;

	verdict_init(out, default_action);
	for (size_t i = 0; i < n; i++) {
		const struct pf_rs_policy *p = &rs->policies[pols[i]];

		if (passed && p->cluster)
			continue; /* the cluster tier ended for this connection */
		if (eval_policy(p, dst, proto, dport, names, &passed, out))
			return;
	}
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

/* One tier of the walk: the Enforce policies (the verdict), or the Audit ones alone. */
static void eval_tier(const struct pf_ruleset *rs, bool audit, enum pf_action default_action,
		      const struct pf_addr *src, const struct pf_addr *dst, enum pf_protocol proto,
		      uint16_t dport, const struct pf_names *names, struct pf_verdict *out)
{
	bool passed = false;

	verdict_init(out, default_action);
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
		if (eval_policy(p, dst, proto, dport, names, &passed, out))
			return;
	}
}

void pf_ruleset_eval_flow(const struct pf_ruleset *rs, enum pf_action default_action,
			  const struct pf_addr *src, const struct pf_addr *dst,
			  enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			  struct pf_verdict *out)
{
	eval_tier(rs, false, default_action, src, dst, proto, dport, names, out);
}

static void *dup_array(const void *v, size_t n, size_t sz, bool *oom)
{
	void *p;

	if (!n)
		return NULL;
	p = malloc(n * sz);
	if (!p) {
		*oom = true;
		return NULL;
	}
	return memcpy(p, v, n * sz);
}

static void copy_rule(struct pf_rs_rule *d, const struct pf_rs_rule *r, bool *oom)
{
	*d = *r;
	d->dst_ips = dup_array(r->dst_ips, r->n_dst_ips, sizeof(*r->dst_ips), oom);
	d->dst_nets = dup_array(r->dst_nets, r->n_dst_nets, sizeof(*r->dst_nets), oom);
	d->ports = dup_array(r->ports, r->n_ports, sizeof(*r->ports), oom);
	d->fqdns = r->n_fqdns ? calloc(r->n_fqdns, sizeof(*d->fqdns)) : NULL;
	if (r->n_fqdns && !d->fqdns) {
		*oom = true;
		d->n_fqdns = 0;
	}
	for (size_t k = 0; d->fqdns && k < r->n_fqdns; k++)
		if (!(d->fqdns[k] = strdup(r->fqdns[k])))
			*oom = true;
}

int pf_ruleset_copy_some(const struct pf_ruleset *rs, const uint32_t *pols, size_t n,
			 struct pf_ruleset **out)
{
	struct pf_ruleset *c = calloc(1, sizeof(*c));
	bool oom = false;

	if (!c)
		return -ENOMEM;
	c->policies = calloc(n ? n : 1, sizeof(*c->policies));
	if (!c->policies) {
		free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !oom; i++) {
		const struct pf_rs_policy *p = &rs->policies[pols[i]];
		struct pf_rs_policy *d = &c->policies[c->n_policies++];

		*d = *p;
		d->src = NULL;
		d->n_src = 0; /* the copy is walked for sources already known to apply */
		d->namespace = strdup(p->namespace ? p->namespace : "");
		d->name = strdup(p->name ? p->name : "");
		d->rules = calloc(p->n_rules ? p->n_rules : 1, sizeof(*d->rules));
		d->n_rules = 0;
		if (!d->namespace || !d->name || !d->rules) {
			oom = true;
			break;
		}
		for (size_t j = 0; j < p->n_rules; j++)
			copy_rule(&d->rules[d->n_rules++], &p->rules[j], &oom);
	}
	if (oom) {
		pf_ruleset_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* First index of sp (sorted by policy id) naming id, or n. */
static size_t sp_lower(const struct pf_source_policy *sp, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sp[mid].policy_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool has_addr(const struct pf_addr *v, size_t n, const struct pf_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (pf_addr_eq(&v[i], a))
			return true;
	return false;
}

/* The addresses of ips policy id applies to (sp[k..] are its entries), into d. */
static int source_addrs(struct pf_rs_policy *d, const struct pf_addr *ips, size_t n_ips,
			const struct pf_source_policy *sp, size_t n_sp, size_t k)
{
	bool all = false;

	for (size_t j = k; j < n_sp && sp[j].policy_id == d->id; j++)
		all = all || sp[j].all;
	d->src = calloc(n_ips ? n_ips : 1, sizeof(*d->src));
	if (!d->src)
		return -ENOMEM;
	for (size_t i = 0; i < n_ips; i++) {
		bool in = all;

		for (size_t j = k; !in && j < n_sp && sp[j].policy_id == d->id; j++)
			in = pf_addr_eq(&sp[j].ip, &ips[i]);
		if (in && !has_addr(d->src, d->n_src, &ips[i]))
			d->src[d->n_src++] = ips[i];
	}
	return 0;
}

int pf_ruleset_for_source(const struct pf_ruleset *rs, const struct pf_addr *ips, size_t n_ips,
			  const struct pf_source_policy *sp, size_t n_sp, struct pf_ruleset **out)
{
	_cleanup_free_ uint32_t *pols = NULL;
	struct pf_ruleset *c = NULL;
	size_t n = 0, n_ids = 0;
	int r;

	for (size_t j = 0; j < n_sp; j++) {
		if (j && sp[j].policy_id < sp[j - 1].policy_id)
			return -EINVAL; /* not sorted */
		if (!sp[j].all && !has_addr(ips, n_ips, &sp[j].ip))
			return -ENOENT;
		n_ids += !j || sp[j].policy_id != sp[j - 1].policy_id;
	}
	pols = calloc(n_ids ? n_ids : 1, sizeof(*pols));
	if (!pols)
		return -ENOMEM;
	for (size_t i = 0; rs && i < rs->n_policies && n < n_ids; i++) {
		size_t k = sp_lower(sp, n_sp, rs->policies[i].id);

		if (k < n_sp && sp[k].policy_id == rs->policies[i].id)
			pols[n++] = (uint32_t)i;
	}
	if (n != n_ids)
		return -ENOENT;
	r = pf_ruleset_copy_some(rs, pols, n, &c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_policies; i++) {
		struct pf_rs_policy *d = &c->policies[i];

		if (source_addrs(d, ips, n_ips, sp, n_sp, sp_lower(sp, n_sp, d->id)) < 0) {
			pf_ruleset_free(c);
			return -ENOMEM;
		}
	}
	*out = c;
	return 0;
}

bool pf_ruleset_has_fqdn(const struct pf_ruleset *rs)
{
	for (size_t i = 0; rs && i < rs->n_policies; i++)
		for (size_t j = 0; j < rs->policies[i].n_rules; j++)
			if (rs->policies[i].rules[j].n_fqdns)
				return true;
	return false;
}

void pf_ruleset_eval(const struct pf_ruleset *rs, enum pf_action default_action,
		     const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		     struct pf_verdict *out)
{
	eval_tier(rs, false, default_action, src, dst, PF_PROTO_TCP, dport, NULL, out);
}

void pf_ruleset_eval_audit(const struct pf_ruleset *rs, const struct pf_addr *src,
			   const struct pf_addr *dst, uint16_t dport, struct pf_verdict *out)
{
	eval_tier(rs, true, PF_ACTION_ALLOW, src, dst, PF_PROTO_TCP, dport, NULL, out);
}
