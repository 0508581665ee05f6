/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict cache built: a resolved ruleset compiled into the layout of cache-internal.h. */
#include <sys/mman.h>

#include "cache-internal.h"
#include "hashtable.h"
#include "siphash.h"

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/*
 * Can the prefix hold an IPv4 address / a non-IPv4 one? (Only these lengths are probed.) An
 * IPv6 prefix (shorter than /96) holds no IPv4 address even where its bits cover
 * ::ffff:0:0/96, as pf_prefix_contains says.
 */
static bool prefix_has_v4(uint64_t hi, uint64_t lo, unsigned len)
{
	return len >= 96 && is_v4(hi, lo);
}

static bool prefix_has_v6(uint64_t hi, uint64_t lo, unsigned len)
{
	return !prefix_has_v4(hi, lo, len);
}

static int htab_init(struct htab *t, size_t want)
{
	size_t cap = 8;

	while (cap < want * 2)
		cap *= 2;
	t->s = malloc(cap * sizeof(*t->s));
	if (!t->s)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		t->s[i].val = NONE;
	t->mask = cap - 1;
	t->n = 0;
	return 0;
}

static void htab_free(struct htab *t)
{
	free(t->s);
	t->s = NULL;
	t->mask = t->n = 0;
}
static void htab_put_nogrow(struct htab *t, uint64_t seed, const struct slot *e)
{
	size_t i = key_hash(seed, e->hi, e->lo, e->tag) & t->mask;

	while (t->s[i].val != NONE)
		i = (i + 1) & t->mask;
	t->s[i] = *e;
	t->n++;
}

/* Insert a key known to be absent. */
static int htab_put(struct htab *t, uint64_t seed, uint64_t hi, uint64_t lo, uint32_t tag,
		    uint32_t val)
{
	struct slot e = {.hi = hi, .lo = lo, .tag = tag, .val = val};

	if ((t->n + 1) * 2 > t->mask + 1) {
		struct htab bigger;
		int r = htab_init(&bigger, t->n + 1);

		if (r < 0)
			return r;
		for (size_t i = 0; i <= t->mask; i++)
			if (t->s[i].val != NONE)
				htab_put_nogrow(&bigger, seed, &t->s[i]);
		free(t->s);
		*t = bigger;
	}
	htab_put_nogrow(t, seed, &e);
	return 0;
}

/*
 * A set of ids 0, 1, 2, ... interned by content, on lib/hashtable: nodes[id] is id's link and
 * content hash, and the caller's eq tells whether id holds the candidate it set up.
 */
struct intern {
	struct pf_hashtable t;
	struct pf_hnode *nodes;
	size_t cap;
	bool (*eq)(void *ctx, uint32_t id);
	void *ctx;
};

static void intern_init(struct intern *in, size_t want, size_t limit)
{
	pf_hashtable_init(&in->t, want, limit, PF_HASHTABLE_GROW);
}

/* Forget every id (the node array stays for the next round). */
static void intern_reset(struct intern *in)
{
	pf_hashtable_fini(&in->t);
}

static void intern_free(struct intern *in)
{
	pf_hashtable_fini(&in->t);
	free(in->nodes);
	in->nodes = NULL;
	in->cap = 0;
}

static bool intern_node_eq(const struct pf_hnode *n, const void *key)
{
	const struct intern *in = key;

	return in->eq(in->ctx, (uint32_t)(n - in->nodes));
}

/* The id equal to the candidate, or NONE. */
static uint32_t intern_find(struct intern *in, uint64_t h, bool (*eq)(void *ctx, uint32_t id),
			    void *ctx)
{
	struct pf_hnode *n;

	in->eq = eq;
	in->ctx = ctx;
	n = pf_hashtable_find(&in->t, h, intern_node_eq, in);
	return n ? (uint32_t)(n - in->nodes) : NONE;
}

/* Add id, the next one (as many ids as the set holds), with content hash h. */
static int intern_add(struct intern *in, uint32_t id, uint64_t h)
{
	struct pf_hnode *old = in->nodes;
	int r = pf_grow((void **)&in->nodes, &in->cap, id, sizeof(*in->nodes));

	if (r < 0)
		return r;
	if (in->nodes != old) {
		/* The nodes moved: relink them where they are now. */
		size_t n = pf_hashtable_count(&in->t);

		pf_hashtable_fini(&in->t);
		for (size_t i = 0; i < n; i++)
			if ((r = pf_hashtable_add(&in->t, &in->nodes[i], in->nodes[i].hash)) < 0)
				return r;
	}
	r = pf_hashtable_add(&in->t, &in->nodes[id], h);
	return r == -ENOSPC ? -E2BIG : r;
}

/* Unkeyed: what it interns (rule and policy id lists) is built from policies at build time,
 * not from anything a pod sends. */
static uint64_t hash_u32s(uint64_t h, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = mix64(h ^ v[i]) + i;
	return mix64(h ^ n);
}

/* ------------------------------------------------------------------------------------------ */
/* Building */

/* A source while its policies are gathered: pol[head], pol[link[head]], ... (see
 * build_groups); last is the policy that listed it last, so one listing it twice counts once. */
struct src_ent {
	uint64_t hi, lo;
	uint32_t head, tail, last;
};

/* One destination entry of one rule, in one group. */
struct dst_entry {
	uint64_t hi, lo;
	uint32_t seq; /* rule, in evaluation order */
	uint8_t len;  /* 128: exact IP */
};

enum {
	RULE_PASS = 1, /* a cluster policy's Pass */
	RULE_DEAD = 2, /* a Pass in a namespaced policy: matches nothing */
};

struct build {
	struct pf_cache *c;
	const struct pf_rs_rule **rrule; /* per rule: its ports */
	uint8_t *anyport;		 /* per rule: matches every port, no later rule can win */
	uint8_t *rflags;		 /* per rule: RULE_* */
	uint32_t *pol_first;		 /* per policy: its first rule */
	size_t n_real;			 /* rules of the ruleset; combined entries follow */
	uint32_t first_ns;		 /* first rule of the namespaced tier */
	bool has_pass;
	size_t cap_rules;

	/* (Pass rule, namespaced rule) pairs already in rules[] */
	struct intern pint;
	uint32_t *p_pass, *p_fin;
	size_t n_pairs, cap_pp, cap_pf;
	uint32_t cand_pass, cand_fin;
	size_t cap_tables, cap_iv, cap_l2, cap_bloom;

	/* groups: policy lists */
	uint32_t *glist;
	size_t n_glist, cap_glist;
	uint32_t *g_off, *g_n;
	size_t cap_groups;
	const uint32_t *cand;
	size_t n_cand;
	struct intern gint;

	/* port tables */
	struct port_table *tables;
	struct intern tint;
	size_t n_ci; /* candidate table, in s_iv */

	/* scratch for compile_ports */
	uint32_t *pts, *seg, *nxt, *fin;
	size_t cap_pts;
	uint64_t *s_iv;
	size_t cap_s;

	/* per group */
	struct dst_entry *ent;
	size_t n_ent, cap_ent;
	uint32_t *anyl, *own, *eff;
	size_t n_any, cap_any, cap_own, cap_eff;
	uint32_t *pool; /* merged lists of the group's prefix nodes */
	size_t n_pool, cap_pool;
	uint32_t *node_off, *node_n;
	size_t cap_nodes;

	/* per group: rule list -> port table already compiled */
	struct intern mint;
	uint32_t *m_off, *m_n, *m_table, *m_pool;
	size_t n_memo, cap_memo, n_mpool, cap_mpool;
};

static int grow(void *arrp, size_t *cap, size_t n, size_t sz)
{
	return pf_grow(arrp, cap, n, sz);
}

/* Resize each of the NULL-terminated arrays of u32 to cap; on -ENOMEM some may be resized. */
static int realloc_u32s(size_t cap, uint32_t **const arrs[])
{
	for (size_t i = 0; arrs[i]; i++) {
		uint32_t *p = realloc(*arrs[i], cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*arrs[i] = p;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct dst_entry *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool table_eq(void *ctx, uint32_t id)
{
	const struct build *b = ctx;
	const struct port_table *t = &b->tables[id];

	return t->n == b->n_ci && !memcmp(b->c->iv + t->off, b->s_iv, b->n_ci * sizeof(*b->s_iv));
}

static bool group_eq(void *ctx, uint32_t id)
{
	const struct build *b = ctx;

	return b->g_n[id] == b->n_cand &&
	       !memcmp(b->glist + b->g_off[id], b->cand, b->n_cand * sizeof(uint32_t));
}

/* Most port tables cut the ports at a handful of points: insertion sort beats qsort there. */
static void sort_u32(uint32_t *v, size_t n)
{
	if (n > 48) {
		qsort(v, n, sizeof(*v), cmp_u32);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static uint32_t uf_find(uint32_t *nxt, uint32_t k)
{
	uint32_t root = k;

	while (nxt[root] != root)
		root = nxt[root];
	while (nxt[k] != root) {
		uint32_t up = nxt[k];

		nxt[k] = root;
		k = up;
	}
	return root;
}

static size_t lower_u32(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Give each open segment (see nxt) the first of seqs whose ports cover it, in out[]. */
static void claim(struct build *b, const uint32_t *seqs, size_t n, size_t nseg, size_t left,
		  uint32_t *out)
{
	for (size_t i = 0; i < n && left; i++) {
		const struct pf_rs_rule *rr = b->rrule[seqs[i]];
		size_t nr = rr->n_ports ? rr->n_ports : 1;

		for (size_t k = 0; k < nr && left; k++) {
			uint32_t from = 0, to = PORT_SPACE, s, e;

			if (rr->n_ports) {
				const struct pf_port_range *pr = &rr->ports[k];

				if (pr->port > pr->end_port || pr->protocol >= _PF_PROTO_MAX)
					continue;
				from = port_key(pr->protocol, pr->port);
				to = port_key(pr->protocol, pr->end_port) + 1;
			}
			s = (uint32_t)lower_u32(b->pts, nseg + 1, from);
			e = (uint32_t)lower_u32(b->pts, nseg + 1, to);
			for (uint32_t j = uf_find(b->nxt, s); j < e; j = uf_find(b->nxt, j + 1)) {
				out[j] = seqs[i];
				b->nxt[j] = j + 1;
				left--;
			}
		}
	}
}

static bool pair_eq(void *ctx, uint32_t id)
{
	const struct build *b = ctx;

	return b->p_pass[id] == b->cand_pass && b->p_fin[id] == b->cand_fin;
}

/* The rules[] entry of "pass handed it down, then fin decided" (fin NONE: the default). */
static int pass_pair(struct build *b, uint32_t pass, uint32_t fin, uint32_t *out)
{
	struct pf_cache *c = b->c;
	const struct cache_rule *pr;
	struct cache_rule *e;
	uint64_t h = mix64(0x70617373ull ^ ((uint64_t)pass << 32 | fin));
	uint32_t id;
	int r;

	b->cand_pass = pass;
	b->cand_fin = fin;
	id = intern_find(&b->pint, h, pair_eq, b);
	if (id != NONE) {
		*out = (uint32_t)b->n_real + id;
		return 0;
	}
	if (b->n_pairs >= PF_CACHE_MAX_RULES || c->n_rules >= NONE - 1)
		return -E2BIG;
	r = grow((void **)&c->rules, &b->cap_rules, c->n_rules, sizeof(*c->rules));
	if (r < 0)
		return r;
	r = grow((void **)&b->p_pass, &b->cap_pp, b->n_pairs, sizeof(*b->p_pass));
	if (r >= 0)
		r = grow((void **)&b->p_fin, &b->cap_pf, b->n_pairs, sizeof(*b->p_fin));
	if (r < 0)
		return r;
	/* after the grow: rules[] may have moved */
	pr = &c->rules[pass];
	e = &c->rules[c->n_rules];
	if (fin != NONE)
		*e = c->rules[fin];
	else
		*e = (struct cache_rule){.action = (uint8_t)c->default_action, .rule_index = -1};
	e->pass_name = pr->name;
	e->pass_policy_id = pr->policy_id;
	e->pass_rule_index = pr->rule_index;
	b->p_pass[b->n_pairs] = pass;
	b->p_fin[b->n_pairs] = fin;
	*out = (uint32_t)c->n_rules++;
	return intern_add(&b->pint, (uint32_t)b->n_pairs++, h);
}

/*
 * The segments a cluster Pass rule claimed go on to the namespaced tier: the first of its
 * rules covering them decides, and each such segment holds the (Pass, that rule) pair.
 */
static int pass_down(struct build *b, const uint32_t *seqs, size_t n, size_t nseg)
{
	size_t left = 0, first;
	int r;

	for (size_t k = 0; k < nseg; k++) {
		bool open = b->seg[k] != NONE && (b->rflags[b->seg[k]] & RULE_PASS);

		b->fin[k] = NONE;
		b->nxt[k] = (uint32_t)(open ? k : k + 1);
		left += open;
	}
	if (!left)
		return 0;
	b->nxt[nseg] = (uint32_t)nseg;
	first = lower_u32(seqs, n, b->first_ns);
	claim(b, seqs + first, n - first, nseg, left, b->fin);
	for (size_t k = 0; k < nseg; k++) {
		if (b->seg[k] == NONE || !(b->rflags[b->seg[k]] & RULE_PASS))
			continue;
		r = pass_pair(b, b->seg[k], b->fin[k], &b->seg[k]);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Level 3: turn rules (in evaluation order) into disjoint port intervals, each holding the
 * first rule that matches its ports. The ports are cut at every range edge; each rule then
 * claims the still-unclaimed pieces of its ranges (a union-find skips claimed ones, so every
 * piece is visited once). Identical results are shared. *out: the table's id.
 */
static int compile_ports(struct build *b, const uint32_t *seqs, size_t n, uint32_t *out)
{
	struct pf_cache *c = b->c;
	size_t npts = 0, nseg, need = 2;
	uint64_t h;
	int r;

	for (size_t i = 0; i < n; i++)
		need += 2 * b->rrule[seqs[i]]->n_ports;
	if (need > b->cap_pts) {
		uint32_t **const arrs[] = {&b->pts, &b->seg, &b->nxt, &b->fin, NULL};
		size_t cap = MAX(need, 2 * b->cap_pts);

		r = realloc_u32s(cap, arrs);
		if (r < 0)
			return r;
		b->cap_pts = cap;
	}

	b->pts[npts++] = 0;
	b->pts[npts++] = PORT_SPACE;
	for (size_t i = 0; i < n; i++) {
		const struct pf_rs_rule *rr = b->rrule[seqs[i]];

		for (size_t k = 0; k < rr->n_ports; k++) {
			const struct pf_port_range *pr = &rr->ports[k];

			if (pr->port > pr->end_port || pr->protocol >= _PF_PROTO_MAX)
				continue; /* matches no port, as in pf_ruleset_eval */
			b->pts[npts++] = port_key(pr->protocol, pr->port);
			b->pts[npts++] = port_key(pr->protocol, pr->end_port) + 1;
		}
	}
	sort_u32(b->pts, npts);
	nseg = 0;
	for (size_t i = 0; i < npts; i++)
		if (!nseg || b->pts[i] != b->pts[nseg - 1])
			b->pts[nseg++] = b->pts[i];
	nseg--; /* segment k is [pts[k], pts[k + 1]) */
	for (size_t k = 0; k < nseg; k++) {
		b->seg[k] = NONE;
		b->nxt[k] = (uint32_t)k;
	}
	b->nxt[nseg] = (uint32_t)nseg;

	claim(b, seqs, n, nseg, nseg, b->seg);
	if (b->has_pass) {
		r = pass_down(b, seqs, n, nseg);
		if (r < 0)
			return r;
	}

	if (nseg > b->cap_s) {
		r = grow((void **)&b->s_iv, &b->cap_s, nseg, sizeof(*b->s_iv));
		if (r < 0)
			return r;
	}
	b->n_ci = 0;
	for (size_t k = 0; k < nseg; k++) {
		if (b->n_ci && (uint32_t)b->s_iv[b->n_ci - 1] == b->seg[k])
			continue;
		b->s_iv[b->n_ci++] = (uint64_t)b->pts[k] << 32 | b->seg[k];
	}

	h = 0x7461626c65ull;
	for (size_t k = 0; k < b->n_ci; k++)
		h = mix64(h ^ b->s_iv[k]) + k;
	*out = intern_find(&b->tint, h, table_eq, b);
	if (*out != NONE)
		return 0;

	if (c->n_iv + b->n_ci > PF_CACHE_MAX_INTERVALS || c->n_tables >= NONE - 1)
		return -E2BIG;
	r = grow((void **)&c->iv, &b->cap_iv, c->n_iv + b->n_ci - 1, sizeof(*c->iv));
	if (r < 0)
		return r;
	r = grow((void **)&b->tables, &b->cap_tables, c->n_tables, sizeof(*b->tables));
	if (r < 0)
		return r;
	memcpy(c->iv + c->n_iv, b->s_iv, b->n_ci * sizeof(*c->iv));
	b->tables[c->n_tables] =
	    (struct port_table){.off = (uint32_t)c->n_iv, .n = (uint32_t)b->n_ci};
	c->n_iv += b->n_ci;
	*out = (uint32_t)c->n_tables++;
	return intern_add(&b->tint, *out, h);
}

static bool memo_eq(void *ctx, uint32_t id)
{
	const struct build *b = ctx;

	return b->m_n[id] == b->n_cand &&
	       !memcmp(b->m_pool + b->m_off[id], b->cand, b->n_cand * sizeof(uint32_t));
}

/*
 * compile_ports, remembered per rule list within a group: the addresses of one Service, or
 * the exact IPs under one prefix named by the same rules, all get the same list.
 */
static int compile_memo(struct build *b, const uint32_t *seqs, size_t n, uint32_t *out)
{
	uint64_t h = hash_u32s(0x6d656d6full, seqs, n);
	uint32_t id;
	int r;

	b->cand = seqs;
	b->n_cand = n;
	id = intern_find(&b->mint, h, memo_eq, b);
	if (id != NONE) {
		*out = b->m_table[id];
		return 0;
	}
	r = compile_ports(b, seqs, n, out);
	if (r < 0)
		return r;
	if (b->n_mpool + n > PF_CACHE_MAX_WORK)
		return 0; /* only a missed shortcut */
	if (b->n_memo >= b->cap_memo) {
		size_t cap = MAX(64, 2 * b->cap_memo);

		r = realloc_u32s(cap, (uint32_t * *const[]){&b->m_off, &b->m_n, &b->m_table, NULL});
		if (r < 0)
			return r;
		b->cap_memo = cap;
	}
	if (b->n_mpool + n > b->cap_mpool) {
		r = grow((void **)&b->m_pool, &b->cap_mpool, b->n_mpool + n - 1,
			 sizeof(*b->m_pool));
		if (r < 0)
			return r;
	}
	id = (uint32_t)b->n_memo++;
	memcpy(b->m_pool + b->n_mpool, seqs, n * sizeof(*seqs));
	b->m_off[id] = (uint32_t)b->n_mpool;
	b->m_n[id] = (uint32_t)n;
	b->m_table[id] = *out;
	b->n_mpool += n;
	return intern_add(&b->mint, id, h);
}

/* Ensure room for n more u32 in *arr. */
static int reserve_u32(uint32_t **arr, size_t *cap, size_t used, size_t n)
{
	if (used + n > PF_CACHE_MAX_WORK)
		return -E2BIG;
	if (used + n <= *cap)
		return 0;
	return grow((void **)arr, cap, used + n - 1, sizeof(**arr));
}

/*
 * Union of two rule lists (each ascending = evaluation order), cut after the first rule that
 * matches every port and ends the walk (anyport: with a cluster Pass anywhere in the ruleset,
 * only a namespaced rule does): no rule after it can ever win. out has room for nx + ny.
 */
static size_t merge_cut(const struct build *b, const uint32_t *x, size_t nx, const uint32_t *y,
			size_t ny, uint32_t *out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < nx || j < ny) {
		uint32_t v;

		if (j >= ny || (i < nx && x[i] <= y[j]))
			v = x[i++];
		else
			v = y[j++];
		if (n && out[n - 1] == v)
			continue;
		out[n++] = v;
		if (b->anyport[v])
			break;
	}
	return n;
}

static int add_entry(struct build *b, uint64_t hi, uint64_t lo, unsigned len, uint32_t seq)
{
	int r;

	if (b->n_ent >= PF_CACHE_MAX_WORK)
		return -E2BIG;
	r = grow((void **)&b->ent, &b->cap_ent, b->n_ent, sizeof(*b->ent));
	if (r < 0)
		return r;
	b->ent[b->n_ent++] =
	    (struct dst_entry){.hi = hi, .lo = lo, .seq = seq, .len = (uint8_t)len};
	return 0;
}

static int add_any(struct build *b, uint32_t seq)
{
	int r;

	if (b->n_any && b->anyl[b->n_any - 1] == seq)
		return 0;
	r = reserve_u32(&b->anyl, &b->cap_any, b->n_any, 1);
	if (r < 0)
		return r;
	b->anyl[b->n_any++] = seq;
	return 0;
}

/* The group's longest prefix node shorter than below_len that contains (hi, lo), or NONE. */
static uint32_t covering_node(const struct build *b, const struct htab *nodes,
			      const uint64_t lenmap[2], uint64_t hi, uint64_t lo,
			      unsigned below_len)
{
	for (int w = 1; w >= 0; w--) {
		uint64_t m = lenmap[w];

		if (below_len < 128 && (unsigned)w * 64 + 64 > below_len)
			m &= below_len <= (unsigned)w * 64
				 ? 0
				 : (1ull << (below_len - (unsigned)w * 64)) - 1;
		while (m) {
			unsigned bit = 63 - (unsigned)__builtin_clzll(m);
			unsigned len = (unsigned)w * 64 + bit;
			uint64_t mh = hi, ml = lo;
			uint32_t v;

			m &= ~(1ull << bit);
			mask_len(&mh, &ml, len);
			v = htab_get(nodes, b->c->seed, mh, ml, len);
			if (v != NONE)
				return v;
		}
	}
	return NONE;
}

/* Level 2 for one group: every destination its policies name, each with its port table. */
static int build_group(struct build *b, uint32_t g)
{
	struct pf_cache *c = b->c;
	struct cache_group *grp = &c->groups[g];
	const uint32_t *pols = b->glist + b->g_off[g];
	size_t npols = b->g_n[g], n_nodes = 0, i, cap;
	struct htab nodes = {0};
	int r;

	b->n_ent = b->n_any = b->n_pool = 0;
	for (size_t p = 0; p < npols; p++) {
		uint32_t first = b->pol_first[pols[p]];

		for (size_t k = 0; k + first < b->pol_first[pols[p] + 1]; k++) {
			const struct pf_rs_rule *rr = b->rrule[first + k];
			uint32_t seq = first + (uint32_t)k;

			if (b->rflags[seq] & RULE_DEAD)
				continue;
			if (rr->any_dst) {
				r = add_any(b, seq);
				if (r < 0)
					return r;
				continue;
			}
			for (size_t d = 0; d < rr->n_dst_ips; d++) {
				uint64_t hi, lo;

				addr_split(&rr->dst_ips[d], &hi, &lo);
				r = add_entry(b, hi, lo, 128, seq);
				if (r < 0)
					return r;
			}
			for (size_t d = 0; d < rr->n_dst_nets; d++) {
				const struct pf_prefix *pf = &rr->dst_nets[d];
				/* pf_prefix_contains masks nothing past 128 bits: such a "prefix"
				 * is one address */
				unsigned len = MIN(pf->len, 128);
				uint64_t hi, lo, mh, ml;

				addr_split(&pf->addr, &hi, &lo);
				mh = hi;
				ml = lo;
				mask_len(&mh, &ml, len);
				if (mh != hi || ml != lo)
					continue; /* host bits set: contains nothing, as in
						     pf_ruleset_eval */
				/* ::/0 too: it is every IPv6 destination, not every one */
				r = add_entry(b, hi, lo, len, seq);
				if (r < 0)
					return r;
			}
		}
	}

	/* The "any destination" node: what every other node of the group falls back to. */
	b->n_any = merge_cut(b, b->anyl, b->n_any, NULL, 0, b->anyl);
	if (b->n_any) {
		uint32_t t;

		r = compile_ports(b, b->anyl, b->n_any, &t);
		if (r < 0)
			return r;
		grp->any_off = b->tables[t].off;
		grp->any_n = b->tables[t].n;
	}
	if (!b->n_ent)
		return 0;

	qsort(b->ent, b->n_ent, sizeof(*b->ent), cmp_entry);
	for (i = 0; i < b->n_ent; i++) {
		const struct dst_entry *e = &b->ent[i];
		uint64_t bit = 1ull << (e->len % 64);

		if (i && e->len == e[-1].len && e->hi == e[-1].hi && e->lo == e[-1].lo)
			continue;
		n_nodes++;
		if (e->len == 128) {
			grp->has_exact = true;
			continue;
		}
		if (prefix_has_v4(e->hi, e->lo, e->len))
			grp->lenmap[FAM_V4][e->len / 64] |= bit;
		if (prefix_has_v6(e->hi, e->lo, e->len))
			grp->lenmap[FAM_V6][e->len / 64] |= bit;
	}
	if (c->n_nodes + n_nodes > PF_CACHE_MAX_NODES)
		return -E2BIG;
	c->g_nodes[g] = (uint32_t)n_nodes;

	/*
	 * This group's level-2 table: a power of two, load <= 3/4. Fuller than level 1 because
	 * the Bloom filter below turns away most misses, which are what long chains slow down.
	 */
	for (cap = 8; cap * 3 < 4 * n_nodes; cap *= 2)
		;
	r = grow((void **)&c->l2, &b->cap_l2, c->n_l2 + cap - 1, sizeof(*c->l2));
	if (r < 0)
		return r;
	for (size_t k = 0; k < cap; k++)
		c->l2[c->n_l2 + k].val = NONE;
	grp->l2_off = (uint32_t)c->n_l2;
	grp->l2_mask = (uint32_t)(cap - 1);
	c->n_l2 += cap;
	c->n_nodes += n_nodes;

	for (cap = 64; cap < 8 * n_nodes; cap *= 2)
		;
	r = grow((void **)&c->bloom, &b->cap_bloom, c->n_bloom + cap / 64 - 1, sizeof(*c->bloom));
	if (r < 0)
		return r;
	memset(c->bloom + c->n_bloom, 0, cap / 8);
	grp->bloom_off = (uint32_t)c->n_bloom;
	grp->bloom_mask = (uint32_t)(cap - 1);
	c->n_bloom += cap / 64;

	r = htab_init(&nodes, n_nodes);
	if (r < 0)
		return r;
	b->n_memo = b->n_mpool = 0;
	intern_init(&b->mint, n_nodes, NONE - 1);
	if (n_nodes > b->cap_nodes) {
		r = realloc_u32s(n_nodes, (uint32_t * *const[]){&b->node_off, &b->node_n, NULL});
		if (r < 0)
			goto out;
		b->cap_nodes = n_nodes;
	}

	/*
	 * Entries are sorted by length, so each prefix node is merged after every shorter one:
	 * its list is its own rules + the list of the longest shorter prefix that covers it
	 * (which already holds all shorter covering prefixes and the any-destination rules).
	 */
	n_nodes = 0;
	for (i = 0; i < b->n_ent;) {
		const struct dst_entry *e = &b->ent[i];
		size_t j = i, n_own = 0, n_eff;
		const uint32_t *base;
		size_t n_base;
		uint32_t parent, table, *dst;

		while (j < b->n_ent && b->ent[j].len == e->len && b->ent[j].hi == e->hi &&
		       b->ent[j].lo == e->lo) {
			if (!n_own || b->own[n_own - 1] != b->ent[j].seq) {
				r = reserve_u32(&b->own, &b->cap_own, n_own, 1);
				if (r < 0)
					goto out;
				b->own[n_own++] = b->ent[j].seq;
			}
			j++;
		}

		/* only prefixes of the entry's own family cover it */
		parent = covering_node(
		    b, &nodes, grp->lenmap[prefix_has_v4(e->hi, e->lo, e->len) ? FAM_V4 : FAM_V6],
		    e->hi, e->lo, e->len);
		if (parent != NONE) {
			base = b->pool + b->node_off[parent];
			n_base = b->node_n[parent];
		} else {
			base = b->anyl;
			n_base = b->n_any;
		}

		if (e->len < 128) {
			/* kept: longer prefixes and exact IPs under this one start from it */
			size_t base_off = base == b->anyl ? 0 : (size_t)(base - b->pool);

			r = reserve_u32(&b->pool, &b->cap_pool, b->n_pool, n_own + n_base);
			if (r < 0)
				goto out;
			if (parent != NONE)
				base = b->pool + base_off;
			dst = b->pool + b->n_pool;
		} else {
			r = reserve_u32(&b->eff, &b->cap_eff, 0, n_own + n_base);
			if (r < 0)
				goto out;
			dst = b->eff;
		}
		n_eff = merge_cut(b, b->own, n_own, base, n_base, dst);

		r = compile_memo(b, dst, n_eff, &table);
		if (r < 0)
			goto out;
		{
			/* hashed by length alone: the table's size rides in the tag's upper bits */
			struct slot *l2 = c->l2 + grp->l2_off;
			uint64_t h = key_hash(c->seed, e->hi, e->lo, e->len);
			uint32_t bit = (uint32_t)(h >> 32) & grp->bloom_mask;
			size_t k = h & grp->l2_mask;

			c->bloom[grp->bloom_off + bit / 64] |= 1ull << (bit % 64);
			while (l2[k].val != NONE)
				k = (k + 1) & grp->l2_mask;
			l2[k] = (struct slot){.hi = e->hi,
					      .lo = e->lo,
					      .tag = b->tables[table].n << 8 | e->len,
					      .val = b->tables[table].off};
		}
		if (e->len < 128) {
			b->node_off[n_nodes] = (uint32_t)b->n_pool;
			b->node_n[n_nodes] = (uint32_t)n_eff;
			b->n_pool += n_eff;
			r = htab_put(&nodes, c->seed, e->hi, e->lo, e->len, (uint32_t)n_nodes);
			if (r < 0)
				goto out;
			n_nodes++;
		}
		i = j;
	}
	r = 0;
out:
	htab_free(&nodes);
	intern_reset(&b->mint);
	return r;
}

/*
 * Level 1: sources, each mapped to the group of sources with the same policies. The policies
 * are visited in evaluation order and each source's list grows at its tail, so every list comes
 * out ascending without a sort; sources are found by a hash keyed with the cache's seed (they
 * are the addresses pods were given).
 */
static int build_groups(struct build *b, const struct pf_ruleset *rs)
{
	struct pf_cache *c = b->c;
	_cleanup_free_ struct src_ent *ents = NULL;
	_cleanup_free_ uint32_t *idx = NULL, *link = NULL, *pol = NULL;
	size_t n_pairs = 0, n_src = 0, n_links = 0, cap = 8;
	int r;

	for (size_t i = 0; i < rs->n_policies; i++)
		n_pairs += rs->policies[i].n_src;
	if (n_pairs > PF_CACHE_MAX_SRC_PAIRS)
		return -E2BIG;
	if (!n_pairs)
		return htab_init(&c->l1, 0);
	while (cap < 2 * n_pairs)
		cap *= 2;
	idx = malloc(cap * sizeof(*idx));
	ents = malloc(n_pairs * sizeof(*ents));
	link = malloc(n_pairs * sizeof(*link));
	pol = malloc(n_pairs * sizeof(*pol));
	if (!idx || !ents || !link || !pol)
		return -ENOMEM;
	memset(idx, 0xff, cap * sizeof(*idx));
	for (size_t i = 0; i < rs->n_policies; i++)
		for (size_t j = 0; j < rs->policies[i].n_src; j++) {
			struct src_ent *e = NULL;
			uint64_t hi, lo;
			size_t k;

			addr_split(&rs->policies[i].src[j], &hi, &lo);
			for (k = key_hash(c->seed, hi, lo, 0) & (cap - 1); idx[k] != NONE;
			     k = (k + 1) & (cap - 1))
				if (ents[idx[k]].hi == hi && ents[idx[k]].lo == lo) {
					e = &ents[idx[k]];
					break;
				}
			if (!e) {
				idx[k] = (uint32_t)n_src;
				e = &ents[n_src++];
				*e = (struct src_ent){
				    .hi = hi, .lo = lo, .head = NONE, .tail = NONE, .last = NONE};
			}
			if (e->last == i)
				continue;
			e->last = (uint32_t)i;
			pol[n_links] = (uint32_t)i;
			link[n_links] = NONE;
			if (e->tail == NONE)
				e->head = (uint32_t)n_links;
			else
				link[e->tail] = (uint32_t)n_links;
			e->tail = (uint32_t)n_links++;
		}
	free(PF_TAKE_PTR(idx));
	r = htab_init(&c->l1, n_src);
	if (r < 0)
		return r;
	intern_init(&b->gint, 16, PF_CACHE_MAX_GROUPS);

	for (size_t s = 0; s < n_src; s++) {
		size_t start = b->n_glist;
		uint32_t g;
		uint64_t h;

		for (uint32_t l = ents[s].head; l != NONE; l = link[l]) {
			r = grow((void **)&b->glist, &b->cap_glist, b->n_glist, sizeof(*b->glist));
			if (r < 0)
				return r;
			b->glist[b->n_glist++] = pol[l];
		}
		b->cand = b->glist + start;
		b->n_cand = b->n_glist - start;
		h = hash_u32s(0x67726f7570ull, b->cand, b->n_cand);
		g = intern_find(&b->gint, h, group_eq, b);
		if (g != NONE) {
			b->n_glist = start;
		} else {
			if (c->n_groups >= PF_CACHE_MAX_GROUPS)
				return -E2BIG;
			if (c->n_groups >= b->cap_groups) {
				size_t gcap = MAX(16, 2 * b->cap_groups);

				r = realloc_u32s(gcap,
						 (uint32_t * *const[]){&b->g_off, &b->g_n, NULL});
				if (r < 0)
					return r;
				b->cap_groups = gcap;
			}
			g = (uint32_t)c->n_groups++;
			b->g_off[g] = (uint32_t)start;
			b->g_n[g] = (uint32_t)b->n_cand;
			r = intern_add(&b->gint, g, h);
			if (r < 0)
				return r;
		}
		r = htab_put(&c->l1, c->seed, ents[s].hi, ents[s].lo, 0, g);
		if (r < 0)
			return r;
	}
	return 0;
}

static void build_done(struct build *b)
{
	free(b->rrule);
	free(b->anyport);
	free(b->rflags);
	free(b->pol_first);
	intern_free(&b->pint);
	free(b->p_pass);
	free(b->p_fin);
	free(b->glist);
	free(b->g_off);
	free(b->g_n);
	intern_free(&b->gint);
	intern_free(&b->tint);
	free(b->pts);
	free(b->seg);
	free(b->nxt);
	free(b->fin);
	free(b->s_iv);
	free(b->tables);
	free(b->ent);
	free(b->anyl);
	free(b->own);
	free(b->eff);
	free(b->pool);
	free(b->node_off);
	free(b->node_n);
	intern_free(&b->mint);
	free(b->m_off);
	free(b->m_n);
	free(b->m_table);
	free(b->m_pool);
}

static void *shrink(void *p, size_t n, size_t sz)
{
	void *q = n ? realloc(p, n * sz) : NULL;

	return q ? q : p;
}

#define HUGE_PAGE (2u << 20)
#define COPY_STEP (1u << 20)

/*
 * memcpy, giving the source's whole pages back to the kernel as it goes (the source is freed
 * right after): the cache is then resident once and a step, not twice, while it moves into
 * the arena. 100,000 rules: 79 -> 55 MiB at the build's peak (bench-cache's peak_MiB).
 */
static void copy_release(uint8_t *dst, void *src, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), done = (uintptr_t)src;

	for (size_t off = 0; off < len; off += COPY_STEP) {
		size_t n = MIN(COPY_STEP, len - off);
		uintptr_t lo = (done + page - 1) & ~(page - 1);
		uintptr_t hi = ((uintptr_t)src + off + n) & ~(page - 1);

		memcpy(dst + off, (uint8_t *)src + off, n);
		/* only pages wholly inside the array: the allocator's headers are left alone */
		if (hi > lo) {
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
			done = hi;
		}
	}
}

/*
 * Move what lookups read into one read-only mapping that asks for huge pages. With a large
 * ruleset a lookup from a cold source is mostly TLB and cache misses, and 2 MiB pages take
 * away most of the former; read-only makes "immutable after build" enforced, not just said.
 * Small caches, or a failed mmap, stay on the heap: only speed differs.
 */
static void freeze(struct pf_cache *c)
{
	struct {
		void **p;
		size_t len;
	} parts[] = {
	    {(void **)&c->l1.s, (c->l1.mask + 1) * sizeof(*c->l1.s)},
	    {(void **)&c->groups, c->n_groups * sizeof(*c->groups)},
	    {(void **)&c->bloom, c->n_bloom * sizeof(*c->bloom)},
	    {(void **)&c->l2, c->n_l2 * sizeof(*c->l2)},
	    {(void **)&c->iv, c->n_iv * sizeof(*c->iv)},
	    {(void **)&c->rules, c->n_rules * sizeof(*c->rules)},
	};
	size_t total = 0, off = 0, head;
	uint8_t *m, *start;

	for (size_t i = 0; i < PF_ARRAY_SIZE(parts); i++)
		total += (parts[i].len + 63) & ~(size_t)63;
	if (total < HUGE_PAGE)
		return;
	total = (total + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	/* over-map by one huge page so the start can be aligned to one */
	m = mmap(NULL, total + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (m == MAP_FAILED)
		return;
	start = (uint8_t *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	head = (size_t)(start - m);
	if (head)
		munmap(m, head);
	munmap(start + total, HUGE_PAGE - head);
	(void)madvise(start, total, MADV_HUGEPAGE);
	for (size_t i = 0; i < PF_ARRAY_SIZE(parts); i++) {
		copy_release(start + off, *parts[i].p, parts[i].len);
		free(*parts[i].p);
		*parts[i].p = start + off;
		off += (parts[i].len + 63) & ~(size_t)63;
	}
	(void)mprotect(start, total, PROT_READ);
	c->arena = start;
	c->arena_len = total;
}

/*
 * The groups whose policies name fqdns keep those policies (copies: the cache outlives rs) to
 * walk for destinations the pod resolved; which addresses those are changes with every DNS
 * answer, so no table could be compiled for them.
 */
static int build_walk(struct build *b, const struct pf_ruleset *rs)
{
	struct pf_cache *c = b->c;
	_cleanup_free_ uint8_t *mark = calloc(rs->n_policies ? rs->n_policies : 1, 1);
	_cleanup_free_ uint32_t *keep = NULL, *map = NULL;
	size_t n_keep = 0, total = 0;
	int r;

	if (!mark)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n_policies; i++)
		for (size_t j = 0; j < rs->policies[i].n_rules; j++)
			if (rs->policies[i].rules[j].n_fqdns)
				mark[i] = 1;
	for (size_t g = 0; g < c->n_groups; g++) {
		bool fq = false;

		for (size_t k = 0; k < b->g_n[g] && !fq; k++)
			fq = mark[b->glist[b->g_off[g] + k]] & 1;
		if (!fq)
			continue;
		c->groups[g].walk_n = b->g_n[g];
		total += b->g_n[g];
		for (size_t k = 0; k < b->g_n[g]; k++)
			mark[b->glist[b->g_off[g] + k]] |= 2;
	}
	keep = calloc(rs->n_policies ? rs->n_policies : 1, sizeof(*keep));
	map = calloc(rs->n_policies ? rs->n_policies : 1, sizeof(*map));
	c->walk_pols = calloc(total ? total : 1, sizeof(*c->walk_pols));
	if (!keep || !map || !c->walk_pols)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n_policies; i++)
		if (mark[i] & 2) {
			map[i] = (uint32_t)n_keep;
			keep[n_keep++] = (uint32_t)i;
		}
	r = pf_ruleset_copy_some(rs, keep, n_keep, &c->walk);
	if (r < 0)
		return r;
	for (size_t g = 0; g < c->n_groups; g++) {
		if (!c->groups[g].walk_n)
			continue;
		c->groups[g].walk_off = (uint32_t)c->n_walk_pols;
		/* glist is ascending and map keeps order: the walk goes in evaluation order */
		for (size_t k = 0; k < b->g_n[g]; k++)
			c->walk_pols[c->n_walk_pols++] = map[b->glist[b->g_off[g] + k]];
	}
	c->stats.bytes += total * sizeof(*c->walk_pols);
	return 0;
}

/* The rules of rs in evaluation order, in c->rules and the build's per-rule arrays. */
static int prepare(struct build *b, const struct pf_ruleset *rs)
{
	struct pf_cache *c = b->c;
	size_t n_rules = 0, seq = 0;

	c->n_policies = rs ? rs->n_policies : 0;
	for (size_t i = 0; i < c->n_policies; i++)
		n_rules += rs->policies[i].n_rules;
	if (n_rules > PF_CACHE_MAX_RULES)
		return -E2BIG;
	c->policies = calloc(c->n_policies ? c->n_policies : 1, sizeof(*c->policies));
	c->rules = calloc(n_rules ? n_rules : 1, sizeof(*c->rules));
	b->rrule = calloc(n_rules ? n_rules : 1, sizeof(*b->rrule));
	b->anyport = calloc(n_rules ? n_rules : 1, sizeof(*b->anyport));
	b->rflags = calloc(n_rules ? n_rules : 1, sizeof(*b->rflags));
	b->pol_first = calloc(c->n_policies + 1, sizeof(*b->pol_first));
	if (!c->policies || !c->rules || !b->rrule || !b->anyport || !b->rflags || !b->pol_first)
		return -ENOMEM;
	b->cap_rules = n_rules ? n_rules : 1;
	b->first_ns = (uint32_t)n_rules;
	for (size_t i = 0; i < c->n_policies; i++)
		for (size_t j = 0; rs->policies[i].cluster && j < rs->policies[i].n_rules; j++)
			b->has_pass =
			    b->has_pass || rs->policies[i].rules[j].action == PF_ACTION_PASS;
	for (size_t i = 0; i < c->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];

		c->policies[i].id = p->id;
		c->policies[i].namespace = strdup(p->namespace ? p->namespace : "");
		c->policies[i].name = strdup(p->name ? p->name : "");
		if (!c->policies[i].namespace || !c->policies[i].name)
			return -ENOMEM;
		c->stats.bytes +=
		    strlen(c->policies[i].namespace) + strlen(c->policies[i].name) + 2;
		b->pol_first[i] = (uint32_t)seq;
		if (!p->cluster && b->first_ns == n_rules)
			b->first_ns = (uint32_t)seq;
		for (size_t j = 0; j < p->n_rules; j++, seq++) {
			const struct pf_rs_rule *rr = &p->rules[j];
			bool pass = rr->action == PF_ACTION_PASS;

			c->rules[seq] = (struct cache_rule){
			    .namespace = c->policies[i].namespace,
			    .name = c->policies[i].name,
			    .policy_id = p->id,
			    .rule_index = (int32_t)rr->rule_index,
			    .pass_rule_index = -1,
			    .action = (uint8_t)rr->action,
			    .log = rr->log,
			    .matched = true,
			    .cluster = p->cluster,
			};
			b->rrule[seq] = rr;
			b->rflags[seq] = pass ? (p->cluster ? RULE_PASS : RULE_DEAD) : 0;
			/* With a Pass anywhere, the namespaced tier may still decide after any
			 * cluster rule: only a namespaced rule ends a rule list. */
			b->anyport[seq] = rr->n_ports == 0 && !pass && !(p->cluster && b->has_pass);
		}
	}
	b->pol_first[c->n_policies] = (uint32_t)seq;
	c->n_rules = n_rules;
	b->n_real = n_rules;
	if (b->has_pass) {
		intern_init(&b->pint, 16, PF_CACHE_MAX_RULES);
	}
	return 0;
}

static void shrink_arrays(struct pf_cache *c)
{
	c->l2 = shrink(c->l2, c->n_l2, sizeof(*c->l2));
	c->bloom = shrink(c->bloom, c->n_bloom, sizeof(*c->bloom));
	c->iv = shrink(c->iv, c->n_iv, sizeof(*c->iv));
}

static int build(struct build *b, const struct pf_ruleset *rs)
{
	struct pf_cache *c = b->c;
	int r;

	r = prepare(b, rs);
	if (r < 0)
		return r;
	c->n_rules_all = b->n_real;
	r = build_groups(b, rs ? rs : &(struct pf_ruleset){0});
	if (r < 0)
		return r;
	c->groups = calloc(c->n_groups ? c->n_groups : 1, sizeof(*c->groups));
	c->g_nodes = calloc(c->n_groups ? c->n_groups : 1, sizeof(*c->g_nodes));
	if (!c->groups || !c->g_nodes)
		return -ENOMEM;
	intern_init(&b->tint, 64, NONE - 1);
	for (size_t g = 0; g < c->n_groups; g++) {
		r = build_group(b, (uint32_t)g);
		if (r < 0)
			return r;
	}

	if (rs && pf_ruleset_has_fqdn(rs)) {
		r = build_walk(b, rs);
		if (r < 0)
			return r;
	}

	/* kept for pf_cache_update */
	c->glist = PF_TAKE_PTR(b->glist);
	c->g_off = PF_TAKE_PTR(b->g_off);
	c->g_n = PF_TAKE_PTR(b->g_n);
	c->stats.bytes += (b->n_glist + 2 * c->n_groups) * sizeof(uint32_t);
	shrink_arrays(c);
	return 0;
}

/* After the build's working memory is gone (build_done): the peak of a build is its working
 * memory or the cache twice over while freeze() copies it, not both at once. */
static void finish(struct pf_cache *c)
{
	freeze(c);
	for (size_t g = 0; g < c->n_groups; g++)
		for (int f = FAM_V4; f <= FAM_V6; f++) {
			unsigned nl = (unsigned)(__builtin_popcountll(c->groups[g].lenmap[f][0]) +
						 __builtin_popcountll(c->groups[g].lenmap[f][1]));

			c->stats.max_prefix_lens = MAX(c->stats.max_prefix_lens, nl);
		}

	c->stats.n_sources = c->l1.n;
	c->stats.n_groups = c->n_groups;
	c->stats.n_dst_nodes += c->n_nodes;
	/* tables and intervals held: this cache's and its base's */
	c->stats.n_port_tables = c->n_tables + (c->base ? c->base->stats.n_port_tables : 0);
	c->stats.n_intervals = c->n_iv + (c->base ? c->base->stats.n_intervals : 0);
	if (c->base)
		c->stats.bytes += c->base->stats.bytes;
	c->stats.bytes += sizeof(*c) + c->n_policies * sizeof(*c->policies);
	if (c->arena)
		c->stats.bytes += c->arena_len;
	else
		c->stats.bytes += (c->l1.mask + 1 + c->n_l2) * sizeof(struct slot) +
				  c->n_groups * sizeof(*c->groups) + c->n_iv * sizeof(*c->iv) +
				  c->n_bloom * sizeof(*c->bloom) + c->n_rules * sizeof(*c->rules);
}

/*
 * The tables' keys are the sources of registered pods (addresses the runtime gave them) and
 * the destinations written in policies; a pod's own traffic only looks up, never inserts, and
 * the load stays <= 1/2. The cheap hash is kept for the lookup path; the seed is random per
 * build (never a clock) so that a policy author cannot plan which keys share a probe chain.
 */
static uint64_t random_seed(void)
{
	uint64_t s;

	pf_random_bytes(&s, sizeof(s));
	return s;
}

int pf_cache_build(const struct pf_ruleset *rs, enum pf_action default_action,
		   struct pf_cache **out)
{
	struct build b = {0};
	struct pf_cache *c;
	int r;

	/* Audit policies never take part in a verdict: the cache holds the others, and carries
	 * the Audit ones compiled apart, so one swap replaces both. */
	if (pf_ruleset_has_audit(rs)) {
		struct pf_ruleset v;
		struct pf_cache *audit = NULL;

		r = pf_ruleset_view(rs, false, &v);
		if (r < 0)
			return r;
		r = pf_cache_build(&v, default_action, &c);
		pf_ruleset_view_done(&v);
		if (r == 0 && (r = pf_cache_build_audit(rs, &audit)) < 0)
			c = pf_cache_free(c);
		if (r < 0)
			return r;
		c->audit = audit;
		*out = c;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* a per-build seed: which keys share a probe chain cannot be planned from outside */
	c->seed = random_seed();
	c->default_action = default_action;
	b.c = c;
	r = build(&b, rs);
	build_done(&b);
	if (r < 0) {
		pf_cache_free(c);
		return r;
	}
	finish(c);
	*out = c;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Incremental builds */

static bool same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Whether two rules compile to the same tables and rules[] entries. */
static bool same_rule(const struct pf_rs_rule *x, const struct pf_rs_rule *y)
{
	if (x->action != y->action || x->log != y->log || x->rule_index != y->rule_index ||
	    x->any_dst != y->any_dst || x->n_dst_ips != y->n_dst_ips ||
	    x->n_dst_nets != y->n_dst_nets || x->n_ports != y->n_ports || x->n_fqdns != y->n_fqdns)
		return false;
	if (x->n_dst_ips && memcmp(x->dst_ips, y->dst_ips, x->n_dst_ips * sizeof(*x->dst_ips)))
		return false;
	for (size_t i = 0; i < x->n_dst_nets; i++)
		if (x->dst_nets[i].len != y->dst_nets[i].len ||
		    memcmp(&x->dst_nets[i].addr, &y->dst_nets[i].addr, sizeof(x->dst_nets[i].addr)))
			return false;
	for (size_t i = 0; i < x->n_ports; i++)
		if (x->ports[i].port != y->ports[i].port ||
		    x->ports[i].end_port != y->ports[i].end_port ||
		    x->ports[i].protocol != y->ports[i].protocol)
			return false;
	for (size_t i = 0; i < x->n_fqdns; i++)
		if (strcmp(x->fqdns[i], y->fqdns[i]))
			return false;
	return true;
}

/* Everything but the sources: what a group's level 2 and 3 are compiled from. */
static bool same_policy(const struct pf_rs_policy *x, const struct pf_rs_policy *y)
{
	if (x->id != y->id || x->cluster != y->cluster || x->priority != y->priority ||
	    x->audit != y->audit || x->n_rules != y->n_rules ||
	    !same_str(x->namespace, y->namespace) || !same_str(x->name, y->name))
		return false;
	for (size_t j = 0; j < x->n_rules; j++)
		if (!same_rule(&x->rules[j], &y->rules[j]))
			return false;
	return true;
}

/* map[i]: the index in base_rs of a policy the same as rs's i-th (found by id), or NONE. */
static int map_policies(const struct pf_ruleset *base_rs, const struct pf_ruleset *rs,
			uint32_t *map)
{
	_cleanup_free_ uint32_t *t = NULL;
	size_t cap = 8;

	while (cap < 2 * base_rs->n_policies)
		cap *= 2;
	t = malloc(cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0xff, cap * sizeof(*t));
	for (size_t i = 0; i < base_rs->n_policies; i++) {
		size_t k = mix64(base_rs->policies[i].id) & (cap - 1);

		while (t[k] != NONE)
			k = (k + 1) & (cap - 1);
		t[k] = (uint32_t)i;
	}
	for (size_t i = 0; i < rs->n_policies; i++) {
		const struct pf_rs_policy *p = &rs->policies[i];

		map[i] = NONE;
		for (size_t k = mix64(p->id) & (cap - 1); t[k] != NONE; k = (k + 1) & (cap - 1))
			if (base_rs->policies[t[k]].id == p->id) {
				if (same_policy(&base_rs->policies[t[k]], p))
					map[i] = t[k];
				break;
			}
	}
	return 0;
}

/* The base's groups by policy list: an open-addressing table of group numbers. */
static int index_groups(const struct pf_cache *base, uint32_t **out, size_t *mask)
{
	size_t cap = 8;
	uint32_t *t;

	while (cap < 2 * base->n_groups)
		cap *= 2;
	t = malloc(cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0xff, cap * sizeof(*t));
	for (size_t g = 0; g < base->n_groups; g++) {
		size_t k = hash_u32s(0x67726f7570ull, base->glist + base->g_off[g], base->g_n[g]) &
			   (cap - 1);

		while (t[k] != NONE)
			k = (k + 1) & (cap - 1);
		t[k] = (uint32_t)g;
	}
	*out = t;
	*mask = cap - 1;
	return 0;
}

static uint32_t find_group(const struct pf_cache *base, const uint32_t *t, size_t mask,
			   const uint32_t *list, size_t n)
{
	for (size_t k = hash_u32s(0x67726f7570ull, list, n) & mask; t[k] != NONE;
	     k = (k + 1) & mask)
		if (base->g_n[t[k]] == n &&
		    !memcmp(base->glist + base->g_off[t[k]], list, n * sizeof(*list)))
			return t[k];
	return NONE;
}

/* pf_cache_update's build: -EAGAIN when too much changed (a full build is due). */
static int update(const struct pf_cache *base, const struct pf_ruleset *base_rs,
		  const struct pf_ruleset *rs, struct pf_cache **out)
{
	struct build b = {0};
	struct pf_ruleset sub = {0};
	_cleanup_free_ uint32_t *map = NULL, *sub_of = NULL, *from = NULL, *gidx = NULL,
				*tmp = NULL;
	_cleanup_free_ uint8_t *need = NULL;
	size_t n_pol = rs->n_policies, gmask = 0, work_all = 0, work_own = 0, n_own = 0,
	       nodes_taken = 0;
	struct pf_cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->base = pf_cache_ref(base);
	/* the base's seed: the groups taken from it were hashed with it */
	c->seed = base->seed;
	c->default_action = base->default_action;
	b.c = c;
	map = malloc((n_pol ? n_pol : 1) * sizeof(*map));
	sub_of = malloc((n_pol ? n_pol : 1) * sizeof(*sub_of));
	need = calloc(n_pol ? n_pol : 1, 1);
	r = map && sub_of && need ? map_policies(base_rs, rs, map) : -ENOMEM;
	if (r < 0)
		goto out;
	r = build_groups(&b, rs);
	if (r < 0)
		goto out;
	from = malloc((c->n_groups ? c->n_groups : 1) * sizeof(*from));
	tmp = malloc((b.n_glist ? b.n_glist : 1) * sizeof(*tmp));
	r = from && tmp ? index_groups(base, &gidx, &gmask) : -ENOMEM;
	if (r < 0)
		goto out;
	for (size_t g = 0; g < c->n_groups; g++) {
		const uint32_t *list = b.glist + b.g_off[g];
		size_t n = b.g_n[g], work = 0;
		bool known = true;

		for (size_t k = 0; k < n; k++) {
			work += rs->policies[list[k]].n_rules;
			tmp[k] = map[list[k]];
			known = known && tmp[k] != NONE;
		}
		from[g] = known ? find_group(base, gidx, gmask, tmp, n) : NONE;
		work_all += work;
		if (from[g] != NONE)
			continue;
		work_own += work;
		n_own++;
		for (size_t k = 0; k < n; k++)
			need[list[k]] = 1;
	}
	/* Past a quarter, a full build costs at most four times this one, and the next updates
	 * start from a base that has the changes: what is held beside the base stays small. */
	if (work_own * 4 > work_all) {
		r = -EAGAIN;
		goto out;
	}

	/* The policies of the groups to compile, in evaluation order: their rules alone go in
	 * this cache's rules[], numbered as a full build of them would number them. */
	sub.policies = malloc((n_pol ? n_pol : 1) * sizeof(*sub.policies));
	if (!sub.policies) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_pol; i++)
		if (need[i]) {
			sub_of[i] = (uint32_t)sub.n_policies;
			sub.policies[sub.n_policies++] = rs->policies[i];
		}
	r = prepare(&b, &sub);
	if (r < 0)
		goto out;
	c->n_rules_all = pf_ruleset_n_rules(rs);
	c->groups = calloc(c->n_groups ? c->n_groups : 1, sizeof(*c->groups));
	c->g_nodes = calloc(c->n_groups ? c->n_groups : 1, sizeof(*c->g_nodes));
	if (!c->groups || !c->g_nodes) {
		r = -ENOMEM;
		goto out;
	}
	intern_init(&b.tint, 64, NONE - 1);
	for (size_t g = 0; g < c->n_groups; g++) {
		uint32_t *list = b.glist + b.g_off[g];

		if (from[g] != NONE) {
			c->groups[g] = base->groups[from[g]];
			c->groups[g].borrowed = true;
			c->g_nodes[g] = base->g_nodes[from[g]];
			nodes_taken += c->g_nodes[g];
			continue;
		}
		/* each group has its own slice of glist: renumber it for the sub-ruleset */
		for (size_t k = 0; k < b.g_n[g]; k++)
			list[k] = sub_of[list[k]];
		r = build_group(&b, (uint32_t)g);
		if (r < 0)
			goto out;
	}
	c->stats.n_groups_reused = c->n_groups - n_own;
	c->stats.n_groups_compiled = n_own;
	c->stats.n_dst_nodes = nodes_taken; /* finish adds this cache's own */
	r = 0;
out:
	free(sub.policies);
	build_done(&b);
	if (r < 0) {
		pf_cache_free(c);
		return r;
	}
	shrink_arrays(c);
	finish(c);
	*out = c;
	return 0;
}

int pf_cache_update(const struct pf_cache *prev, struct pf_ruleset *rs,
		    enum pf_action default_action, struct pf_cache **out)
{
	const struct pf_cache *base = prev ? pf_cache_base(prev) : NULL;
	bool plain = rs && !pf_ruleset_has_audit(rs) && !pf_ruleset_has_fqdn(rs);
	struct pf_cache *c;
	int r;

	if (plain && base && base->rs && base->default_action == default_action) {
		r = update(base, base->rs, rs, out);
		if (r != -EAGAIN)
			return r;
	}
	r = pf_cache_build(rs, default_action, &c);
	if (r < 0)
		return r;
	/* the next update compares with rs: kept only where it can serve (no Audit, no fqdn) */
	if (plain)
		c->rs = pf_ruleset_ref(rs);
	*out = c;
	return 0;
}

const struct pf_cache *pf_cache_base(const struct pf_cache *c)
{
	return c->base ? c->base : c;
}

struct pf_cache *pf_cache_ref(const struct pf_cache *c)
{
	struct pf_cache *m = (struct pf_cache *)c;

	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	return m;
}

const struct pf_cache *pf_cache_audit(const struct pf_cache *c)
{
	return c ? c->audit : NULL;
}

int pf_cache_build_audit(const struct pf_ruleset *rs, struct pf_cache **out)
{
	struct pf_ruleset v;
	int r = pf_ruleset_view(rs, true, &v);

	if (r < 0)
		return r;
	r = pf_cache_build(&v, PF_ACTION_ALLOW, out);
	pf_ruleset_view_done(&v);
	return r;
}

struct pf_cache *pf_cache_free(struct pf_cache *c)
{
	if (!c)
		return NULL;
	if (__atomic_fetch_sub(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	pf_cache_free(c->audit);
	pf_cache_free(c->base);
	pf_ruleset_free(c->rs);
	free(c->glist);
	free(c->g_off);
	free(c->g_n);
	free(c->g_nodes);
	for (size_t i = 0; i < c->n_policies && c->policies; i++) {
		free(c->policies[i].namespace);
		free(c->policies[i].name);
	}
	free(c->policies);
	pf_ruleset_free(c->walk);
	free(c->walk_pols);
	if (c->arena) {
		munmap(c->arena, c->arena_len);
	} else {
		free(c->rules);
		free(c->groups);
		free(c->iv);
		htab_free(&c->l1);
		free(c->l2);
		free(c->bloom);
	}
	free(c);
	return NULL;
}
