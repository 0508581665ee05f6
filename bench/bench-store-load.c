/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ruleset load time: pf_store_load_ruleset on a generated store (pods, workloads, policies),
 * the median of several loads per size. A registration waits for a load and a cache compile,
 * so this is container start latency. Prints measured numbers and a digest of the ruleset, so
 * a build of another git revision run the same way shows whether it loads the same ruleset
 * and how fast (bench/README.md); that the loader's result is right is the business of
 * test-store-ruleset (against its reference loader). Prints measured numbers only.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "store.h"
#include "testutil.h"
#include "util.h"

#define MAX_SIZES 16
#define N_NS 10
#define N_PODS 100
#define N_DEPLOYMENTS 20
#define N_SERVICES 50
#define RULES_PER_POLICY 10

static void die(const char *what)
{
	fprintf(stderr, "bench-store-load: %s\n", what);
	exit(1);
}

static void *xgrow(void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (!p)
		die("out of memory");
	return p;
}

/* ---- the data set ------------------------------------------------------------------------- */

static const char *ns_of(unsigned k)
{
	static const char *const ns[N_NS] = {"ns0", "ns1", "ns2", "ns3", "ns4",
					     "ns5", "ns6", "ns7", "ns8", "ns9"};

	return ns[k % N_NS];
}

/* Pod k lives in ns_of(k); even pods are dual-stack. */
static size_t pod_ips(unsigned k, struct pf_addr *a)
{
	char buf[64];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "10.1.%u.%u", k / 250, k % 250 + 1);
	if (pf_addr_parse(buf, &a[n++]) < 0)
		die("bad address");
	if (k % 2 == 0) {
		snprintf(buf, sizeof(buf), "fd00::1:%x", k);
		if (pf_addr_parse(buf, &a[n++]) < 0)
			die("bad address");
	}
	return n;
}

static void set_ref(struct pf_ref *r, enum pf_kind kind, const char *ns, const char *name)
{
	r->kind = kind;
	r->namespace = xstrdup(kind == PF_KIND_NAMESPACE ? name : ns);
	r->name = xstrdup(name);
}

static void to_ref(struct pf_rule *r, enum pf_kind kind, const char *ns, const char *name)
{
	r->to = xgrow(r->to, r->n_to + 1, sizeof(*r->to));
	memset(&r->to[r->n_to], 0, sizeof(r->to[0]));
	set_ref(&r->to[r->n_to++].ref, kind, ns, name);
}

static void to_cidr(struct pf_rule *r, const char *cidr)
{
	r->to = xgrow(r->to, r->n_to + 1, sizeof(*r->to));
	memset(&r->to[r->n_to], 0, sizeof(r->to[0]));
	r->to[r->n_to].is_cidr = true;
	if (pf_prefix_parse(cidr, &r->to[r->n_to].cidr, NULL) < 0)
		die("bad cidr");
	r->n_to++;
}

static void add_port(struct pf_rule *r, uint16_t port, uint16_t end_port)
{
	r->ports = xgrow(r->ports, r->n_ports + 1, sizeof(*r->ports));
	r->ports[r->n_ports].port = port;
	r->ports[r->n_ports].protocol = PF_PROTO_TCP;
	r->ports[r->n_ports++].end_port = end_port;
}

/* Policy i: applies to a Deployment of its namespace (sometimes also a Pod or a Namespace, or a
 * Deployment sync does not know); 10 rules: Services, CIDRs, Pods and Deployments,
 * Namespaces, with ports, and a closing Deny. */
static struct pf_policy *make_policy(unsigned i)
{
	static const enum pf_action actions[] = {PF_ACTION_ALLOW, PF_ACTION_ALLOW, PF_ACTION_DENY,
						 PF_ACTION_REJECT, PF_ACTION_ALERT};
	struct pf_policy *p = calloc(1, sizeof(*p));
	unsigned d = i % N_NS + N_NS * ((i / N_NS) % 2);
	char name[64];

	if (!p)
		die("out of memory");
	snprintf(name, sizeof(name), "pol-%05u", i);
	p->namespace = xstrdup(ns_of(d));
	p->name = xstrdup(name);
	p->priority = (i % 13) * 10;
	p->applies_to = xgrow(NULL, 3, sizeof(*p->applies_to));
	snprintf(name, sizeof(name), i % 13 == 5 ? "dep-%u-gone" : "dep-%u", d);
	set_ref(&p->applies_to[p->n_applies_to++], PF_KIND_DEPLOYMENT, p->namespace, name);
	if (i % 7 == 0) {
		snprintf(name, sizeof(name), "pod-%u", (d + 20) % N_PODS);
		set_ref(&p->applies_to[p->n_applies_to++], PF_KIND_POD, p->namespace, name);
	}
	if (i % 11 == 0)
		set_ref(&p->applies_to[p->n_applies_to++], PF_KIND_NAMESPACE, "", ns_of(i + 3));

	p->egress = xgrow(NULL, RULES_PER_POLICY, sizeof(*p->egress));
	for (unsigned j = 0; j < RULES_PER_POLICY; j++) {
		struct pf_rule *r = &p->egress[p->n_egress++];
		unsigned k = i * 7 + j * 3;
		char buf[64];

		memset(r, 0, sizeof(*r));
		r->action = actions[(i + j) % 5];
		r->log = (i + j) % 3 == 0;
		if (j + 1 == RULES_PER_POLICY) {
			r->action = PF_ACTION_DENY;
			continue;
		}
		switch (j % 4) {
		case 0:
			snprintf(buf, sizeof(buf), "svc-%u", k % N_SERVICES);
			to_ref(r, PF_KIND_SERVICE, ns_of(k % N_SERVICES), buf);
			if (i % 2) {
				snprintf(buf, sizeof(buf), "svc-%u", (k + 10) % N_SERVICES);
				to_ref(r, PF_KIND_SERVICE, ns_of(k % N_SERVICES), buf);
			}
			add_port(r, 443, 443);
			break;
		case 1:
			snprintf(buf, sizeof(buf), "10.%u.%u.0/24", i % 200, j);
			to_cidr(r, buf);
			if (i % 2) {
				snprintf(buf, sizeof(buf), "fd10:%x::/64", i);
				to_cidr(r, buf);
			}
			add_port(r, 8000, 8100);
			break;
		case 2:
			snprintf(buf, sizeof(buf), "pod-%u", k % N_PODS);
			to_ref(r, PF_KIND_POD, ns_of(k % N_PODS), buf);
			snprintf(buf, sizeof(buf), "dep-%u", k % N_DEPLOYMENTS);
			to_ref(r, PF_KIND_DEPLOYMENT, ns_of(k % N_DEPLOYMENTS), buf);
			break;
		default:
			to_ref(r, PF_KIND_NAMESPACE, "", ns_of(k));
			add_port(r, 53, 53);
			add_port(r, 5353, 5353);
			break;
		}
	}
	return p;
}

static void must(int r, const struct pf_error *err)
{
	if (r < 0)
		die(err->msg);
}

/* 100 registered pods, 20 Deployments (5 pods each by name, one not registered yet, and the
 * IPs of 4: sync has not learnt the fifth), 50 Services (a cluster IP and 3 pods), Namespace
 * workloads for half the namespaces, and n_rules / 10 policies. */
static void populate(struct pf_store *s, unsigned n_rules)
{
	struct pf_error err = {0};
	unsigned n_pol = n_rules / RULES_PER_POLICY;
	struct pf_policy_doc *docs = calloc(n_pol ? n_pol : 1, sizeof(*docs));

	if (!docs)
		die("out of memory");
	for (unsigned k = 0; k < N_PODS; k++) {
		char name[32], ct[32];
		char *cts[] = {ct};
		struct pf_addr a[2];
		struct pf_pod_record p = {
		    .namespace = (char *)ns_of(k),
		    .name = name,
		    .kind = (char *)"Pod",
		    .netns_dev = 4,
		    .netns_ino = 1000 + k,
		    .netns_path = (char *)"/proc/1/ns/net",
		    .containers = cts,
		    .n_containers = 1,
		    .ips = a,
		    .n_ips = pod_ips(k, a),
		    .state = (char *)"enforced",
		};

		snprintf(name, sizeof(name), "pod-%u", k);
		snprintf(ct, sizeof(ct), "c%08x", k);
		must(pf_store_put_pod(s, &p, &err), &err);
	}

	must(pf_store_begin(s, &err), &err);
	for (unsigned d = 0; d < N_DEPLOYMENTS; d++) {
		char name[32], pods[6][32];
		const char *pp[6];
		struct pf_addr ips[12];
		size_t n_ips = 0, n_pods = 0;

		snprintf(name, sizeof(name), "dep-%u", d);
		for (unsigned k = d; k < N_PODS; k += N_DEPLOYMENTS) {
			snprintf(pods[n_pods], sizeof(pods[0]), "pod-%u", k);
			pp[n_pods] = pods[n_pods];
			n_pods++;
			if (k + N_DEPLOYMENTS < N_PODS)
				n_ips += pod_ips(k, &ips[n_ips]);
		}
		snprintf(pods[n_pods], sizeof(pods[0]), "dep-%u-pending", d);
		pp[n_pods] = pods[n_pods];
		n_pods++;
		must(pf_store_put_workload(s, PF_KIND_DEPLOYMENT, ns_of(d), name, ips, n_ips, &err),
		     &err);
		must(pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, ns_of(d), name, pp, n_pods,
						&err),
		     &err);
	}
	for (unsigned v = 0; v < N_SERVICES; v++) {
		char name[32], buf[32];
		struct pf_addr ips[8];
		size_t n_ips = 0;

		snprintf(name, sizeof(name), "svc-%u", v);
		snprintf(buf, sizeof(buf), "10.96.0.%u", v + 1);
		if (pf_addr_parse(buf, &ips[n_ips++]) < 0)
			die("bad address");
		for (unsigned b = 0; b < 3; b++)
			n_ips += pod_ips((v + b * N_NS) % N_PODS, &ips[n_ips]);
		must(pf_store_put_workload(s, PF_KIND_SERVICE, ns_of(v), name, ips, n_ips, &err),
		     &err);
	}
	for (unsigned n = 0; n < N_NS / 2; n++) {
		struct pf_addr ips[2 * N_PODS / N_NS];
		size_t n_ips = 0;

		for (unsigned k = n; k < N_PODS; k += N_NS)
			n_ips += pod_ips(k, &ips[n_ips]);
		must(pf_store_put_workload(s, PF_KIND_NAMESPACE, ns_of(n), ns_of(n), ips, n_ips,
					   &err),
		     &err);
	}
	must(pf_store_commit(s, &err), &err);

	for (unsigned i = 0; i < n_pol; i++)
		docs[i] = (struct pf_policy_doc){.policy = make_policy(i), .index = i};
	if (pf_store_sync_source(s, "/bench.yaml", docs, n_pol, &err) != 0)
		die(err.msg[0] ? err.msg : "policies rejected");
	for (unsigned i = 0; i < n_pol; i++)
		pf_policy_doc_clear(&docs[i]);
	free(docs);
}

/* ---- comparing and timing ------------------------------------------------------------------ */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-store-load [--rules N,N,...] [--reps N]\n"
		   "  --rules  rule counts to measure (default 100,1000,10000; 10 rules a policy)\n"
		   "  --reps   loads per size, the median is printed (default 9)\n");
}

/* FNV-1a over what the ruleset holds, in order: equal digests, equal rulesets. */
static void digest_add(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ c[i]) * 0x100000001b3ull;
}

static void digest_u64(uint64_t *h, uint64_t v)
{
	digest_add(h, &v, sizeof(v));
}

static void digest_addrs(uint64_t *h, const struct pf_addr *a, size_t n)
{
	digest_u64(h, n);
	for (size_t i = 0; i < n; i++) {
		char t[PF_ADDR_STRLEN];

		digest_add(h, pf_addr_fmt(&a[i], t), strlen(t) + 1);
	}
}

static uint64_t rs_digest(const struct pf_ruleset *rs)
{
	uint64_t h = 0xcbf29ce484222325ull;

	digest_u64(&h, rs->n_policies);
	for (size_t i = 0; i < rs->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];

		digest_u64(&h, p->id);
		digest_add(&h, p->namespace, strlen(p->namespace) + 1);
		digest_add(&h, p->name, strlen(p->name) + 1);
		digest_u64(&h, p->priority);
		digest_addrs(&h, p->src, p->n_src);
		digest_u64(&h, p->n_rules);
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *r = &p->rules[j];

			digest_u64(&h, r->rule_index);
			digest_u64(&h, r->action);
			digest_u64(&h, r->log);
			digest_u64(&h, r->any_dst);
			digest_addrs(&h, r->dst_ips, r->n_dst_ips);
			digest_u64(&h, r->n_dst_nets);
			for (size_t k = 0; k < r->n_dst_nets; k++) {
				char t[PF_PREFIX_STRLEN];

				digest_add(&h, pf_prefix_fmt(&r->dst_nets[k], t), strlen(t) + 1);
			}
			digest_u64(&h, r->n_ports);
			for (size_t k = 0; k < r->n_ports; k++) {
				digest_u64(&h, r->ports[k].port);
				digest_u64(&h, r->ports[k].end_port);
			}
		}
	}
	return h;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rules", required_argument, NULL, 'r'},
	    {"reps", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned sizes[MAX_SIZES] = {100, 1000, 10000};
	size_t n_sizes = 3;
	uint32_t reps = 9;
	char dir[] = "/tmp/pf-bench-store.XXXXXX";
	int c;

	while ((c = getopt_long(argc, argv, "r:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			char *save = NULL;

			n_sizes = 0;
			for (char *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				uint32_t v;

				if (n_sizes == MAX_SIZES || pf_parse_u32(t, 1000000, &v) < 0 ||
				    v < RULES_PER_POLICY) {
					usage(stderr);
					return 2;
				}
				sizes[n_sizes++] = v;
			}
			break;
		}
		case 'n':
			if (pf_parse_u32(optarg, 100000, &reps) < 0 || reps == 0) {
				usage(stderr);
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
	if (!mkdtemp(dir))
		die("mkdtemp failed");

	printf("%7s %6s %8s %9s %10s %18s\n", "rules", "pols", "src_ips", "dst_ips", "load_ms",
	       "digest");
	for (size_t z = 0; z < n_sizes; z++) {
		struct pf_error err = {0};
		struct pf_store *s = NULL;
		struct pf_ruleset *rs = NULL;
		double *t = calloc(reps, sizeof(double));
		size_t n_src = 0, n_dst = 0;
		char path[sizeof(dir) + 32];
		uint64_t digest;

		if (!t)
			die("out of memory");
		snprintf(path, sizeof(path), "%s/%u.db", dir, sizes[z]);
		must(pf_store_open(path, 0, &s, &err), &err);
		populate(s, sizes[z]);

		/* Warm (page cache, statement cache), and count what it resolves. */
		must(pf_store_load_ruleset(s, &rs, &err), &err);
		digest = rs_digest(rs);
		for (size_t i = 0; i < rs->n_policies; i++) {
			n_src += rs->policies[i].n_src;
			for (size_t j = 0; j < rs->policies[i].n_rules; j++)
				n_dst += rs->policies[i].rules[j].n_dst_ips;
		}
		pf_ruleset_free(rs);

		for (uint32_t k = 0; k < reps; k++) {
			uint64_t t0, t1;

			t0 = pf_mono_ns();
			must(pf_store_load_ruleset(s, &rs, &err), &err);
			t1 = pf_mono_ns();
			pf_ruleset_free(rs);
			t[k] = (double)(t1 - t0) / 1e6;
		}
		printf("%7u %6u %8zu %9zu %10.3f   %016" PRIx64 "\n", sizes[z],
		       sizes[z] / RULES_PER_POLICY, n_src, n_dst, median(t, reps), digest);
		fflush(stdout);
		pf_store_close(s);
		free(t);
	}
	{
		char cmd[sizeof(dir) + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-store-load: could not remove %s\n", dir);
	}
	return 0;
}
