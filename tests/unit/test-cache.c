/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verdict cache: targeted cases, then a differential test against the rule-walking
 * reference evaluator (pf_ruleset_eval) over thousands of random rulesets.
 * PF_TEST_SEED=N reproduces a run; PF_TEST_ROUNDS=N changes how many rulesets are tried.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>

#include "cache.h"
#include "tap.h"
#include "testutil.h"

/* ---- building rulesets by hand ---- */

static struct pf_addr A(const char *s) {
	struct pf_addr a;

	if (pf_addr_parse(s, &a) < 0)
		abort();
	return a;
}

static struct pf_prefix
P(const char *s) {
	struct pf_prefix p;

	if (pf_prefix_parse(s, &p, NULL) < 0)
		abort();
	return p;
}

static struct pf_ruleset *
rs_new(void)
{
	return xcalloc(1, sizeof(struct pf_ruleset));
}

/* Pointers into rs->policies move when more are added: use the result before the next call. */
static struct pf_rs_policy *add_policy(struct pf_ruleset *rs, uint32_t id, const char *ns,
				       const char *name, uint32_t prio)
{
	struct pf_rs_policy *p;

	rs->policies = xrealloc(rs->policies, rs->n_policies + 1, sizeof(*rs->policies));
	p = &rs->policies[rs->n_policies];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->namespace = xstrdup(ns);
	p->name = xstrdup(name);
	p->priority = prio;
	rs->n_policies++;
	return p;
}

static struct pf_rs_policy *add_cluster(struct pf_ruleset *rs, uint32_t id, const char *name,
					uint32_t prio)
{
	struct pf_rs_policy *p = add_policy(rs, id, "", name, prio);

	p->cluster = true;
	return p;
}

static void add_src_addr(struct pf_rs_policy *p, struct pf_addr a)
{
	p->src = xrealloc(p->src, p->n_src + 1, sizeof(*p->src));
	p->src[p->n_src++] = a;
}

static void add_src(struct pf_rs_policy *p, const char *ip)
{
	add_src_addr(p, A(ip));
}

static struct pf_rs_rule *add_rule(struct pf_rs_policy *p, enum pf_action act, bool log)
{
	struct pf_rs_rule *r;

	p->rules = xrealloc(p->rules, p->n_rules + 1, sizeof(*p->rules));
	r = &p->rules[p->n_rules];
	memset(r, 0, sizeof(*r));
	r->action = act;
	r->log = log;
	r->rule_index = (uint32_t)p->n_rules++;
	return r;
}

static void rule_ip_addr(struct pf_rs_rule *r, struct pf_addr a)
{
	r->dst_ips = xrealloc(r->dst_ips, r->n_dst_ips + 1, sizeof(*r->dst_ips));
	r->dst_ips[r->n_dst_ips++] = a;
}

static void rule_ip(struct pf_rs_rule *r, const char *ip)
{
	rule_ip_addr(r, A(ip));
}

static void rule_net_p(struct pf_rs_rule *r, struct pf_prefix p)
{
	r->dst_nets = xrealloc(r->dst_nets, r->n_dst_nets + 1, sizeof(*r->dst_nets));
	r->dst_nets[r->n_dst_nets++] = p;
}

static void rule_net(struct pf_rs_rule *r, const char *cidr)
{
	rule_net_p(r, P(cidr));
}

static void rule_port(struct pf_rs_rule *r, uint16_t lo, uint16_t hi)
{
	r->ports = xrealloc(r->ports, r->n_ports + 1, sizeof(*r->ports));
	r->ports[r->n_ports++] = (struct pf_port_range){.port = lo, .end_port = hi};
}

static void rule_port_proto(struct pf_rs_rule *r, uint16_t lo, uint16_t hi, enum pf_protocol pr)
{
	rule_port(r, lo, hi);
	r->ports[r->n_ports - 1].protocol = (uint8_t)pr;
}

static void rule_fqdn(struct pf_rs_rule *r, const char *name)
{
	r->fqdns = xrealloc(r->fqdns, r->n_fqdns + 1, sizeof(*r->fqdns));
	r->fqdns[r->n_fqdns++] = xstrdup(name);
}

/* ---- what a pod resolved: a small table of (address, name) the test's pf_names reads ---- */

#define MAX_NAMES 16

struct name_table {
	struct {
		struct pf_addr a;
		const char *names[4];
		size_t n;
	} e[MAX_NAMES];
	size_t n;
	unsigned long lookups;
};

static size_t names_lookup(void *ctx, const struct pf_addr *dst, const char *const **out)
{
	struct name_table *t = ctx;

	t->lookups++;
	for (size_t i = 0; i < t->n; i++)
		if (pf_addr_eq(&t->e[i].a, dst)) {
			*out = t->e[i].names;
			return t->e[i].n;
		}
	return 0;
}

static void names_add(struct name_table *t, struct pf_addr a, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (pf_addr_eq(&t->e[i].a, &a)) {
			if (t->e[i].n < PF_ARRAY_SIZE(t->e[i].names))
				t->e[i].names[t->e[i].n++] = name;
			return;
		}
	if (t->n < MAX_NAMES) {
		t->e[t->n].a = a;
		t->e[t->n].names[0] = name;
		t->e[t->n++].n = 1;
	}
}

/* ---- comparing ---- */

static const char *act_name(enum pf_action a)
{
	static const char *const names[] = {"Allow", "Deny", "Reject", "Alert", "Pass"};

	return (unsigned)a < PF_ARRAY_SIZE(names) ? names[a] : "?";
}

static bool verdict_eq(const struct pf_verdict *a, const struct pf_verdict *b)
{
	return a->action == b->action && a->log == b->log && a->matched == b->matched &&
	       a->policy_id == b->policy_id && a->rule_index == b->rule_index &&
	       a->cluster == b->cluster && a->pass_policy_id == b->pass_policy_id &&
	       a->pass_rule_index == b->pass_rule_index &&
	       (a->pass_name == NULL) == (b->pass_name == NULL) &&
	       (!a->pass_name || !strcmp(a->pass_name, b->pass_name)) &&
	       (a->policy_namespace == NULL) == (b->policy_namespace == NULL) &&
	       (a->policy_name == NULL) == (b->policy_name == NULL) &&
	       (!a->policy_namespace || !strcmp(a->policy_namespace, b->policy_namespace)) &&
	       (!a->policy_name || !strcmp(a->policy_name, b->policy_name));
}

static void verdict_diag(const char *what, const struct pf_verdict *v)
{
	tap_diag("%s: action=%s log=%d matched=%d cluster=%d policy=%u %s/%s rule=%d pass=%u %s "
		 "rule %d",
		 what, act_name(v->action), v->log, v->matched, v->cluster, v->policy_id,
		 pf_strna(v->policy_namespace), pf_strna(v->policy_name), v->rule_index,
		 v->pass_policy_id, pf_strna(v->pass_name), v->pass_rule_index);
}

/* Expect (src -> dst:port) to be decided by policy `name` rule `idx` with `act`; name NULL:
 * no rule matches, the default `act` applies. Also checks the reference agrees. */
static void expect(const struct pf_cache *c, const struct pf_ruleset *rs, enum pf_action def,
		   const char *src, const char *dst, uint16_t port, enum pf_action act,
		   const char *name, int idx)
{
	struct pf_addr s = A(src), d = A(dst);
	struct pf_verdict v, ref;
	bool good;

	pf_cache_lookup(c, &s, &d, port, &v);
	pf_ruleset_eval(rs, def, &s, &d, port, &ref);
	if (name)
		good = v.matched && v.action == act && v.policy_name &&
		       !strcmp(v.policy_name, name) && v.rule_index == idx;
	else
		good = !v.matched && v.action == act && v.rule_index == -1 && !v.policy_name &&
		       !v.policy_namespace;
	ok(good && verdict_eq(&v, &ref), "%s -> %s:%u is %s by %s rule %d", src, dst, port,
	   act_name(act), name ? name : "(default)", idx);
	if (!good || !verdict_eq(&v, &ref)) {
		verdict_diag("cache", &v);
		verdict_diag("reference", &ref);
	}
}

static struct pf_cache *build_or_die(const struct pf_ruleset *rs, enum pf_action def)
{
	struct pf_cache *c = NULL;
	int r = pf_cache_build(rs, def, &c);

	if (r < 0) {
		printf("Bail out! pf_cache_build: %s\n", strerror(-r));
		exit(1);
	}
	return c;
}

/* ---- targeted cases ---- */

static void test_empty(void)
{
	static const enum pf_action defs[] = {PF_ACTION_ALLOW, PF_ACTION_DENY, PF_ACTION_REJECT,
					      PF_ACTION_ALERT};
	struct pf_ruleset *rs = rs_new();
	struct pf_cache_stats st;

	for (size_t i = 0; i < PF_ARRAY_SIZE(defs); i++) {
		struct pf_cache *c = build_or_die(rs, defs[i]);

		expect(c, rs, defs[i], "10.0.0.1", "10.0.0.2", 80, defs[i], NULL, -1);
		expect(c, rs, defs[i], "fd00::1", "::1", 0, defs[i], NULL, -1);
		ok(!pf_cache_has_source(c, &(struct pf_addr){{0}}), "empty cache has no source");
		is_int(pf_cache_default_action(c), defs[i], "default action kept");
		pf_cache_free(c);
	}

	{
		struct pf_cache *c = build_or_die(NULL, PF_ACTION_DENY);

		expect(c, rs, PF_ACTION_DENY, "10.0.0.1", "10.0.0.2", 80, PF_ACTION_DENY, NULL, -1);
		pf_cache_get_stats(c, &st);
		ok(st.n_sources == 0 && st.n_groups == 0 && st.n_dst_nodes == 0 && st.bytes > 0,
		   "NULL ruleset: empty cache (%zu bytes)", st.bytes);
		pf_cache_free(c);
	}
	ok(pf_cache_free(NULL) == NULL, "pf_cache_free(NULL)");
	pf_ruleset_free(rs);
}

/* A source whose policies have no rules (or rules naming nothing) gets the default. */
static void test_no_rules(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_cache *c;

	p = add_policy(rs, 1, "ns", "empty", 10);
	add_src(p, "10.0.0.1");
	p = add_policy(rs, 2, "ns", "unresolved", 20);
	add_src(p, "10.0.0.1");
	add_rule(p, PF_ACTION_DENY,
		 false); /* `to` named a workload with no pods yet: matches nothing */
	c = build_or_die(rs, PF_ACTION_REJECT);
	{
		struct pf_addr s = A("10.0.0.1");

		ok(pf_cache_has_source(c, &s), "source with empty policies is known");
	}
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.2.3.4", 80, PF_ACTION_REJECT, NULL, -1);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* A broader CIDR in an earlier policy beats a narrower one later, for the ports it names. */
static void test_cidr_covered_by_earlier(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 1, "shop", "broad", 10);
	add_src(p, "10.9.0.5");
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "10.0.0.0/8");
	rule_port(r, 80, 80);
	p = add_policy(rs, 2, "shop", "narrow", 20);
	add_src(p, "10.9.0.5");
	r = add_rule(p, PF_ACTION_ALLOW, true);
	rule_net(r, "10.1.0.0/16");
	c = build_or_die(rs, PF_ACTION_ALERT);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.1.2.3", 80, PF_ACTION_DENY, "broad", 0);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.1.2.3", 81, PF_ACTION_ALLOW, "narrow", 0);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.1.2.3", 79, PF_ACTION_ALLOW, "narrow", 0);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.2.0.0", 81, PF_ACTION_ALERT, NULL, -1);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.2.0.0", 80, PF_ACTION_DENY, "broad", 0);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.1.255.255", 80, PF_ACTION_DENY, "broad", 0);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "10.0.255.255", 81, PF_ACTION_ALERT, NULL, -1);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.5", "11.0.0.0", 80, PF_ACTION_ALERT, NULL, -1);
	expect(c, rs, PF_ACTION_ALERT, "10.9.0.6", "10.1.2.3", 80, PF_ACTION_ALERT, NULL, -1);
	{
		struct pf_addr s = A("10.9.0.5"), d = A("10.1.0.1");
		struct pf_verdict v;

		pf_cache_lookup(c, &s, &d, 443, &v);
		ok(v.log && v.policy_id == 2 && !strcmp(v.policy_namespace, "shop"),
		   "log flag, id and namespace carried");
	}
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* Within one policy rule order decides between an exact IP and a prefix, either way round. */
static void test_exact_vs_prefix(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 1, "a", "prefix-first", 10);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "10.1.0.0/16");
	rule_port(r, 443, 443);
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_ip(r, "10.1.2.3");
	p = add_policy(rs, 2, "a", "exact-first", 10);
	add_src(p, "10.0.0.2");
	r = add_rule(p, PF_ACTION_REJECT, false);
	rule_ip(r, "10.1.2.3");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "10.0.0.0/8");
	r = add_rule(p, PF_ACTION_ALERT, false);
	r->any_dst = true;
	c = build_or_die(rs, PF_ACTION_DENY);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.1", "10.1.2.3", 443, PF_ACTION_ALLOW, "prefix-first",
	       0);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.1", "10.1.2.3", 80, PF_ACTION_DENY, "prefix-first",
	       1);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.1", "10.1.2.4", 443, PF_ACTION_ALLOW, "prefix-first",
	       0);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.1", "10.1.2.4", 80, PF_ACTION_DENY, NULL, -1);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.2", "10.1.2.3", 443, PF_ACTION_REJECT, "exact-first",
	       0);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.2", "10.1.2.4", 443, PF_ACTION_ALLOW, "exact-first",
	       1);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.2", "192.168.0.1", 443, PF_ACTION_ALERT,
	       "exact-first", 2);
	expect(c, rs, PF_ACTION_DENY, "10.0.0.3", "10.1.2.3", 443, PF_ACTION_DENY, NULL, -1);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* Nested prefixes: each port falls to the first rule, not to the longest prefix. */
static void test_nested(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 7, "n", "nested", 1);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "10.1.0.0/16");
	rule_port(r, 50, 60);
	r = add_rule(p, PF_ACTION_ALERT, false);
	rule_net(r, "10.0.0.0/8");
	rule_port(r, 1, 100);
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "10.1.2.0/24");
	r = add_rule(p, PF_ACTION_REJECT, false);
	rule_ip(r, "10.1.2.9");
	rule_port(r, 7000, 7000);
	c = build_or_die(rs, PF_ACTION_ALLOW);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 55, PF_ACTION_DENY, "nested", 0);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 49, PF_ACTION_ALERT, "nested", 1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 60, PF_ACTION_DENY, "nested", 0);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 61, PF_ACTION_ALERT, "nested", 1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 100, PF_ACTION_ALERT, "nested", 1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 101, PF_ACTION_ALLOW, "nested", 2);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.9", 7000, PF_ACTION_ALLOW, "nested", 2);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.3.9", 7000, PF_ACTION_ALLOW, NULL, -1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.3.9", 55, PF_ACTION_DENY, "nested", 0);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.200.3.9", 55, PF_ACTION_ALERT, "nested", 1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.200.3.9", 0, PF_ACTION_ALLOW, NULL, -1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.0", 65535, PF_ACTION_ALLOW, "nested", 2);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.2.255", 0, PF_ACTION_ALLOW, "nested", 2);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.1.1.255", 0, PF_ACTION_ALLOW, NULL, -1);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

static void test_ipv6(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 3, "v6", "six", 5);
	add_src(p, "fd00::10");
	add_src(p, "10.0.0.10"); /* a dual-stack pod: both its IPs are sources */
	r = add_rule(p, PF_ACTION_REJECT, false);
	rule_ip(r, "fd00:1::1");
	rule_port(r, 22, 22);
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "fd00:1::/64");
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "0.0.0.0/0"); /* every IPv4 destination, no IPv6 one */
	rule_port(r, 1, 1023);
	r = add_rule(p, PF_ACTION_ALERT, false);
	rule_net(r, "::/0"); /* every IPv6 destination, no IPv4 one */
	rule_port(r, 1, 1023);
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "fd00:1::/127");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "2001:db8::1/128");
	c = build_or_die(rs, PF_ACTION_REJECT);
	expect(c, rs, PF_ACTION_REJECT, "fd00::10", "fd00:1::1", 22, PF_ACTION_REJECT, "six", 0);
	expect(c, rs, PF_ACTION_REJECT, "fd00::10", "fd00:1::1", 23, PF_ACTION_ALLOW, "six", 1);
	expect(c, rs, PF_ACTION_REJECT, "fd00::10", "fd00:1::ffff:ffff:ffff:ffff", 22,
	       PF_ACTION_ALLOW, "six", 1);
	expect(c, rs, PF_ACTION_REJECT, "fd00::10", "fd00:1:0:1::", 22, PF_ACTION_ALERT, "six", 3);
	expect(c, rs, PF_ACTION_REJECT, "fd00::10", "fd00:1:0:1::", 2222, PF_ACTION_REJECT, NULL,
	       -1);
	expect(c, rs, PF_ACTION_REJECT, "fd00::10", "8.8.8.8", 53, PF_ACTION_DENY, "six", 2);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.10", "8.8.8.8", 1024, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.10", "::ffff:8.8.8.8", 1, PF_ACTION_DENY, "six", 2);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.10", "2001:db8::1", 1024, PF_ACTION_ALLOW, "six",
	       5);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.10", "2001:db8::2", 1024, PF_ACTION_REJECT, NULL,
	       -1);
	expect(c, rs, PF_ACTION_REJECT, "fd00::11", "fd00:1::1", 23, PF_ACTION_REJECT, NULL, -1);
	/* ::/0 matched 1..1023 on IPv6; an IPv4 destination past rule 2's ports is not its */
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.10", "8.8.8.8", 1023, PF_ACTION_DENY, "six", 2);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/*
 * The families never mix: IPv4 is held as ::ffff:a.b.c.d, so every IPv6 prefix from ::/0 to
 * ::/80 covers all of IPv4 bit-wise, yet holds none of it; an IPv4 prefix holds no IPv6
 * address. [Allow ::/0, Reject] refuses an IPv4 connect.
 */
static void test_family(void)
{
	static const char *const v6_covering[] = {"::/0",  "::/1",  "::/64",
						  "::/80", "::/95", "::fffe:0:0/95"};
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 1, "fam", "all-v6", 1);
	add_src(p, "10.0.0.1");
	add_src(p, "fd00::1");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "::/0");
	r = add_rule(p, PF_ACTION_REJECT, false);
	r->any_dst = true;
	c = build_or_die(rs, PF_ACTION_ALLOW);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.0.0.2", 80, PF_ACTION_REJECT, "all-v6", 1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "0.0.0.0", 80, PF_ACTION_REJECT, "all-v6", 1);
	expect(c, rs, PF_ACTION_ALLOW, "fd00::1", "255.255.255.255", 1, PF_ACTION_REJECT, "all-v6",
	       1);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "fd00::2", 80, PF_ACTION_ALLOW, "all-v6", 0);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "::", 80, PF_ACTION_ALLOW, "all-v6", 0);
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "::1.2.3.4", 80, PF_ACTION_ALLOW, "all-v6", 0);
	pf_cache_free(c);
	pf_ruleset_free(rs);

	for (size_t i = 0; i < PF_ARRAY_SIZE(v6_covering); i++) {
		rs = rs_new();
		p = add_policy(rs, 2, "fam", "covering", 1);
		add_src(p, "10.0.0.1");
		r = add_rule(p, PF_ACTION_ALLOW, false);
		rule_net(r, v6_covering[i]);
		r = add_rule(p, PF_ACTION_DENY, false);
		rule_net(r, "10.0.0.0/8"); /* must not inherit the IPv6 prefix's Allow */
		r = add_rule(p, PF_ACTION_ALERT, false);
		rule_net(r, "0.0.0.0/0");
		rule_port(r, 443, 443);
		c = build_or_die(rs, PF_ACTION_REJECT);
		tap_diag("IPv6 prefix %s", v6_covering[i]);
		expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.1.2.3", 80, PF_ACTION_DENY,
		       "covering", 1);
		expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "192.168.0.1", 443, PF_ACTION_ALERT,
		       "covering", 2);
		expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "192.168.0.1", 80, PF_ACTION_REJECT,
		       NULL, -1);
		{
			/* an IPv6 address inside it: its first one, last bit set */
			struct pf_prefix pf = P(v6_covering[i]);
			char d[PF_ADDR_STRLEN];

			pf.addr.b[15] |= 1;
			expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", pf_addr_fmt(&pf.addr, d), 443,
			       PF_ACTION_ALLOW, "covering", 0);
		}
		pf_cache_free(c);
		pf_ruleset_free(rs);
	}

	/* the other way: 0.0.0.0/0 holds no IPv6 address */
	rs = rs_new();
	p = add_policy(rs, 3, "fam", "all-v4", 1);
	add_src(p, "fd00::1");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "0.0.0.0/0");
	r = add_rule(p, PF_ACTION_REJECT, false);
	r->any_dst = true;
	c = build_or_die(rs, PF_ACTION_ALLOW);
	expect(c, rs, PF_ACTION_ALLOW, "fd00::1", "fd00::2", 80, PF_ACTION_REJECT, "all-v4", 1);
	expect(c, rs, PF_ACTION_ALLOW, "fd00::1", "::", 80, PF_ACTION_REJECT, "all-v4", 1);
	expect(c, rs, PF_ACTION_ALLOW, "fd00::1", "1.2.3.4", 80, PF_ACTION_ALLOW, "all-v4", 0);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* Priority order across policies, after pf_ruleset_sort; ties broken by namespace, name. */
static void test_priorities_and_sharing(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_cache_stats st;
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;
	char ip[32];

	p = add_policy(rs, 1, "zz", "late", 100);
	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "10.244.%d.%d", i / 100, i % 100 + 1);
		add_src(p, ip);
	}
	r = add_rule(p, PF_ACTION_ALLOW, false);
	r->any_dst = true;
	p = add_policy(rs, 2, "b", "tie", 50);
	for (int i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "10.244.0.%d", i + 1);
		add_src(p, ip);
	}
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "172.16.0.0/12");
	rule_port(r, 5432, 5433);
	p = add_policy(rs, 3, "a", "tie", 50);
	for (int i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "10.244.0.%d", i + 1);
		add_src(p, ip);
	}
	r = add_rule(p, PF_ACTION_ALERT, false);
	rule_ip(r, "172.16.0.1");
	rule_port(r, 5433, 5433);
	pf_ruleset_sort(rs);
	c = build_or_die(rs, PF_ACTION_DENY);
	expect(c, rs, PF_ACTION_DENY, "10.244.0.7", "172.16.0.1", 5433, PF_ACTION_ALERT, "tie", 0);
	expect(c, rs, PF_ACTION_DENY, "10.244.0.7", "172.16.0.1", 5432, PF_ACTION_DENY, "tie", 0);
	expect(c, rs, PF_ACTION_DENY, "10.244.0.7", "172.16.0.1", 5434, PF_ACTION_ALLOW, "late", 0);
	expect(c, rs, PF_ACTION_DENY, "10.244.1.7", "172.16.0.1", 5433, PF_ACTION_ALLOW, "late", 0);
	expect(c, rs, PF_ACTION_DENY, "10.244.2.7", "172.16.0.1", 5433, PF_ACTION_DENY, NULL, -1);
	pf_cache_get_stats(c, &st);
	is_int(st.n_sources, 200, "200 sources");
	is_int(st.n_groups, 2, "sources with the same policies share one group");
	is_int(st.n_dst_nodes, 2, "one prefix node and one exact node");
	ok(st.n_port_tables <= 3, "port tables shared (%zu)", st.n_port_tables);
	/* the ruleset goes; the verdict's strings stay valid */
	pf_ruleset_free(rs);
	{
		struct pf_addr s = A("10.244.0.7"), d = A("172.16.0.1");
		struct pf_verdict v;

		pf_cache_lookup(c, &s, &d, 5433, &v);
		is_str(v.policy_namespace, "a", "namespace kept after the ruleset is freed");
		is_str(v.policy_name, "tie", "name kept after the ruleset is freed");
	}
	pf_cache_free(c);
}

/* Port ranges: edges, overlaps, an inverted range (matches nothing, as the reference). */
static void test_ports(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 1, "p", "ports", 1);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_DENY, false);
	r->any_dst = true;
	rule_port(r, 1000, 2000);
	rule_port(r, 3000, 3000);
	r = add_rule(p, PF_ACTION_ALERT, false);
	r->any_dst = true;
	rule_port(r, 1500, 3500);
	rule_port(r, 9, 8);
	r = add_rule(p, PF_ACTION_ALLOW, true);
	r->any_dst = true;
	rule_port(r, 65535, 65535);
	rule_port(r, 1, 1);
	c = build_or_die(rs, PF_ACTION_REJECT);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 999, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 1000, PF_ACTION_DENY, "ports", 0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 2000, PF_ACTION_DENY, "ports", 0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 2001, PF_ACTION_ALERT, "ports", 1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 2999, PF_ACTION_ALERT, "ports", 1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 3000, PF_ACTION_DENY, "ports", 0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 3001, PF_ACTION_ALERT, "ports", 1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 3500, PF_ACTION_ALERT, "ports", 1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 3501, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 8, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 9, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 65535, PF_ACTION_ALLOW, "ports", 2);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 65534, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 1, PF_ACTION_ALLOW, "ports", 2);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "1.1.1.1", 0, PF_ACTION_REJECT, NULL, -1);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* ---- differential test ---- */

static bool chance(unsigned pct)
{
	return pf_test_rand_below(100) < pct;
}

static void split(const struct pf_addr *a, uint64_t *hi, uint64_t *lo)
{
	*hi = *lo = 0;
	for (int i = 0; i < 8; i++) {
		*hi = *hi << 8 | a->b[i];
		*lo = *lo << 8 | a->b[i + 8];
	}
}

static struct pf_addr join(uint64_t hi, uint64_t lo)
{
	struct pf_addr a;

	for (int i = 7; i >= 0; i--) {
		a.b[i] = (uint8_t)hi;
		a.b[i + 8] = (uint8_t)lo;
		hi >>= 8;
		lo >>= 8;
	}
	return a;
}

static struct pf_addr addr_add(const struct pf_addr *a, int d)
{
	uint64_t hi, lo, nlo;

	split(a, &hi, &lo);
	nlo = lo + (uint64_t)(int64_t)d;
	if (d > 0 && nlo < lo)
		hi++;
	if (d < 0 && nlo > lo)
		hi--;
	return join(hi, nlo);
}

/* Last address of a prefix. */
static struct pf_addr prefix_last(const struct pf_prefix *p)
{
	uint64_t hi, lo;
	unsigned len = p->len;

	split(&p->addr, &hi, &lo);
	if (len < 64) {
		hi |= len ? (~0ull >> len) : ~0ull;
		lo = ~0ull;
	} else if (len < 128) {
		lo |= ~0ull >> (len - 64);
	}
	return join(hi, lo);
}

/* A few neighbourhoods so random addresses and prefixes collide, nest and overlap. */
static struct pf_addr rand_addr(void)
{
	static const char *const bases[] = {
	    "10.0.0.0", "10.1.0.0", "10.1.2.0",	    "10.1.2.128", "192.168.1.0", "172.16.0.0",
	    "0.0.0.0",	"fd00::",   "fd00:0:0:1::", "fd00::ff00", "2001:db8::",	 "::",
	};
	struct pf_addr a = A(bases[pf_test_rand_below(PF_ARRAY_SIZE(bases))]);

	switch (pf_test_rand_below(4)) {
	case 0:
		break;
	case 1:
		a.b[15] = (uint8_t)pf_test_rand_below(4);
		break;
	case 2:
		a.b[15] = (uint8_t)pf_test_rand();
		a.b[14] ^= (uint8_t)pf_test_rand_below(3);
		break;
	default:
		/* flip one random bit below the neighbourhood's top */
		{
			unsigned bit = pf_addr_is_v4(&a) ? 104 + pf_test_rand_below(24)
							 : 16 + pf_test_rand_below(112);

			a.b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		}
		break;
	}
	return a;
}

static struct pf_prefix rand_prefix(void)
{
	struct pf_prefix p;
	static const uint8_t v4[] = {8, 16, 24, 25, 31, 32, 0, 12, 23};
	static const uint8_t v6[] = {0, 16, 32, 48, 64, 96, 112, 120, 127, 128, 63, 65};

	p.addr = rand_addr();
	if (chance(15)) {
		/* an IPv6 prefix whose bits cover all of IPv4 (::ffff:0:0/96): holds none of it */
		p.addr = A("::");
		p.len = (uint8_t)pf_test_rand_below(97);
		if (p.len > 80 && chance(50))
			p.addr = A("::ffff:0:0");
		if (p.len == 96)
			p.len = 95; /* ::ffff:0:0/96 is 0.0.0.0/0 */
		pf_addr_mask(&p.addr, p.len);
		return p;
	}
	if (pf_addr_is_v4(&p.addr))
		p.len = (uint8_t)(96 + (chance(80) ? v4[pf_test_rand_below(PF_ARRAY_SIZE(v4))]
						   : pf_test_rand_below(33)));
	else
		p.len = chance(80) ? v6[pf_test_rand_below(PF_ARRAY_SIZE(v6))]
				   : (uint8_t)pf_test_rand_below(129);
	pf_addr_mask(&p.addr, p.len);
	return p;
}

static uint16_t rand_port(void)
{
	static const uint16_t pool[] = {1,    22,   53,	  80,	443,   1000,
					1001, 1005, 1010, 8080, 65534, 65535};

	return chance(85) ? pool[pf_test_rand_below(PF_ARRAY_SIZE(pool))]
			  : (uint16_t)(1 + pf_test_rand_below(65535));
}

/* fqdn peers as policies write them, and names as answers carry them (any case, a trailing
 * dot), so that exact names, wildcards, near misses and case all meet. */
static const char *const fqdn_patterns[] = {
    "db.shop.test", "*.shop.test", "api.example.com", "*.example.com", "shop.test",
};
static const char *const answer_names[] = {
    "db.shop.test",    "DB.Shop.Test.", "web.shop.test",    "a.b.shop.test",	 "shop.test",
    "api.example.com", "example.com",	"xapi.example.com", "db.shop.test.evil",
};

/* n_pol 0: a few policies, or (big) a few tens with more rules each; else that many. */
static struct pf_ruleset *rand_ruleset(const struct pf_addr *srcs, size_t n_srcs, bool big,
				       bool with_fqdn, size_t n_pol_want)
{
	static const uint32_t prios[] = {0, 10, 10, 100, 1000, 65535};
	static const char *const nss[] = {"a", "b", "kube-system"};
	struct pf_ruleset *rs = rs_new();
	size_t n_pol = n_pol_want ? n_pol_want
		       : big	  ? 10 + pf_test_rand_below(20)
				  : 1 + pf_test_rand_below(8);

	for (size_t i = 0; i < n_pol; i++) {
		char name[16];
		struct pf_rs_policy *p;
		size_t n_rules = big ? pf_test_rand_below(60) : pf_test_rand_below(9),
		       n_src = pf_test_rand_below(5);

		bool cluster = chance(30);

		snprintf(name, sizeof(name), "p%zu", i);
		/* cluster and namespaced policies share names and priorities: the tier must
		 * still come first */
		p = cluster ? add_cluster(rs, (uint32_t)(100 + i), name,
					  prios[pf_test_rand_below(PF_ARRAY_SIZE(prios))])
			    : add_policy(rs, (uint32_t)(100 + i),
					 nss[pf_test_rand_below(PF_ARRAY_SIZE(nss))], name,
					 prios[pf_test_rand_below(PF_ARRAY_SIZE(prios))]);
		for (size_t s = 0; s < n_src; s++)
			add_src_addr(p, srcs[pf_test_rand_below((uint32_t)n_srcs)]);
		p->audit = chance(20);
		for (size_t j = 0; j < n_rules; j++) {
			/* Pass: often in the cluster tier; rarely in a namespaced policy, where
			 * validation refuses it and both evaluators must ignore it alike */
			enum pf_action act =
			    (cluster && chance(30)) || chance(2)
				? PF_ACTION_PASS
				: (enum pf_action)pf_test_rand_below(PF_ACTION_PASS);
			struct pf_rs_rule *r = add_rule(p, act, chance(30));

			if (chance(15)) {
				r->any_dst = true;
				if (chance(20)) /* any_dst wins over whatever else is listed */
					rule_ip_addr(r, rand_addr());
			} else {
				size_t ni = pf_test_rand_below(4), nn = pf_test_rand_below(4);

				for (size_t k = 0; k < ni; k++)
					rule_ip_addr(r, rand_addr());
				for (size_t k = 0; k < nn; k++)
					rule_net_p(r, rand_prefix());
			}
			if (chance(60)) {
				size_t np = 1 + pf_test_rand_below(3);

				for (size_t k = 0; k < np; k++) {
					uint16_t a = rand_port(), b = chance(50) ? a : rand_port();

					if (a > b && chance(95)) {
						uint16_t t = a;

						a = b;
						b = t;
					}
					rule_port_proto(r, a, b,
							chance(30) ? PF_PROTO_UDP : PF_PROTO_TCP);
				}
			}
			if (with_fqdn && !r->any_dst && chance(35)) {
				size_t nf = 1 + pf_test_rand_below(2);

				for (size_t k = 0; k < nf; k++)
					rule_fqdn(r, fqdn_patterns[pf_test_rand_below(
							 PF_ARRAY_SIZE(fqdn_patterns))]);
			}
		}
	}
	pf_ruleset_sort(rs);
	return rs;
}

/* A destination near something the ruleset names: on it, at a prefix's edges, just outside. */
static struct pf_addr pick_dst(const struct pf_ruleset *rs, const struct name_table *nt)
{
	const struct pf_rs_rule *r = NULL;

	if (nt && nt->n && chance(40))
		return nt->e[pf_test_rand_below((uint32_t)nt->n)].a;

	if (rs->n_policies && chance(85)) {
		const struct pf_rs_policy *p =
		    &rs->policies[pf_test_rand_below((uint32_t)rs->n_policies)];

		if (p->n_rules)
			r = &p->rules[pf_test_rand_below((uint32_t)p->n_rules)];
	}
	if (r && r->n_dst_nets && chance(60)) {
		const struct pf_prefix *pf =
		    &r->dst_nets[pf_test_rand_below((uint32_t)r->n_dst_nets)];
		struct pf_addr last = prefix_last(pf);

		if (chance(15)) {
			/* the other family: never inside, whatever the bits say */
			struct pf_addr o = rand_addr();

			while (pf_addr_is_v4(&o) == (pf_addr_is_v4(&pf->addr) && pf->len >= 96))
				o = rand_addr();
			return o;
		}
		switch (pf_test_rand_below(5)) {
		case 0:
			return pf->addr;
		case 1:
			return last;
		case 2:
			return addr_add(&pf->addr, -1);
		case 3:
			return addr_add(&last, 1);
		default: {
			/* somewhere inside */
			uint64_t hi, lo, lh, ll;

			split(&pf->addr, &hi, &lo);
			split(&last, &lh, &ll);
			return join(hi | (pf_test_rand() & (lh ^ hi)),
				    lo | (pf_test_rand() & (ll ^ lo)));
		}
		}
	}
	if (r && r->n_dst_ips && chance(80)) {
		const struct pf_addr *a = &r->dst_ips[pf_test_rand_below((uint32_t)r->n_dst_ips)];

		return chance(70) ? *a : addr_add(a, chance(50) ? 1 : -1);
	}
	return rand_addr();
}

static uint16_t pick_port(const struct pf_ruleset *rs)
{
	if (rs->n_policies && chance(70)) {
		const struct pf_rs_policy *p =
		    &rs->policies[pf_test_rand_below((uint32_t)rs->n_policies)];

		if (p->n_rules) {
			const struct pf_rs_rule *r =
			    &p->rules[pf_test_rand_below((uint32_t)p->n_rules)];

			if (r->n_ports) {
				const struct pf_port_range *pr =
				    &r->ports[pf_test_rand_below((uint32_t)r->n_ports)];

				switch (pf_test_rand_below(4)) {
				case 0:
					return pr->port;
				case 1:
					return pr->end_port;
				case 2:
					return (uint16_t)(pr->port - 1);
				default:
					return (uint16_t)(pr->end_port + 1);
				}
			}
		}
	}
	if (chance(5))
		return chance(50) ? 0 : 65535;
	return rand_port();
}

/*
 * The family rule, checked apart from pf_prefix_contains (which both cache and reference
 * use): a matched rule must name dst by family. A prefix is IPv4 when it lies inside
 * ::ffff:0:0/96; it contains dst when dst is of its family and between its first and last
 * address.
 */
static bool model_prefix_has(const struct pf_prefix *p, const struct pf_addr *d)
{
	struct pf_addr last = prefix_last(p);
	bool v4 = p->len >= 96 && pf_addr_is_v4(&p->addr);

	return v4 == pf_addr_is_v4(d) && memcmp(d->b, p->addr.b, 16) >= 0 &&
	       memcmp(d->b, last.b, 16) <= 0;
}

static bool model_rule_names(const struct pf_ruleset *rs, const struct pf_verdict *v,
			     const struct pf_addr *d)
{
	for (size_t i = 0; i < rs->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];
		const struct pf_rs_rule *r;

		if (p->id != v->policy_id)
			continue;
		r = &p->rules[v->rule_index];
		if (r->any_dst)
			return true;
		for (size_t k = 0; k < r->n_dst_ips; k++)
			if (pf_addr_eq(&r->dst_ips[k], d))
				return true;
		for (size_t k = 0; k < r->n_dst_nets; k++)
			if (model_prefix_has(&r->dst_nets[k], d))
				return true;
		return false;
	}
	return false;
}

/* The fqdn rule, written apart from pf_fqdn_match: case-insensitive, the answer's trailing
 * dot ignored, "*." standing for exactly one non-empty leading label. */
static bool model_fqdn(const char *pattern, const char *name)
{
	char n[256];
	size_t len = strlen(name);
	const char *dot;

	if (len >= sizeof(n))
		return false;
	memcpy(n, name, len + 1);
	if (len && n[len - 1] == '.')
		n[--len] = 0;
	if (strncmp(pattern, "*.", 2))
		return !strcasecmp(pattern, n);
	dot = strchr(n, '.');
	return dot && dot != n && !strcasecmp(dot + 1, pattern + 2);
}

static bool model_rule_matches(const struct pf_rs_rule *r, const struct pf_addr *d,
			       enum pf_protocol proto, uint16_t port, struct name_table *nt)
{
	bool port_ok = r->n_ports == 0, to = r->any_dst;
	const char *const *names;
	size_t n;

	for (size_t k = 0; k < r->n_ports; k++)
		port_ok |= r->ports[k].protocol == proto && r->ports[k].port <= port &&
			   port <= r->ports[k].end_port;
	for (size_t k = 0; !to && k < r->n_dst_ips; k++)
		to = pf_addr_eq(&r->dst_ips[k], d);
	for (size_t k = 0; !to && k < r->n_dst_nets; k++)
		to = model_prefix_has(&r->dst_nets[k], d);
	n = nt ? names_lookup(nt, d, &names) : 0;
	for (size_t i = 0; !to && i < n; i++)
		for (size_t k = 0; !to && k < r->n_fqdns; k++)
			to = model_fqdn(r->fqdns[k], names[i]);
	return port_ok && to;
}

/* The walk again, from the rules as written: what the test holds cache and reference to. */
static void model_eval(const struct pf_ruleset *rs, enum pf_action def, const struct pf_addr *s,
		       const struct pf_addr *d, enum pf_protocol proto, uint16_t port,
		       struct name_table *nt, struct pf_verdict *out)
{
	bool passed = false;

	memset(out, 0, sizeof(*out));
	out->action = def;
	out->rule_index = out->pass_rule_index = -1;
	for (size_t i = 0; i < rs->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];
		bool applies = false;

		for (size_t k = 0; k < p->n_src; k++)
			applies |= pf_addr_eq(&p->src[k], s);
		/* an Audit policy never takes part in the verdict */
		if (!applies || p->audit || (passed && p->cluster))
			continue;
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *r = &p->rules[j];

			if (r->action == PF_ACTION_PASS && !p->cluster)
				continue;
			if (!model_rule_matches(r, d, proto, port, nt))
				continue;
			if (r->action == PF_ACTION_PASS) {
				passed = true;
				out->pass_policy_id = p->id;
				out->pass_name = p->name;
				out->pass_rule_index = (int32_t)r->rule_index;
				break;
			}
			*out = (struct pf_verdict){
			    .action = r->action,
			    .log = r->log,
			    .matched = true,
			    .cluster = p->cluster,
			    .policy_id = p->id,
			    .policy_namespace = p->namespace,
			    .policy_name = p->name,
			    .rule_index = (int32_t)r->rule_index,
			    .pass_policy_id = out->pass_policy_id,
			    .pass_name = out->pass_name,
			    .pass_rule_index = out->pass_rule_index,
			};
			return;
		}
	}
}

/*
 * Protocols and names: random rulesets with UDP ports and fqdn peers, a random table of what
 * the pod resolved, judged by the cache, the reference and the model above. Also counts how
 * often the name table is read: a destination in a group without fqdn rules must not cost a
 * name lookup.
 */
static void test_differential_flows(uint64_t seed, unsigned rounds)
{
	unsigned long n_conn = 0, n_fail = 0, n_ref_fail = 0, n_by_name = 0, n_udp = 0;
	unsigned long n_build_fail = 0, n_plain_lookups = 0;
	struct pf_addr srcs[6];

	pf_test_rng_state = seed ^ 0x666c6f7773ull;
	for (unsigned round = 0; round < rounds; round++) {
		enum pf_action def = (enum pf_action)pf_test_rand_below(PF_ACTION_PASS);
		bool with_fqdn = chance(80);
		struct name_table nt = {0};
		struct pf_names names = {names_lookup, &nt};
		struct pf_ruleset *rs;
		struct pf_cache *c = NULL;

		for (size_t i = 0; i < PF_ARRAY_SIZE(srcs); i++)
			srcs[i] = rand_addr();
		rs = rand_ruleset(srcs, PF_ARRAY_SIZE(srcs) - 1, false, with_fqdn, 0);
		for (size_t i = 0, n = pf_test_rand_below(8); i < n; i++)
			names_add(&nt, pick_dst(rs, NULL),
				  answer_names[pf_test_rand_below(PF_ARRAY_SIZE(answer_names))]);
		if (pf_cache_build(rs, def, &c) < 0) {
			n_build_fail++;
			pf_ruleset_free(rs);
			continue;
		}
		for (unsigned k = 0; k < 40; k++) {
			struct pf_addr src = srcs[pf_test_rand_below(PF_ARRAY_SIZE(srcs))],
				       dst = pick_dst(rs, &nt);
			uint16_t port = pick_port(rs);
			enum pf_protocol proto = chance(40) ? PF_PROTO_UDP : PF_PROTO_TCP;
			struct pf_verdict v, ref, model;
			unsigned long before;

			before = nt.lookups;
			pf_cache_lookup_flow(c, pf_cache_source_group(c, &src), &dst, proto, port,
					     &names, &v);
			if (!with_fqdn)
				n_plain_lookups += nt.lookups - before;
			pf_ruleset_eval_flow(rs, def, &src, &dst, proto, port, &names, &ref);
			model_eval(rs, def, &src, &dst, proto, port, &nt, &model);
			n_conn++;
			n_udp += proto == PF_PROTO_UDP && model.matched;
			if (model.matched) {
				const char *const *nm;

				n_by_name += names_lookup(&nt, &dst, &nm) > 0;
			}
			n_ref_fail += !verdict_eq(&ref, &model);
			if (verdict_eq(&v, &model))
				continue;
			if (n_fail++ < 5) {
				char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];

				tap_diag("seed %llu round %u: %s -> %s %s/%u differs",
					 (unsigned long long)seed, round, pf_addr_fmt(&src, s),
					 pf_addr_fmt(&dst, d),
					 proto == PF_PROTO_UDP ? "UDP" : "TCP", port);
				verdict_diag("cache", &v);
				verdict_diag("model", &model);
			}
		}
		pf_cache_free(c);
		pf_ruleset_free(rs);
	}
	is_int(n_build_fail, 0, "every random ruleset with protocols and fqdns builds");
	is_int(n_ref_fail, 0, "the reference evaluator agrees with the model");
	ok(n_fail == 0,
	   "flows: %lu over %u rulesets agree with the model (%lu UDP matched, %lu "
	   "matched a resolved address)",
	   n_conn, rounds, n_udp, n_by_name);
	if (n_fail)
		tap_diag("%lu differ; reproduce with PF_TEST_SEED=%llu", n_fail,
			 (unsigned long long)seed);
	ok(n_udp > n_conn / 20 && n_by_name > n_conn / 20,
	   "UDP rules and resolved addresses are both exercised");
	is_int(n_plain_lookups, 0, "no fqdn rule in a source's policies: no name lookup");
}

static bool rs_policy_audit(const struct pf_ruleset *rs, uint32_t id)
{
	for (size_t i = 0; i < rs->n_policies; i++)
		if (rs->policies[i].id == id)
			return rs->policies[i].audit;
	return false;
}

static void test_differential(uint64_t seed, unsigned rounds)
{
	unsigned long n_family = 0, n_group_fail = 0;
	unsigned long n_conn = 0, n_fail = 0, n_matched = 0, n_build_fail = 0;
	unsigned long n_cluster = 0, n_passed = 0, n_passed_matched = 0;
	unsigned long n_audit_fail = 0, n_audit_matched = 0, n_audit_differs = 0;
	struct pf_addr srcs[10];

	pf_test_rng_state = seed;
	for (unsigned round = 0; round < rounds; round++) {
		bool big = round % 50 == 49;
		enum pf_action def = (enum pf_action)pf_test_rand_below(PF_ACTION_PASS);
		struct pf_ruleset *rs;
		struct pf_cache *c = NULL;
		unsigned n_conns = big ? 400 : 25;

		/* sources: a few per round, IPv4 and IPv6; one of them is never a policy's source
		 */
		for (size_t i = 0; i < PF_ARRAY_SIZE(srcs); i++)
			srcs[i] = rand_addr();
		struct pf_cache *ac = NULL;

		rs = rand_ruleset(srcs, PF_ARRAY_SIZE(srcs) - 1, big, false, 0);
		if (pf_cache_build(rs, def, &c) < 0 || pf_cache_build_audit(rs, &ac) < 0) {
			n_build_fail++;
			pf_cache_free(c);
			pf_ruleset_free(rs);
			continue;
		}
		for (unsigned k = 0; k < n_conns; k++) {
			struct pf_addr src = srcs[pf_test_rand_below(PF_ARRAY_SIZE(srcs))],
				       dst = pick_dst(rs, NULL);
			uint16_t port = pick_port(rs);
			struct pf_verdict v, ref;

			pf_cache_lookup(c, &src, &dst, port, &v);
			pf_ruleset_eval(rs, def, &src, &dst, port, &ref);
			{
				/* in two steps (how the engine judges a pod by its group) */
				struct pf_verdict v2;

				pf_cache_lookup_group(c, pf_cache_source_group(c, &src), &dst, port,
						      &v2);
				n_group_fail += !verdict_eq(&v, &v2);
			}
			{
				/* the Audit policies alone: what they would decide */
				struct pf_verdict av, aref;

				pf_cache_lookup(ac, &src, &dst, port, &av);
				pf_ruleset_eval_audit(rs, &src, &dst, port, &aref);
				n_audit_fail += !verdict_eq(&av, &aref);
				n_audit_matched += aref.matched;
				n_audit_differs += pf_audit_disagrees(&ref, &aref);
				/* and never what the verdict is */
				n_audit_fail += ref.matched && rs_policy_audit(rs, ref.policy_id);
			}
			n_conn++;
			n_matched += ref.matched;
			if (ref.matched && !model_rule_names(rs, &ref, &dst) && n_family++ < 5) {
				char d[PF_ADDR_STRLEN];

				tap_diag(
				    "seed %llu round %u: rule %d of policy %u does not name %s",
				    (unsigned long long)seed, round, ref.rule_index, ref.policy_id,
				    pf_addr_fmt(&dst, d));
			}
			n_cluster += ref.matched && ref.cluster;
			n_passed += ref.pass_name != NULL;
			n_passed_matched += ref.pass_name && ref.matched;
			if (verdict_eq(&v, &ref))
				continue;
			if (n_fail++ < 5) {
				char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];

				tap_diag("seed %llu round %u: %s -> %s:%u differs",
					 (unsigned long long)seed, round, pf_addr_fmt(&src, s),
					 pf_addr_fmt(&dst, d), port);
				verdict_diag("cache", &v);
				verdict_diag("reference", &ref);
			}
		}
		pf_cache_free(c);
		pf_cache_free(ac);
		pf_ruleset_free(rs);
	}
	is_int(n_build_fail, 0, "every random ruleset builds");
	ok(n_audit_fail == 0 && n_audit_matched > n_conn / 50 && n_audit_differs > n_conn / 100,
	   "Audit policies: the audit cache agrees with the walk, never decides a verdict; %lu "
	   "matched an Audit rule, %lu would have decided otherwise",
	   n_audit_matched, n_audit_differs);
	is_int(n_group_fail, 0, "source group then group lookup answers as the one-step lookup");
	is_int(n_family, 0, "every matched rule names its destination in the destination's family");
	ok(n_fail == 0,
	   "differential: %lu connections over %u rulesets agree with the reference (%lu matched a "
	   "rule)",
	   n_conn, rounds, n_matched);
	if (n_fail)
		tap_diag("%lu differ; reproduce with PF_TEST_SEED=%llu", n_fail,
			 (unsigned long long)seed);
	/* the test must exercise both outcomes */
	ok(n_matched > n_conn / 5 && n_matched < n_conn - n_conn / 10,
	   "connections hit rules and miss them");
	/* and the cluster tier: deciding, passing down to a namespaced rule, or to the default */
	ok(n_cluster > n_conn / 50 && n_passed_matched > n_conn / 200 &&
	       n_passed - n_passed_matched > n_conn / 200,
	   "cluster rules decide (%lu), Pass hands down to a rule (%lu) and to the default (%lu)",
	   n_cluster, n_passed_matched, n_passed - n_passed_matched);
}

/* ---- incremental builds ---- */

/*
 * The next ruleset: a copy of rs with a few of the changes a cluster makes (a rule's verdict,
 * destination or port, a policy's sources or priority, a policy added or deleted); most
 * policies stay as they were.
 */
static struct pf_ruleset *rs_mutate(const struct pf_ruleset *rs, const struct pf_addr *srcs,
				    size_t n_srcs, uint32_t *next_id)
{
	size_t skip = rs->n_policies > 1 && chance(20)
			  ? pf_test_rand_below((uint32_t)rs->n_policies)
			  : SIZE_MAX;
	struct pf_ruleset *m = pf_test_ruleset_clone(rs, skip);
	unsigned n_changes = 1 + pf_test_rand_below(3);

	for (unsigned k = 0; k < n_changes && m->n_policies; k++) {
		struct pf_rs_policy *p = &m->policies[pf_test_rand_below((uint32_t)m->n_policies)];
		struct pf_rs_rule *r =
		    p->n_rules ? &p->rules[pf_test_rand_below((uint32_t)p->n_rules)] : NULL;

		switch (pf_test_rand_below(6)) {
		case 0: /* a verdict */
			if (r && r->action != PF_ACTION_PASS)
				r->action = (enum pf_action)pf_test_rand_below(PF_ACTION_PASS);
			break;
		case 1: /* a destination (a pod came up behind a peer) */
			if (r)
				rule_ip_addr(r, rand_addr());
			break;
		case 2: /* a port */
			if (r) {
				uint16_t a = rand_port();

				rule_port(r, a, a);
			}
			break;
		case 3: /* a source (a pod the policy applies to) */
			add_src_addr(p, srcs[pf_test_rand_below((uint32_t)n_srcs)]);
			break;
		case 4: /* the order */
			p->priority = (uint32_t)pf_test_rand_below(2000);
			break;
		default: /* a policy added */
			p = add_policy(m, (*next_id)++, "a", "new", pf_test_rand_below(200));
			add_src_addr(p, srcs[pf_test_rand_below((uint32_t)n_srcs)]);
			r = add_rule(p, (enum pf_action)pf_test_rand_below(PF_ACTION_PASS), false);
			if (chance(50))
				rule_ip_addr(r, rand_addr());
			else
				r->any_dst = true;
			break;
		}
	}
	pf_ruleset_sort(m);
	return m;
}

/* Compare c against the walk of rs (and the full build full) at n connections. */
static unsigned long incr_compare(const struct pf_cache *c, const struct pf_cache *full,
				  const struct pf_ruleset *rs, enum pf_action def,
				  const struct pf_addr *srcs, size_t n_srcs, unsigned n,
				  uint64_t seed, unsigned round)
{
	unsigned long fails = 0;

	for (unsigned k = 0; k < n; k++) {
		struct pf_addr src = srcs[pf_test_rand_below((uint32_t)n_srcs)],
			       dst = pick_dst(rs, NULL);
		uint16_t port = pick_port(rs);
		struct pf_verdict v, ref, fv;

		pf_cache_lookup(c, &src, &dst, port, &v);
		pf_cache_lookup(full, &src, &dst, port, &fv);
		pf_ruleset_eval(rs, def, &src, &dst, port, &ref);
		if (verdict_eq(&v, &ref) && verdict_eq(&v, &fv))
			continue;
		if (fails++ < 3) {
			char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];

			tap_diag("seed %llu round %u: %s -> %s:%u differs after an update",
				 (unsigned long long)seed, round, pf_addr_fmt(&src, s),
				 pf_addr_fmt(&dst, d), port);
			verdict_diag("incremental", &v);
			verdict_diag("full build", &fv);
			verdict_diag("reference", &ref);
		}
	}
	return fails;
}

/* Two pods under policies of their own beside eight others, web's first rule act. */
static struct pf_ruleset *ten_pods(enum pf_action act)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p = add_policy(rs, 1, "shop", "web", 100);
	struct pf_rs_rule *r;

	add_src(p, "10.1.1.2");
	r = add_rule(p, act, false);
	rule_ip(r, "10.99.0.1");
	rule_port(r, 80, 80);
	p = add_policy(rs, 2, "shop", "api", 100);
	add_src(p, "10.1.2.2");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_net(r, "10.99.0.0/24");
	for (uint32_t i = 0; i < 8; i++) {
		char name[16], src[32];

		snprintf(name, sizeof(name), "filler%u", i);
		snprintf(src, sizeof(src), "10.2.%u.2", i);
		p = add_policy(rs, 10 + i, "other", name, 200);
		add_src(p, src);
		rule_ip(add_rule(p, PF_ACTION_DENY, false), "10.99.0.1");
	}
	pf_ruleset_sort(rs);
	return rs;
}

/*
 * One policy changes, then changes back: the second update starts from the same base as the
 * first, so the policy is the base's again and its group is taken from the base, not from the
 * first update.
 */
static void test_incremental_revert(void)
{
	struct pf_ruleset *rs0 = ten_pods(PF_ACTION_ALLOW), *rs1 = ten_pods(PF_ACTION_REJECT),
			  *rs2 = ten_pods(PF_ACTION_ALLOW);
	struct pf_cache *base = NULL, *c1 = NULL, *c2 = NULL;
	struct pf_cache_stats st1, st2;

	if (pf_cache_update(NULL, rs0, PF_ACTION_DENY, &base) < 0 ||
	    pf_cache_update(base, rs1, PF_ACTION_DENY, &c1) < 0 ||
	    pf_cache_update(c1, rs2, PF_ACTION_DENY, &c2) < 0) {
		printf("Bail out! pf_cache_update failed\n");
		exit(1);
	}
	pf_cache_get_stats(c1, &st1);
	pf_cache_get_stats(c2, &st2);
	ok(pf_cache_base(base) == base && pf_cache_base(c1) == base && pf_cache_base(c2) == base &&
	       st1.n_groups == 10 && st1.n_groups_compiled == 1 && st1.n_groups_reused == 9 &&
	       st2.n_groups_compiled == 0 && st2.n_groups_reused == 10,
	   "one policy of ten changed: 1 group compiled, 9 taken from the base; changed back: all "
	   "10 from the base (%zu + %zu, %zu + %zu)",
	   st1.n_groups_compiled, st1.n_groups_reused, st2.n_groups_compiled, st2.n_groups_reused);
	/* the base freed first: the updates keep what they took alive */
	base = pf_cache_free(base);
	expect(c1, rs1, PF_ACTION_DENY, "10.1.1.2", "10.99.0.1", 80, PF_ACTION_REJECT, "web", 0);
	expect(c1, rs1, PF_ACTION_DENY, "10.1.2.2", "10.99.0.1", 80, PF_ACTION_ALLOW, "api", 0);
	expect(c1, rs1, PF_ACTION_DENY, "10.2.3.2", "10.99.0.1", 80, PF_ACTION_DENY, "filler3", 0);
	expect(c2, rs2, PF_ACTION_DENY, "10.1.1.2", "10.99.0.1", 80, PF_ACTION_ALLOW, "web", 0);
	expect(c2, rs2, PF_ACTION_DENY, "10.1.1.2", "10.99.0.1", 81, PF_ACTION_DENY, NULL, -1);
	expect(c2, rs2, PF_ACTION_DENY, "10.1.2.2", "10.99.0.9", 22, PF_ACTION_ALLOW, "api", 0);
	pf_cache_free(c1);
	pf_cache_free(c2);
	pf_ruleset_free(rs0);
	pf_ruleset_free(rs1);
	pf_ruleset_free(rs2);
}

/*
 * pf_cache_update against pf_cache_build and the walk: a base built, two rounds of changes on
 * top of it (each from the same base), the base freed before the caches built from it.
 */
static void test_incremental(uint64_t seed, unsigned rounds)
{
	unsigned long n_fail = 0, n_incr = 0, n_full = 0, n_reused = 0, n_compiled = 0,
		      n_build_fail = 0, n_stats_fail = 0;
	struct pf_addr srcs[40];

	pf_test_rng_state = seed ^ 0x696e6372ull;
	for (unsigned round = 0; round < rounds; round++) {
		bool big = round % 25 == 24, audit = chance(10);
		enum pf_action def = (enum pf_action)pf_test_rand_below(PF_ACTION_PASS);
		struct pf_ruleset *rs0, *rs1, *rs2;
		struct pf_cache *base = NULL, *c1 = NULL, *c2 = NULL, *f1 = NULL, *f2 = NULL;
		uint32_t next_id = 10000;

		for (size_t i = 0; i < PF_ARRAY_SIZE(srcs); i++)
			srcs[i] = rand_addr();
		/* many policies, each applying to a few of many sources: a change touches some
		 * groups, as in a cluster */
		rs0 = rand_ruleset(srcs, PF_ARRAY_SIZE(srcs) - 1, big, false,
				   20 + pf_test_rand_below(30));
		for (size_t i = 0; i < rs0->n_policies; i++)
			rs0->policies[i].audit = audit && rs0->policies[i].audit;
		rs1 = rs_mutate(rs0, srcs, PF_ARRAY_SIZE(srcs) - 1, &next_id);
		rs2 = rs_mutate(rs1, srcs, PF_ARRAY_SIZE(srcs) - 1, &next_id);
		if (pf_cache_update(NULL, rs0, def, &base) < 0 ||
		    pf_cache_update(base, rs1, def, &c1) < 0 || pf_cache_build(rs1, def, &f1) < 0 ||
		    /* the second change starts from the first's base (or the first, if full) */
		    pf_cache_update(c1, rs2, def, &c2) < 0 || pf_cache_build(rs2, def, &f2) < 0) {
			n_build_fail++;
		} else {
			struct pf_cache_stats st;

			/* rs0 has Audit policies: not a base (a full build each time) */
			n_stats_fail += pf_cache_base(base) != base;
			for (int i = 0; i < 2; i++) {
				struct pf_cache *c = i ? c2 : c1, *f = i ? f2 : f1;
				struct pf_cache_stats fs;

				pf_cache_get_stats(c, &st);
				pf_cache_get_stats(f, &fs);
				if (pf_cache_base(c) == c) {
					n_full++;
				} else {
					n_incr++;
					n_reused += st.n_groups_reused;
					n_compiled += st.n_groups_compiled;
					n_stats_fail +=
					    pf_cache_base(c) != (i ? pf_cache_base(c1) : base) ||
					    st.n_groups_reused + st.n_groups_compiled !=
						st.n_groups;
				}
				n_stats_fail +=
				    st.n_sources != fs.n_sources || st.n_groups != fs.n_groups ||
				    st.n_dst_nodes != fs.n_dst_nodes || st.n_rules != fs.n_rules;
			}
			/* the caches built on it keep what they borrowed alive */
			base = pf_cache_free(base);
			n_fail += incr_compare(c1, f1, rs1, def, srcs, PF_ARRAY_SIZE(srcs),
					       big ? 300 : 30, seed, round);
			n_fail += incr_compare(c2, f2, rs2, def, srcs, PF_ARRAY_SIZE(srcs),
					       big ? 300 : 30, seed, round);
		}
		pf_cache_free(base);
		pf_cache_free(c1);
		pf_cache_free(c2);
		pf_cache_free(f1);
		pf_cache_free(f2);
		pf_ruleset_free(rs0);
		pf_ruleset_free(rs1);
		pf_ruleset_free(rs2);
	}
	is_int(n_build_fail, 0, "every update builds");
	is_int(n_stats_fail, 0,
	       "an update counts sources, groups, nodes and rules as a full build");
	ok(n_fail == 0,
	   "incremental: %lu updates (%lu groups taken from the base, %lu compiled) and %lu full "
	   "builds answer as a full build and the walk",
	   n_incr, n_reused, n_compiled, n_full);
	if (n_fail)
		tap_diag("%lu differ; reproduce with PF_TEST_SEED=%llu", n_fail,
			 (unsigned long long)seed);
	/* both paths ran, and updates did take groups from the base */
	ok(n_incr > rounds / 2 && n_full > 0 && n_reused > n_compiled,
	   "updates reuse groups, and fall back to a full build (Audit, or much changed)");
}

/* Expect (src -> dst proto/port), with the pod's names nt (may be NULL), to be decided by
 * policy `name` rule idx with act (name NULL: the default act); the reference must agree. */
static void expect_flow(const struct pf_cache *c, const struct pf_ruleset *rs, enum pf_action def,
			const char *src, const char *dst, enum pf_protocol proto, uint16_t port,
			struct name_table *nt, enum pf_action act, const char *name, int idx)
{
	struct pf_addr s = A(src), d = A(dst);
	struct pf_names names = {names_lookup, nt};
	struct pf_verdict v, ref;
	bool good;

	pf_cache_lookup_flow(c, pf_cache_source_group(c, &s), &d, proto, port, nt ? &names : NULL,
			     &v);
	pf_ruleset_eval_flow(rs, def, &s, &d, proto, port, nt ? &names : NULL, &ref);
	if (name)
		good = v.matched && v.action == act && v.policy_name &&
		       !strcmp(v.policy_name, name) && v.rule_index == idx;
	else
		good = !v.matched && v.action == act && v.rule_index == -1;
	ok(good && verdict_eq(&v, &ref), "%s -> %s %s/%u is %s by %s rule %d", src, dst,
	   proto == PF_PROTO_UDP ? "UDP" : "TCP", port, act_name(act), name ? name : "(default)",
	   idx);
	if (!good || !verdict_eq(&v, &ref)) {
		verdict_diag("cache", &v);
		verdict_diag("reference", &ref);
	}
}

/* A ports entry names its protocol; a rule without ports matches TCP and UDP alike. */
static void test_protocols(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 1, "pr", "dns", 10);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_ALLOW, false); /* 0: DNS over UDP to the resolver */
	rule_ip(r, "10.0.0.53");
	rule_port_proto(r, 53, 53, PF_PROTO_UDP);
	r = add_rule(p, PF_ACTION_REJECT, false); /* 1: TCP 53 to the resolver */
	rule_ip(r, "10.0.0.53");
	rule_port_proto(r, 53, 53, PF_PROTO_TCP);
	r = add_rule(p, PF_ACTION_ALERT, false); /* 2: UDP 1000-2000 anywhere */
	r->any_dst = true;
	rule_port_proto(r, 1000, 2000, PF_PROTO_UDP);
	r = add_rule(p, PF_ACTION_DENY, false); /* 3: everything else to 10.0.0.53 */
	rule_ip(r, "10.0.0.53");
	pf_ruleset_sort(rs);
	c = build_or_die(rs, PF_ACTION_ALLOW);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.0.0.53", PF_PROTO_UDP, 53, NULL,
		    PF_ACTION_ALLOW, "dns", 0);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.0.0.53", PF_PROTO_TCP, 53, NULL,
		    PF_ACTION_REJECT, "dns", 1);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.0.0.53", PF_PROTO_UDP, 1500, NULL,
		    PF_ACTION_ALERT, "dns", 2);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.0.0.53", PF_PROTO_TCP, 1500, NULL,
		    PF_ACTION_DENY, "dns", 3);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.9.9.9", PF_PROTO_TCP, 1500, NULL,
		    PF_ACTION_ALLOW, NULL, -1);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.9.9.9", PF_PROTO_UDP, 2000, NULL,
		    PF_ACTION_ALERT, "dns", 2);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.9.9.9", PF_PROTO_UDP, 2001, NULL,
		    PF_ACTION_ALLOW, NULL, -1);
	/* the TCP-only entry points see TCP */
	expect(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "10.0.0.53", 53, PF_ACTION_REJECT, "dns", 1);
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/*
 * fqdn peers match what the pod resolved, for the names they match; in evaluation order with
 * the other rules (an earlier CIDR rule still wins, a later one decides when the name is not
 * the pod's); a wildcard is one label.
 */
static void test_fqdn(void)
{
	struct pf_ruleset *rs = rs_new();
	struct name_table nt = {0};
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	p = add_policy(rs, 1, "shop", "by-name", 10);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_REJECT, false); /* 0: one address is never allowed */
	rule_ip(r, "192.0.2.66");
	r = add_rule(p, PF_ACTION_ALLOW, false); /* 1: the database by name */
	rule_fqdn(r, "db.shop.test");
	rule_port_proto(r, 5432, 5432, PF_PROTO_TCP);
	r = add_rule(p, PF_ACTION_ALERT, false); /* 2: any one-label name under example.com */
	rule_fqdn(r, "*.example.com");
	r = add_rule(p, PF_ACTION_DENY, false); /* 3: the rest of 192.0.2.0/24 */
	rule_net(r, "192.0.2.0/24");
	p = add_policy(rs, 2, "other", "no-names", 10);
	add_src(p, "10.0.0.2");
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "192.0.2.0/24");
	pf_ruleset_sort(rs);
	c = build_or_die(rs, PF_ACTION_ALLOW);

	names_add(&nt, A("192.0.2.10"), "db.shop.test");
	names_add(&nt, A("192.0.2.66"), "DB.shop.test.");
	names_add(&nt, A("192.0.2.20"), "api.example.com");
	names_add(&nt, A("192.0.2.21"), "a.b.example.com");
	names_add(&nt, A("192.0.2.22"), "example.com");
	names_add(&nt, A("2001:db8::10"), "db.shop.test");

	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.10", PF_PROTO_TCP, 5432, &nt,
		    PF_ACTION_ALLOW, "by-name", 1);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "2001:db8::10", PF_PROTO_TCP, 5432, &nt,
		    PF_ACTION_ALLOW, "by-name", 1);
	/* the same address, another port: the name rule's ports do not match */
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.10", PF_PROTO_TCP, 22, &nt,
		    PF_ACTION_DENY, "by-name", 3);
	/* without the pod's names the address is just in the /24 */
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.10", PF_PROTO_TCP, 5432, NULL,
		    PF_ACTION_DENY, "by-name", 3);
	/* an earlier rule wins over a name */
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.66", PF_PROTO_TCP, 5432, &nt,
		    PF_ACTION_REJECT, "by-name", 0);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.20", PF_PROTO_UDP, 443, &nt,
		    PF_ACTION_ALERT, "by-name", 2);
	/* the wildcard is one label: not two, not none */
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.21", PF_PROTO_TCP, 443, &nt,
		    PF_ACTION_DENY, "by-name", 3);
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.1", "192.0.2.22", PF_PROTO_TCP, 443, &nt,
		    PF_ACTION_DENY, "by-name", 3);
	/* another pod's policies name no fqdn */
	expect_flow(c, rs, PF_ACTION_ALLOW, "10.0.0.2", "192.0.2.10", PF_PROTO_TCP, 5432, &nt,
		    PF_ACTION_DENY, "no-names", 0);
	ok(pf_fqdn_match("*.shop.test", "web.SHOP.test.") &&
	       !pf_fqdn_match("*.shop.test", ".shop.test") &&
	       !pf_fqdn_match("db.shop.test", "db.shop.tes") &&
	       pf_fqdn_match("shop.test", "SHOP.TEST"),
	   "pf_fqdn_match: case, trailing dot, empty label");
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* A cache big enough to be moved into its read-only huge-page mapping still answers right. */
static void test_big(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache_stats st;
	struct pf_cache *c;
	unsigned long bad = 0;

	p = add_policy(rs, 9, "big", "many-ips", 1);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	rule_port(r, 443, 443);
	r->dst_ips = xcalloc(60000, sizeof(*r->dst_ips));
	for (uint32_t i = 0; i < 60000; i++) {
		uint32_t be = htonl(0x0a600000u + 2 * i); /* every other address of 10.96.0.0/15 */

		pf_addr_from_v4(&r->dst_ips[r->n_dst_ips++], &be);
	}
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "10.96.0.0/12");
	c = build_or_die(rs, PF_ACTION_REJECT);
	pf_cache_get_stats(c, &st);
	ok(st.bytes >= (2u << 20) && st.n_dst_nodes == 60001, "big cache: %zu bytes, %zu nodes",
	   st.bytes, st.n_dst_nodes);
	pf_test_rng_state = 42;
	for (int k = 0; k < 300; k++) {
		uint32_t be = htonl(0x0a600000u + pf_test_rand_below(130000));
		struct pf_addr s = A("10.0.0.1"), d;
		uint16_t port = pf_test_rand_below(2) ? 443 : 80;
		struct pf_verdict v, ref;

		pf_addr_from_v4(&d, &be);
		pf_cache_lookup(c, &s, &d, port, &v);
		pf_ruleset_eval(rs, PF_ACTION_REJECT, &s, &d, port, &ref);
		bad += !verdict_eq(&v, &ref);
	}
	is_int(bad, 0, "big cache agrees with the reference");
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/*
 * The cluster tier: evaluated before every namespaced policy whatever the priorities; a Pass
 * skips the rest of the cluster tier (not the namespaced one), then the default action.
 */
static void test_tiers(void)
{
	struct pf_ruleset *rs = rs_new();
	struct pf_rs_policy *p;
	struct pf_rs_rule *r;
	struct pf_cache *c;

	/* namespaced, priority 0: Allow everything from 10.0.0.1 */
	p = add_policy(rs, 1, "tb", "own-allow", 0);
	add_src(p, "10.0.0.1");
	add_src(p, "10.0.0.2");
	r = add_rule(p, PF_ACTION_ALLOW, false);
	r->any_dst = true;
	rule_port(r, 1, 1000);
	r = add_rule(p, PF_ACTION_REJECT, false);
	r->any_dst = true;
	/* cluster, priority 65535: Deny 10.9.0.0/16 beats the namespaced Allow */
	p = add_cluster(rs, 2, "admin-deny", 65535);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_DENY, false);
	rule_net(r, "10.9.0.0/16");
	/* cluster, priority 10: Pass port 80 anywhere, Pass 10.9.1.0/24 on any port */
	p = add_cluster(rs, 3, "admin-pass", 10);
	add_src(p, "10.0.0.1");
	r = add_rule(p, PF_ACTION_PASS, false);
	r->any_dst = true;
	rule_port(r, 80, 80);
	r = add_rule(p, PF_ACTION_PASS, false);
	rule_net(r, "10.9.1.0/24");
	/* cluster, priority 20, same name as a namespaced one: Alert 10.9.1.7, never reached
	 * for 10.0.0.1 (passed before), reached for 10.0.0.2 */
	p = add_cluster(rs, 4, "own-allow", 20);
	add_src(p, "10.0.0.1");
	add_src(p, "10.0.0.2");
	r = add_rule(p, PF_ACTION_ALERT, false);
	rule_ip(r, "10.9.1.7");
	/* a Pass in a namespaced policy is ignored (validation refuses it) */
	p = add_policy(rs, 5, "ta", "bogus-pass", 0);
	add_src(p, "10.0.0.3");
	r = add_rule(p, PF_ACTION_PASS, false);
	r->any_dst = true;
	r = add_rule(p, PF_ACTION_DENY, false);
	r->any_dst = true;
	rule_port(r, 22, 22);
	/* a cluster Pass with nothing below it: the default action */
	p = add_cluster(rs, 6, "pass-all", 30);
	add_src(p, "10.0.0.4");
	r = add_rule(p, PF_ACTION_PASS, true);
	r->any_dst = true;
	pf_ruleset_sort(rs);
	ok(rs->policies[0].cluster && rs->policies[1].cluster && rs->policies[2].cluster &&
	       rs->policies[3].cluster && !rs->policies[4].cluster,
	   "cluster policies sort first, whatever their priority");
	ok(!strcmp(rs->policies[0].name, "admin-pass") &&
	       !strcmp(rs->policies[3].name, "admin-deny"),
	   "  then by priority");
	c = build_or_die(rs, PF_ACTION_REJECT);

	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.9.0.5", 443, PF_ACTION_DENY, "admin-deny",
	       0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.8.0.5", 443, PF_ACTION_ALLOW, "own-allow",
	       0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.8.0.5", 2000, PF_ACTION_REJECT, "own-allow",
	       1);
	/* Pass on port 80: the cluster Deny below it is skipped, the namespaced Allow decides */
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.9.0.5", 80, PF_ACTION_ALLOW, "own-allow",
	       0);
	/* Pass 10.9.1.0/24 skips the cluster Alert and Deny: namespaced rules decide */
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.9.1.7", 22, PF_ACTION_ALLOW, "own-allow",
	       0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.1", "10.9.1.7", 5000, PF_ACTION_REJECT, "own-allow",
	       1);
	/* 10.0.0.2 has no Pass: the cluster Alert decides before its namespaced Allow */
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.2", "10.9.1.7", 22, PF_ACTION_ALERT, "own-allow",
	       0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.2", "10.9.1.8", 22, PF_ACTION_ALLOW, "own-allow",
	       0);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.3", "1.2.3.4", 22, PF_ACTION_DENY, "bogus-pass", 1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.3", "1.2.3.4", 23, PF_ACTION_REJECT, NULL, -1);
	expect(c, rs, PF_ACTION_REJECT, "10.0.0.4", "1.2.3.4", 23, PF_ACTION_REJECT, NULL, -1);

	{
		struct pf_addr s = A("10.0.0.1"), d = A("10.9.0.5"), s4 = A("10.0.0.4");
		struct pf_verdict v;

		pf_cache_lookup(c, &s, &d, 443, &v);
		ok(v.cluster && !v.pass_name && v.pass_rule_index == -1,
		   "a cluster verdict says so");
		pf_cache_lookup(c, &s, &d, 80, &v);
		ok(!v.cluster && v.pass_name && !strcmp(v.pass_name, "admin-pass") &&
		       v.pass_rule_index == 0 && v.pass_policy_id == 3,
		   "a passed-down verdict names the Pass rule");
		d = A("10.9.1.7");
		pf_cache_lookup(c, &s, &d, 22, &v);
		ok(v.pass_name && v.pass_rule_index == 1, "  the one that matched");
		pf_cache_lookup(c, &s4, &d, 22, &v);
		ok(!v.matched && v.action == PF_ACTION_REJECT && v.pass_name &&
		       !strcmp(v.pass_name, "pass-all") && !v.log,
		   "Pass to nothing: the default action, Pass named");
	}
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

/* Past the size limits the build fails cleanly. */
static void test_limits(void)
{
	struct pf_ruleset rs = {0};
	struct pf_rs_policy pol = {.namespace = (char *)"x", .name = (char *)"y"};
	struct pf_cache *c = NULL;

	pol.n_rules = PF_CACHE_MAX_RULES + 1; /* counted before anything is read */
	rs.policies = &pol;
	rs.n_policies = 1;
	is_int(pf_cache_build(&rs, PF_ACTION_ALLOW, &c), -E2BIG, "too many rules: -E2BIG");
	ok(c == NULL, "no cache returned on error");
}

int main(void)
{
	const char *e = getenv("PF_TEST_SEED");
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	uint32_t rounds = 5000;

	if (e && pf_parse_u64(e, UINT64_MAX, &seed) < 0)
		return printf("Bail out! bad PF_TEST_SEED\n"), 1;
	e = getenv("PF_TEST_ROUNDS");
	if (e && pf_parse_u32(e, 10000000, &rounds) < 0)
		return printf("Bail out! bad PF_TEST_ROUNDS\n"), 1;
	tap_diag("seed %llu (PF_TEST_SEED=%llu reproduces this run)", (unsigned long long)seed,
		 (unsigned long long)seed);

	test_empty();
	test_no_rules();
	test_cidr_covered_by_earlier();
	test_exact_vs_prefix();
	test_nested();
	test_ipv6();
	test_family();
	test_priorities_and_sharing();
	test_ports();
	test_limits();
	test_tiers();
	test_big();
	test_protocols();
	test_fqdn();
	test_differential(seed, rounds);
	test_differential_flows(seed, rounds);
	test_incremental_revert();
	test_incremental(seed, rounds / 5);
	return tap_done();
}
