/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FencePolicy model: names of kinds and actions, freeing, and what a policy costs the cache. */
#include <stdio.h>

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

static const char *const protocol_names[_PF_PROTO_MAX] = {
    [PF_PROTO_TCP] = "TCP",
    [PF_PROTO_UDP] = "UDP",
};

const char *pf_protocol_to_string(enum pf_protocol p)
{
	return (unsigned)p < _PF_PROTO_MAX ? protocol_names[p] : NULL;
}

int pf_protocol_from_string(const char *s)
{
	for (int i = 0; s && i < _PF_PROTO_MAX; i++)
		if (!strcmp(s, protocol_names[i]))
			return i;
	return -EINVAL;
}

/* ---- fqdn ---------------------------------------------------------------------------------- */

static bool label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

int pf_fqdn_normalize(const char *s, char **out, char *msg, size_t msg_size)
{
	size_t len = strlen(s), label = 0;
	char *t;

	if (len && s[len - 1] == '.')
		len--;
	if (!len) {
		snprintf(msg, msg_size, "must not be empty");
		return -EINVAL;
	}
	if (len > PF_POLICY_MAX_FQDN) {
		snprintf(msg, msg_size, "longer than %d characters", PF_POLICY_MAX_FQDN);
		return -EINVAL;
	}
	t = strndup(s, len);
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char ch = t[i];

		if (ch >= 'A' && ch <= 'Z')
			t[i] = ch = (char)(ch - 'A' + 'a');
		if (ch == '*' && i == 0 && len > 2 && t[1] == '.') {
			label = 1;
			continue;
		}
		if (ch == '.') {
			if (!label) {
				snprintf(msg, msg_size, "empty label at offset %zu", i);
				goto bad;
			}
			label = 0;
			continue;
		}
		if (ch == '*') {
			snprintf(
			    msg, msg_size,
			    "'*' may only stand for exactly one leading label (\"*.example.com\")");
			goto bad;
		}
		if (!label_char(ch)) {
			snprintf(msg, msg_size, "invalid character at offset %zu", i);
			goto bad;
		}
		if (++label > 63) {
			snprintf(msg, msg_size, "label longer than 63 characters");
			goto bad;
		}
	}
	if (!label) {
		snprintf(msg, msg_size, "empty label at the end");
		goto bad;
	}
	*out = t;
	return 0;
bad:
	free(t);
	return -EINVAL;
}

/* Case-insensitive equality of pattern (lower case) and name[0..n). */
static bool name_eq(const char *pattern, const char *name, size_t n)
{
	if (strlen(pattern) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch != pattern[i])
			return false;
	}
	return true;
}

bool pf_fqdn_match(const char *pattern, const char *name)
{
	size_t n = strlen(name);
	const char *dot;

	if (n && name[n - 1] == '.')
		n--;
	if (pattern[0] != '*')
		return name_eq(pattern, name, n);
	/* "*.example.com": one label, non-empty, then ".example.com" exactly */
	dot = memchr(name, '.', n);
	if (!dot || dot == name)
		return false;
	return name_eq(pattern + 2, dot + 1, n - (size_t)(dot + 1 - name));
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
	for (size_t i = 0; r->to && i < r->n_to; i++) {
		free(r->to[i].fqdn);
		if (!r->to[i].is_cidr)
			ref_clear(&r->to[i].ref);
	}
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
