/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Verdict cost: the multi-level hash cache against the rule-walking evaluator it replaces
 * (seed [0052] vs [0055]), side by side on the same rulesets and the same connections.
 * Prints measured numbers only. See bench/README.md.
 */
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "testutil.h"
#include "util.h"

#define MAX_SIZES 16

struct query {
	struct pf_addr src, dst;
	uint16_t port;
};

/* Pod j of deployment d: dual-stack for even deployments. */
static size_t pod_ips(size_t d, size_t j, struct pf_addr *out)
{
	out[0] = pf_test_v4(0x0af40000u + (uint32_t)(d * 16 + j)); /* 10.244.0.0/16 */
	if (d % 2)
		return 1;
	out[1] = pf_test_v6(0xfd000244u, (uint64_t)d << 16 | j);
	return 2;
}

#define PODS_PER_DEPLOY 10

static const uint16_t common_ports[] = {53, 80, 443, 3306, 5432, 6379, 8080, 9090, 9200, 11211};

/*
 * A realistic shape: one policy per Deployment of 10 pods, 100 rules per policy (fewer when
 * there are fewer rules), each pod under its own Deployment's policy and its neighbour's.
 * Rules: Services (a cluster IP and pod IPs), CIDRs (IPv4 /16../32 and IPv6), a few
 * any-destination rules on a port; single ports, ranges, or any port. cluster_pct of the
 * policies are ClusterFencePolicies (the admin tier), a fifth of their rules Pass, and where a
 * namespaced one would close with "deny everything else" they close with a Pass.
 */
static struct pf_ruleset *make_ruleset(size_t n_rules, unsigned cluster_pct)
{
	struct pf_ruleset *rs = xcalloc(1, sizeof(*rs));
	size_t n_pol = n_rules >= 100 ? n_rules / 100 : 1, per = n_rules / n_pol;

	rs->policies = xcalloc(n_pol, sizeof(*rs->policies));
	rs->n_policies = n_pol;
	for (size_t i = 0; i < n_pol; i++) {
		struct pf_rs_policy *p = &rs->policies[i];
		char buf[64];
		size_t deps[2] = {i, (i + 1) % n_pol};

		p->id = (uint32_t)(i + 1);
		p->cluster = i % 100 < cluster_pct;
		snprintf(buf, sizeof(buf), p->cluster ? "" : "ns-%zu", i / 10);
		p->namespace = xstrdup(buf);
		snprintf(buf, sizeof(buf), "egress-%05zu", i);
		p->name = xstrdup(buf);
		p->priority = 100 + (uint32_t)(i % 7) * 10;
		p->src = xcalloc(2 * PODS_PER_DEPLOY * 2, sizeof(*p->src));
		for (size_t k = 0; k < (n_pol > 1 ? 2u : 1u); k++)
			for (size_t j = 0; j < PODS_PER_DEPLOY; j++)
				p->n_src += pod_ips(deps[k], j, p->src + p->n_src);
		p->rules = xcalloc(per, sizeof(*p->rules));
		p->n_rules = per;
		for (size_t r = 0; r < per; r++) {
			struct pf_rs_rule *rr = &p->rules[r];
			uint32_t kind = pf_test_rand_below(100), a = pf_test_rand_below(100);

			rr->rule_index = (uint32_t)r;
			rr->action = a < 60   ? PF_ACTION_ALLOW
				     : a < 80 ? PF_ACTION_DENY
				     : a < 90 ? PF_ACTION_REJECT
					      : PF_ACTION_ALERT;
			rr->log = pf_test_rand_below(10) == 0;
			if (p->cluster && pf_test_rand_below(5) == 0)
				rr->action = PF_ACTION_PASS;
			if (r == per - 1 && (i % 3 == 0 || p->cluster)) {
				/* a closing "deny everything else" in a third of the policies */
				rr->action = p->cluster ? PF_ACTION_PASS : PF_ACTION_DENY;
				rr->any_dst = true;
				continue;
			}
			if (kind < 60) {
				/* a Service: its cluster IP and three backends, out of a shared
				 * pool */
				rr->dst_ips = xcalloc(4, sizeof(*rr->dst_ips));
				rr->n_dst_ips = 4;
				rr->dst_ips[0] = pf_test_v4(
				    0x0a600000u + pf_test_rand_below(20000)); /* 10.96.0.0/12 */
				for (int k = 1; k < 4; k++)
					rr->dst_ips[k] = pf_test_v4(
					    0x0af50000u +
					    pf_test_rand_below(60000)); /* 10.245.0.0/16 */
			} else if (kind < 95) {
				static const uint8_t lens4[] = {16, 20, 24, 28, 32};
				static const uint8_t lens6[] = {48, 64, 96};

				rr->dst_nets = xcalloc(1, sizeof(*rr->dst_nets));
				rr->n_dst_nets = 1;
				if (pf_test_rand_below(4)) {
					rr->dst_nets[0].addr =
					    pf_test_v4(0xac100000u + (pf_test_rand_below(1u << 20) &
								      0xffffff00u)); /* 172.16/12 */
					rr->dst_nets[0].len =
					    (uint8_t)(96 + lens4[pf_test_rand_below(
							       PF_ARRAY_SIZE(lens4))]);
				} else {
					rr->dst_nets[0].addr = pf_test_v6(
					    0xfd100000u + pf_test_rand_below(256), pf_test_rand());
					rr->dst_nets[0].len =
					    lens6[pf_test_rand_below(PF_ARRAY_SIZE(lens6))];
				}
				pf_addr_mask(&rr->dst_nets[0].addr, rr->dst_nets[0].len);
			} else {
				rr->any_dst = true;
			}
			a = pf_test_rand_below(100);
			if (a < 60 || (rr->any_dst && a < 85)) {
				rr->ports = xcalloc(1, sizeof(*rr->ports));
				rr->n_ports = 1;
				rr->ports[0].port =
				    common_ports[pf_test_rand_below(PF_ARRAY_SIZE(common_ports))];
				rr->ports[0].end_port = rr->ports[0].port;
			} else if (a < 85) {
				rr->ports = xcalloc(1, sizeof(*rr->ports));
				rr->n_ports = 1;
				rr->ports[0].port = (uint16_t)(1024 + pf_test_rand_below(30000));
				rr->ports[0].end_port =
				    (uint16_t)(rr->ports[0].port + pf_test_rand_below(2000));
			}
		}
	}
	pf_ruleset_sort(rs);
	return rs;
}

/*
 * Connections from pods: half aimed at something their policies name, half anywhere. From
 * every pod of the cluster, or (local) from the pods of 3 policies only, as one node's engine
 * sees them.
 */
static void make_queries(const struct pf_ruleset *rs, struct query *q, size_t n, bool local)
{
	uint32_t n_pol = local ? (uint32_t)MIN(rs->n_policies, 3u) : (uint32_t)rs->n_policies;

	for (size_t i = 0; i < n; i++) {
		const struct pf_rs_policy *p = &rs->policies[pf_test_rand_below(n_pol)];
		const struct pf_rs_rule *r = &p->rules[pf_test_rand_below((uint32_t)p->n_rules)];

		q[i].src = p->src[pf_test_rand_below((uint32_t)p->n_src)];
		q[i].port = common_ports[pf_test_rand_below(PF_ARRAY_SIZE(common_ports))];
		if (pf_test_rand_below(2)) {
			q[i].dst = pf_test_v4(pf_test_rand_below(2)
						  ? 0x08080000u + pf_test_rand_below(65536)
						  : 0x0af50000u + pf_test_rand_below(65536));
			continue;
		}
		if (r->n_dst_ips) {
			q[i].dst = r->dst_ips[pf_test_rand_below((uint32_t)r->n_dst_ips)];
		} else if (r->n_dst_nets) {
			q[i].dst = r->dst_nets[0].addr;
			q[i].dst.b[15] |= (uint8_t)pf_test_rand_below(256);
			if (!pf_prefix_contains(&r->dst_nets[0], &q[i].dst))
				q[i].dst = r->dst_nets[0].addr;
		} else {
			q[i].dst = pf_test_v4(0x08080808u);
		}
		if (r->n_ports)
			q[i].port = (uint16_t)(r->ports[0].port +
					       pf_test_rand_below((uint32_t)(r->ports[0].end_port -
									     r->ports[0].port) +
								  1));
	}
}

/*
 * CPU time of this thread, not wall time: the test machines are shared, and a preempted
 * repetition should not count the other process's work as ours.
 */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A "Field:   N kB" line of a /proc file of this process, in kB; -1 when unknown. */
static long proc_kb(const char *path, const char *field)
{
	_cleanup_free_ char *buf = NULL;
	const char *p;
	size_t len;

	if (pf_read_file(path, 1 << 20, &buf, &len) < 0)
		return -1;
	p = strstr(buf, field);
	if (!p)
		return -1;
	return strtol(p + strlen(field), NULL, 10);
}

/* AnonHugePages of this process (kB): did the cache get its huge pages? */
static long huge_kb(void)
{
	return proc_kb("/proc/self/smaps_rollup", "AnonHugePages:");
}

/*
 * What one build holds at its peak beyond what the process held before it (MiB), -1 when the
 * kernel cannot say: the high-water mark is reset to the current RSS first (clear_refs 5),
 * the build runs, and the new high-water mark is read. The cache is freed before and the
 * allocator's free memory given back, so the figure is the build's working memory and its
 * cache together.
 */
static double build_peak_mib(const struct pf_ruleset *rs, struct pf_cache **cache)
{
	long base, hwm;
	int fd;

	*cache = pf_cache_free(*cache);
	malloc_trim(0); /* what earlier builds freed must not be counted as already resident */
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, "5", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	base = proc_kb("/proc/self/status", "VmRSS:");
	if (pf_cache_build(rs, PF_ACTION_ALLOW, cache) < 0)
		return -1;
	hwm = proc_kb("/proc/self/status", "VmHWM:");
	return base < 0 || hwm < 0 ? -1 : (double)(hwm - base) / 1024;
}

static int perf_fd = -1;

static void perf_open(void)
{
	struct perf_event_attr a = {
	    .type = PERF_TYPE_HARDWARE,
	    .size = sizeof(a),
	    .config = PERF_COUNT_HW_INSTRUCTIONS,
	    .disabled = 1,
	    .exclude_kernel = 1,
	    .exclude_hv = 1,
	};

	perf_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

struct ctx {
	const struct pf_ruleset *rs;
	const struct pf_cache *cache;
	const struct query *q;
	size_t n;
};

/* One pass over the queries; the returned sum keeps the work from being optimized away. */
static uint64_t pass(const struct ctx *x, bool naive)
{
	uint64_t sum = 0;
	struct pf_verdict v;

	for (size_t i = 0; i < x->n; i++) {
		if (naive)
			pf_ruleset_eval(x->rs, PF_ACTION_ALLOW, &x->q[i].src, &x->q[i].dst,
					x->q[i].port, &v);
		else
			pf_cache_lookup(x->cache, &x->q[i].src, &x->q[i].dst, x->q[i].port, &v);
		sum += (uint64_t)v.rule_index * 3 + v.action;
	}
	return sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

/* Median ns per lookup over reps passes of at least min_ms each; instructions per lookup. */
/*
 * The next version of rs: one policy (the middle one) changed as a whole, every Allow of its
 * rules a Deny and a destination added to the first rule naming IPs, as an edit of that
 * FencePolicy would; every other policy the same (a deep copy, sources included).
 */
static struct pf_ruleset *change_one(const struct pf_ruleset *rs, size_t *changed)
{
	struct pf_ruleset *m = pf_test_ruleset_clone(rs, SIZE_MAX);
	struct pf_rs_policy *p = &m->policies[rs->n_policies / 2];

	*changed = p->n_rules;
	for (size_t r = 0; r < p->n_rules; r++)
		if (p->rules[r].action == PF_ACTION_ALLOW)
			p->rules[r].action = PF_ACTION_DENY;
	for (size_t r = 0; r < p->n_rules; r++) {
		struct pf_rs_rule *rr = &p->rules[r];

		if (!rr->n_dst_ips)
			continue;
		rr->dst_ips = xrealloc(rr->dst_ips, rr->n_dst_ips + 1, sizeof(*rr->dst_ips));
		rr->dst_ips[rr->n_dst_ips++] = pf_test_v4(0x0a600000u + 30000); /* 10.96.117.48 */
		break;
	}
	return m;
}

struct incr_row {
	size_t rules, changed, groups, compiled;
	double full_ms, update_ms;
	bool agree, incremental;
};

/* Full build of the changed ruleset against pf_cache_update from a cache of rs,
 * medians of 5 each, and whether the update answers as the walk of the changed ruleset. */
static int measure_update(struct pf_ruleset *rs, const struct query *q, size_t nq,
			  struct incr_row *row)
{
	struct pf_ruleset *m = change_one(rs, &row->changed);
	double full[5], upd[5];
	struct pf_cache *c = NULL, *cache = NULL;
	struct pf_cache_stats st;
	size_t agree = 0;

	/* the base: a full build that keeps its ruleset to compare with */
	if (pf_cache_update(NULL, rs, PF_ACTION_ALLOW, &cache) < 0)
		return -1;

	for (int i = 0; i < 5; i++) {
		uint64_t t0 = cpu_ns();

		c = pf_cache_free(c);
		if (pf_cache_build(m, PF_ACTION_ALLOW, &c) < 0)
			return -1;
		full[i] = (double)(cpu_ns() - t0) / 1e6;
		c = pf_cache_free(c);
		t0 = cpu_ns();
		if (pf_cache_update(cache, m, PF_ACTION_ALLOW, &c) < 0)
			return -1;
		upd[i] = (double)(cpu_ns() - t0) / 1e6;
	}
	qsort(full, 5, sizeof(double), cmp_double);
	qsort(upd, 5, sizeof(double), cmp_double);
	pf_cache_get_stats(c, &st);
	for (size_t i = 0; i < nq; i++) {
		struct pf_verdict a, b;

		pf_cache_lookup(c, &q[i].src, &q[i].dst, q[i].port, &a);
		pf_ruleset_eval(m, PF_ACTION_ALLOW, &q[i].src, &q[i].dst, q[i].port, &b);
		agree += a.action == b.action && a.matched == b.matched &&
			 a.rule_index == b.rule_index && a.policy_id == b.policy_id &&
			 a.log == b.log && a.pass_rule_index == b.pass_rule_index;
	}
	row->rules = pf_ruleset_n_rules(m);
	row->groups = st.n_groups;
	row->compiled = st.n_groups_compiled;
	row->incremental = pf_cache_base(c) != c;
	row->full_ms = full[2];
	row->update_ms = upd[2];
	row->agree = agree == nq;
	pf_cache_free(c);
	pf_cache_free(cache);
	pf_ruleset_free(m);
	return 0;
}

static void measure(const struct ctx *x, bool naive, unsigned reps, double *ns, double *insn)
{
	double t[64];
	unsigned loops = 1;
	uint64_t t0, el;

	reps = MIN(reps, PF_ARRAY_SIZE(t));
	/* calibrate: enough loops that a rep takes >= 20 ms */
	for (;;) {
		t0 = cpu_ns();
		for (unsigned l = 0; l < loops; l++)
			sink += pass(x, naive);
		el = cpu_ns() - t0;
		if (el >= 20000000 || loops >= (1u << 20))
			break;
		loops *= el ? MIN(16u, (unsigned)(20000000 / el) + 1) : 16u;
	}
	for (unsigned r = 0; r < reps; r++) {
		t0 = cpu_ns();
		for (unsigned l = 0; l < loops; l++)
			sink += pass(x, naive);
		t[r] = (double)(cpu_ns() - t0) / ((double)loops * (double)x->n);
	}
	qsort(t, reps, sizeof(*t), cmp_double);
	*ns = t[reps / 2];

	*insn = -1;
	if (perf_fd >= 0) {
		uint64_t count = 0;

		ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0);
		ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
		sink += pass(x, naive);
		ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(perf_fd, &count, sizeof(count)) == (ssize_t)sizeof(count))
			*insn = (double)count / (double)x->n;
	}
}

static void fmt_insn(char *buf, size_t sz, double v)
{
	if (v < 0)
		snprintf(buf, sz, "n/a");
	else
		snprintf(buf, sz, "%.0f", v);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: bench-cache [--rules N[,N...]] [--queries N] [--reps N] [--only cache|naive]\n"
	    "                   [--cluster PCT]\n"
	    "Builds rulesets of N rules (default 10,1000,100000) and measures verdict lookups:\n"
	    "the cache against pf_ruleset_eval, ns and instructions per lookup.\n"
	    "--cluster makes PCT%% of the policies ClusterFencePolicies with Pass rules.\n"
	    "--only runs one pass of one method and no timing (for callgrind).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rules", required_argument, NULL, 'r'},
	    {"queries", required_argument, NULL, 'q'},
	    {"reps", required_argument, NULL, 'n'},
	    {"only", required_argument, NULL, 'o'},
	    {"cluster", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	uint32_t cluster_pct = 0;
	uint64_t sizes[MAX_SIZES] = {10, 1000, 100000};
	size_t n_sizes = 3;
	uint32_t n_queries = 4096, reps = 7;
	int only = -1, c;

	pf_test_rng_state = 0x5eed;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			_cleanup_free_ char *s = strdup(optarg);
			char *save = NULL;

			if (!s)
				return 1;
			n_sizes = 0;
			for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (n_sizes == MAX_SIZES ||
				    pf_parse_u64(t, PF_CACHE_MAX_RULES, &sizes[n_sizes]) < 0 ||
				    !sizes[n_sizes]) {
					fprintf(stderr, "bench-cache: bad --rules '%s'\n", optarg);
					return 2;
				}
				n_sizes++;
			}
			break;
		}
		case 'q':
			if (pf_parse_u32(optarg, 1u << 24, &n_queries) < 0 || !n_queries) {
				fprintf(stderr, "bench-cache: bad --queries '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			if (pf_parse_u32(optarg, 63, &reps) < 0 || !reps) {
				fprintf(stderr, "bench-cache: bad --reps '%s' (1..63)\n", optarg);
				return 2;
			}
			break;
		case 'o':
			if (!strcmp(optarg, "cache"))
				only = 0;
			else if (!strcmp(optarg, "naive"))
				only = 1;
			else {
				fprintf(stderr, "bench-cache: --only cache|naive\n");
				return 2;
			}
			break;
		case 'c':
			if (pf_parse_u32(optarg, 100, &cluster_pct) < 0) {
				fprintf(stderr, "bench-cache: bad --cluster '%s' (0..100)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	if (only < 0) {
		perf_open();
		printf("# verdict lookup: cache vs. rule walk, %u connections per pass, median of "
		       "%u reps (thread CPU time)\n",
		       n_queries, reps);
		printf("# instructions: perf_event_open %s\n",
		       perf_fd >= 0 ? "PERF_COUNT_HW_INSTRUCTIONS (user)" : "unavailable (n/a)");
		printf(
		    "%7s %6s %7s %6s %7s %6s %4s %9s %8s %11s %8s %9s %10s %8s %10s %11s %9s %9s "
		    "%6s\n",
		    "rules", "pols", "sources", "groups", "nodes", "tables", "lens", "build_ms",
		    "peak_MiB", "cache_bytes", "huge_kb", "cache_ns", "naive_ns", "ratio",
		    "cache_insn", "naive_insn", "local_ns", "matched%", "agree");
	}
	struct incr_row incr[MAX_SIZES] = {0};

	for (size_t s = 0; s < n_sizes; s++) {
		_cleanup_free_ struct query *q = xcalloc(n_queries, sizeof(*q));
		_cleanup_free_ struct query *ql = xcalloc(n_queries, sizeof(*ql));
		struct pf_ruleset *rs;
		struct pf_cache *cache = NULL;
		struct pf_cache_stats st;
		struct ctx x;
		size_t agree = 0, matched = 0;
		double build_ms[3], peak, cns, nns, cin, nin, lns, lin;
		char ci[32], ni[32];
		int r;

		pf_test_rng_state = 0x5eed + sizes[s];
		rs = make_ruleset(sizes[s], cluster_pct);
		make_queries(rs, q, n_queries, false);
		make_queries(rs, ql, n_queries, true);
		for (int b = 0; b < (only < 0 ? 3 : 1); b++) {
			uint64_t t0 = cpu_ns();

			cache = pf_cache_free(cache);
			r = pf_cache_build(rs, PF_ACTION_ALLOW, &cache);
			if (r < 0) {
				fprintf(stderr, "bench-cache: build of %llu rules: %s\n",
					(unsigned long long)sizes[s], strerror(-r));
				return 1;
			}
			build_ms[b] = (double)(cpu_ns() - t0) / 1e6;
		}
		x = (struct ctx){.rs = rs, .cache = cache, .q = q, .n = n_queries};
		if (only >= 0) {
			sink += pass(&x, only == 1);
			pf_cache_free(cache);
			pf_ruleset_free(rs);
			continue;
		}
		qsort(build_ms, 3, sizeof(double), cmp_double);
		peak = build_peak_mib(rs, &cache);
		if (!cache) {
			fprintf(stderr, "bench-cache: build of %llu rules failed\n",
				(unsigned long long)sizes[s]);
			return 1;
		}
		x.cache = cache;
		for (size_t i = 0; i < n_queries; i++) {
			struct pf_verdict a, b;

			pf_cache_lookup(cache, &q[i].src, &q[i].dst, q[i].port, &a);
			pf_ruleset_eval(rs, PF_ACTION_ALLOW, &q[i].src, &q[i].dst, q[i].port, &b);
			agree += a.action == b.action && a.matched == b.matched &&
				 a.rule_index == b.rule_index && a.policy_id == b.policy_id &&
				 a.log == b.log && a.cluster == b.cluster &&
				 a.pass_policy_id == b.pass_policy_id &&
				 a.pass_rule_index == b.pass_rule_index;
			matched += b.matched;
		}
		measure(&x, false, reps, &cns, &cin);
		measure(&x, true, reps, &nns, &nin);
		x.q = ql;
		measure(&x, false, reps, &lns, &lin);
		pf_cache_get_stats(cache, &st);
		fmt_insn(ci, sizeof(ci), cin);
		fmt_insn(ni, sizeof(ni), nin);
		printf("%7llu %6zu %7zu %6zu %7zu %6zu %4zu %9.2f %8.1f %11zu %8ld %9.1f %10.1f "
		       "%8.1f %10s "
		       "%11s %9.1f %9.1f %6s\n",
		       (unsigned long long)pf_ruleset_n_rules(rs), rs->n_policies, st.n_sources,
		       st.n_groups, st.n_dst_nodes, st.n_port_tables, st.max_prefix_lens,
		       build_ms[1], peak, st.bytes, huge_kb(), cns, nns, nns / cns, ci, ni, lns,
		       100.0 * (double)matched / (double)n_queries,
		       agree == n_queries ? "yes" : "NO");
		fflush(stdout);
		cache = pf_cache_free(cache);
		if (measure_update(rs, q, n_queries, &incr[s]) < 0) {
			fprintf(stderr, "bench-cache: update at %llu rules failed\n",
				(unsigned long long)sizes[s]);
			return 1;
		}
		pf_cache_free(cache);
		pf_ruleset_free(rs);
	}
	if (only >= 0)
		return 0;
	printf(
	    "# one policy changed (every Allow of its rules a Deny, one destination added): "
	    "pf_cache_build of the new ruleset vs pf_cache_update from the cache of the old one, "
	    "median of 5 (thread CPU time)\n");
	printf("%7s %7s %6s %8s %9s %10s %8s %11s %6s\n", "rules", "changed", "groups", "compiled",
	       "full_ms", "update_ms", "ratio", "incremental", "agree");
	for (size_t s = 0; s < n_sizes; s++)
		printf("%7zu %7zu %6zu %8zu %9.2f %10.2f %8.1f %11s %6s\n", incr[s].rules,
		       incr[s].changed, incr[s].groups, incr[s].compiled, incr[s].full_ms,
		       incr[s].update_ms, incr[s].full_ms / incr[s].update_ms,
		       incr[s].incremental ? "yes" : "no", incr[s].agree ? "yes" : "NO");
	return 0;
}
