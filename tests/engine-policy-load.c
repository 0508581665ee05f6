/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: load policy files into the store as one source, the way podfence-sync does.
 * Usage: engine-policy-load DB SOURCE FILE...   (no FILE: the source holds no policy)
 *        engine-policy-load --unbuildable DB SOURCE NAMESPACE POD N
 * The second form writes N policies for pod NAMESPACE/POD that no cache build can hold (past
 * its interval limit within a second or two), bypassing validation, as a store written before
 * the per-policy cost limit existed would hold them. */
#include <stdio.h>

#include "policy.h"
#include "store.h"

static struct pf_policy *unbuildable(const char *ns, const char *pod, unsigned i)
{
	struct pf_policy *p = calloc(1, sizeof(*p));
	char name[32];

	if (!p)
		exit(1);
	snprintf(name, sizeof(name), "unbuildable-%u", i);
	p->namespace = strdup(ns);
	p->name = strdup(name);
	p->priority = 1000;
	p->n_applies_to = 1;
	p->applies_to = calloc(1, sizeof(*p->applies_to));
	p->n_egress = PF_POLICY_MAX_RULES;
	p->egress = calloc(p->n_egress, sizeof(*p->egress));
	if (!p->namespace || !p->name || !p->applies_to || !p->egress)
		exit(1);
	p->applies_to[0] = (struct pf_ref){PF_KIND_POD, strdup(ns), strdup(pod)};
	for (unsigned r = 0; r < p->n_egress; r++) {
		struct pf_rule *rule = &p->egress[r];
		/* policy 0: half its rules on every odd port and any destination, so every
		 * destination's port table has 65536 intervals; each other rule one /32 and one
		 * even port of its own, so no two tables are alike */
		bool any = i == 0 && r < PF_POLICY_MAX_RULES / 2;

		rule->action = PF_ACTION_DENY;
		rule->n_ports = any ? PF_POLICY_MAX_PORTS : 1;
		rule->ports = calloc(rule->n_ports, sizeof(*rule->ports));
		if (!rule->ports)
			exit(1);
		for (unsigned k = 0; k < rule->n_ports; k++) {
			uint16_t port = any ? (uint16_t)(2 * (r * PF_POLICY_MAX_PORTS + k) + 1)
					    : (uint16_t)(2 * (i * PF_POLICY_MAX_RULES + r) + 2);

			rule->ports[k] = (struct pf_port_range){port, port};
		}
		if (any)
			continue;
		rule->n_to = 1;
		rule->to = calloc(1, sizeof(*rule->to));
		if (!rule->to)
			exit(1);
		rule->to[0].is_cidr = true;
		{
			char cidr[32];

			snprintf(cidr, sizeof(cidr), "10.%u.%u.1/32", 200 + i, r);
			if (pf_prefix_parse(cidr, &rule->to[0].cidr, NULL) < 0)
				exit(1);
		}
	}
	return p;
}

static int load_unbuildable(int argc, char **argv)
{
	struct pf_policy_doc *docs;
	struct pf_store *s = NULL;
	struct pf_error err = {};
	uint32_t n;
	int r, rc = 0;

	if (argc != 7 || pf_parse_u32(argv[6], 64, &n) < 0 || !n) {
		fprintf(stderr, "usage: %s --unbuildable DB SOURCE NAMESPACE POD N\n", argv[0]);
		return 2;
	}
	docs = calloc(n, sizeof(*docs));
	if (!docs)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		docs[i].policy = unbuildable(argv[4], argv[5], i);
		docs[i].namespace = strdup(docs[i].policy->namespace);
		docs[i].name = strdup(docs[i].policy->name);
		docs[i].index = i;
	}
	r = pf_store_open(argv[2], 0, &s, &err);
	if (r == 0)
		r = pf_store_sync_source(s, argv[3], docs, n, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		rc = 1;
	}
	pf_store_close(s);
	for (unsigned i = 0; i < n; i++)
		pf_policy_doc_clear(&docs[i]);
	free(docs);
	return rc;
}

int main(int argc, char **argv)
{
	struct pf_policy_doc *docs = NULL;
	struct pf_policy_file *files;
	struct pf_store *s = NULL;
	struct pf_error err = {};
	size_t n = 0, k = 0;
	int r, rc = 0;

	if (argc > 1 && !strcmp(argv[1], "--unbuildable"))
		return load_unbuildable(argc, argv);
	if (argc < 3) {
		fprintf(stderr, "usage: %s DB SOURCE FILE...\n", argv[0]);
		return 2;
	}
	files = calloc((size_t)argc, sizeof(*files));
	if (!files)
		return 1;
	for (int i = 3; i < argc; i++) {
		r = pf_policy_parse_file(argv[i], &files[i], &err);
		if (r < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 2;
		}
		n += files[i].n_docs;
	}
	docs = calloc(n + 1, sizeof(*docs));
	if (!docs)
		return 1;
	for (int i = 3; i < argc; i++)
		for (size_t d = 0; d < files[i].n_docs; d++) {
			if (files[i].docs[d].error[0]) {
				fprintf(stderr, "%s: %s\n", argv[i], files[i].docs[d].error);
				rc = 2;
			}
			docs[k++] = files[i].docs[d];
		}
	r = pf_store_open(argv[1], 0, &s, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	r = pf_store_sync_source(s, argv[2], docs, n, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		rc = 1;
	}
	pf_store_close(s);
	free(docs);
	for (int i = 3; i < argc; i++)
		pf_policy_file_free(&files[i]);
	free(files);
	return rc;
}
