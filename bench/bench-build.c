/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cache build time and peak memory for tenant-sized policies, up to the validation limits. */
#include <getopt.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "cache.h"
#include "testutil.h"
#include "util.h"

/*
 * A policy as validation sees it: rules, each naming `to` destinations and `ports` ranges.
 * Destinations resolve to one address each (a Pod ref or a /32), chosen so that as many rules
 * as possible share them and every destination's rule list differs from its neighbours'
 * (rule j of a policy names addresses j .. j+to-1 of the policy's window): the level-2 nodes
 * cannot share port tables, which is the cache's worst case for a given size. `any` rules
 * per policy have no `to` and cover every node.
 */
struct shape {
	const char *name;
	size_t policies, rules, to, ports, any; /* any: rules without `to` among the rules */
	bool shared_pods; /* every policy applies to the same pods (one group of all of them) */
	size_t fanout;	  /* addresses each `to` entry resolves to (a Deployment's pods) */
};

/* What validation computes for one such policy (pf_policy_cost reads only the counts). */
static size_t shape_cost(const struct shape *s)
{
	struct pf_rule *rules = calloc(s->rules ? s->rules : 1, sizeof(*rules));
	size_t cost;

	if (!rules)
		exit(1);
	for (size_t r = 0; r < s->rules; r++) {
		rules[r].n_to = r < s->any ? 0 : s->to;
		rules[r].n_ports = s->ports;
	}
	cost = pf_policy_cost(rules, s->rules);
	free(rules);
	return cost;
}

static struct pf_ruleset *make(const struct shape *s)
{
	struct pf_ruleset *rs = xcalloc(1, sizeof(*rs));

	rs->policies = xcalloc(s->policies, sizeof(*rs->policies));
	rs->n_policies = s->policies;
	for (size_t i = 0; i < s->policies; i++) {
		struct pf_rs_policy *p = &rs->policies[i];
		char buf[32];

		p->id = (uint32_t)i + 1;
		snprintf(buf, sizeof(buf), "t%zu", i);
		p->namespace = strdup(buf);
		snprintf(buf, sizeof(buf), "p%zu", i);
		p->name = strdup(buf);
		if (!p->namespace || !p->name)
			exit(1);
		p->priority = 1000;
		p->src = xcalloc(2, sizeof(*p->src));
		p->n_src = 2; /* two pods */
		for (size_t k = 0; k < 2; k++)
			p->src[k] =
			    pf_test_v4(0x0a000000u + (uint32_t)(s->shared_pods ? k : 2 * i + k));
		p->rules = xcalloc(s->rules, sizeof(*p->rules));
		p->n_rules = s->rules;
		for (size_t r = 0; r < s->rules; r++) {
			struct pf_rs_rule *rr = &p->rules[r];

			rr->rule_index = (uint32_t)r;
			rr->action = r % 2 ? PF_ACTION_ALLOW : PF_ACTION_REJECT;
			if (r < s->any) {
				rr->any_dst = true;
			} else {
				size_t fan = s->fanout ? s->fanout : 1;

				rr->dst_ips = xcalloc(s->to * fan, sizeof(*rr->dst_ips));
				rr->n_dst_ips = s->to * fan;
				for (size_t d = 0; d < s->to; d++)
					for (size_t f = 0; f < fan; f++)
						rr->dst_ips[d * fan + f] =
						    pf_test_v4(0x0b000000u + (uint32_t)(i << 16) +
							       (uint32_t)((r + d) * fan + f));
			}
			rr->ports = xcalloc(s->ports, sizeof(*rr->ports));
			rr->n_ports = s->ports;
			for (size_t k = 0; k < s->ports; k++) {
				/* distinct, interleaved between rules: every edge cuts */
				uint16_t port = (uint16_t)(1 + (k * s->rules + r) * 2 % 65000);

				rr->ports[k] =
				    (struct pf_port_range){.port = port, .end_port = port};
			}
		}
	}
	pf_ruleset_sort(rs);
	return rs;
}

/* Build in a child so its peak RSS is the build's alone. */
static void run(const struct shape *s)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		exit(1);
	pid = fork();
	if (pid < 0)
		exit(1);
	if (pid == 0) {
		struct pf_ruleset *rs = make(s);
		struct pf_cache *c = NULL;
		struct pf_cache_stats st = {};
		uint64_t t0 = pf_mono_ns(), t1;
		int r = pf_cache_build(rs, PF_ACTION_ALLOW, &c);
		char line[256];

		t1 = pf_mono_ns();
		if (r == 0)
			pf_cache_get_stats(c, &st);
		snprintf(line, sizeof(line), "%9.1f %9s %8zu %9zu %10.1f", (double)(t1 - t0) / 1e6,
			 r == 0 ? "ok" : strerror(-r), st.n_dst_nodes, st.n_intervals,
			 (double)st.bytes / (1 << 20));
		(void)!write(pfd[1], line, strlen(line) + 1);
		_exit(0);
	}
	close(pfd[1]);
	{
		char line[256] = "";
		struct rusage ru;
		int status;

		(void)!read(pfd[0], line, sizeof(line) - 1);
		close(pfd[0]);
		wait4(pid, &status, 0, &ru);
		size_t cost = shape_cost(s);

		printf("%-24s %5zu %5zu %4zu %5zu %4zu %4zu %5s %6zu%s %s %9.1f\n", s->name,
		       s->policies, s->rules, s->to, s->ports, s->any, s->fanout ? s->fanout : 1,
		       s->shared_pods ? "one" : "each", cost, cost > PF_POLICY_MAX_COST ? "!" : " ",
		       line, (double)ru.ru_maxrss / 1024);
	}
}

static void header(void)
{
	printf("%-24s %5s %5s %4s %5s %4s %4s %5s %7s %9s %9s %8s %9s %10s %9s\n", "shape", "pols",
	       "rules", "to", "ports", "any", "fan", "pods", "cost", "build_ms", "result", "nodes",
	       "intervals", "cache_MiB", "peak_MiB");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"custom", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {}};
	/* the validation limits (lib/policy.h) set the largest accepted policy */
	const size_t R = PF_POLICY_MAX_RULES, T = PF_POLICY_MAX_TO, P = PF_POLICY_MAX_PORTS,
		     C = PF_POLICY_MAX_COST;
	const struct shape shapes[] = {
	    /* the report: rules and ports at their list limits, a destination or four each
	     * (refused now: cost past the limit, marked !) */
	    {"reported-12", 12, R, 1, P, 0, true, 1},
	    {"reported-12-to4", 12, R, 4, P, 0, true, 1},
	    {"one-rule-to-ports", 1, 1, T, P, 0, true, 1},
	    /* at the limit: one policy, each way of spending it */
	    {"max-ports", 1, 8, C / (8 * P), P, 0, true, 1},
	    {"max-to", 1, 8, T, C / (8 * T), 0, true, 1},
	    {"max-mixed", 1, 32, 16, C / (32 * 16), 0, true, 1},
	    {"max-any", 1, 64, 2, 4, 8, true, 1},
	    {"max-to-fanout50", 1, 8, T, C / (8 * T), 0, true, 50},
	    /* many at the limit: one tenant's pods under all of them (one group) ... */
	    {"max-ports x16 one", 16, 8, C / (8 * P), P, 0, true, 1},
	    {"max-ports x64 one", 64, 8, C / (8 * P), P, 0, true, 1},
	    {"max-mixed x64 one", 64, 32, 16, C / (32 * 16), 0, true, 1},
	    /* ... or each policy its own pods (tenants side by side) */
	    {"max-ports x256 each", 256, 8, C / (8 * P), P, 0, false, 1},
	    {"max-ports x1000 each", 1000, 8, C / (8 * P), P, 0, false, 1},
	    {"max-mixed x1000 each", 1000, 32, 16, C / (32 * 16), 0, false, 1},
	    {"max-ports x2000 each", 2000, 8, C / (8 * P), P, 0, false, 1},
	    {"max-ports x4000 each", 4000, 8, C / (8 * P), P, 0, false, 1},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		struct shape s = {"custom"};
		unsigned long v[7] = {0};

		switch (c) {
		case 'c':
			if (sscanf(optarg, "%lu,%lu,%lu,%lu,%lu,%lu,%lu", &v[0], &v[1], &v[2],
				   &v[3], &v[4], &v[5], &v[6]) < 6) {
				fprintf(stderr,
					"--custom POLICIES,RULES,TO,PORTS,ANY,SHARED[,FANOUT]\n");
				return 2;
			}
			s.policies = v[0];
			s.rules = v[1];
			s.to = v[2];
			s.ports = v[3];
			s.any = v[4];
			s.shared_pods = v[5];
			s.fanout = v[6];
			header();
			run(&s);
			return 0;
		default:
			printf(
			    "usage: bench-build [--custom POLICIES,RULES,TO,PORTS,ANY,SHARED]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	printf("policy cost limit %zu (pf_policy_cost; ! marks a shape validation refuses)\n", C);
	header();
	for (size_t i = 0; i < PF_ARRAY_SIZE(shapes); i++)
		run(&shapes[i]);
	return 0;
}
