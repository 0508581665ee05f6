/*
 * Ruleset load time: pf_store_load_ruleset against the loader it replaced (kept below, verbatim
 * but for the statement cache, as old_load_ruleset), on the same store, in the same run.
 * A registration waits for a load and a cache compile, so this is container start latency.
 * Prints measured numbers only. See bench/README.md.
 */
#include <getopt.h>
#include <sqlite3.h>
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

/* ---- the old loader (before the rewrite of pf_store_load_ruleset), for the ratio ------------
 * The same SQL and the same C as lib/store.c had; its statements are prepared once and kept, as
 * the store's statement cache kept them. */

static const char OLD_SQL_RS_POLICIES[] =
    "SELECT id, namespace, name, priority, n_rules FROM policy WHERE in_force = 1 ORDER BY id";
static const char OLD_SQL_RS_RULES[] =
    "SELECT r.policy_id, r.rule_index, r.action, r.log, r.any_dst FROM policy_rule r";
static const char OLD_SQL_RS_SOURCES[] =
    "SELECT t.policy_id, wi.ip FROM policy_target t "
    "JOIN workload w ON w.kind = t.kind AND w.namespace = t.namespace AND w.name = t.name "
    "JOIN workload_ip wi ON wi.workload_id = w.id "
    "UNION SELECT t.policy_id, pi.ip FROM policy_target t "
    "JOIN pod p ON p.namespace = t.namespace AND p.name = t.name "
    "JOIN pod_ip pi ON pi.pod_id = p.id WHERE t.kind = 'Pod' "
    "UNION SELECT t.policy_id, pi.ip FROM policy_target t "
    "JOIN pod p ON p.namespace = t.name "
    "JOIN pod_ip pi ON pi.pod_id = p.id WHERE t.kind = 'Namespace' "
    "UNION SELECT t.policy_id, pi.ip FROM policy_target t "
    "JOIN workload w ON w.kind = t.kind AND w.namespace = t.namespace AND w.name = t.name "
    "JOIN workload_pod wp ON wp.workload_id = w.id "
    "JOIN pod p ON p.namespace = wp.pod_namespace AND p.name = wp.pod_name "
    "JOIN pod_ip pi ON pi.pod_id = p.id";
static const char OLD_SQL_RS_DST_IPS[] =
    "SELECT r.policy_id, r.rule_index, wi.ip FROM rule_peer r "
    "JOIN workload w ON w.kind = r.kind AND w.namespace = r.namespace AND w.name = r.name "
    "JOIN workload_ip wi ON wi.workload_id = w.id "
    "UNION SELECT r.policy_id, r.rule_index, pi.ip FROM rule_peer r "
    "JOIN pod p ON p.namespace = r.namespace AND p.name = r.name "
    "JOIN pod_ip pi ON pi.pod_id = p.id WHERE r.kind = 'Pod' "
    "UNION SELECT r.policy_id, r.rule_index, pi.ip FROM rule_peer r "
    "JOIN pod p ON p.namespace = r.name "
    "JOIN pod_ip pi ON pi.pod_id = p.id WHERE r.kind = 'Namespace' "
    "UNION SELECT r.policy_id, r.rule_index, pi.ip FROM rule_peer r "
    "JOIN workload w ON w.kind = r.kind AND w.namespace = r.namespace AND w.name = r.name "
    "JOIN workload_pod wp ON wp.workload_id = w.id "
    "JOIN pod p ON p.namespace = wp.pod_namespace AND p.name = wp.pod_name "
    "JOIN pod_ip pi ON pi.pod_id = p.id";
static const char OLD_SQL_RS_DST_NETS[] =
    "SELECT policy_id, rule_index, cidr FROM rule_peer WHERE cidr IS NOT NULL "
    "ORDER BY policy_id, rule_index, idx";
static const char OLD_SQL_RS_PORTS[] =
    "SELECT policy_id, rule_index, port, end_port FROM rule_port "
    "ORDER BY policy_id, rule_index, idx";

enum { OLD_POLICIES, OLD_RULES, OLD_SOURCES, OLD_DST_IPS, OLD_DST_NETS, OLD_PORTS, OLD_N };

struct old_loader {
	sqlite3 *db;
	sqlite3_stmt *st[OLD_N];
};

static int old_prep(struct old_loader *o, int which, sqlite3_stmt **out)
{
	static const char *const sql[OLD_N] = {
	    OLD_SQL_RS_POLICIES, OLD_SQL_RS_RULES,    OLD_SQL_RS_SOURCES,
	    OLD_SQL_RS_DST_IPS,	 OLD_SQL_RS_DST_NETS, OLD_SQL_RS_PORTS,
	};

	if (!o->st[which] && sqlite3_prepare_v3(o->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT,
						&o->st[which], NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_reset(o->st[which]);
	*out = o->st[which];
	return 0;
}

static void *old_find_by_id(void *base, size_t n, size_t size, size_t off, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t v;

		memcpy(&v, (char *)base + mid * size + off, sizeof(v));
		if (v == id)
			return (char *)base + mid * size;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct old_slot {
	int64_t id;
	size_t index;
	size_t cap_src;
	size_t *cap_ips, *cap_nets, *cap_ports;
};

struct old_load {
	struct pf_ruleset *rs;
	struct old_slot *slots;
	size_t n;
};

static struct pf_rs_rule *old_rs_rule(struct old_load *l, sqlite3_stmt *st,
				      struct old_slot **slot_out)
{
	struct old_slot *sl =
	    old_find_by_id(l->slots, l->n, sizeof(*l->slots), 0, sqlite3_column_int64(st, 0));
	struct pf_rs_policy *p;
	int64_t ri = sqlite3_column_int64(st, 1);

	if (!sl)
		return NULL;
	p = &l->rs->policies[sl->index];
	if (ri < 0 || (uint64_t)ri >= p->n_rules)
		return NULL;
	*slot_out = sl;
	return &p->rules[ri];
}

static char *old_dup_col(sqlite3_stmt *st, int i, bool *oom)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	char *d;

	if (!t)
		return NULL;
	d = strdup(t);
	if (!d)
		*oom = true;
	return d;
}

static int old_step(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int old_load_locked(struct old_loader *o, struct old_load *l)
{
	struct pf_ruleset *rs = l->rs;
	size_t cap = 0, cap_slots = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = old_prep(o, OLD_POLICIES, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_policy *p;
		struct old_slot *sl;
		int64_t n_rules = sqlite3_column_int64(st, 4);
		bool oom = false;

		if (n_rules < 0 || n_rules > PF_POLICY_MAX_RULES)
			continue;
		if (pf_grow((void **)&rs->policies, &cap, rs->n_policies, sizeof(*rs->policies)) <
			0 ||
		    pf_grow((void **)&l->slots, &cap_slots, l->n, sizeof(*l->slots)) < 0) {
			sqlite3_reset(st);
			return -ENOMEM;
		}
		p = &rs->policies[rs->n_policies++];
		memset(p, 0, sizeof(*p));
		sl = &l->slots[l->n++];
		memset(sl, 0, sizeof(*sl));
		sl->id = sqlite3_column_int64(st, 0);
		sl->index = rs->n_policies - 1;
		p->id = (uint32_t)sl->id;
		p->namespace = old_dup_col(st, 1, &oom);
		p->name = old_dup_col(st, 2, &oom);
		p->priority = (uint32_t)sqlite3_column_int(st, 3);
		p->n_rules = (size_t)n_rules;
		if (n_rules) {
			p->rules = calloc(p->n_rules, sizeof(*p->rules));
			sl->cap_ips = calloc(p->n_rules, sizeof(size_t));
			sl->cap_nets = calloc(p->n_rules, sizeof(size_t));
			sl->cap_ports = calloc(p->n_rules, sizeof(size_t));
			oom = oom || !p->rules || !sl->cap_ips || !sl->cap_nets || !sl->cap_ports;
		}
		if (oom || !p->namespace || !p->name) {
			if (!p->rules)
				p->n_rules = 0;
			sqlite3_reset(st);
			return -ENOMEM;
		}
		for (size_t j = 0; j < p->n_rules; j++) {
			p->rules[j].rule_index = (uint32_t)j;
			p->rules[j].any_dst = false;
			p->rules[j].action = PF_ACTION_DENY;
		}
	}
	r = old_step(st, rc);
	if (r < 0)
		return r;

	r = old_prep(o, OLD_RULES, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct old_slot *sl;
		struct pf_rs_rule *rule = old_rs_rule(l, st, &sl);
		int a;

		if (!rule)
			continue;
		a = pf_action_from_string((const char *)sqlite3_column_text(st, 2));
		rule->action = a < 0 ? PF_ACTION_DENY : (enum pf_action)a;
		rule->log = sqlite3_column_int(st, 3);
		rule->any_dst = sqlite3_column_int(st, 4);
	}
	r = old_step(st, rc);
	if (r < 0)
		return r;

	r = old_prep(o, OLD_SOURCES, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct old_slot *sl = old_find_by_id(l->slots, l->n, sizeof(*l->slots), 0,
						     sqlite3_column_int64(st, 0));
		struct pf_rs_policy *p;

		if (!sl)
			continue;
		p = &rs->policies[sl->index];
		if (pf_grow((void **)&p->src, &sl->cap_src, p->n_src, sizeof(*p->src)) < 0) {
			sqlite3_reset(st);
			return -ENOMEM;
		}
		if (pf_addr_parse((const char *)sqlite3_column_text(st, 1), &p->src[p->n_src]) == 0)
			p->n_src++;
	}
	r = old_step(st, rc);
	if (r < 0)
		return r;

	r = old_prep(o, OLD_DST_IPS, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct old_slot *sl;
		struct pf_rs_rule *rule = old_rs_rule(l, st, &sl);
		size_t j;

		if (!rule)
			continue;
		j = rule->rule_index;
		if (pf_grow((void **)&rule->dst_ips, &sl->cap_ips[j], rule->n_dst_ips,
			    sizeof(*rule->dst_ips)) < 0) {
			sqlite3_reset(st);
			return -ENOMEM;
		}
		if (pf_addr_parse((const char *)sqlite3_column_text(st, 2),
				  &rule->dst_ips[rule->n_dst_ips]) == 0)
			rule->n_dst_ips++;
	}
	r = old_step(st, rc);
	if (r < 0)
		return r;

	r = old_prep(o, OLD_DST_NETS, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct old_slot *sl;
		struct pf_rs_rule *rule = old_rs_rule(l, st, &sl);
		size_t j;

		if (!rule)
			continue;
		j = rule->rule_index;
		if (pf_grow((void **)&rule->dst_nets, &sl->cap_nets[j], rule->n_dst_nets,
			    sizeof(*rule->dst_nets)) < 0) {
			sqlite3_reset(st);
			return -ENOMEM;
		}
		if (pf_prefix_parse((const char *)sqlite3_column_text(st, 2),
				    &rule->dst_nets[rule->n_dst_nets], NULL) == 0)
			rule->n_dst_nets++;
	}
	r = old_step(st, rc);
	if (r < 0)
		return r;

	r = old_prep(o, OLD_PORTS, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct old_slot *sl;
		struct pf_rs_rule *rule = old_rs_rule(l, st, &sl);
		struct pf_port_range *pr;
		size_t j;

		if (!rule)
			continue;
		j = rule->rule_index;
		if (pf_grow((void **)&rule->ports, &sl->cap_ports[j], rule->n_ports,
			    sizeof(*rule->ports)) < 0) {
			sqlite3_reset(st);
			return -ENOMEM;
		}
		pr = &rule->ports[rule->n_ports++];
		pr->port = (uint16_t)sqlite3_column_int(st, 2);
		pr->end_port = (uint16_t)sqlite3_column_int(st, 3);
	}
	return old_step(st, rc);
}

static int old_load_ruleset(struct old_loader *o, struct pf_ruleset **out)
{
	struct old_load l = {0};
	int r;

	*out = NULL;
	l.rs = calloc(1, sizeof(*l.rs));
	if (!l.rs)
		return -ENOMEM;
	r = sqlite3_exec(o->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
	if (r >= 0) {
		r = old_load_locked(o, &l);
		sqlite3_exec(o->db, "COMMIT", NULL, NULL, NULL);
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.slots[i].cap_ips);
		free(l.slots[i].cap_nets);
		free(l.slots[i].cap_ports);
	}
	free(l.slots);
	if (r < 0) {
		pf_ruleset_free(l.rs);
		return r;
	}
	pf_ruleset_sort(l.rs);
	*out = l.rs;
	return 0;
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

static bool rs_equal(const struct pf_ruleset *a, const struct pf_ruleset *b)
{
	if (a->n_policies != b->n_policies)
		return false;
	for (size_t i = 0; i < a->n_policies; i++) {
		const struct pf_rs_policy *p = &a->policies[i], *q = &b->policies[i];

		if (p->id != q->id || strcmp(p->namespace, q->namespace) ||
		    strcmp(p->name, q->name) || p->priority != q->priority ||
		    p->n_src != q->n_src || p->n_rules != q->n_rules ||
		    (p->n_src && memcmp(p->src, q->src, p->n_src * sizeof(*p->src))))
			return false;
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *x = &p->rules[j], *y = &q->rules[j];

			if (x->action != y->action || x->log != y->log ||
			    x->rule_index != y->rule_index || x->any_dst != y->any_dst ||
			    x->n_dst_ips != y->n_dst_ips || x->n_dst_nets != y->n_dst_nets ||
			    x->n_ports != y->n_ports)
				return false;
			for (size_t k = 0; k < x->n_dst_ips; k++)
				if (!pf_addr_eq(&x->dst_ips[k], &y->dst_ips[k]))
					return false;
			for (size_t k = 0; k < x->n_dst_nets; k++)
				if (!pf_addr_eq(&x->dst_nets[k].addr, &y->dst_nets[k].addr) ||
				    x->dst_nets[k].len != y->dst_nets[k].len)
					return false;
			for (size_t k = 0; k < x->n_ports; k++)
				if (x->ports[k].port != y->ports[k].port ||
				    x->ports[k].end_port != y->ports[k].end_port)
					return false;
		}
	}
	return true;
}

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
	fprintf(f, "usage: bench-store-load [--rules N,N,...] [--reps N] [--only old|new]\n"
		   "  --rules  rule counts to measure (default 100,1000,10000; 10 rules a policy)\n"
		   "  --reps   loads per algorithm and size, the median is printed (default 9)\n"
		   "  --only   time one algorithm only (for perf record)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rules", required_argument, NULL, 'r'},
	    {"reps", required_argument, NULL, 'n'},
	    {"only", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned sizes[MAX_SIZES] = {100, 1000, 10000};
	size_t n_sizes = 3;
	uint32_t reps = 9;
	int only = 0; /* 1 old, 2 new */
	char dir[] = "/tmp/pf-bench-store.XXXXXX";
	int c;

	while ((c = getopt_long(argc, argv, "r:n:o:h", opts, NULL)) != -1) {
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
		case 'o':
			only = !strcmp(optarg, "old") ? 1 : !strcmp(optarg, "new") ? 2 : -1;
			if (only < 0) {
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

	printf("%7s %6s %8s %9s %10s %10s %8s %6s\n", "rules", "pols", "src_ips", "dst_ips",
	       "old_ms", "new_ms", "ratio", "agree");
	for (size_t z = 0; z < n_sizes; z++) {
		struct pf_error err = {0};
		struct pf_store *s = NULL;
		struct old_loader o = {0};
		struct pf_ruleset *a = NULL, *b = NULL;
		double *t_old = calloc(reps, sizeof(double)), *t_new = calloc(reps, sizeof(double));
		size_t n_src = 0, n_dst = 0;
		char path[sizeof(dir) + 32];
		bool agree;

		if (!t_old || !t_new)
			die("out of memory");
		snprintf(path, sizeof(path), "%s/%u.db", dir, sizes[z]);
		must(pf_store_open(path, 0, &s, &err), &err);
		populate(s, sizes[z]);
		o.db = pf_store_db(s);

		/* Warm both (page cache, statement caches), and check they agree. */
		if (old_load_ruleset(&o, &a) < 0)
			die("old loader failed");
		must(pf_store_load_ruleset(s, &b, &err), &err);
		agree = rs_equal(a, b);
		for (size_t i = 0; i < b->n_policies; i++) {
			n_src += b->policies[i].n_src;
			for (size_t j = 0; j < b->policies[i].n_rules; j++)
				n_dst += b->policies[i].rules[j].n_dst_ips;
		}
		pf_ruleset_free(a);
		pf_ruleset_free(b);

		/* Interleaved, so both see the same machine load. */
		for (uint32_t k = 0; k < reps; k++) {
			uint64_t t0, t1;

			if (only != 2) {
				t0 = pf_mono_ns();
				if (old_load_ruleset(&o, &a) < 0)
					die("old loader failed");
				t1 = pf_mono_ns();
				pf_ruleset_free(a);
				t_old[k] = (double)(t1 - t0) / 1e6;
			}
			if (only != 1) {
				t0 = pf_mono_ns();
				must(pf_store_load_ruleset(s, &b, &err), &err);
				t1 = pf_mono_ns();
				pf_ruleset_free(b);
				t_new[k] = (double)(t1 - t0) / 1e6;
			}
		}
		{
			double mo = median(t_old, reps), mn = median(t_new, reps);

			printf("%7u %6u %8zu %9zu %10.3f %10.3f %8.1f %6s\n", sizes[z],
			       sizes[z] / RULES_PER_POLICY, n_src, n_dst, mo, mn,
			       mn > 0 ? mo / mn : 0.0, agree ? "yes" : "NO");
			fflush(stdout);
		}
		for (int i = 0; i < OLD_N; i++)
			sqlite3_finalize(o.st[i]);
		pf_store_close(s);
		free(t_old);
		free(t_new);
		if (!agree) {
			fprintf(stderr, "bench-store-load: the loaders disagree at %u rules\n",
				sizes[z]);
			return 1;
		}
	}
	{
		char cmd[sizeof(dir) + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-store-load: could not remove %s\n", dir);
	}
	return 0;
}
