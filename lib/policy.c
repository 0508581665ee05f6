/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FencePolicy model: names of kinds and actions, freeing, and what a policy costs the cache. */
#include "policy.h"

static const char *const action_names[_PF_ACTION_MAX] = {
    [PF_ACTION_ALLOW] = "Allow", [PF_ACTION_DENY] = "Deny", [PF_ACTION_REJECT] = "Reject",
    [PF_ACTION_ALERT] = "Alert", [PF_ACTION_PASS] = "Pass",
};

static const char *const kind_names[_PF_KIND_MAX] = {
    [PF_KIND_POD] = "Pod",
    [PF_KIND_DEPLOYMENT] = "Deployment",
    [PF_KIND_REPLICASET] = "ReplicaSet",
    [PF_KIND_STATEFULSET] = "StatefulSet",
    [PF_KIND_DAEMONSET] = "DaemonSet",
    [PF_KIND_JOB] = "Job",
    [PF_KIND_CRONJOB] = "CronJob",
    [PF_KIND_NAMESPACE] = "Namespace",
    [PF_KIND_SERVICE] = "Service",
};

const char *pf_action_to_string(enum pf_action a)
{
	return (unsigned)a < _PF_ACTION_MAX ? action_names[a] : NULL;
}

int pf_action_from_string(const char *s)
{
	for (int i = 0; s && i < _PF_ACTION_MAX; i++)
		if (!strcmp(s, action_names[i]))
			return i;
	return -EINVAL;
}

const char *pf_mode_to_string(enum pf_mode m)
{
	return m == PF_MODE_AUDIT ? "Audit" : m == PF_MODE_ENFORCE ? "Enforce" : NULL;
}

int pf_mode_from_string(const char *s)
{
	if (pf_streq(s, "Enforce"))
		return PF_MODE_ENFORCE;
	if (pf_streq(s, "Audit"))
		return PF_MODE_AUDIT;
	return -EINVAL;
}

const char *pf_policy_kind_string(bool cluster)
{
	return cluster ? PF_POLICY_KIND_CLUSTER : PF_POLICY_KIND;
}

const char *pf_kind_to_string(enum pf_kind k)
{
	return (unsigned)k < _PF_KIND_MAX ? kind_names[k] : NULL;
}

int pf_kind_from_string(const char *s)
{
	for (int i = 0; s && i < _PF_KIND_MAX; i++)
		if (!strcmp(s, kind_names[i]))
			return i;
	return -EINVAL;
}

/* ---- freeing ------------------------------------------------------------------------------- */

static void ref_clear(struct pf_ref *r)
{
	free(r->namespace);
	free(r->name);
	r->namespace = r->name = NULL;
}

static void rule_clear(struct pf_rule *r)
{
	for (size_t i = 0; r->to && i < r->n_to; i++)
		if (!r->to[i].is_cidr)
			ref_clear(&r->to[i].ref);
	free(r->to);
	free(r->ports);
	r->to = NULL;
	r->ports = NULL;
}

void pf_policy_free(struct pf_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->applies_to && i < p->n_applies_to; i++)
		ref_clear(&p->applies_to[i]);
	for (size_t i = 0; p->egress && i < p->n_egress; i++)
		rule_clear(&p->egress[i]);
	free(p->applies_to);
	free(p->egress);
	free(p->namespace);
	free(p->name);
	free(p);
}

void pf_policy_doc_clear(struct pf_policy_doc *d)
{
	if (!d)
		return;
	pf_policy_free(d->policy);
	free(d->namespace);
	free(d->name);
	memset(d, 0, sizeof(*d));
}

void pf_policy_file_free(struct pf_policy_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->docs && i < f->n_docs; i++)
		pf_policy_doc_clear(&f->docs[i]);
	free(f->docs);
	f->docs = NULL;
	f->n_docs = 0;
}

size_t pf_policy_file_n_invalid(const struct pf_policy_file *f)
{
	size_t n = 0;

	for (size_t i = 0; f && i < f->n_docs; i++)
		if (!f->docs[i].policy)
			n++;
	return n;
}

size_t pf_policy_cost(const struct pf_rule *rules, size_t n_rules)
{
	uint64_t pairs = 0, any_ports = 0, to = 0; /* bounded by the counts' limits: no overflow */

	for (size_t i = 0; i < n_rules; i++) {
		uint64_t np = MAX(rules[i].n_ports, (size_t)1);

		pairs += MAX(rules[i].n_to, (size_t)1) * np;
		to += rules[i].n_to;
		if (!rules[i].n_to)
			any_ports += np;
	}
	return (size_t)MIN(pairs + any_ports * to, (uint64_t)SIZE_MAX);
}
