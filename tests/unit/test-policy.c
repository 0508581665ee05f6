/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The FencePolicy and ClusterFencePolicy model: every validation rule refused with its message,
 * defaults, JSON = YAML. */
#include <stdio.h>

#include "doc.h"
#include "policy.h"
#include "tap.h"

#ifndef PF_TEST_DATA
#define PF_TEST_DATA "tests/data"
#endif

#define HDR "apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: p\n"
/* HDR and SPEC end on lines 4 and 8, RULE on line 10 (the rule's action). */
#define SPEC HDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: a\n"
#define RULE SPEC "  egress:\n  - action: Allow\n"
/* The same for a ClusterFencePolicy: CSPEC ends on line 9, CRULE on line 11. */
#define CHDR "apiVersion: podfence.io/v1alpha1\nkind: ClusterFencePolicy\nmetadata:\n  name: p\n"
#define CSPEC CHDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: a\n    namespace: x\n"
#define CRULE CSPEC "  egress:\n  - action: Allow\n"
/* A FencePolicy of namespace ta, its spec line 6 */
#define TAHDR                                                                                      \
	"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: p\n  namespace: " \
	"ta\n"

struct bad {
	const char *doc;
	const char *error; /* the whole "path: message" must start with this */
	unsigned line;	   /* 0: not checked */
};

static const struct bad bad_docs[] = {
    /* the document */
    {"- 1\n", "document: must be a mapping, not a list", 1},
    {"just text\n", "document: must be a mapping, not a string", 1},
    /* apiVersion / kind / top level */
    {"kind: FencePolicy\n", "apiVersion: is required", 1},
    {"apiVersion: v1\nkind: FencePolicy\n",
     "apiVersion: must be \"podfence.io/v1alpha1\", not \"v1\"", 1},
    {"apiVersion: 1\nkind: FencePolicy\n", "apiVersion: must be a string, not an integer", 1},
    {"apiVersion: podfence.io/v1alpha1\n", "kind: is required", 1},
    {"apiVersion: podfence.io/v1alpha1\nkind: NetworkPolicy\n",
     "kind: must be \"FencePolicy\" or \"ClusterFencePolicy\", not \"NetworkPolicy\"", 2},
    {SPEC "extra: 1\n", "extra: unknown field (expected apiVersion, kind, metadata, spec)", 9},
    /* metadata */
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nspec: {}\n", "metadata: is required", 1},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata: []\n",
     "metadata: must be a mapping, not a list", 3},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: p\n  colour: red\n",
     "metadata.colour: unknown field (expected name, namespace)", 5},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  namespace: x\n",
     "metadata.name: is required", 4},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: ~\n",
     "metadata.name: is required"},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: Web_1\n",
     "metadata.name: \"Web_1\" is not a valid DNS-1123 subdomain", 4},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: a..b\n",
     "metadata.name: \"a..b\" is not a valid DNS-1123 subdomain"},
    {"apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\nmetadata:\n  name: 12\n",
     "metadata.name: must be a string, not an integer"},
    {HDR "  namespace: a.b\n", "metadata.namespace: \"a.b\" is not a valid DNS-1123 label", 5},
    {HDR "  namespace: -x\n", "metadata.namespace: \"-x\" is not a valid DNS-1123 label"},
    {HDR "  namespace: 5\n", "metadata.namespace: must be a string, not an integer"},
    /* spec */
    {HDR, "spec: is required", 1},
    {HDR "spec: []\n", "spec: must be a mapping, not a list", 5},
    {SPEC "  ingress: []\n",
     "spec.ingress: unknown field (expected priority, appliesTo, egress, mode)", 9},
    {SPEC "  priority: \"100\"\n", "spec.priority: must be an integer, not a string", 9},
    {SPEC "  priority: -1\n", "spec.priority: must be between 0 and 65535, not -1", 9},
    {SPEC "  priority: 65536\n", "spec.priority: must be between 0 and 65535, not 65536"},
    {SPEC "  priority: 1.5\n", "spec.priority: must be an integer, not a number"},
    {SPEC "  priority: true\n", "spec.priority: must be an integer, not a boolean"},
    /* appliesTo */
    {HDR "spec:\n  priority: 1\n", "spec.appliesTo: is required", 6},
    {HDR "spec:\n  appliesTo: []\n", "spec.appliesTo: must name at least one workload", 6},
    {HDR "spec:\n  appliesTo: {kind: Pod, name: a}\n",
     "spec.appliesTo: must be a list, not a mapping"},
    {HDR "spec:\n  appliesTo: [Pod]\n", "spec.appliesTo[0]: must be a mapping, not a string"},
    {HDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: a\n    labels: {app: a}\n",
     "spec.appliesTo[0].labels: unknown field (expected kind, name, namespace)", 9},
    {HDR "spec:\n  appliesTo:\n  - name: a\n", "spec.appliesTo[0].kind: is required", 7},
    {HDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: a\n  - kind: Pods\n    name: b\n",
     "spec.appliesTo[1].kind: unknown kind \"Pods\" (expected one of Pod, Deployment, ReplicaSet, "
     "StatefulSet, DaemonSet, Job, CronJob, Namespace)",
     9},
    {HDR "spec:\n  appliesTo:\n  - kind: Service\n    name: a\n",
     "spec.appliesTo[0].kind: kind Service is not allowed in appliesTo"},
    {HDR "spec:\n  appliesTo:\n  - kind: 5\n    name: a\n",
     "spec.appliesTo[0].kind: must be a string, not an integer"},
    {HDR "spec:\n  appliesTo:\n  - kind: Pod\n", "spec.appliesTo[0].name: is required"},
    {HDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: -a\n",
     "spec.appliesTo[0].name: \"-a\" is not a valid DNS-1123 subdomain", 8},
    {HDR "spec:\n  appliesTo:\n  - kind: Namespace\n    name: a.b\n",
     "spec.appliesTo[0].name: \"a.b\" is not a valid DNS-1123 label"},
    {HDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: a\n    namespace: A\n",
     "spec.appliesTo[0].namespace: \"A\" is not a valid DNS-1123 label"},
    {HDR "spec:\n  appliesTo:\n  - kind: Namespace\n    name: a\n    namespace: b\n",
     "spec.appliesTo[0].namespace: must be omitted for kind Namespace (the name is the namespace)"},
    /* egress */
    {SPEC "  egress: {}\n", "spec.egress: must be a list, not a mapping", 9},
    {SPEC "  egress: [Allow]\n", "spec.egress[0]: must be a mapping, not a string"},
    {SPEC "  egress:\n  - action: Allow\n    from: []\n",
     "spec.egress[0].from: unknown field (expected action, to, ports, log)", 11},
    {SPEC "  egress:\n  - to: []\n", "spec.egress[0].action: is required", 10},
    {SPEC "  egress:\n  - action: allow\n",
     "spec.egress[0].action: unknown action \"allow\" (expected one of Allow, Deny, Reject, Alert)",
     10},
    {SPEC "  egress:\n  - action: true\n",
     "spec.egress[0].action: must be a string, not a boolean"},
    {RULE "    log: yes\n", "spec.egress[0].log: must be a boolean, not a string", 11},
    /* to */
    {RULE "    to: {cidr: 10.0.0.0/8}\n", "spec.egress[0].to: must be a list, not a mapping"},
    {RULE "    to: [10.0.0.0/8]\n", "spec.egress[0].to[0]: must be a mapping, not a string"},
    {RULE "    to: [{}]\n", "spec.egress[0].to[0]: must have either cidr, fqdn, or kind and name"},
    {RULE "    to:\n    - cidr: 10.0.0.0/8\n      kind: Pod\n      name: a\n",
     "spec.egress[0].to[0]: cidr cannot be combined with kind, name or namespace", 12},
    {RULE "    to:\n    - cidr: 10.0.0.0/8\n      namespace: a\n",
     "spec.egress[0].to[0]: cidr cannot be combined with kind, name or namespace"},
    {RULE "    to:\n    - cidr: 10.0.0.1/8\n",
     "spec.egress[0].to[0].cidr: invalid CIDR '10.0.0.1/8': host bits set (did you mean "
     "10.0.0.0/8?)",
     12},
    {RULE "    to:\n    - cidr: fd00::1/64\n",
     "spec.egress[0].to[0].cidr: invalid CIDR 'fd00::1/64': host bits set"},
    {RULE "    to:\n    - cidr: 300.0.0.0/8\n",
     "spec.egress[0].to[0].cidr: invalid CIDR '300.0.0.0/8'"},
    {RULE "    to:\n    - cidr: 10.0.0.0/33\n",
     "spec.egress[0].to[0].cidr: invalid CIDR '10.0.0.0/33': prefix length must be 0..32"},
    {RULE "    to:\n    - cidr: 10\n",
     "spec.egress[0].to[0].cidr: must be a string, not an integer"},
    {RULE "    to:\n    - kind: Deploy\n      name: a\n",
     "spec.egress[0].to[0].kind: unknown kind \"Deploy\" (expected one of Pod, Deployment, "
     "ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, Namespace, Service)"},
    {RULE "    to:\n    - kind: Service\n", "spec.egress[0].to[0].name: is required"},
    {RULE "    to:\n    - name: db\n", "spec.egress[0].to[0].kind: is required"},
    {RULE "    to:\n    - kind: Service\n      name: db\n      port: 80\n",
     "spec.egress[0].to[0].port: unknown field (expected cidr, fqdn, kind, name, namespace)", 14},
    {RULE "    to:\n    - kind: Service\n      name: db.x\n      namespace: a_b\n",
     "spec.egress[0].to[0].namespace: \"a_b\" is not a valid DNS-1123 label"},
    /* ports */
    {RULE "    ports: {port: 80}\n", "spec.egress[0].ports: must be a list, not a mapping"},
    {RULE "    ports: [80]\n", "spec.egress[0].ports[0]: must be a mapping, not an integer"},
    {RULE "    ports:\n    - protocol: TCP\n", "spec.egress[0].ports[0].port: is required", 12},
    {RULE "    ports:\n    - port: 0\n",
     "spec.egress[0].ports[0].port: must be between 1 and 65535, not 0", 12},
    {RULE "    ports:\n    - port: 65536\n",
     "spec.egress[0].ports[0].port: must be between 1 and 65535, not 65536"},
    {RULE "    ports:\n    - port: http\n",
     "spec.egress[0].ports[0].port: must be an integer, not a string"},
    {RULE "    ports:\n    - port: 80\n      endPort: 79\n",
     "spec.egress[0].ports[0].endPort: must be >= port (80)", 13},
    {RULE "    ports:\n    - port: 80\n      endPort: 70000\n",
     "spec.egress[0].ports[0].endPort: must be between 1 and 65535, not 70000"},
    {RULE "    ports:\n    - port: 80\n      endPort: \"81\"\n",
     "spec.egress[0].ports[0].endPort: must be an integer, not a string"},
    {RULE "    ports:\n    - port: 80\n      protocol: SCTP\n",
     "spec.egress[0].ports[0].protocol: unknown protocol \"SCTP\" (expected TCP or UDP)", 13},
    {RULE "    ports:\n    - port: 80\n      protocol: tcp\n",
     "spec.egress[0].ports[0].protocol: unknown protocol \"tcp\" (expected TCP or UDP)"},
    /* fqdn */
    {RULE "    to:\n    - fqdn: db.shop.test\n      cidr: 10.0.0.0/8\n",
     "spec.egress[0].to[0]: fqdn cannot be combined with cidr, kind, name or namespace", 12},
    {RULE "    to:\n    - fqdn: db.*.test\n",
     "spec.egress[0].to[0].fqdn: \"db.*.test\": '*' may only stand for exactly one leading "
     "label (\"*.example.com\")",
     12},
    {RULE "    to:\n    - fqdn: \"**.test\"\n",
     "spec.egress[0].to[0].fqdn: \"**.test\": '*' may only stand"},
    {RULE "    to:\n    - fqdn: \"*\"\n", "spec.egress[0].to[0].fqdn: \"*\": '*' may only stand"},
    {RULE "    to:\n    - fqdn: a..b\n",
     "spec.egress[0].to[0].fqdn: \"a..b\": empty label at offset 2"},
    {RULE "    to:\n    - fqdn: \"\"\n", "spec.egress[0].to[0].fqdn: \"\": must not be empty"},
    {RULE "    to:\n    - fqdn: \"db shop\"\n",
     "spec.egress[0].to[0].fqdn: \"db shop\": invalid character at offset 2"},
    {RULE "    to:\n    - fqdn: 10\n",
     "spec.egress[0].to[0].fqdn: must be a string, not an integer"},
    {RULE "    to:\n    - fqdn: "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\n",
     "spec.egress[0].to[0].fqdn: "
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": label longer than 63 "
     "characters"},
    {RULE "    ports:\n    - port: 80\n      protocol: 6\n",
     "spec.egress[0].ports[0].protocol: must be a string, not an integer"},
    {RULE "    ports:\n    - port: 80\n      name: http\n",
     "spec.egress[0].ports[0].name: unknown field (expected port, endPort, protocol)", 13},
    /* a FencePolicy governs only its own namespace: what it applies to stays there */
    {TAHDR "spec:\n  priority: 0\n  appliesTo:\n  - kind: Namespace\n    name: tb\n"
	   "  egress:\n  - action: Allow\n",
     "spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own "
     "namespace \"ta\", not \"tb\" (a FencePolicy governs only its own namespace; a "
     "ClusterFencePolicy may name workloads in any namespace)",
     10},
    {TAHDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: a\n    namespace: ta\n"
	   "  - kind: Deployment\n    name: web\n    namespace: tb\n",
     "spec.appliesTo[1].namespace: must be the policy's own namespace \"ta\", not \"tb\"", 13},
    {HDR "spec:\n  appliesTo:\n  - kind: Namespace\n    name: kube-system\n",
     "spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own "
     "namespace \"default\", not \"kube-system\"",
     8},
    {HDR "spec:\n  appliesTo:\n  - kind: Namespace\n    name: tb\n    namespace: tb\n",
     "spec.appliesTo[0].name: a Namespace ref in a FencePolicy must name the policy's own "
     "namespace \"default\", not \"tb\"",
     8},
    {SPEC "  egress:\n  - action: Pass\n",
     "spec.egress[0].action: Pass is only allowed in a ClusterFencePolicy (expected one of "
     "Allow, Deny, Reject, Alert)",
     10},
    /* ClusterFencePolicy: cluster-scoped, every appliesTo ref names its namespace */
    {CHDR "  namespace: x\n",
     "metadata.namespace: must be omitted: a ClusterFencePolicy is cluster-scoped", 5},
    {CHDR
     "  namespace: default\nspec:\n  appliesTo:\n  - kind: Pod\n    name: a\n    namespace: x\n",
     "metadata.namespace: must be omitted: a ClusterFencePolicy is cluster-scoped", 5},
    {CHDR "spec:\n  appliesTo:\n  - kind: Deployment\n    name: a\n",
     "spec.appliesTo[0].namespace: is required in a ClusterFencePolicy for kind Deployment "
     "(it is cluster-scoped: name the workload's namespace)",
     7},
    {CSPEC "  - kind: Pod\n    name: b\n",
     "spec.appliesTo[1].namespace: is required in a ClusterFencePolicy for kind Pod", 10},
    {CRULE "    to:\n    - kind: Service\n      name: db\n",
     "spec.egress[0].to[0].namespace: is required in a ClusterFencePolicy for kind Service", 13},
    {CRULE "  - action: pass\n",
     "spec.egress[1].action: unknown action \"pass\" (expected one of Allow, Deny, Reject, "
     "Alert, Pass)",
     12},
    {CSPEC "  mode: Observe\n", "spec.mode: must be Enforce or Audit, not \"Observe\"", 10},
    /* the issue's example, deep in a later rule */
    {RULE "  - action: Deny\n  - action: Allow\n    ports:\n    - port: 80\n      endPort: 79\n",
     "spec.egress[2].ports[0].endPort: must be >= port (80)", 15},
};

static void test_bad_docs(void)
{
	for (size_t k = 0; k < PF_ARRAY_SIZE(bad_docs); k++) {
		const struct bad *b = &bad_docs[k];
		struct pf_policy_file f;
		struct pf_error err = {0};
		int r = pf_policy_parse_buffer("t.yaml", b->doc, strlen(b->doc), &f, &err);
		const struct pf_policy_doc *d = f.n_docs ? &f.docs[0] : NULL;

		if (!ok(r == 0 && f.n_docs == 1 && d && !d->policy, "refused: %s", b->error)) {
			printf("#   r=%d n_docs=%zu err=%s\n", r, f.n_docs, err.msg);
			pf_policy_file_free(&f);
			continue;
		}
		if (!ok(!strncmp(d->error, b->error, strlen(b->error)), "  message"))
			printf("#   got '%s'\n#  want '%s...'\n", d->error, b->error);
		if (b->line)
			is_int(d->error_line, b->line, "  on line %u", b->line);
		pf_policy_file_free(&f);
	}
}

/* Counts: build documents with n entries; "%u" in item becomes the entry's index. */
static char *many(const char *head, const char *item, unsigned n, const char *tail)
{
	size_t len = strlen(head) + strlen(tail) + (size_t)n * (strlen(item) + 16) + 1;
	const char *mark = strstr(item, "%u");
	size_t pre = mark ? (size_t)(mark - item) : strlen(item);
	char *s = malloc(len), *p = s;

	p += sprintf(p, "%s", head);
	for (unsigned i = 0; i < n; i++) {
		memcpy(p, item, pre);
		p += pre;
		if (mark)
			p += sprintf(p, "%u%s", i, mark + 2);
	}
	sprintf(p, "%s", tail);
	return s;
}

static const char *count_error(char *doc, struct pf_policy_file *f)
{
	struct pf_error err = {0};
	const char *e;

	if (pf_policy_parse_buffer("t.yaml", doc, strlen(doc), f, &err) < 0 || f->n_docs != 1)
		e = "parse failed";
	else
		e = f->docs[0].policy ? "" : f->docs[0].error;
	free(doc);
	return e;
}

static void test_counts(void)
{
	struct pf_policy_file f;

	is_str(count_error(
		   many(HDR "spec:\n  appliesTo:\n", "  - {kind: Pod, name: p%u}\n", 64, ""), &f),
	       "", "64 appliesTo entries are fine");
	pf_policy_file_free(&f);
	is_str(count_error(
		   many(HDR "spec:\n  appliesTo:\n", "  - {kind: Pod, name: p%u}\n", 65, ""), &f),
	       "spec.appliesTo: must have at most 64 entries, not 65", "65 are refused");
	pf_policy_file_free(&f);
	is_str(count_error(
		   many(SPEC "  egress:\n", "  - {action: Deny, ports: [{port: 1%u}]}\n", 256, ""),
		   &f),
	       "", "256 rules are fine");
	if (f.n_docs && f.docs[0].policy)
		is_int(f.docs[0].policy->egress[255].ports[0].port, 1255,
		       "the 256th rule is the last");
	pf_policy_file_free(&f);
	is_str(count_error(
		   many(SPEC "  egress:\n", "  - {action: Deny, ports: [{port: 1%u}]}\n", 257, ""),
		   &f),
	       "spec.egress: must have at most 256 rules, not 257", "257 are refused");
	pf_policy_file_free(&f);
	is_str(count_error(many(RULE "    to:\n", "    - {kind: Pod, name: p%u}\n", 256, ""), &f),
	       "", "256 to entries are fine");
	pf_policy_file_free(&f);
	is_str(count_error(many(RULE "    to:\n", "    - {kind: Pod, name: p%u}\n", 257, ""), &f),
	       "spec.egress[0].to: must have at most 256 entries, not 257", "257 are refused");
	pf_policy_file_free(&f);
	is_str(count_error(many(RULE "    ports:\n", "    - {port: 1%u}\n", 257, ""), &f),
	       "spec.egress[0].ports: must have at most 256 entries, not 257",
	       "257 ports are refused");
	pf_policy_file_free(&f);
	/* what the verdict cache may hold for one policy: destination-port pairs */
	{
		struct {
			char *s;
			size_t n;
		} b = {NULL, 0}; /* open_memstream's buffer, freed by count_error */
		FILE *m;

		m = open_memstream(&b.s, &b.n);
		fprintf(m, RULE "    to:\n");
		for (int i = 0; i < 64; i++)
			fprintf(m, "    - {kind: Pod, name: p%d}\n", i);
		fprintf(m, "    ports:\n");
		for (int i = 0; i < 64; i++)
			fprintf(m, "    - {port: %d}\n", 1000 + i);
		fclose(m);
		is_str(count_error(b.s, &f), "", "64 to entries x 64 ports (4096 pairs) are fine");
		if (f.n_docs && f.docs[0].policy)
			is_int(pf_policy_cost(f.docs[0].policy->egress, f.docs[0].policy->n_egress),
			       4096, "  cost 4096");
		pf_policy_file_free(&f);

		m = open_memstream(&b.s, &b.n);
		fprintf(m, RULE "    to:\n");
		for (int i = 0; i < 65; i++)
			fprintf(m, "    - {kind: Pod, name: p%d}\n", i);
		fprintf(m, "    ports:\n");
		for (int i = 0; i < 64; i++)
			fprintf(m, "    - {port: %d}\n", 1000 + i);
		fclose(m);
		has_str(
		    count_error(b.s, &f),
		    "spec.egress: costs 4160 destination-port pairs, more than the limit of 4096 "
		    "per policy",
		    "65 x 64 are refused");
		pf_policy_file_free(&f);

		/* a rule without `to` is in every destination's table */
		m = open_memstream(&b.s, &b.n);
		fprintf(m, SPEC "  egress:\n  - action: Deny\n    ports:\n");
		for (int i = 0; i < 64; i++)
			fprintf(m, "    - {port: %d}\n", 1000 + i);
		fprintf(m, "  - action: Allow\n    to:\n");
		for (int i = 0; i < 64; i++)
			fprintf(m, "    - {cidr: 10.0.%d.0/24}\n", i);
		fclose(m);
		has_str(
		    count_error(b.s, &f),
		    "spec.egress: costs 4224 destination-port pairs, more than the limit of 4096 "
		    "per policy",
		    "64 ports on any destination next to 64 destinations are refused");
		if (f.n_docs && !f.docs[0].policy)
			has_str(f.docs[0].error, "the largest rule, spec.egress[0], costs 64",
				"  names the largest rule");
		pf_policy_file_free(&f);
	}
	/* 253 characters is the longest subdomain */
	{
		char name[300], doc[600];
		struct pf_error err;

		memset(name, 'a', sizeof(name));
		for (int i = 63; i < 253; i += 64)
			name[i] = '.';
		name[253] = '\0';
		snprintf(doc, sizeof(doc),
			 "apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\n"
			 "metadata:\n  name: %s\nspec:\n  appliesTo: [{kind: Pod, name: a}]\n",
			 name);
		pf_policy_parse_buffer("t.yaml", doc, strlen(doc), &f, &err);
		ok(f.n_docs == 1 && f.docs[0].policy, "a 253-character name is valid");
		pf_policy_file_free(&f);
		name[253] = 'a';
		name[254] = '\0';
		snprintf(doc, sizeof(doc),
			 "apiVersion: podfence.io/v1alpha1\nkind: FencePolicy\n"
			 "metadata:\n  name: %s\nspec:\n  appliesTo: [{kind: Pod, name: a}]\n",
			 name);
		pf_policy_parse_buffer("t.yaml", doc, strlen(doc), &f, &err);
		ok(f.n_docs == 1 && !f.docs[0].policy, "a 254-character name is refused");
		if (f.n_docs == 1)
			has_str(f.docs[0].error, "is not a valid DNS-1123 subdomain", "  message");
		pf_policy_file_free(&f);
	}
}

/* UDP ports and fqdn peers: parsed, canonical, written out and read back. */
static void test_udp_fqdn(void)
{
	const char *doc = HDR "spec:\n  appliesTo:\n  - kind: Pod\n    name: web\n  egress:\n"
			      "  - action: Allow\n    to:\n    - fqdn: DB.Shop.Test.\n"
			      "    - fqdn: \"*.example.com\"\n    ports:\n    - port: 53\n"
			      "      protocol: UDP\n    - port: 443\n";
	struct pf_policy_file f, g;
	struct pf_error err = {0};
	const struct pf_policy *p;
	char *s = NULL, *t = NULL;

	is_int(pf_policy_parse_buffer("t.yaml", doc, strlen(doc), &f, &err), 0, "udp/fqdn: parses");
	p = f.n_docs == 1 ? f.docs[0].policy : NULL;
	if (!ok(p, "udp/fqdn: valid"))
		printf("#   %s\n", f.n_docs ? f.docs[0].error : err.msg);
	if (!p) {
		pf_policy_file_free(&f);
		return;
	}
	is_str(p->egress[0].to[0].fqdn, "db.shop.test", "fqdn: lower case, no trailing dot");
	is_str(p->egress[0].to[1].fqdn, "*.example.com", "fqdn: a wildcard");
	ok(!p->egress[0].to[0].is_cidr && pf_rule_has_fqdn(&p->egress[0]), "an fqdn peer");
	is_int(p->egress[0].ports[0].protocol, PF_PROTO_UDP, "protocol UDP");
	is_int(p->egress[0].ports[1].protocol, PF_PROTO_TCP, "protocol defaults to TCP");
	is_str(pf_rule_protocols_string(&p->egress[0]), "TCP,UDP", "protocols string");
	is_int(pf_rule_destination_string(&p->egress[0], &s), 0, "destination string");
	is_str(s, "fqdn db.shop.test, fqdn *.example.com", "  reads well");
	free(s);
	s = NULL;
	is_int(pf_rule_ports_string(&p->egress[0], &s), 0, "ports string");
	is_str(s, "53/UDP, 443/TCP", "  reads well");
	free(s);
	s = NULL;
	is_int(pf_policy_to_json(p, &s), 0, "canonical JSON");
	ok(s && strstr(s, "{\"fqdn\":\"db.shop.test\"}") && strstr(s, "\"protocol\":\"UDP\""),
	   "  holds the fqdn and the protocol");
	is_int(pf_policy_parse_buffer("t.json", s, strlen(s), &g, &err), 0, "  parses back");
	if (g.n_docs == 1 && g.docs[0].policy)
		pf_policy_to_json(g.docs[0].policy, &t);
	is_str(t, s, "  to the same model");
	free(s);
	free(t);
	pf_policy_file_free(&g);
	pf_policy_file_free(&f);
}

static void test_defaults(void)
{
	const char *doc =
	    HDR "spec:\n  appliesTo:\n  - kind: Deployment\n    name: web\n  - kind: Namespace\n"
		"    name: default\n  egress:\n  - action: Reject\n    to:\n    - kind: Service\n"
		"      name: db\n    - cidr: 192.0.2.1\n    - cidr: 2001:db8::/32\n    ports:\n"
		"    - port: 443\n";
	struct pf_policy_file f;
	struct pf_error err = {0};
	const struct pf_policy *p;
	char *s = NULL;

	is_int(pf_policy_parse_buffer("t.yaml", doc, strlen(doc), &f, &err), 0, "defaults: parses");
	p = f.n_docs == 1 ? f.docs[0].policy : NULL;
	if (!ok(p, "defaults: valid"))
		printf("#   %s\n", f.n_docs ? f.docs[0].error : err.msg);
	if (!p) {
		pf_policy_file_free(&f);
		return;
	}
	is_str(p->namespace, "default", "metadata.namespace defaults to default");
	is_int(p->priority, 1000, "priority defaults to 1000");
	is_str(p->applies_to[0].namespace, "default",
	       "a ref's namespace defaults to metadata.namespace");
	is_int(p->applies_to[1].kind, PF_KIND_NAMESPACE, "Namespace ref");
	is_str(p->applies_to[1].namespace, "default", "a Namespace ref's namespace is its name");
	ok(!p->cluster, "a FencePolicy is not cluster-scoped");
	is_int(p->egress[0].action, PF_ACTION_REJECT, "action Reject");
	ok(!p->egress[0].log, "log defaults to false");
	is_int(p->egress[0].n_to, 3, "3 destinations");
	is_str(p->egress[0].to[0].ref.namespace, "default", "to ref namespace defaults too");
	ok(p->egress[0].to[1].is_cidr && p->egress[0].to[1].cidr.len == 128,
	   "a single IPv4 address is a /32");
	ok(p->egress[0].to[2].is_cidr && p->egress[0].to[2].cidr.len == 32, "IPv6 /32");
	is_int(p->egress[0].ports[0].end_port, 443, "endPort defaults to port");
	is_str(f.docs[0].namespace, "default", "doc identity: namespace");
	is_str(f.docs[0].name, "p", "doc identity: name");
	is_int(pf_rule_destination_string(&p->egress[0], &s), 0, "destination string");
	is_str(s, "Service default/db, 192.0.2.1/32, 2001:db8::/32", "  reads well");
	free(s);
	is_int(pf_rule_ports_string(&p->egress[0], &s), 0, "ports string");
	is_str(s, "443/TCP", "  reads well");
	free(s);
	pf_policy_file_free(&f);
}

/* A ClusterFencePolicy: no namespace, refs anywhere, Pass; a FencePolicy's `to` may name
 * any namespace. */
static void test_cluster(void)
{
	const char *doc =
	    CHDR "spec:\n  priority: 5\n  appliesTo:\n  - kind: Namespace\n    name: tb\n"
		 "  - kind: Deployment\n    name: web\n    namespace: ta\n  egress:\n"
		 "  - action: Pass\n    to:\n    - kind: Namespace\n      name: kube-system\n"
		 "  - action: Deny\n    to:\n    - kind: Service\n      name: db\n"
		 "      namespace: tc\n---\n" TAHDR
		 "spec:\n  appliesTo:\n  - kind: Namespace\n    name: ta\n"
		 "  - kind: Pod\n    name: x\n    namespace: ta\n  egress:\n"
		 "  - action: Allow\n    to:\n    - kind: Namespace\n      name: tb\n"
		 "    - kind: Service\n      name: db\n      namespace: tc\n";
	struct pf_policy_file f, fr;
	struct pf_error err = {0};
	const struct pf_policy *p, *q;
	char *a = NULL, *b = NULL;

	is_int(pf_policy_parse_buffer("c.yaml", doc, strlen(doc), &f, &err), 0, "cluster: parses");
	p = f.n_docs == 2 ? f.docs[0].policy : NULL;
	q = f.n_docs == 2 ? f.docs[1].policy : NULL;
	if (!ok(p && q, "cluster: both valid")) {
		for (size_t i = 0; i < f.n_docs; i++)
			printf("#   %s\n", f.docs[i].error);
		pf_policy_file_free(&f);
		return;
	}
	ok(p->cluster, "ClusterFencePolicy is cluster-scoped");
	is_str(p->namespace, "", "  with no namespace");
	ok(f.docs[0].cluster && !strcmp(f.docs[0].namespace, ""), "  doc identity: cluster, \"\"");
	is_int(p->priority, 5, "  priority");
	is_str(p->applies_to[0].namespace, "tb", "  Namespace ref in any namespace");
	is_str(p->applies_to[1].namespace, "ta", "  workload ref in any namespace");
	is_int(p->egress[0].action, PF_ACTION_PASS, "  action Pass");
	is_str(pf_action_to_string(PF_ACTION_PASS), "Pass", "  Pass to string");
	is_str(p->egress[1].to[0].ref.namespace, "tc", "  to ref namespace");
	ok(!q->cluster && !strcmp(q->namespace, "ta"), "FencePolicy of ta");
	is_str(q->egress[0].to[0].ref.namespace, "tb", "  its to may name another namespace");
	is_str(q->egress[0].to[1].ref.namespace, "tc", "  and a Service in another namespace");
	is_str(pf_policy_kind_string(true), "ClusterFencePolicy", "kind string");

	is_int(pf_policy_to_json(p, &a), 0, "cluster: canonical JSON");
	ok(a && strstr(a, "\"kind\":\"ClusterFencePolicy\"") &&
	       !strstr(a, "\"metadata\":{\"name\":\"p\",\"namespace\""),
	   "  kind ClusterFencePolicy, no metadata.namespace");
	if (a && pf_policy_parse_buffer("r", a, strlen(a), &fr, &err) == 0 && fr.n_docs == 1 &&
	    fr.docs[0].policy) {
		pf_policy_to_json(fr.docs[0].policy, &b);
		is_str(b, a, "  round-trips");
		ok(fr.docs[0].policy->cluster, "  still cluster-scoped");
	} else {
		ok(0, "  canonical JSON parses back: %s", fr.n_docs ? fr.docs[0].error : err.msg);
	}
	pf_policy_file_free(&fr);
	free(a);
	free(b);
	pf_policy_file_free(&f);

	/* an invalid cluster document still names the policy it was meant to be */
	doc = CHDR "  namespace: x\n";
	is_int(pf_policy_parse_buffer("c.yaml", doc, strlen(doc), &f, &err), 0,
	       "invalid cluster doc: splits");
	ok(f.n_docs == 1 && !f.docs[0].policy && f.docs[0].cluster && f.docs[0].name &&
	       !strcmp(f.docs[0].name, "p") && f.docs[0].namespace && !f.docs[0].namespace[0],
	   "  identity: cluster policy p");
	pf_policy_file_free(&f);
}

static char *read_data(const char *name, size_t *len)
{
	char path[512];
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/policies/%s", PF_TEST_DATA, name);
	if (pf_read_file(path, 1 << 22, &buf, len) < 0)
		return NULL;
	return buf;
}

static void test_example_file(void)
{
	char path[512];
	struct pf_policy_file f;
	struct pf_error err = {0};
	const struct pf_policy *p;
	char *s = NULL;

	snprintf(path, sizeof(path), "%s/policies/valid-multi.yaml", PF_TEST_DATA);
	is_int(pf_policy_parse_file(path, &f, &err), 0, "valid-multi.yaml parses (%s)", err.msg);
	is_int(f.n_docs, 3, "3 documents");
	is_int(pf_policy_file_n_invalid(&f), 0, "all valid");
	if (f.n_docs != 3 || pf_policy_file_n_invalid(&f)) {
		for (size_t i = 0; i < f.n_docs; i++)
			printf("#   %s\n", f.docs[i].error);
		pf_policy_file_free(&f);
		return;
	}
	p = f.docs[0].policy;
	is_str(p->namespace, "shop", "namespace");
	is_str(p->name, "web-egress", "name");
	is_int(p->priority, 100, "priority");
	is_int(p->n_applies_to, 1, "one appliesTo");
	is_int(p->applies_to[0].kind, PF_KIND_DEPLOYMENT, "Deployment");
	is_int(p->n_egress, 2, "two rules");
	is_int(p->egress[0].ports[0].port, 5432, "port");
	is_int(p->egress[0].ports[0].end_port, 5433, "endPort");
	is_int(p->egress[1].action, PF_ACTION_DENY, "second rule Deny");
	is_int(p->egress[1].n_to + p->egress[1].n_ports, 0, "with no to and no ports");
	pf_rule_destination_string(&p->egress[0], &s);
	is_str(s, "Service shop/db, 10.20.0.0/16", "the documented destination string");
	free(s);
	pf_rule_ports_string(&p->egress[0], &s);
	is_str(s, "5432-5433/TCP", "the documented ports string");
	free(s);
	pf_rule_destination_string(&p->egress[1], &s);
	is_str(s, "any", "no to: any");
	free(s);
	pf_rule_ports_string(&p->egress[1], &s);
	is_str(s, "any", "no ports: any");
	free(s);
	is_int(f.docs[1].line, 31, "document 2 starts on line 31 (after its comment)");
	is_int(f.docs[1].index, 1, "index 1");
	p = f.docs[1].policy;
	is_int(p->egress[1].action, PF_ACTION_ALERT, "Alert");
	ok(p->egress[1].log, "log: true");
	pf_rule_destination_string(&p->egress[0], &s);
	is_str(s, "Service kube-system/kube-dns, fd00:10::/64, 192.0.2.53/32",
	       "IPv6 and single address");
	free(s);
	pf_rule_destination_string(&p->egress[1], &s);
	is_str(s, "Pod shop/debug-0", "Pod ref");
	free(s);
	is_int(f.docs[2].policy->priority, 0, "priority 0 is allowed");
	is_int(f.docs[2].policy->n_egress, 0, "egress: [] is no rule");
	ok(f.docs[2].policy->cluster, "a ClusterFencePolicy among FencePolicies");
	pf_policy_file_free(&f);
}

/* The YAML and JSON forms of the same policies give the same models. */
static void test_yaml_equals_json(void)
{
	struct pf_policy_file fy, fj, fr;
	struct pf_error err = {0};
	size_t ly = 0, lj = 0;
	char *y = read_data("valid-multi.yaml", &ly), *j = read_data("valid-multi.json", &lj);

	ok(y && j, "read both forms");
	if (!y || !j) {
		free(y);
		free(j);
		return;
	}
	is_int(pf_policy_parse_buffer("y", y, ly, &fy, &err), 0, "YAML parses");
	is_int(pf_policy_parse_buffer("j", j, lj, &fj, &err), 0, "JSON stream parses (%s)",
	       err.msg);
	is_int(fj.n_docs, fy.n_docs, "same number of documents");
	for (size_t i = 0; i < fy.n_docs && i < fj.n_docs; i++) {
		char *a = NULL, *b = NULL, *c = NULL;

		if (!ok(fy.docs[i].policy && fj.docs[i].policy, "document %zu valid in both",
			i + 1)) {
			printf("#   %s | %s\n", fy.docs[i].error, fj.docs[i].error);
			continue;
		}
		pf_policy_to_json(fy.docs[i].policy, &a);
		pf_policy_to_json(fj.docs[i].policy, &b);
		is_str(b, a, "document %zu: identical models", i + 1);
		/* canonical JSON parses back to the same model */
		if (a && pf_policy_parse_buffer("c", a, strlen(a), &fr, &err) == 0 &&
		    fr.n_docs == 1 && fr.docs[0].policy) {
			pf_policy_to_json(fr.docs[0].policy, &c);
			is_str(c, a, "document %zu: canonical JSON round-trips", i + 1);
		} else {
			ok(0, "document %zu: canonical JSON parses back", i + 1);
		}
		pf_policy_file_free(&fr);
		free(a);
		free(b);
		free(c);
	}
	pf_policy_file_free(&fy);
	pf_policy_file_free(&fj);
	free(y);
	free(j);
}

static void test_files(void)
{
	char path[512];
	struct pf_policy_file f;
	struct pf_error err = {0};
	char line[2048];

	snprintf(path, sizeof(path), "%s/policies/mixed.yaml", PF_TEST_DATA);
	is_int(pf_policy_parse_file(path, &f, &err), 0, "mixed.yaml splits into documents");
	is_int(f.n_docs, 3, "3 documents");
	is_int(pf_policy_file_n_invalid(&f), 1, "one invalid");
	if (f.n_docs == 3) {
		ok(f.docs[0].policy && f.docs[2].policy, "its valid siblings parse");
		ok(!f.docs[1].policy, "the broken one does not");
		is_str(f.docs[1].namespace, "shop", "the broken one's identity: namespace");
		is_str(f.docs[1].name, "broken", "the broken one's identity: name");
		is_int(f.docs[1].line, 13, "starts on line 13");
		is_int(f.docs[1].error_line, 28, "error on line 28");
		pf_policy_doc_format_error("mixed.yaml", &f.docs[1], line, sizeof(line));
		is_str(line,
		       "mixed.yaml: document 2 (line 28): spec.egress[2].ports[0].endPort: must be "
		       ">= port (80)",
		       "formatted error names file, document, line and field");
	}
	pf_policy_file_free(&f);

	snprintf(path, sizeof(path), "%s/policies/syntax-error.yaml", PF_TEST_DATA);
	ok(pf_policy_parse_file(path, &f, &err) < 0, "a syntax error fails the whole file");
	ok(f.n_docs == 0, "  and returns no documents, not even the valid first one");
	has_str(err.msg, "syntax-error.yaml: line 14", "  message names file and line");
	snprintf(path, sizeof(path), "%s/policies/syntax-error.json", PF_TEST_DATA);
	ok(pf_policy_parse_file(path, &f, &err) < 0, "a JSON syntax error fails the whole file");
	has_str(err.msg, "syntax-error.json: line 5", "  message names file and line");

	snprintf(path, sizeof(path), "%s/policies/empty.yaml", PF_TEST_DATA);
	is_int(pf_policy_parse_file(path, &f, &err), 0, "a file of comments and --- is valid");
	is_int(f.n_docs, 0, "  and holds no policy");
	pf_policy_file_free(&f);

	snprintf(path, sizeof(path), "%s/policies/invalid.json", PF_TEST_DATA);
	is_int(pf_policy_parse_file(path, &f, &err), 0, "invalid.json parses");
	is_int(f.n_docs, 1, "one doc");
	if (f.n_docs == 1) {
		has_str(f.docs[0].error, "spec.appliesTo[0].kind: kind Service is not allowed",
			"JSON error path");
		is_int(f.docs[0].error_line, 6, "JSON error line");
	}
	pf_policy_file_free(&f);

	ok(pf_policy_parse_file("/nonexistent/x.yaml", &f, &err) == -ENOENT,
	   "missing file: -ENOENT");
	has_str(err.msg, "/nonexistent/x.yaml: No such file", "  message names the file");

	/* wrong kind: no identity (it is not a FencePolicy at all) */
	{
		const char *cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";

		pf_policy_parse_buffer("cm.yaml", cm, strlen(cm), &f, &err);
		ok(f.n_docs == 1 && !f.docs[0].policy && !f.docs[0].name,
		   "another kind gets no identity");
		pf_policy_file_free(&f);
	}
}

/* JSON's own shapes: a top-level list, null documents, floats where integers belong. */
static void test_json_shapes(void)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
	    {"[{\"apiVersion\":\"podfence.io/v1alpha1\"}]",
	     "document: must be a mapping, not a list"},
	    {"{\"apiVersion\":\"podfence.io/"
	     "v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":{\"name\":\"j\"},"
	     "\"spec\":{\"appliesTo\":[{\"kind\":\"Pod\",\"name\":\"a\"}],\"egress\":[{\"action\":"
	     "\"Deny\","
	     "\"ports\":[{\"port\":80.0}]}]}}",
	     "spec.egress[0].ports[0].port: must be an integer, not a number"},
	    {"{\"apiVersion\":\"podfence.io/"
	     "v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":{\"name\":\"j\"},"
	     "\"spec\":{\"appliesTo\":[{\"kind\":\"Pod\",\"name\":\"a\"}],\"egress\":[{\"action\":"
	     "\"Deny\","
	     "\"log\":\"true\"}]}}",
	     "spec.egress[0].log: must be a boolean, not a string"},
	    {"{\"apiVersion\":\"podfence.io/"
	     "v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":{\"name\":\"j\"},"
	     "\"spec\":{\"priority\":99999999999999999999,\"appliesTo\":[{\"kind\":\"Pod\","
	     "\"name\":\"a\"}]}}",
	     "spec.priority: must be an integer, not a number"},
	};
	struct pf_policy_file f;
	struct pf_error err = {0};

	for (size_t k = 0; k < PF_ARRAY_SIZE(cases); k++) {
		int r = pf_policy_parse_buffer("t.json", cases[k].text, strlen(cases[k].text), &f,
					       &err);

		ok(r == 0 && f.n_docs == 1 && !f.docs[0].policy, "JSON refused: %s",
		   cases[k].error);
		if (r == 0 && f.n_docs == 1)
			is_str(f.docs[0].error, cases[k].error, "  message");
		pf_policy_file_free(&f);
	}
	is_int(pf_policy_parse_buffer("n.json", "{}\nnull\n{}", 10, &f, &err), 0,
	       "a JSON stream with a null");
	is_int(f.n_docs, 2, "  skips the null");
	if (f.n_docs == 2)
		is_int(f.docs[1].index, 2, "  but counts it in document numbers");
	pf_policy_file_free(&f);
}

static void test_file_limits(void)
{
	struct pf_policy_file f;
	struct pf_error err = {0};
	size_t n = PF_POLICY_MAX_FILE + 1;
	char *big = malloc(n + 1), *docs;

	memset(big, '#', n);
	big[n] = '\0';
	is_int(pf_policy_parse_buffer("big.yaml", big, n, &f, &err), -EFBIG,
	       "a file over the size limit");
	has_str(err.msg, "big.yaml: larger than", "  message");
	free(big);

	docs = many("", "---\na: %u\n", PF_POLICY_MAX_DOCS + 1, "");
	ok(pf_policy_parse_buffer("many.yaml", docs, strlen(docs), &f, &err) < 0,
	   "too many documents");
	has_str(err.msg, "too many documents", "  message");
	free(docs);

	docs = many(
	    "",
	    "a%u: "
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	    1, "");
	ok(pf_policy_parse_buffer("deep.yaml", docs, strlen(docs), &f, &err) < 0,
	   "nesting over the limit");
	has_str(err.msg, "nested too deeply", "  message");
	free(docs);
}

static void test_names(void)
{
	is_str(pf_action_to_string(PF_ACTION_ALERT), "Alert", "action to string");
	is_int(pf_action_from_string("Reject"), PF_ACTION_REJECT, "action from string");
	is_int(pf_action_from_string("reject"), -EINVAL, "actions are case-sensitive");
	ok(pf_action_to_string(_PF_ACTION_MAX) == NULL, "unknown action: NULL");
	is_str(pf_kind_to_string(PF_KIND_CRONJOB), "CronJob", "kind to string");
	is_int(pf_kind_from_string("StatefulSet"), PF_KIND_STATEFULSET, "kind from string");
	is_int(pf_kind_from_string("pod"), -EINVAL, "kinds are case-sensitive");
}

static void test_file_names(void)
{
	ok(pf_policy_is_file_name("a.yaml") && pf_policy_is_file_name("b.yml") &&
	       pf_policy_is_file_name("c.json"),
	   "*.yaml, *.yml, *.json are policy files");
	ok(!pf_policy_is_file_name(".a.yaml.swp") && !pf_policy_is_file_name(".a.yaml"),
	   "hidden files are not");
	ok(!pf_policy_is_file_name("..data") && !pf_policy_is_file_name("#a.yaml#"),
	   "Kubernetes ..data and #autosave# are not");
	ok(!pf_policy_is_file_name("a.yaml~") && !pf_policy_is_file_name("a.txt") &&
	       !pf_policy_is_file_name(".yaml") && !pf_policy_is_file_name("yaml"),
	   "backups and other suffixes are not");
}

static void test_from_node(void)
{
	const char *j =
	    "{\"apiVersion\":\"podfence.io/v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":"
	    "{\"name\":\"api\",\"namespace\":\"k\",\"uid\":\"u\",\"generation\":2,"
	    "\"managedFields\":[{}]},\"spec\":{\"appliesTo\":[{\"kind\":\"Job\",\"name\":\"j\"}]},"
	    "\"status\":{\"x\":1}}";
	struct pf_node *n = NULL;
	struct pf_policy *p = NULL;
	struct pf_policy_doc info = {0};
	struct pf_error err;

	is_int(pf_json_parse(j, strlen(j), NULL, &n, &err), 0, "API object parses");
	is_int(pf_policy_from_node(n, &p, &info), 0,
	       "pf_policy_from_node accepts an API object (%s)", info.error);
	is_str(info.name, "api", "identity from the object");
	ok(p && p->applies_to[0].kind == PF_KIND_JOB, "Job ref");
	pf_policy_free(p);
	pf_policy_doc_clear(&info);
	is_int(pf_policy_from_node(NULL, &p, &info), -EINVAL, "NULL document refused");
	pf_node_free(n);
}

/* spec.mode: Enforce by default, Audit kept in the canonical JSON (the store reads it there),
 * anything else refused with the field. */
static void test_mode(void)
{
	static const char *const docs[] = {SPEC "  mode: Audit\n  egress:\n  - action: Deny\n",
					   SPEC "  egress:\n  - action: Deny\n",
					   SPEC "  mode: Enforce\n  egress:\n  - action: Deny\n",
					   SPEC "  mode: audit\n", SPEC "  mode: 1\n"};
	static const int want[] = {PF_MODE_AUDIT, PF_MODE_ENFORCE, PF_MODE_ENFORCE, -1, -1};
	static const char *const errs[] = {NULL, NULL, NULL,
					   "spec.mode: must be Enforce or Audit, not \"audit\"",
					   "spec.mode: must be a string"};

	for (size_t i = 0; i < PF_ARRAY_SIZE(docs); i++) {
		struct pf_policy_file f;
		struct pf_error err = {0};
		const struct pf_policy *p;
		char *json = NULL;

		if (pf_policy_parse_buffer("t.yaml", docs[i], strlen(docs[i]), &f, &err) < 0) {
			ok(0, "mode doc %zu parses: %s", i, err.msg);
			continue;
		}
		p = f.n_docs == 1 ? f.docs[0].policy : NULL;
		if (want[i] < 0) {
			ok(!p && f.n_docs == 1 &&
			       !strncmp(f.docs[0].error, errs[i], strlen(errs[i])),
			   "mode doc %zu refused: %s", i, f.n_docs ? f.docs[0].error : "");
		} else {
			ok(p && (int)p->mode == want[i], "mode doc %zu: %s", i,
			   pf_mode_to_string((enum pf_mode)want[i]));
			if (p && pf_policy_to_json(p, &json) == 0)
				ok((strstr(json, "\"mode\":\"Audit\"") != NULL) ==
				       (p->mode == PF_MODE_AUDIT),
				   "  canonical JSON carries mode only when Audit");
			free(json);
		}
		pf_policy_file_free(&f);
	}
}

int main(void)
{
	test_mode();
	test_names();
	test_bad_docs();
	test_counts();
	test_defaults();
	test_udp_fqdn();
	test_cluster();
	test_example_file();
	test_yaml_equals_json();
	test_files();
	test_json_shapes();
	test_file_limits();
	test_from_node();
	test_file_names();
	return tap_done();
}
