/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's input: every policy in force resolved into a ruleset, in one read. */

#include "hashtable.h"
#include "siphash.h"
#include "store-internal.h"

/*
 * The engine waits for this on every registration, so it reads each table once, in primary-key
 * order, and resolves refs in C: joining every rule_peer row to workloads and pods in SQL (a
 * UNION per branch) made sqlite build and dedup a temp b-tree of every (rule, IP) pair, tens of
 * milliseconds at 10,000 rules, while a node has a few hundred pods and workloads and the
 * rules name a few hundred distinct refs. Each IP text is parsed once, each distinct ref
 * resolved once.
 *
 * The result is what the joins gave: a ref resolves to the IPs of its workload (kind,
 * namespace, name), of the registered pods its workload names, and for kind Pod of the
 * registered pods (namespace, name), for kind Namespace of the registered pods in namespace
 * `name`; a policy's src and a rule's dst_ips are the union over its refs, without duplicate
 * texts, in text (BINARY) order; dst_nets and ports in idx order.
 */

/* A set of addresses: ranks into rs_load.ips (distinct IP texts in BINARY order), so sorting
 * ranks sorts texts and equal ranks are equal texts. */
struct rank_set {
	uint32_t *v;
	size_t n, cap;
};

/* A registered pod, or a workload (with kind); ips: its own, then (workloads) its pods'. */
struct rs_owner {
	int64_t id;
	char *kind; /* workloads only */
	char *namespace;
	char *name;
	struct rank_set ips;
};

/* An IP text read from pod_ip or workload_ip, before ranking. */
struct rs_text {
	char *text;
	uint32_t owner; /* pods first, then workloads */
};

struct rs_ip {
	struct pf_addr a;
	bool ok; /* parsed: an unparsable text resolves to nothing, as before */
};

/* What a distinct (kind, namespace, name) resolves to, in rs_load.refs. */
struct rs_ref {
	struct pf_hnode node;
	char *key; /* 'n' kind \0 namespace \0 name ('-' kind \0 \0 name without namespace) */
	size_t key_len;
	struct rank_set set;
};

/* A policy in force by id (rows of the other tables name it by id). */
struct rs_slot {
	int64_t id;
	size_t index; /* into rs->policies */
};

struct rs_load {
	struct pf_ruleset *rs;
	struct rs_slot *slots; /* sorted by id */
	size_t n;
	struct rs_owner *pods, *wls; /* sorted by id */
	size_t n_pods, n_wls;
	size_t *pods_by_name, *wls_by_key; /* indexes, sorted by (namespace, name) / key */
	struct rs_text *texts;
	size_t n_texts;
	struct rs_ip *ips; /* by rank */
	size_t n_ips;
	struct pf_hashtable refs; /* of struct rs_ref */
	struct rank_set acc;	  /* the src or dst_ips being collected */
};

static void rank_set_free(struct rank_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int rank_set_add(struct rank_set *s, const uint32_t *v, size_t n)
{
	if (!n)
		return 0;
	if (n > SIZE_MAX / 2 - s->n)
		return -ENOMEM;
	if (s->n + n > s->cap) {
		size_t cap = s->cap ? s->cap : 8;
		uint32_t *nv;

		while (cap < s->n + n)
			cap *= 2;
		nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates: a set of texts in BINARY order, as UNION gave it. */
static void rank_set_normalize(struct rank_set *s)
{
	size_t k = 0;

	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	for (size_t i = 0; i < s->n; i++)
		if (!k || s->v[k - 1] != s->v[i])
			s->v[k++] = s->v[i];
	s->n = k;
}

static void rs_owners_free(struct rs_owner *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].kind);
		free(o[i].namespace);
		free(o[i].name);
		rank_set_free(&o[i].ips);
	}
	free(o);
}

static void rs_texts_free(struct rs_load *l)
{
	for (size_t i = 0; i < l->n_texts; i++)
		free(l->texts[i].text);
	free(l->texts);
	l->texts = NULL;
	l->n_texts = 0;
}

static void rs_load_done(struct rs_load *l)
{
	size_t i;

	free(l->slots);
	rs_owners_free(l->pods, l->n_pods);
	rs_owners_free(l->wls, l->n_wls);
	free(l->pods_by_name);
	free(l->wls_by_key);
	rs_texts_free(l);
	free(l->ips);
	for (struct pf_hnode *n = pf_hashtable_first(&l->refs, &i), *next; n; n = next) {
		struct rs_ref *ref = pf_container_of(n, struct rs_ref, node);

		next = pf_hashtable_next(&l->refs, n, &i);
		pf_hashtable_del(&l->refs, n);
		free(ref->key);
		rank_set_free(&ref->set);
		free(ref);
	}
	pf_hashtable_fini(&l->refs);
	rank_set_free(&l->acc);
}

static int rs_step(struct pf_store *s, sqlite3_stmt *st, int rc, struct pf_error *err)
{
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : pf_store_db_error(s, err, rc, "load ruleset");
}

static int rs_oom(sqlite3_stmt *st, struct pf_error *err)
{
	if (st)
		sqlite3_reset(st);
	return pf_error_set(err, ENOMEM, "out of memory");
}

/* The slot of a policy id; rows come in id order, so the last one found is tried first. */
static struct rs_slot *rs_slot_of(struct rs_load *l, int64_t id, struct rs_slot **last)
{
	if (*last && (*last)->id == id)
		return *last;
	*last = pf_store_find_by_id(l->slots, l->n, sizeof(*l->slots), 0, id);
	return *last;
}

/* The rule (policy_id, rule_index) of the current row, or NULL when it is not in force. */
static struct pf_rs_rule *rs_rule(struct rs_load *l, sqlite3_stmt *st, struct rs_slot **last)
{
	struct rs_slot *sl = rs_slot_of(l, sqlite3_column_int64(st, 0), last);
	struct pf_rs_policy *p;
	int64_t ri = sqlite3_column_int64(st, 1);

	if (!sl)
		return NULL;
	p = &l->rs->policies[sl->index];
	if (ri < 0 || (uint64_t)ri >= p->n_rules)
		return NULL;
	return &p->rules[ri];
}

static int load_policies(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct pf_ruleset *rs = l->rs;
	struct rs_slot *last = NULL;
	size_t cap = 0, cap_slots = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, PF_STMT_RS_POLICIES, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_policy *p;
		struct rs_slot *sl;
		int64_t n_rules = sqlite3_column_int64(st, 4);
		bool oom = false;

		if (n_rules < 0 || n_rules > PF_POLICY_MAX_RULES)
			continue;
		if (pf_grow((void **)&rs->policies, &cap, rs->n_policies, sizeof(*rs->policies)) <
			0 ||
		    pf_grow((void **)&l->slots, &cap_slots, l->n, sizeof(*l->slots)) < 0)
			return rs_oom(st, err);
		p = &rs->policies[rs->n_policies++];
		memset(p, 0, sizeof(*p));
		sl = &l->slots[l->n++];
		sl->id = sqlite3_column_int64(st, 0);
		sl->index = rs->n_policies - 1;
		p->id = (uint32_t)sl->id;
		p->namespace = pf_col_dup(st, 1, &oom);
		p->name = pf_col_dup(st, 2, &oom);
		p->priority = (uint32_t)sqlite3_column_int(st, 3);
		p->cluster = pf_streq(pf_col_text(st, 5), PF_POLICY_KIND_CLUSTER);
		p->audit = pf_streq(pf_col_text(st, 6), "Audit");
		p->n_rules = (size_t)n_rules;
		if (n_rules) {
			p->rules = calloc(p->n_rules, sizeof(*p->rules));
			oom = oom || !p->rules;
		}
		if (oom || !p->namespace || !p->name) {
			if (!p->rules)
				p->n_rules = 0;
			return rs_oom(st, err);
		}
		for (size_t j = 0; j < p->n_rules; j++) {
			p->rules[j].rule_index = (uint32_t)j;
			p->rules[j].any_dst = false;
			p->rules[j].action = PF_ACTION_DENY; /* until its row is read */
		}
	}
	r = rs_step(s, st, rc, err);
	if (r < 0)
		return r;

	r = pf_stmt_bind(s, PF_STMT_RS_RULES, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_rule *rule = rs_rule(l, st, &last);
		int a;

		if (!rule)
			continue;
		a = pf_action_from_string(pf_col_text(st, 2));
		rule->action = a < 0 ? PF_ACTION_DENY : (enum pf_action)a;
		rule->log = sqlite3_column_int(st, 3);
		rule->any_dst = sqlite3_column_int(st, 4);
	}
	return rs_step(s, st, rc, err);
}

/* Pods (with_kind false) or workloads with their IP texts: one row per (owner, IP), owners
 * without IPs once with a NULL IP. */
static int load_owners(struct pf_store *s, struct rs_load *l, bool with_kind, size_t *cap_texts,
		       struct pf_error *err)
{
	struct rs_owner **v = with_kind ? &l->wls : &l->pods;
	size_t *n = with_kind ? &l->n_wls : &l->n_pods, cap = 0;
	uint32_t base = with_kind ? (uint32_t)l->n_pods : 0;
	int c = with_kind ? 1 : 0; /* workload rows have kind after id */
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, with_kind ? PF_STMT_RS_WORKLOADS : PF_STMT_RS_PODS, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *ip = pf_col_text(st, 3 + c);

		if (!*n || (*v)[*n - 1].id != id) {
			struct rs_owner *o;
			bool oom = false;

			if (*n >= UINT32_MAX / 2 || pf_grow((void **)v, &cap, *n, sizeof(**v)) < 0)
				return rs_oom(st, err);
			o = &(*v)[(*n)++];
			memset(o, 0, sizeof(*o));
			o->id = id;
			o->kind = with_kind ? pf_col_dup(st, 1, &oom) : NULL;
			o->namespace = pf_col_dup(st, 1 + c, &oom);
			o->name = pf_col_dup(st, 2 + c, &oom);
			if (oom || !o->namespace || !o->name || (with_kind && !o->kind))
				return rs_oom(st, err);
		}
		if (ip) {
			struct rs_text *t;

			if (pf_grow((void **)&l->texts, cap_texts, l->n_texts, sizeof(*l->texts)) <
			    0)
				return rs_oom(st, err);
			t = &l->texts[l->n_texts];
			t->owner = base + (uint32_t)(*n - 1);
			t->text = strdup(ip);
			if (!t->text)
				return rs_oom(st, err);
			l->n_texts++;
		}
	}
	return rs_step(s, st, rc, err);
}

static int text_order(const void *a, const void *b, void *arg)
{
	const struct rs_text *t = arg;

	return strcmp(t[*(const size_t *)a].text, t[*(const size_t *)b].text);
}

/* Number the distinct IP texts in BINARY order, parse each once, and give every pod and
 * workload the ranks of its own IPs. */
static int rank_texts(struct rs_load *l, struct pf_error *err)
{
	_cleanup_free_ size_t *perm = calloc(l->n_texts ? l->n_texts : 1, sizeof(*perm));
	_cleanup_free_ uint32_t *rank = calloc(l->n_texts ? l->n_texts : 1, sizeof(*rank));

	l->ips = calloc(l->n_texts ? l->n_texts : 1, sizeof(*l->ips));
	if (!perm || !rank || !l->ips || l->n_texts >= UINT32_MAX)
		return rs_oom(NULL, err);
	for (size_t i = 0; i < l->n_texts; i++)
		perm[i] = i;
	qsort_r(perm, l->n_texts, sizeof(*perm), text_order, l->texts);
	for (size_t i = 0; i < l->n_texts; i++) {
		const char *t = l->texts[perm[i]].text;

		if (!i || strcmp(l->texts[perm[i - 1]].text, t)) {
			struct rs_ip *ip = &l->ips[l->n_ips++];

			ip->ok = pf_addr_parse(t, &ip->a) == 0;
		}
		rank[perm[i]] = (uint32_t)(l->n_ips - 1);
	}
	for (size_t i = 0; i < l->n_texts; i++) {
		uint32_t o = l->texts[i].owner;
		struct rs_owner *w = o < l->n_pods ? &l->pods[o] : &l->wls[o - l->n_pods];

		if (rank_set_add(&w->ips, &rank[i], 1) < 0)
			return rs_oom(NULL, err);
	}
	rs_texts_free(l);
	return 0;
}

static int pod_name_order(const void *a, const void *b, void *arg)
{
	const struct rs_owner *p = arg, *x = &p[*(const size_t *)a], *y = &p[*(const size_t *)b];
	int c = strcmp(x->namespace, y->namespace);

	return c ? c : strcmp(x->name, y->name);
}

static int wl_key_order(const void *a, const void *b, void *arg)
{
	const struct rs_owner *w = arg, *x = &w[*(const size_t *)a], *y = &w[*(const size_t *)b];
	int c = strcmp(x->kind, y->kind);

	return c ? c : pod_name_order(a, b, arg);
}

/* First index in pods_by_name whose pod is >= (ns, name); name NULL: >= namespace ns. */
static size_t pods_lower(const struct rs_load *l, const char *ns, const char *name)
{
	size_t lo = 0, hi = l->n_pods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rs_owner *p = &l->pods[l->pods_by_name[mid]];
		int c = strcmp(p->namespace, ns);

		if (!c && name)
			c = strcmp(p->name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add the IPs of the registered pods (ns, name), or of namespace ns when name is NULL. */
static int add_pods(const struct rs_load *l, const char *ns, const char *name, struct rank_set *out)
{
	for (size_t i = pods_lower(l, ns, name); i < l->n_pods; i++) {
		const struct rs_owner *p = &l->pods[l->pods_by_name[i]];

		if (strcmp(p->namespace, ns) || (name && strcmp(p->name, name)))
			break;
		if (rank_set_add(out, p->ips.v, p->ips.n) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const struct rs_owner *find_workload(const struct rs_load *l, const char *kind,
					    const char *ns, const char *name)
{
	size_t lo = 0, hi = l->n_wls;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rs_owner *w = &l->wls[l->wls_by_key[mid]];
		int c = strcmp(w->kind, kind);

		if (!c)
			c = strcmp(w->namespace, ns);
		if (!c)
			c = strcmp(w->name, name);
		if (!c)
			return w;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Index pods by name and workloads by key, then add to each workload its pods' IPs. */
static int load_workload_pods(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_owner *last = NULL;
	sqlite3_stmt *st;
	int r, rc;

	l->pods_by_name = calloc(l->n_pods ? l->n_pods : 1, sizeof(size_t));
	l->wls_by_key = calloc(l->n_wls ? l->n_wls : 1, sizeof(size_t));
	if (!l->pods_by_name || !l->wls_by_key)
		return rs_oom(NULL, err);
	for (size_t i = 0; i < l->n_pods; i++)
		l->pods_by_name[i] = i;
	for (size_t i = 0; i < l->n_wls; i++)
		l->wls_by_key[i] = i;
	qsort_r(l->pods_by_name, l->n_pods, sizeof(size_t), pod_name_order, l->pods);
	qsort_r(l->wls_by_key, l->n_wls, sizeof(size_t), wl_key_order, l->wls);

	r = pf_stmt_bind(s, PF_STMT_RS_WORKLOAD_PODS, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *ns = pf_col_text(st, 1), *name = pf_col_text(st, 2);

		if (!last || last->id != id)
			last = pf_store_find_by_id(l->wls, l->n_wls, sizeof(*l->wls), 0, id);
		if (!last || !ns || !name)
			continue;
		if (add_pods(l, ns, name, &last->ips) < 0)
			return rs_oom(st, err);
	}
	return rs_step(s, st, rc, err);
}

/* Keyed: the names in a policy's refs are the tenant's to choose. */
static uint64_t key_hash(const char *key, size_t len)
{
	return pf_keyed_hash(key, len);
}

struct ref_key {
	const char *key;
	size_t len;
};

static bool ref_eq(const struct pf_hnode *n, const void *k)
{
	const struct rs_ref *ref = pf_container_of(n, struct rs_ref, node);
	const struct ref_key *key = k;

	return ref->key_len == key->len && !memcmp(ref->key, key->key, key->len);
}

/* What the ref of columns kind, namespace, name at c resolves to, a sorted set (resolved once
 * per distinct ref); NULL on ENOMEM. A row without kind (a cidr) resolves to nothing; one
 * without namespace (no writer stores that) only by the Namespace rule, as the joins did. */
static const struct rank_set *resolve_ref(struct rs_load *l, sqlite3_stmt *st, int c)
{
	static const struct rank_set none;
	const char *kind = pf_col_text(st, c), *ns = pf_col_text(st, c + 1),
		   *name = pf_col_text(st, c + 2);
	size_t lk, ln, lm, len;
	char buf[512], *key;
	struct rs_ref *ref;
	const struct rs_owner *w;
	uint64_t h;

	if (!kind || !name)
		return &none;
	lk = strlen(kind);
	ln = ns ? strlen(ns) : 0;
	lm = strlen(name);
	len = 1 + lk + 1 + ln + 1 + lm;
	key = len <= sizeof(buf) ? buf : malloc(len);
	if (!key)
		return NULL;
	key[0] = ns ? 'n' : '-';
	memcpy(key + 1, kind, lk + 1);
	memcpy(key + lk + 2, ns ? ns : "", ln + 1);
	memcpy(key + lk + ln + 3, name, lm);
	h = key_hash(key, len);
	{
		struct pf_hnode *n =
		    pf_hashtable_find(&l->refs, h, ref_eq, &(struct ref_key){key, len});

		if (n) {
			if (key != buf)
				free(key);
			return &pf_container_of(n, struct rs_ref, node)->set;
		}
	}
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		goto oom;
	w = ns ? find_workload(l, kind, ns, name) : NULL;
	if (w && rank_set_add(&ref->set, w->ips.v, w->ips.n) < 0)
		goto oom_set;
	if (ns && !strcmp(kind, "Pod") && add_pods(l, ns, name, &ref->set) < 0)
		goto oom_set;
	if (!strcmp(kind, "Namespace") && add_pods(l, name, NULL, &ref->set) < 0)
		goto oom_set;
	rank_set_normalize(&ref->set);
	ref->key = key == buf ? pf_strndup0(buf, len) : key;
	if (!ref->key)
		goto oom_set;
	key = NULL; /* the ref owns it */
	ref->key_len = len;
	if (pf_hashtable_add(&l->refs, &ref->node, h) < 0) {
		free(ref->key);
		goto oom_set;
	}
	return &ref->set;

oom_set:
	rank_set_free(&ref->set);
	free(ref);
oom:
	if (key != buf)
		free(key);
	return NULL;
}

/* The collected set as addresses (NULL when empty), in rank order, unparsable texts left out. */
static int acc_flush(struct rs_load *l, bool merged, struct pf_addr **out, size_t *n_out)
{
	struct rank_set *a = &l->acc;
	size_t n = 0;

	if (merged)
		rank_set_normalize(a);
	if (a->n) {
		*out = malloc(a->n * sizeof(**out));
		if (!*out)
			return -ENOMEM;
		for (size_t i = 0; i < a->n; i++)
			if (l->ips[a->v[i]].ok)
				(*out)[n++] = l->ips[a->v[i]].a;
	}
	*n_out = n;
	a->n = 0;
	return 0;
}

static int load_sources(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL, *cur = NULL;
	size_t n_refs = 0; /* refs collected for cur */
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, PF_STMT_RS_TARGETS, &st, NULL, 0, err);
	if (r < 0)
		return r;
	for (;;) {
		struct rs_slot *sl = NULL;
		const struct rank_set *set;

		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			sl = rs_slot_of(l, sqlite3_column_int64(st, 0), &last);
		if (cur && (rc != SQLITE_ROW || sl != cur)) {
			struct pf_rs_policy *p = &l->rs->policies[cur->index];

			if (acc_flush(l, n_refs > 1, &p->src, &p->n_src) < 0)
				return rs_oom(st, err);
			cur = NULL;
		}
		if (rc != SQLITE_ROW)
			break;
		if (!sl)
			continue;
		if (!cur) {
			cur = sl;
			n_refs = 0;
		}
		set = resolve_ref(l, st, 1);
		if (!set || rank_set_add(&l->acc, set->v, set->n) < 0)
			return rs_oom(st, err);
		n_refs++;
	}
	return rs_step(s, st, rc, err);
}

static int load_peers(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL;
	struct pf_rs_rule *cur = NULL;
	size_t n_refs = 0, cap_nets = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, PF_STMT_RS_PEERS, &st, NULL, 0, err);
	if (r < 0)
		return r;
	for (;;) {
		struct pf_rs_rule *rule = NULL;
		const char *cidr;

		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			rule = rs_rule(l, st, &last);
		if (cur && (rc != SQLITE_ROW || rule != cur)) {
			if (acc_flush(l, n_refs > 1, &cur->dst_ips, &cur->n_dst_ips) < 0)
				return rs_oom(st, err);
			cur = NULL;
		}
		if (rc != SQLITE_ROW)
			break;
		if (!rule)
			continue;
		if (!cur) {
			cur = rule;
			n_refs = 0;
			cap_nets = 0;
		}
		cidr = pf_col_text(st, 5);
		if (cidr) {
			if (pf_grow((void **)&rule->dst_nets, &cap_nets, rule->n_dst_nets,
				    sizeof(*rule->dst_nets)) < 0)
				return rs_oom(st, err);
			if (pf_prefix_parse(cidr, &rule->dst_nets[rule->n_dst_nets], NULL) == 0)
				rule->n_dst_nets++;
		}
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			const struct rank_set *set = resolve_ref(l, st, 2);

			if (!set || rank_set_add(&l->acc, set->v, set->n) < 0)
				return rs_oom(st, err);
			n_refs++;
		}
	}
	return rs_step(s, st, rc, err);
}

static int load_ports(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL;
	struct pf_rs_rule *cur = NULL;
	size_t cap = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, PF_STMT_RS_PORTS, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_rule *rule = rs_rule(l, st, &last);
		struct pf_port_range *pr;

		if (!rule)
			continue;
		if (rule != cur) {
			cur = rule;
			cap = 0;
		}
		if (pf_grow((void **)&rule->ports, &cap, rule->n_ports, sizeof(*rule->ports)) < 0)
			return rs_oom(st, err);
		pr = &rule->ports[rule->n_ports++];
		pr->port = (uint16_t)sqlite3_column_int(st, 2);
		pr->end_port = (uint16_t)sqlite3_column_int(st, 3);
		/* the schema admits TCP and UDP only; anything else stays TCP, the default */
		pr->protocol = pf_streq(pf_col_text(st, 4), "UDP") ? PF_PROTO_UDP : PF_PROTO_TCP;
	}
	return rs_step(s, st, rc, err);
}

static int load_fqdns(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	struct rs_slot *last = NULL;
	struct pf_rs_rule *cur = NULL;
	size_t cap = 0;
	sqlite3_stmt *st;
	int r, rc;

	r = pf_stmt_bind(s, PF_STMT_RS_FQDNS, &st, NULL, 0, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_rs_rule *rule = rs_rule(l, st, &last);
		bool oom = false;
		char *name;

		if (!rule)
			continue;
		if (rule != cur) {
			cur = rule;
			cap = 0;
		}
		name = pf_col_dup(st, 2, &oom);
		if (oom || !name ||
		    pf_grow((void **)&rule->fqdns, &cap, rule->n_fqdns, sizeof(*rule->fqdns)) < 0) {
			free(name);
			return rs_oom(st, err);
		}
		rule->fqdns[rule->n_fqdns++] = name;
	}
	return rs_step(s, st, rc, err);
}

static int load_ruleset_locked(struct pf_store *s, struct rs_load *l, struct pf_error *err)
{
	size_t cap_texts = 0;
	int r;

	r = load_policies(s, l, err);
	if (r >= 0)
		r = load_owners(s, l, false, &cap_texts, err);
	if (r >= 0)
		r = load_owners(s, l, true, &cap_texts, err);
	if (r >= 0)
		r = rank_texts(l, err);
	if (r >= 0)
		r = load_workload_pods(s, l, err);
	if (r >= 0)
		r = load_sources(s, l, err);
	if (r >= 0)
		r = load_peers(s, l, err);
	if (r >= 0)
		r = load_ports(s, l, err);
	if (r >= 0)
		r = load_fqdns(s, l, err);
	return r;
}

int pf_store_load_ruleset(struct pf_store *s, struct pf_ruleset **out, struct pf_error *err)
{
	struct rs_load l = {0};
	int r;

	/* refs: bounded by the rows read, so no limit of its own */
	pf_hashtable_init(&l.refs, 256, SIZE_MAX, PF_HASHTABLE_GROW);
	*out = NULL;
	l.rs = calloc(1, sizeof(*l.rs));
	if (!l.rs)
		return pf_error_set(err, ENOMEM, "out of memory");
	r = pf_store_read_begin(s, err);
	if (r >= 0) {
		r = load_ruleset_locked(s, &l, err);
		pf_store_read_end(s);
	}
	rs_load_done(&l);
	if (r < 0) {
		pf_ruleset_free(l.rs);
		return r;
	}
	pf_ruleset_sort(l.rs);
	*out = l.rs;
	return 0;
}
