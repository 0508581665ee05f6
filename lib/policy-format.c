/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FencePolicy model written out: canonical JSON, the views' strings, error lines. */
#include <stdio.h>

#include "doc.h"
#include "json-gen.h"
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

static void ref_json(struct pf_jgen *j, const struct pf_ref *r)
{
	pf_jgen_map_open(j);
	pf_jgen_kv_str(j, "kind", pf_kind_to_string(r->kind));
	pf_jgen_kv_str(j, "name", r->name);
	pf_jgen_kv_str(j, "namespace", r->namespace);
	pf_jgen_map_close(j);
}

int pf_policy_to_json(const struct pf_policy *p, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "apiVersion", PF_POLICY_API_VERSION);
	pf_jgen_kv_str(&j, "kind", pf_policy_kind_string(p->cluster));
	pf_jgen_key(&j, "metadata");
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "name", p->name);
	if (!p->cluster)
		pf_jgen_kv_str(&j, "namespace", p->namespace);
	pf_jgen_map_close(&j);
	pf_jgen_key(&j, "spec");
	pf_jgen_map_open(&j);
	pf_jgen_kv_uint(&j, "priority", p->priority);
	/* only when not the default: an Enforce policy's stored JSON stays what it was */
	if (p->mode != PF_MODE_ENFORCE)
		pf_jgen_kv_str(&j, "mode", pf_mode_to_string(p->mode));
	pf_jgen_key(&j, "appliesTo");
	pf_jgen_array_open(&j);
	for (size_t i = 0; i < p->n_applies_to; i++)
		ref_json(&j, &p->applies_to[i]);
	pf_jgen_array_close(&j);
	pf_jgen_key(&j, "egress");
	pf_jgen_array_open(&j);
	for (size_t i = 0; i < p->n_egress; i++) {
		const struct pf_rule *r = &p->egress[i];

		pf_jgen_map_open(&j);
		pf_jgen_kv_str(&j, "action", pf_action_to_string(r->action));
		pf_jgen_key(&j, "to");
		pf_jgen_array_open(&j);
		for (size_t k = 0; k < r->n_to; k++) {
			char pfx[PF_PREFIX_STRLEN];

			if (r->to[k].fqdn) {
				pf_jgen_map_open(&j);
				pf_jgen_kv_str(&j, "fqdn", r->to[k].fqdn);
				pf_jgen_map_close(&j);
			} else if (r->to[k].is_cidr) {
				pf_jgen_map_open(&j);
				pf_jgen_kv_str(&j, "cidr", pf_prefix_fmt(&r->to[k].cidr, pfx));
				pf_jgen_map_close(&j);
			} else {
				ref_json(&j, &r->to[k].ref);
			}
		}
		pf_jgen_array_close(&j);
		pf_jgen_key(&j, "ports");
		pf_jgen_array_open(&j);
		for (size_t k = 0; k < r->n_ports; k++) {
			pf_jgen_map_open(&j);
			pf_jgen_kv_uint(&j, "port", r->ports[k].port);
			pf_jgen_kv_uint(&j, "endPort", r->ports[k].end_port);
			pf_jgen_kv_str(&j, "protocol", pf_protocol_to_string(r->ports[k].protocol));
			pf_jgen_map_close(&j);
		}
		pf_jgen_array_close(&j);
		pf_jgen_kv_bool(&j, "log", r->log);
		pf_jgen_map_close(&j);
	}
	pf_jgen_array_close(&j);
	pf_jgen_map_close(&j);
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

int pf_rule_destination_string(const struct pf_rule *r, char **out)
{
	_cleanup_buf_ struct pf_buf b = {0};

	if (r->n_to == 0)
		pf_buf_puts(&b, "any");
	for (size_t i = 0; i < r->n_to; i++) {
		const struct pf_peer *e = &r->to[i];
		char pfx[PF_PREFIX_STRLEN];

		if (i)
			pf_buf_puts(&b, ", ");
		if (e->fqdn)
			pf_buf_printf(&b, "fqdn %s", e->fqdn);
		else if (e->is_cidr)
			pf_buf_printf(&b, "%s", pf_prefix_fmt(&e->cidr, pfx));
		else if (e->ref.kind == PF_KIND_NAMESPACE)
			pf_buf_printf(&b, "Namespace %s", e->ref.name);
		else
			pf_buf_printf(&b, "%s %s/%s", pf_kind_to_string(e->ref.kind),
				      e->ref.namespace, e->ref.name);
	}
	return pf_buf_take(&b, out);
}

int pf_rule_ports_string(const struct pf_rule *r, char **out)
{
	_cleanup_buf_ struct pf_buf b = {0};

	if (r->n_ports == 0)
		pf_buf_puts(&b, "any");
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct pf_port_range *pr = &r->ports[i];

		const char *proto = pf_protocol_to_string(pr->protocol);

		if (pr->end_port > pr->port)
			pf_buf_printf(&b, "%s%u-%u/%s", i ? ", " : "", pr->port, pr->end_port,
				      proto);
		else
			pf_buf_printf(&b, "%s%u/%s", i ? ", " : "", pr->port, proto);
	}
	return pf_buf_take(&b, out);
}

const char *pf_rule_protocols_string(const struct pf_rule *r)
{
	bool tcp = false, udp = false;

	if (r->n_ports == 0)
		return "any";
	for (size_t i = 0; i < r->n_ports; i++) {
		tcp |= r->ports[i].protocol == PF_PROTO_TCP;
		udp |= r->ports[i].protocol == PF_PROTO_UDP;
	}
	return tcp && udp ? "TCP,UDP" : udp ? "UDP" : "TCP";
}

bool pf_rule_has_fqdn(const struct pf_rule *r)
{
	for (size_t i = 0; i < r->n_to; i++)
		if (r->to[i].fqdn)
			return true;
	return false;
}
