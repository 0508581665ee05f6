/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's ruleset loader: a large ruleset against an independent loader, and a reader in
 * another process while one big transaction replaces everything. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "cache.h"
#include "store-testutil.h"
#include "store.h"
#include "tap.h"

/* ---- a large ruleset against an independent loader ----------------------------------------
 * pf_store_load_ruleset resolves refs in C from whole-table reads; ref_load_ruleset below asks
 * sqlite, one policy and one rule at a time, what each resolves to, straight from the
 * definition (workload IPs, the IPs of the registered pods a workload names, registered pods
 * for Pod and Namespace refs; distinct texts in text order; cidrs and ports in idx order). */

#define LARGE_POLICIES 1000
#define LARGE_RULES 10
#define LARGE_NS 10
#define LARGE_PODS 100

static const char REF_SET_SQL[] =
    "SELECT ip FROM ("
    "SELECT wi.ip FROM refs r JOIN workload w ON w.kind = r.kind AND w.namespace = r.ns "
    "AND w.name = r.name JOIN workload_ip wi ON wi.workload_id = w.id "
    "UNION SELECT pi.ip FROM refs r JOIN workload w ON w.kind = r.kind "
    "AND w.namespace = r.ns AND w.name = r.name "
    "JOIN workload_pod wp ON wp.workload_id = w.id "
    "JOIN pod p ON p.namespace = wp.pod_namespace AND p.name = wp.pod_name "
    "JOIN pod_ip pi ON pi.pod_id = p.id "
    "UNION SELECT pi.ip FROM refs r JOIN pod p ON p.namespace = r.ns AND p.name = r.name "
    "JOIN pod_ip pi ON pi.pod_id = p.id WHERE r.kind = 'Pod' "
    "UNION SELECT pi.ip FROM refs r JOIN pod p ON p.namespace = r.name "
    "JOIN pod_ip pi ON pi.pod_id = p.id WHERE r.kind = 'Namespace') ORDER BY ip";

static sqlite3_stmt *ref_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		tap_diag("prepare '%s': %s", sql, sqlite3_errmsg(db));
		abort();
	}
	return st;
}

/* Run st (parameters bound) and collect its first column as addresses, unparsable ones left
 * out. */
static void ref_addrs(sqlite3_stmt *st, struct pf_addr **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pf_addr a;

		if (pf_addr_parse((const char *)sqlite3_column_text(st, 0), &a) < 0)
			continue;
		*out = xgrow(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = a;
	}
	sqlite3_reset(st);
}

static struct pf_ruleset *ref_load_ruleset(struct pf_store *s)
{
	sqlite3 *db = pf_store_db(s);
	sqlite3_stmt *pol = ref_prepare(
	    db, "SELECT id, namespace, name, priority, n_rules FROM policy WHERE in_force = 1");
	sqlite3_stmt *rule = ref_prepare(db, "SELECT action, log, any_dst FROM policy_rule "
					     "WHERE policy_id = ?1 AND rule_index = ?2");
	sqlite3_stmt *nets = ref_prepare(db, "SELECT cidr FROM rule_peer WHERE policy_id = ?1 AND "
					     "rule_index = ?2 AND cidr IS NOT NULL ORDER BY idx");
	sqlite3_stmt *ports = ref_prepare(db, "SELECT port, end_port FROM rule_port WHERE "
					      "policy_id = ?1 AND rule_index = ?2 ORDER BY idx");
	sqlite3_stmt *src, *dst;
	struct pf_ruleset *rs = calloc(1, sizeof(*rs));
	char sql[2048];

	if (!rs)
		abort();
	snprintf(sql, sizeof(sql),
		 "WITH refs(kind, ns, name) AS (SELECT kind, namespace, name FROM policy_target "
		 "WHERE policy_id = ?1) %s",
		 REF_SET_SQL);
	src = ref_prepare(db, sql);
	snprintf(sql, sizeof(sql),
		 "WITH refs(kind, ns, name) AS (SELECT kind, namespace, name FROM rule_peer "
		 "WHERE policy_id = ?1 AND rule_index = ?2 AND kind IS NOT NULL) %s",
		 REF_SET_SQL);
	dst = ref_prepare(db, sql);

	while (sqlite3_step(pol) == SQLITE_ROW) {
		struct pf_rs_policy *p;
		int64_t id = sqlite3_column_int64(pol, 0), n_rules = sqlite3_column_int64(pol, 4);

		if (n_rules < 0 || n_rules > PF_POLICY_MAX_RULES)
			continue;
		rs->policies = xgrow(rs->policies, rs->n_policies + 1, sizeof(*rs->policies));
		p = &rs->policies[rs->n_policies++];
		memset(p, 0, sizeof(*p));
		p->id = (uint32_t)id;
		p->namespace = xstrdup((const char *)sqlite3_column_text(pol, 1));
		p->name = xstrdup((const char *)sqlite3_column_text(pol, 2));
		p->priority = (uint32_t)sqlite3_column_int(pol, 3);
		sqlite3_bind_int64(src, 1, id);
		ref_addrs(src, &p->src, &p->n_src);
		p->n_rules = (size_t)n_rules;
		p->rules = calloc(p->n_rules ? p->n_rules : 1, sizeof(*p->rules));
		if (!p->rules)
			abort();
		for (size_t j = 0; j < p->n_rules; j++) {
			struct pf_rs_rule *r = &p->rules[j];

			r->rule_index = (uint32_t)j;
			r->action = PF_ACTION_DENY;
			sqlite3_bind_int64(rule, 1, id);
			sqlite3_bind_int64(rule, 2, (int64_t)j);
			if (sqlite3_step(rule) == SQLITE_ROW) {
				int a = pf_action_from_string(
				    (const char *)sqlite3_column_text(rule, 0));

				r->action = a < 0 ? PF_ACTION_DENY : (enum pf_action)a;
				r->log = sqlite3_column_int(rule, 1);
				r->any_dst = sqlite3_column_int(rule, 2);
			}
			sqlite3_reset(rule);
			sqlite3_bind_int64(dst, 1, id);
			sqlite3_bind_int64(dst, 2, (int64_t)j);
			ref_addrs(dst, &r->dst_ips, &r->n_dst_ips);
			sqlite3_bind_int64(nets, 1, id);
			sqlite3_bind_int64(nets, 2, (int64_t)j);
			while (sqlite3_step(nets) == SQLITE_ROW) {
				struct pf_prefix pfx;

				if (pf_prefix_parse((const char *)sqlite3_column_text(nets, 0),
						    &pfx, NULL) < 0)
					continue;
				r->dst_nets =
				    xgrow(r->dst_nets, r->n_dst_nets + 1, sizeof(*r->dst_nets));
				r->dst_nets[r->n_dst_nets++] = pfx;
			}
			sqlite3_reset(nets);
			sqlite3_bind_int64(ports, 1, id);
			sqlite3_bind_int64(ports, 2, (int64_t)j);
			while (sqlite3_step(ports) == SQLITE_ROW) {
				r->ports = xgrow(r->ports, r->n_ports + 1, sizeof(*r->ports));
				r->ports[r->n_ports].port = (uint16_t)sqlite3_column_int(ports, 0);
				r->ports[r->n_ports++].end_port =
				    (uint16_t)sqlite3_column_int(ports, 1);
			}
			sqlite3_reset(ports);
		}
	}
	sqlite3_finalize(pol);
	sqlite3_finalize(src);
	sqlite3_finalize(rule);
	sqlite3_finalize(dst);
	sqlite3_finalize(nets);
	sqlite3_finalize(ports);
	pf_ruleset_sort(rs);
	return rs;
}

/* Where the two differ first (NULL: equal), for the test's message. */
static const char *rs_diff(const struct pf_ruleset *a, const struct pf_ruleset *b, char *buf,
			   size_t size)
{
	if (a->n_policies != b->n_policies) {
		snprintf(buf, size, "%zu policies, expected %zu", a->n_policies, b->n_policies);
		return buf;
	}
	for (size_t i = 0; i < a->n_policies; i++) {
		const struct pf_rs_policy *p = &a->policies[i], *q = &b->policies[i];

		snprintf(buf, size, "policy %zu (%s/%s): ", i, q->namespace, q->name);
		if (p->id != q->id || strcmp(p->namespace, q->namespace) ||
		    strcmp(p->name, q->name) || p->priority != q->priority ||
		    p->n_rules != q->n_rules) {
			strncat(buf, "identity, priority or rule count", size - strlen(buf) - 1);
			return buf;
		}
		if (p->n_src != q->n_src ||
		    (p->n_src && memcmp(p->src, q->src, p->n_src * sizeof(*p->src)))) {
			strncat(buf, "src", size - strlen(buf) - 1);
			return buf;
		}
		for (size_t j = 0; j < p->n_rules; j++) {
			const struct pf_rs_rule *x = &p->rules[j], *y = &q->rules[j];
			bool same = x->action == y->action && x->log == y->log &&
				    x->rule_index == y->rule_index && x->any_dst == y->any_dst &&
				    x->n_dst_ips == y->n_dst_ips &&
				    x->n_dst_nets == y->n_dst_nets && x->n_ports == y->n_ports;

			for (size_t k = 0; same && k < x->n_dst_ips; k++)
				same = pf_addr_eq(&x->dst_ips[k], &y->dst_ips[k]);
			for (size_t k = 0; same && k < x->n_dst_nets; k++)
				same = pf_addr_eq(&x->dst_nets[k].addr, &y->dst_nets[k].addr) &&
				       x->dst_nets[k].len == y->dst_nets[k].len;
			for (size_t k = 0; same && k < x->n_ports; k++)
				same = x->ports[k].port == y->ports[k].port &&
				       x->ports[k].end_port == y->ports[k].end_port;
			if (!same) {
				char r[32];

				snprintf(r, sizeof(r), "rule %zu", j);
				strncat(buf, r, size - strlen(buf) - 1);
				return buf;
			}
		}
	}
	return NULL;
}

static const char *large_ns(unsigned k)
{
	static char ns[LARGE_NS][8];

	snprintf(ns[k % LARGE_NS], sizeof(ns[0]), "ns%u", k % LARGE_NS);
	return ns[k % LARGE_NS];
}

/* Pod k: 10.1.x.y, even pods also fd00::1:k. */
static size_t large_pod_ips(unsigned k, struct pf_addr *a)
{
	char buf[64];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "10.1.%u.%u", k / 250, k % 250 + 1);
	a[n++] = ip(buf);
	if (k % 2 == 0) {
		snprintf(buf, sizeof(buf), "fd00::1:%x", k);
		a[n++] = ip(buf);
	}
	return n;
}

static void large_pods(struct pf_store *s, struct pf_error *err)
{
	for (unsigned k = 0; k < LARGE_PODS + 5; k++) {
		char name[32];
		struct pf_addr a[2];
		/* 100 pods, then a second netns under 5 of their names (a restarted sandbox) */
		unsigned pk = k < LARGE_PODS ? k : (k - LARGE_PODS) * 17;
		struct pf_pod_record p = {
		    .namespace = (char *)large_ns(pk),
		    .name = name,
		    .kind = (char *)"Pod",
		    .netns_dev = 7,
		    .netns_ino = 5000 + k,
		    .ips = a,
		    .n_ips = large_pod_ips(k, a),
		    .state = (char *)"enforced",
		};

		snprintf(name, sizeof(name), "pod-%u", pk);
		if (k % 25 == 3)
			p.n_ips = 0; /* registered before it has an address */
		if (pf_store_put_pod(s, &p, err) < 0)
			tap_diag("put pod: %s", err->msg);
	}
}

/* Deployments (IPs of 4 of their 5 pods, the 5 names and a pending one), Services (a cluster
 * IP and 3 pods'), Namespace workloads for half the namespaces, a workload of kind Pod. */
static void large_workloads(struct pf_store *s, struct pf_error *err)
{
	int r = pf_store_begin(s, err);

	for (unsigned d = 0; r >= 0 && d < 20; d++) {
		char name[32], pods[6][32];
		const char *pp[6];
		struct pf_addr a[12];
		size_t n = 0, np = 0;

		snprintf(name, sizeof(name), "dep-%u", d);
		for (unsigned k = d; k < LARGE_PODS; k += 20) {
			snprintf(pods[np], sizeof(pods[0]), "pod-%u", k);
			pp[np] = pods[np];
			np++;
			if (k + 20 < LARGE_PODS)
				n += large_pod_ips(k, &a[n]);
		}
		snprintf(pods[np], sizeof(pods[0]), "dep-%u-pending", d);
		pp[np] = pods[np];
		np++;
		r = pf_store_put_workload(s, PF_KIND_DEPLOYMENT, large_ns(d), name, a, n, err);
		if (r >= 0)
			r = pf_store_put_workload_pods(s, PF_KIND_DEPLOYMENT, large_ns(d), name, pp,
						       np, err);
	}
	for (unsigned v = 0; r >= 0 && v < 50; v++) {
		char name[32], buf[32];
		struct pf_addr a[8];
		size_t n = 0;

		snprintf(name, sizeof(name), "svc-%u", v);
		snprintf(buf, sizeof(buf), "10.96.0.%u", v + 1);
		a[n++] = ip(buf);
		for (unsigned b = 0; b < 3; b++)
			n += large_pod_ips((v + b * LARGE_NS) % LARGE_PODS, &a[n]);
		r = pf_store_put_workload(s, PF_KIND_SERVICE, large_ns(v), name, a, n, err);
	}
	for (unsigned k = 0; r >= 0 && k < LARGE_NS / 2; k++) {
		struct pf_addr a[2 * LARGE_PODS / LARGE_NS + 1];
		size_t n = 0;

		for (unsigned j = k; j < LARGE_PODS; j += LARGE_NS)
			n += large_pod_ips(j, &a[n]);
		a[n++] = ip("192.168.77.1"); /* a pod of another node */
		r = pf_store_put_workload(s, PF_KIND_NAMESPACE, large_ns(k), large_ns(k), a, n,
					  err);
	}
	if (r >= 0) {
		struct pf_addr a[] = {ip("10.2.0.3")};

		r = pf_store_put_workload(s, PF_KIND_POD, large_ns(3), "pod-3", a, 1, err);
	}
	if (r >= 0)
		r = pf_store_commit(s, err);
	else
		pf_store_rollback(s);
	if (r < 0)
		tap_diag("workloads: %s", err->msg);
}

/* Policy i of the large set: appliesTo a Deployment (sometimes unknown), sometimes also a Pod
 * and a Namespace; 10 rules mixing Services, cidrs, Pods, Deployments, Namespaces, ports,
 * several peers per rule, and a closing Deny. */
static struct pf_policy *large_policy(unsigned i)
{
	static const enum pf_action actions[] = {PF_ACTION_ALLOW, PF_ACTION_DENY, PF_ACTION_REJECT,
						 PF_ACTION_ALERT};
	unsigned d = i % LARGE_NS + LARGE_NS * ((i / LARGE_NS) % 2);
	char name[64];
	struct pf_policy *p;

	snprintf(name, sizeof(name), "pol-%05u", i);
	p = mk_policy(large_ns(d), name, (i % 13) * 10);
	snprintf(name, sizeof(name), i % 13 == 5 ? "dep-%u-gone" : "dep-%u", d);
	add_target(p, PF_KIND_DEPLOYMENT, large_ns(d), name);
	if (i % 7 == 0) {
		snprintf(name, sizeof(name), "pod-%u", (d + 20) % LARGE_PODS);
		add_target(p, PF_KIND_POD, large_ns(d), name);
	}
	if (i % 11 == 0)
		add_target(p, PF_KIND_NAMESPACE, large_ns(i + 3), large_ns(i + 3));
	if (i % 29 == 0)
		add_target(p, PF_KIND_POD, large_ns(3), "pod-3");

	for (unsigned j = 0; j < LARGE_RULES; j++) {
		struct pf_rule *r = add_rule(p, actions[(i + j) % 4]);
		unsigned k = i * 7 + j * 3;
		char buf[64];

		r->log = (i + j) % 3 == 0;
		if (j + 1 == LARGE_RULES) {
			r->action = PF_ACTION_DENY;
			continue;
		}
		switch (j % 4) {
		case 0:
			snprintf(buf, sizeof(buf), "svc-%u", k % 50);
			to_ref(r, PF_KIND_SERVICE, large_ns(k % 50), buf);
			if (i % 2) {
				snprintf(buf, sizeof(buf), "svc-%u", (k + 10) % 50);
				to_ref(r, PF_KIND_SERVICE, large_ns(k % 50), buf);
				to_cidr(r, "10.96.0.0/24");
			}
			add_ports(r, 443, 443);
			break;
		case 1:
			snprintf(buf, sizeof(buf), "10.%u.%u.0/24", i % 200, j);
			to_cidr(r, buf);
			if (i % 2) {
				snprintf(buf, sizeof(buf), "fd10:%x::/64", i);
				to_cidr(r, buf);
			}
			add_ports(r, 8000, 8100);
			add_ports(r, 80, 80);
			break;
		case 2:
			snprintf(buf, sizeof(buf), "pod-%u", k % LARGE_PODS);
			to_ref(r, PF_KIND_POD, large_ns(k % LARGE_PODS), buf);
			snprintf(buf, sizeof(buf), "dep-%u", k % 20);
			to_ref(r, PF_KIND_DEPLOYMENT, large_ns(k % 20), buf);
			if (i % 5 == 0)
				to_ref(r, PF_KIND_STATEFULSET, large_ns(k), "unknown");
			break;
		default:
			to_ref(r, PF_KIND_NAMESPACE, large_ns(k), large_ns(k));
			if (i % 3 == 0)
				to_ref(r, PF_KIND_POD, large_ns(3), "pod-3");
			add_ports(r, 53, 53);
			add_ports(r, 5353, 5353);
			break;
		}
	}
	return p;
}

static void large_compare(struct pf_store *s, const char *what)
{
	struct pf_error err = {0};
	struct pf_ruleset *got = NULL, *want;
	size_t n_src = 0, n_ips = 0, n_nets = 0, n_ports = 0;
	uint64_t t0, t1, t2;
	char buf[256];
	const char *diff;
	int r;

	t0 = pf_mono_ns();
	r = pf_store_load_ruleset(s, &got, &err);
	t1 = pf_mono_ns();
	want = ref_load_ruleset(s);
	t2 = pf_mono_ns();
	is_int(r, 0, "%s: load ruleset (%s)", what, err.msg);
	if (r < 0) {
		pf_ruleset_free(want);
		return;
	}
	for (size_t i = 0; i < want->n_policies; i++) {
		n_src += want->policies[i].n_src;
		for (size_t j = 0; j < want->policies[i].n_rules; j++) {
			n_ips += want->policies[i].rules[j].n_dst_ips;
			n_nets += want->policies[i].rules[j].n_dst_nets;
			n_ports += want->policies[i].rules[j].n_ports;
		}
	}
	tap_diag("%s: %zu policies, %zu rules, %zu src, %zu dst IPs, %zu nets, %zu ports; "
		 "loaded in %.1f ms, reference %.1f ms",
		 what, want->n_policies, pf_ruleset_n_rules(want), n_src, n_ips, n_nets, n_ports,
		 (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
	ok(want->n_policies >= LARGE_POLICIES - 5 && n_src > 5000 && n_ips > 40000 &&
	       n_nets > 2000 && n_ports > 8000,
	   "%s: the reference resolves a large ruleset", what);
	diff = rs_diff(got, want, buf, sizeof(buf));
	ok(!diff, "%s: the ruleset equals the reference exactly%s%s", what, diff ? ": " : "",
	   diff ? diff : "");
	pf_ruleset_free(got);
	pf_ruleset_free(want);
}

/* ---- a registering pod's own cache against the full build -------------------------------
 * The engine judges a pod that registers by a cache compiled from its own policies (the store
 * lists them once its row is in) and the ruleset in place, until the full build with its row
 * is done. For the pod's addresses, that cache must answer as the full build does, for every
 * destination but the pod's own addresses (the ruleset in place resolved peers without them). */

struct new_pod {
	const char *ns, *name;
	const char *ips[2];
	bool shared; /* another pod row holds one of its addresses */
	const char *what;
};

static const struct new_pod new_pods[] = {
    {"ns3", "dep-3-pending", {"10.9.0.1", "fd00::9:1"}, false, "named by a Deployment"},
    {"ns-other",
     "elsewhere",
     {"192.168.77.1", "fd00::77:1"},
     false,
     "one address listed by Namespace workloads, one not"},
    {"ns3", "pod-3", {"10.2.0.3", NULL}, false, "a Pod target, and a workload of kind Pod"},
    {"ns5", "pod-15", {"10.9.0.15", NULL}, false, "its Namespace and a Deployment"},
    {"lonely", "x", {"10.9.9.9", NULL}, false, "no policy applies"},
    {"ns1", "copy", {"10.1.0.11", NULL}, true, "an address another pod row holds"},
};

/* Destinations worth asking: every peer address and cidr edge of rs, and some outside. */
static size_t probe_dsts(const struct pf_ruleset *rs, struct pf_addr **out)
{
	struct pf_addr *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < rs->n_policies; i++)
		for (size_t j = 0; j < rs->policies[i].n_rules; j++) {
			const struct pf_rs_rule *r = &rs->policies[i].rules[j];

			for (size_t k = 0; k < r->n_dst_ips; k += 3) {
				v = xgrow(v, n + 1, sizeof(*v));
				v[n++] = r->dst_ips[k];
			}
			for (size_t k = 0; k < r->n_dst_nets; k++) {
				v = xgrow(v, n + 1, sizeof(*v));
				v[n++] = r->dst_nets[k].addr;
			}
		}
	v = xgrow(v, n + 3, sizeof(*v));
	v[n++] = ip("8.8.8.8");
	v[n++] = ip("10.96.0.200");
	v[n++] = ip("2001:db8::1");
	*out = v;
	return n;
}

static bool verdict_same(const struct pf_verdict *a, const struct pf_verdict *b)
{
	return a->action == b->action && a->matched == b->matched && a->log == b->log &&
	       a->cluster == b->cluster && (!a->matched || a->policy_id == b->policy_id) &&
	       a->rule_index == b->rule_index && a->pass_rule_index == b->pass_rule_index;
}

static void own_cache_one(struct pf_store *s, const struct new_pod *np, unsigned k)
{
	static const uint16_t ports[] = {1, 53, 80, 443, 5353, 5432, 8000, 8050, 8101};
	struct pf_error err = {0};
	struct pf_ruleset *before = NULL, *after = NULL, *mine = NULL;
	struct pf_cache *full = NULL, *own = NULL;
	struct pf_source_policy *sp = NULL;
	struct pf_addr ips[2], *dsts = NULL;
	size_t n_ips = 0, n_sp = 0, n_dsts, n_cmp = 0, n_diff = 0;
	bool shared = true;
	int r;

	for (size_t i = 0; i < 2 && np->ips[i]; i++)
		ips[n_ips++] = ip(np->ips[i]);
	is_int(pf_store_load_ruleset(s, &before, &err), 0, "%s: the ruleset in place", np->what);
	{
		struct pf_pod_record rec = {
		    .namespace = (char *)np->ns,
		    .name = (char *)np->name,
		    .kind = (char *)"Pod",
		    .netns_dev = 9,
		    .netns_ino = 100 + k,
		    .ips = ips,
		    .n_ips = n_ips,
		    .state = (char *)"pending",
		};

		is_int(pf_store_put_pod(s, &rec, &err), 0, "%s: its row (%s)", np->what, err.msg);
	}
	r = pf_store_pod_policies(s, 9, 100 + k, &sp, &n_sp, &shared, &err);
	is_int(r, 0, "%s: its policies listed (%s)", np->what, err.msg);
	ok(shared == np->shared, "%s: %s", np->what,
	   np->shared ? "an address is shared" : "no address is shared");
	tap_diag("%s: %zu (policy, address) entries", np->what, n_sp);
	if (np->shared)
		goto out; /* the engine waits for the full build then */
	r = pf_ruleset_for_source(before, ips, n_ips, sp, n_sp, &mine);
	is_int(r, 0, "%s: its ruleset", np->what);
	is_int(pf_store_load_ruleset(s, &after, &err), 0, "%s: the full load", np->what);
	if (r < 0 || !after)
		goto out;
	ok(pf_cache_build(mine, PF_ACTION_DENY, &own) == 0 &&
	       pf_cache_build(after, PF_ACTION_DENY, &full) == 0,
	   "%s: both caches build", np->what);
	if (!own || !full)
		goto out;
	n_dsts = probe_dsts(after, &dsts);
	for (size_t i = 0; i < n_ips; i++)
		for (size_t d = 0; d < n_dsts; d++) {
			bool self = false;

			for (size_t j = 0; j < n_ips; j++)
				self = self || pf_addr_eq(&dsts[d], &ips[j]);
			if (self)
				continue;
			for (size_t q = 0; q < PF_ARRAY_SIZE(ports); q++)
				for (int proto = 0; proto < 2; proto++) {
					struct pf_verdict a, b;
					enum pf_protocol pr = proto ? PF_PROTO_UDP : PF_PROTO_TCP;

					pf_cache_lookup_flow(full,
							     pf_cache_source_group(full, &ips[i]),
							     &dsts[d], pr, ports[q], NULL, &a);
					pf_cache_lookup_flow(own,
							     pf_cache_source_group(own, &ips[i]),
							     &dsts[d], pr, ports[q], NULL, &b);
					n_cmp++;
					if (!verdict_same(&a, &b) && n_diff++ < 3)
						tap_diag(
						    "%s: src %s dst #%zu port %u: full %s/%u/%d, "
						    "own %s/%u/%d",
						    np->what, np->ips[i], d, ports[q],
						    pf_action_to_string(a.action), a.policy_id,
						    a.rule_index, pf_action_to_string(b.action),
						    b.policy_id, b.rule_index);
				}
		}
	ok(n_cmp > 1000 && n_diff == 0,
	   "%s: its own cache answers as the full build (%zu lookups, %zu differ)", np->what, n_cmp,
	   n_diff);
out:
	free(dsts);
	free(sp);
	pf_cache_free(own);
	pf_cache_free(full);
	pf_ruleset_free(before);
	pf_ruleset_free(after);
	pf_ruleset_free(mine);
}

static void test_own_cache(struct pf_store *s)
{
	struct pf_error err = {0};
	struct pf_ruleset *rs = NULL, *mine = NULL;
	struct pf_source_policy *sp = NULL;
	struct pf_addr a = ip("10.9.0.1");
	size_t n_sp = 0;
	bool shared;

	for (unsigned k = 0; k < PF_ARRAY_SIZE(new_pods); k++)
		own_cache_one(s, &new_pods[k], k);

	/* A policy the store lists that the ruleset in place does not hold yet: -ENOENT, and
	 * the engine waits for the build. */
	is_int(pf_store_load_ruleset(s, &rs, &err), 0, "the ruleset before a new policy");
	{
		struct pf_policy *p = mk_policy("ns3", "late", 1);
		struct pf_policy_doc d;

		add_target(p, PF_KIND_POD, "ns3", "dep-3-pending");
		add_rule(p, PF_ACTION_DENY);
		d = valid_doc(p, 0);
		is_int(pf_store_put_policy(s, "/late.yaml", &d, &err), 0, "a new policy (%s)",
		       err.msg);
		pf_policy_doc_clear(&d);
	}
	is_int(pf_store_pod_policies(s, 9, 100, &sp, &n_sp, &shared, &err), 0,
	       "the pod's policies again");
	is_int(pf_ruleset_for_source(rs, &a, 1, sp, n_sp, &mine), -ENOENT,
	       "a policy newer than the ruleset in place: no own cache");
	free(sp);
	is_int(pf_store_pod_policies(s, 9, 99999, &sp, &n_sp, &shared, &err), -ENOENT,
	       "no such pod row: -ENOENT");
	free(sp);
	pf_ruleset_free(rs);
}

static void test_large_ruleset(void)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_policy_doc *docs;
	size_t n = LARGE_POLICIES + 2;
	int r;

	if (pf_store_open(db_path("large.db"), 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	large_pods(s, &err);
	large_workloads(s, &err);
	docs = calloc(n, sizeof(*docs));
	if (!docs)
		abort();
	for (unsigned i = 0; i < LARGE_POLICIES; i++)
		docs[i] = valid_doc(large_policy(i), i);
	/* never valid: recorded, not in force */
	docs[LARGE_POLICIES] = invalid_doc("ns1", "broken", LARGE_POLICIES, "spec: bad");
	docs[LARGE_POLICIES + 1] = valid_doc(web_policy(7), LARGE_POLICIES + 1);
	r = pf_store_sync_source(s, "/large.yaml", docs, n, &err);
	is_int(r, 1, "sync %d policies x %d rules, one invalid (%s)", LARGE_POLICIES, LARGE_RULES,
	       err.msg);
	docs_clear(docs, n);
	free(docs);

	/* An address sync wrote that does not parse resolves to nothing (as it always did). */
	r = sqlite3_exec(pf_store_db(s),
			 "INSERT INTO workload_ip (workload_id, ip) SELECT id, 'not-an-ip' "
			 "FROM workload WHERE kind = 'Service' AND name = 'svc-7'",
			 NULL, NULL, NULL);
	is_int(r, SQLITE_OK, "an unparsable workload IP");
	large_compare(s, "large");

	/* Later changes: a pod goes, a Deployment gains IPs, a policy turns invalid (its last valid
	 * version stays in force), another is deleted. */
	ok(pf_store_delete_pod(s, 7, 5000 + 42, &err) == 0, "unregister pod-42");
	{
		struct pf_addr a[] = {ip("10.3.0.1"), ip("fd00::3:1"), ip("10.1.0.5")};

		ok(pf_store_put_workload(s, PF_KIND_DEPLOYMENT, large_ns(4), "dep-4", a, 3, &err) ==
		       0,
		   "dep-4 gets new IPs");
	}
	{
		struct pf_policy_doc d = invalid_doc(large_ns(2), "pol-00002", 0, "spec: bad");

		is_int(pf_store_put_policy(s, "/large.yaml", &d, &err), 1,
		       "pol-00002 turns invalid");
		pf_policy_doc_clear(&d);
	}
	ok(pf_store_delete_policy(s, large_ns(10), "pol-00010", &err) == 0, "delete pol-00010");
	large_compare(s, "after changes");
	test_own_cache(s);
	pf_store_close(s);
}

/* A reader in another process loads rulesets while one big transaction replaces everything:
 * each load must see all of the old state or all of the new, never a mix. */
#define BIG_OLD 300
#define BIG_NEW 2000

static void big_docs(struct pf_policy_doc *docs, size_t n, size_t rules)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];
		struct pf_policy *p;

		snprintf(name, sizeof(name), "p%05zu", i);
		p = mk_policy("bulk", name, (uint32_t)(i % 7));
		add_target(p, PF_KIND_NAMESPACE, "bulk", "bulk");
		for (size_t j = 0; j < rules; j++) {
			struct pf_rule *r =
			    add_rule(p, j + 1 == rules ? PF_ACTION_DENY : PF_ACTION_ALLOW);

			if (j + 1 < rules) {
				char cidr[32];

				snprintf(cidr, sizeof(cidr), "10.%zu.%zu.0/24", i % 250, j);
				to_cidr(r, cidr);
				add_ports(r, (uint16_t)(1000 + j), (uint16_t)(1000 + j));
			}
		}
		docs[i] = valid_doc(p, (unsigned)i);
	}
}

/* When the writer's transaction ran (CLOCK_MONOTONIC is system-wide), shared with the reader. */
struct write_window {
	uint64_t start, end;
};

static int reader_child(const char *path, int ready_fd, int result_fd,
			volatile struct write_window *w)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	unsigned long reads = 0, old_seen = 0, new_seen = 0, bad = 0, during = 0;
	uint64_t deadline;
	char msg[128];

	if (pf_store_open(path, PF_STORE_READONLY, &s, &err) < 0)
		return 2;
	if (write(ready_fd, "r", 1) != 1)
		return 2;
	deadline = pf_mono_ns() + 60ull * 1000000000ull;
	while (pf_mono_ns() < deadline) {
		struct pf_ruleset *rs = NULL;
		uint64_t t0 = pf_mono_ns(), t1;
		size_t n_rules;

		if (pf_store_load_ruleset(s, &rs, &err) < 0) {
			bad++;
			break;
		}
		reads++;
		t1 = pf_mono_ns();
		if (__atomic_load_n(&w->start, __ATOMIC_SEQ_CST) && t0 >= w->start &&
		    (!__atomic_load_n(&w->end, __ATOMIC_SEQ_CST) || t1 <= w->end))
			during++;
		n_rules = pf_ruleset_n_rules(rs);
		if (rs->n_policies == BIG_OLD && n_rules == BIG_OLD * 3)
			old_seen++;
		else if (rs->n_policies == BIG_NEW && n_rules == BIG_NEW * 5)
			new_seen++;
		else
			bad++;
		pf_ruleset_free(rs);
		if (new_seen >= 3)
			break;
	}
	pf_store_close(s);
	snprintf(msg, sizeof(msg), "%lu %lu %lu %lu %lu", reads, old_seen, new_seen, bad, during);
	if (write(result_fd, msg, strlen(msg)) < 0)
		return 2;
	return bad ? 1 : 0;
}

static void test_concurrent_reader(void)
{
	const char *path = db_path("big.db");
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_policy_doc *docs;
	int ready[2], result[2], status = 0;
	unsigned long reads = 0, old_seen = 0, new_seen = 0, bad = 99, during = 0;
	volatile struct write_window *w;
	char buf[128] = {0};
	uint64_t t0, t1;
	pid_t pid;
	int r;

	if (pf_store_open(path, 0, &s, &err) < 0) {
		ok(0, "open: %s", err.msg);
		return;
	}
	docs = calloc(BIG_NEW, sizeof(*docs));
	if (!docs)
		abort();
	big_docs(docs, BIG_OLD, 3);
	r = pf_store_sync_source(s, "/bulk.yaml", docs, BIG_OLD, &err);
	is_int(r, 0, "old state: %d policies x 3 rules", BIG_OLD);
	docs_clear(docs, BIG_OLD);
	big_docs(docs, BIG_NEW, 5);

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0)
		abort();
	w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		abort();
	w->start = w->end = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(result[0]);
		_exit(reader_child(path, ready[1], result[1], w));
	}
	close(ready[1]);
	close(result[1]);
	if (read(ready[0], buf, 1) != 1)
		tap_diag("reader did not start");

	t0 = pf_mono_ns();
	__atomic_store_n(&w->start, t0, __ATOMIC_SEQ_CST);
	r = pf_store_sync_source(s, "/bulk.yaml", docs, BIG_NEW, &err);
	t1 = pf_mono_ns();
	__atomic_store_n(&w->end, t1, __ATOMIC_SEQ_CST);
	is_int(r, 0, "new state in one transaction: %d policies x 5 rules (%.1f ms)", BIG_NEW,
	       (double)(t1 - t0) / 1e6);
	docs_clear(docs, BIG_NEW);
	free(docs);

	waitpid(pid, &status, 0);
	if (read(result[0], buf, sizeof(buf) - 1) > 0)
		sscanf(buf, "%lu %lu %lu %lu %lu", &reads, &old_seen, &new_seen, &bad, &during);
	close(ready[0]);
	close(result[0]);
	munmap((void *)w, sizeof(*w));
	tap_diag("reader: %lu loads (%lu wholly inside the write), %lu saw the old state, %lu the "
		 "new, %lu partial",
		 reads, during, old_seen, new_seen, bad);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && bad == 0,
	   "the reader never saw a partial write");
	ok(during >= 1, "the reader loaded while the write was in progress (%lu loads)", during);
	ok(new_seen >= 1, "and then saw the whole new state");
	pf_store_close(s);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return tap_skip_all("mkdtemp failed");
	test_large_ruleset();
	test_concurrent_reader();
	rm_rf(tmpdir);
	return tap_done();
}
