/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The helpers test-store and test-store-ruleset share (store-testutil.h). */
#include <stdio.h>

#include "store-testutil.h"
#include "tap.h"

char tmpdir[] = "/tmp/pf-test-store.XXXXXX";

char *db_path(const char *name)
{
	static char buf[4][256];
	static unsigned k;
	char *b = buf[k++ % 4];

	snprintf(b, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return b;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

void *xgrow(void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (!p)
		abort();
	return p;
}

struct pf_policy *mk_policy(const char *ns, const char *name, uint32_t priority)
{
	struct pf_policy *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	p->namespace = xstrdup(ns);
	p->name = xstrdup(name);
	p->priority = priority;
	return p;
}

static void set_ref(struct pf_ref *r, enum pf_kind kind, const char *ns, const char *name)
{
	r->kind = kind;
	r->namespace = xstrdup(kind == PF_KIND_NAMESPACE ? name : ns);
	r->name = xstrdup(name);
}

void add_target(struct pf_policy *p, enum pf_kind kind, const char *ns, const char *name)
{
	p->applies_to = xgrow(p->applies_to, p->n_applies_to + 1, sizeof(*p->applies_to));
	set_ref(&p->applies_to[p->n_applies_to++], kind, ns, name);
}

struct pf_rule *add_rule(struct pf_policy *p, enum pf_action action)
{
	struct pf_rule *r;

	p->egress = xgrow(p->egress, p->n_egress + 1, sizeof(*p->egress));
	r = &p->egress[p->n_egress++];
	memset(r, 0, sizeof(*r));
	r->action = action;
	return r;
}

void to_ref(struct pf_rule *r, enum pf_kind kind, const char *ns, const char *name)
{
	r->to = xgrow(r->to, r->n_to + 1, sizeof(*r->to));
	memset(&r->to[r->n_to], 0, sizeof(r->to[0]));
	set_ref(&r->to[r->n_to++].ref, kind, ns, name);
}

void to_cidr(struct pf_rule *r, const char *cidr)
{
	r->to = xgrow(r->to, r->n_to + 1, sizeof(*r->to));
	memset(&r->to[r->n_to], 0, sizeof(r->to[0]));
	r->to[r->n_to].is_cidr = true;
	if (pf_prefix_parse(cidr, &r->to[r->n_to].cidr, NULL) < 0)
		abort();
	r->n_to++;
}

void add_ports(struct pf_rule *r, uint16_t port, uint16_t end_port)
{
	r->ports = xgrow(r->ports, r->n_ports + 1, sizeof(*r->ports));
	r->ports[r->n_ports].port = port;
	r->ports[r->n_ports].protocol = PF_PROTO_TCP;
	r->ports[r->n_ports++].end_port = end_port;
}

struct pf_policy_doc valid_doc(struct pf_policy *p, unsigned index)
{
	struct pf_policy_doc d = {.policy = p, .index = index, .line = index * 10 + 1};

	return d;
}

struct pf_policy_doc invalid_doc(const char *ns, const char *name, unsigned index,
				 const char *error)
{
	struct pf_policy_doc d = {.index = index, .line = 3, .error_line = 7};

	d.namespace = ns ? xstrdup(ns) : NULL;
	d.name = name ? xstrdup(name) : NULL;
	snprintf(d.error, sizeof(d.error), "%s", error);
	return d;
}

void docs_clear(struct pf_policy_doc *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pf_policy_doc_clear(&d[i]);
}

/* shop/web: Allow Pod shop/db 5432, Allow Service shop/db-svc 5432-5433 and 10.20.0.0/16, Deny. */
struct pf_policy *web_policy(uint32_t priority)
{
	struct pf_policy *p = mk_policy("shop", "web-egress", priority);
	struct pf_rule *r;

	add_target(p, PF_KIND_POD, "shop", "web");
	add_target(p, PF_KIND_DEPLOYMENT, "shop", "api");
	r = add_rule(p, PF_ACTION_ALLOW);
	to_ref(r, PF_KIND_POD, "shop", "db");
	add_ports(r, 5432, 5432);
	r = add_rule(p, PF_ACTION_ALLOW);
	to_ref(r, PF_KIND_SERVICE, "shop", "db-svc");
	to_cidr(r, "10.20.0.0/16");
	add_ports(r, 5432, 5433);
	r->log = true;
	add_rule(p, PF_ACTION_DENY);
	return p;
}

struct pf_addr ip(const char *s)
{
	struct pf_addr a;

	if (pf_addr_parse(s, &a) < 0)
		abort();
	return a;
}

void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
}
