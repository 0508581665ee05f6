/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FencePolicy model written out: canonical JSON, the views' strings, error lines. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "doc.h"
#include "policy.h"

const char *pf_policy_doc_format_error(const char *file, const struct pf_policy_doc *d, char *buf,
				       size_t size)
{
	unsigned line = d->error_line ? d->error_line : d->line;

	if (line)
		snprintf(buf, size, "%s: document %u (line %u): %s", file, d->index + 1, line,
			 d->error);
	else
		snprintf(buf, size, "%s: document %u: %s", file, d->index + 1, d->error);
	return buf;
}

struct sbuf {
	char *s;
	size_t len, cap;
	int r;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) _printf_(2, 3);
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->r < 0)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->r = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (pf_grow((void **)&b->s, &b->cap, b->len + (size_t)n + 1, 1) < 0) {
			b->r = -ENOMEM;
			return;
		}
	}
}

static void sb_str(struct sbuf *b, const char *s)
{
	if (b->r >= 0)
		b->r = pf_json_append_string(&b->s, &b->len, &b->cap, s);
}

static int sb_finish(struct sbuf *b, char **out)
{
	if (b->r >= 0 && !b->s)
		sb_add(b, "%s", "");
	if (b->r < 0) {
		free(b->s);
		return b->r;
	}
	*out = b->s;
	return 0;
}

static void ref_json(struct sbuf *b, const struct pf_ref *r)
{
	sb_add(b, "{\"kind\":");
	sb_str(b, pf_kind_to_string(r->kind));
	sb_add(b, ",\"name\":");
	sb_str(b, r->name);
	sb_add(b, ",\"namespace\":");
	sb_str(b, r->namespace);
	sb_add(b, "}");
}

int pf_policy_to_json(const struct pf_policy *p, char **out)
{
	struct sbuf b = {0};

	sb_add(&b, "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"metadata\":{\"name\":",
	       PF_POLICY_API_VERSION, pf_policy_kind_string(p->cluster));
	sb_str(&b, p->name);
	if (!p->cluster) {
		sb_add(&b, ",\"namespace\":");
		sb_str(&b, p->namespace);
	}
	sb_add(&b, "},\"spec\":{\"priority\":%" PRIu32 ",\"appliesTo\":[", p->priority);
	for (size_t i = 0; i < p->n_applies_to; i++) {
		if (i)
			sb_add(&b, ",");
		ref_json(&b, &p->applies_to[i]);
	}
	sb_add(&b, "],\"egress\":[");
	for (size_t i = 0; i < p->n_egress; i++) {
		const struct pf_rule *r = &p->egress[i];

		sb_add(&b, "%s{\"action\":\"%s\",\"to\":[", i ? "," : "",
		       pf_action_to_string(r->action));
		for (size_t j = 0; j < r->n_to; j++) {
			char pfx[PF_PREFIX_STRLEN];

			if (j)
				sb_add(&b, ",");
			if (r->to[j].is_cidr)
				sb_add(&b, "{\"cidr\":\"%s\"}", pf_prefix_fmt(&r->to[j].cidr, pfx));
			else
				ref_json(&b, &r->to[j].ref);
		}
		sb_add(&b, "],\"ports\":[");
		for (size_t j = 0; j < r->n_ports; j++)
			sb_add(&b, "%s{\"port\":%u,\"endPort\":%u,\"protocol\":\"TCP\"}",
			       j ? "," : "", r->ports[j].port, r->ports[j].end_port);
		sb_add(&b, "],\"log\":%s}", r->log ? "true" : "false");
	}
	sb_add(&b, "]}}");
	return sb_finish(&b, out);
}

int pf_rule_destination_string(const struct pf_rule *r, char **out)
{
	struct sbuf b = {0};

	if (r->n_to == 0)
		sb_add(&b, "any");
	for (size_t i = 0; i < r->n_to; i++) {
		const struct pf_peer *e = &r->to[i];
		char pfx[PF_PREFIX_STRLEN];

		if (i)
			sb_add(&b, ", ");
		if (e->is_cidr)
			sb_add(&b, "%s", pf_prefix_fmt(&e->cidr, pfx));
		else if (e->ref.kind == PF_KIND_NAMESPACE)
			sb_add(&b, "Namespace %s", e->ref.name);
		else
			sb_add(&b, "%s %s/%s", pf_kind_to_string(e->ref.kind), e->ref.namespace,
			       e->ref.name);
	}
	return sb_finish(&b, out);
}

int pf_rule_ports_string(const struct pf_rule *r, char **out)
{
	struct sbuf b = {0};

	if (r->n_ports == 0)
		sb_add(&b, "any");
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct pf_port_range *pr = &r->ports[i];

		if (pr->end_port > pr->port)
			sb_add(&b, "%s%u-%u/TCP", i ? ", " : "", pr->port, pr->end_port);
		else
			sb_add(&b, "%s%u/TCP", i ? ", " : "", pr->port);
	}
	return sb_finish(&b, out);
}
