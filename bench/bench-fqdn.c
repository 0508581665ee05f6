/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whether fqdn rules slow the verdicts that do not involve a name, in one run: the same
 * ruleset (200 policies of 20 CIDR and port rules, 2,000 pod sources) built twice, once as
 * is and once with an fqdn Allow rule at the top of every policy; each pod holds 64 resolved
 * addresses (engine/names.c, as podfenced keeps them). Lookups of destinations no name
 * resolved to, then of resolved ones (the walk), TCP and UDP, interleaved repeats, medians.
 * Usage: bench/bench-fqdn [LOOKUPS [REPEATS]]
 */
#include <stdio.h>

#include "cache.h"
#include "names.h"
#include "testutil.h"

#define N_POLICIES 200
#define RULES 20
#define SOURCES_PER_POLICY 10
#define NAMES_PER_POD 64

struct query {
	struct pf_addr src, dst;
	uint16_t port;
	enum pf_protocol proto;
};

static struct pf_ruleset *make_ruleset(bool fqdn)
{
	struct pf_ruleset *rs = xcalloc(1, sizeof(*rs));

	pf_test_rng_state = 7;
	rs->policies = xcalloc(N_POLICIES, sizeof(*rs->policies));
	rs->n_policies = N_POLICIES;
	for (size_t i = 0; i < N_POLICIES; i++) {
		struct pf_rs_policy *p = &rs->policies[i];
		char buf[32];
		size_t j = 0;

		p->id = (uint32_t)i + 1;
		snprintf(buf, sizeof(buf), "ns%zu", i % 10);
		p->namespace = xstrdup(buf);
		snprintf(buf, sizeof(buf), "p%zu", i);
		p->name = xstrdup(buf);
		p->priority = (uint32_t)(i % 7);
		p->n_src = SOURCES_PER_POLICY;
		p->src = xcalloc(p->n_src, sizeof(*p->src));
		for (size_t s = 0; s < p->n_src; s++) {
			uint32_t be = htonl(0x0a000000u | (uint32_t)(i * SOURCES_PER_POLICY + s));

			pf_addr_from_v4(&p->src[s], &be);
		}
		p->n_rules = RULES + fqdn;
		p->rules = xcalloc(p->n_rules, sizeof(*p->rules));
		if (fqdn) {
			struct pf_rs_rule *r = &p->rules[j++];

			r->action = PF_ACTION_ALLOW;
			r->n_fqdns = 2;
			r->fqdns = xcalloc(2, sizeof(char *));
			r->fqdns[0] = xstrdup("api.example.com");
			r->fqdns[1] = xstrdup("*.shop.test");
			r->n_ports = 1;
			r->ports = xcalloc(1, sizeof(*r->ports));
			r->ports[0] = (struct pf_port_range){443, 443, PF_PROTO_TCP};
		}
		for (; j < p->n_rules; j++) {
			struct pf_rs_rule *r = &p->rules[j];
			uint32_t be = htonl(0xac100000u | (pf_test_rand_below(4096) << 8));

			r->rule_index = (uint32_t)j;
			r->action = (enum pf_action)pf_test_rand_below(PF_ACTION_PASS);
			r->n_dst_nets = 1;
			r->dst_nets = xcalloc(1, sizeof(*r->dst_nets));
			pf_addr_from_v4(&r->dst_nets[0].addr, &be);
			r->dst_nets[0].len = 96 + 24;
			r->n_ports = 1;
			r->ports = xcalloc(1, sizeof(*r->ports));
			r->ports[0].port = (uint16_t)(1 + pf_test_rand_below(2000));
			r->ports[0].end_port = r->ports[0].port;
			r->ports[0].protocol = j % 4 == 0 ? PF_PROTO_UDP : PF_PROTO_TCP;
		}
	}
	pf_ruleset_sort(rs);
	return rs;
}

static double run(const struct pf_cache *c, const struct query *q, size_t n,
		  struct pf_pod_names *names, uint64_t *sink)
{
	uint64_t t0 = pf_mono_ns();

	for (size_t i = 0; i < n; i++) {
		struct pf_verdict v;

		names->now_ms = 1;
		pf_cache_lookup_flow(c, pf_cache_source_group(c, &q[i].src), &q[i].dst, q[i].proto,
				     q[i].port, &names->view, &v);
		*sink += (uint64_t)v.action + (uint64_t)v.rule_index;
	}
	return (double)(pf_mono_ns() - t0) / (double)n;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint32_t n = 200000, repeats = 7;
	struct pf_ruleset *plain = make_ruleset(false), *named = make_ruleset(true);
	struct pf_cache *cp = NULL, *cn = NULL;
	struct query *miss, *hit;
	struct pf_pod_names names;
	struct pf_dns_answer a = {.n_names = 1, .names = {"api.example.com"}};
	double t[4][64];
	uint64_t sink = 0;

	if ((argc > 1 && pf_parse_u32(argv[1], 100000000, &n) < 0) ||
	    (argc > 2 && (pf_parse_u32(argv[2], 64, &repeats) < 0 || !repeats)))
		return fprintf(stderr, "usage: bench-fqdn [LOOKUPS [REPEATS]]\n"), 2;
	if (pf_cache_build(plain, PF_ACTION_ALLOW, &cp) < 0 ||
	    pf_cache_build(named, PF_ACTION_ALLOW, &cn) < 0)
		return fprintf(stderr, "build failed\n"), 1;
	/* what one pod resolved: 64 addresses in 192.0.2.0/24 and 198.51.100.0/24 */
	pf_pod_names_init(&names, NULL);
	a.n_addrs = 0;
	for (uint32_t i = 0; i < NAMES_PER_POD; i++) {
		uint32_t be = htonl((i % 2 ? 0xc0000200u : 0xc6336400u) | i);

		if (a.n_addrs == PF_DNS_MAX_ADDRS) {
			pf_pod_names_add(&names, &a, 0);
			a.n_addrs = 0;
		}
		pf_addr_from_v4(&a.addrs[a.n_addrs].addr, &be);
		a.addrs[a.n_addrs++].ttl = 3600;
	}
	pf_pod_names_add(&names, &a, 0);
	miss = xcalloc(n, sizeof(*miss));
	hit = xcalloc(n, sizeof(*hit));
	pf_test_rng_state = 11;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = htonl(0x0a000000u |
				   pf_test_rand_below(N_POLICIES * SOURCES_PER_POLICY)),
			 d = htonl(0xac100000u | pf_test_rand_below(1 << 20)),
			 h = htonl(0xc0000200u | (2 * pf_test_rand_below(NAMES_PER_POD / 2) + 1));

		pf_addr_from_v4(&miss[i].src, &s);
		pf_addr_from_v4(&miss[i].dst, &d);
		miss[i].port = (uint16_t)(1 + pf_test_rand_below(2000));
		miss[i].proto = pf_test_rand_below(4) == 0 ? PF_PROTO_UDP : PF_PROTO_TCP;
		hit[i] = miss[i];
		pf_addr_from_v4(&hit[i].dst, &h);
		hit[i].port = 443;
		hit[i].proto = PF_PROTO_TCP;
	}
	for (uint32_t r = 0; r < repeats; r++) {
		t[0][r] = run(cp, miss, n, &names, &sink);
		t[1][r] = run(cn, miss, n, &names, &sink);
		t[2][r] = run(cp, hit, n, &names, &sink);
		t[3][r] = run(cn, hit, n, &names, &sink);
	}
	for (int k = 0; k < 4; k++)
		qsort(t[k], repeats, sizeof(double), cmp_d);
	printf("bench-fqdn: %u lookups x %u repeats, %d policies x %d rules, %d sources, %d "
	       "resolved addresses per pod (medians, ns per lookup)\n",
	       n, repeats, N_POLICIES, RULES, N_POLICIES * SOURCES_PER_POLICY, NAMES_PER_POD);
	printf("%-44s %10s %12s %7s\n", "", "no fqdn", "fqdn rules", "ratio");
	printf("%-44s %10.1f %12.1f %7.2f\n", "destination no name resolved to (TCP+UDP)",
	       t[0][repeats / 2], t[1][repeats / 2], t[1][repeats / 2] / t[0][repeats / 2]);
	printf("%-44s %10.1f %12.1f %7.2f\n", "destination the pod resolved (walk)",
	       t[2][repeats / 2], t[3][repeats / 2], t[3][repeats / 2] / t[2][repeats / 2]);
	printf("(checksum %llu)\n", (unsigned long long)sink);
	pf_pod_names_free(&names);
	pf_cache_free(cp);
	pf_cache_free(cn);
	pf_ruleset_free(plain);
	pf_ruleset_free(named);
	free(miss);
	free(hit);
	return 0;
}
