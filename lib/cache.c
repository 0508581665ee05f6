/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict cache's lookup, the hot path: no allocation, no lock, no system call. */
#include "cache-internal.h"

/* Level 2 within one group: the slot of (hi, lo) (already masked to len), or NULL. */
static inline const struct slot *l2_get(const struct pf_cache *c, const struct cache_group *grp,
					uint64_t hi, uint64_t lo, unsigned len)
{
	const struct slot *l2 = c->l2 + grp->l2_off;
	uint64_t h = key_hash(c->seed, hi, lo, len);
	uint32_t bit = (uint32_t)(h >> 32) & grp->bloom_mask;
	size_t i = h & grp->l2_mask;

	if (!(c->bloom[grp->bloom_off + bit / 64] & (1ull << (bit % 64))))
		return NULL;
	for (;;) {
		if (l2[i].val == NONE)
			return NULL;
		if (l2[i].hi == hi && l2[i].lo == lo && (uint8_t)l2[i].tag == len)
			return &l2[i];
		i = (i + 1) & grp->l2_mask;
	}
}

/* Level 3: the rule of the interval holding port (the last one starting at or below it). */
static inline uint32_t iv_find(const uint64_t *iv, size_t n, uint32_t port)
{
	uint64_t key = (uint64_t)port << 32 | 0xffffffffu;
	size_t base = 0;

	while (n > 1) {
		size_t half = n / 2;

		base = iv[base + half] <= key ? base + half : base;
		n -= half;
	}
	return (uint32_t)iv[base];
}

uint32_t pf_cache_source_group(const struct pf_cache *c, const struct pf_addr *src)
{
	uint64_t hi, lo;

	addr_split(src, &hi, &lo);
	return htab_get(&c->l1, c->seed, hi, lo, 0);
}

void pf_cache_lookup(const struct pf_cache *c, const struct pf_addr *src, const struct pf_addr *dst,
		     uint16_t dport, struct pf_verdict *out)
{
	pf_cache_lookup_group(c, pf_cache_source_group(c, src), dst, dport, out);
}

void pf_cache_lookup_group(const struct pf_cache *c, uint32_t g, const struct pf_addr *dst,
			   uint16_t dport, struct pf_verdict *out)
{
	pf_cache_lookup_flow(c, g, dst, PF_PROTO_TCP, dport, NULL, out);
}

void pf_cache_lookup_flow(const struct pf_cache *c, uint32_t g, const struct pf_addr *dst,
			  enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			  struct pf_verdict *out)
{
	const struct cache_group *grp;
	const struct slot *hit = NULL;
	const struct cache_rule *cr;
	const uint64_t *lenmap;
	uint64_t hi, lo;
	uint32_t r;

	memset(out, 0, sizeof(*out));
	out->action = c->default_action;
	out->rule_index = -1;
	out->pass_rule_index = -1;

	if (g >= c->n_groups)
		return;
	grp = &c->groups[g];
	/* A group an incremental build took from its base is read from the base's arrays (the
	 * same seed, so its hashes are the same): past this line c is the cache that compiled
	 * the group. The walk is never borrowed (no incremental build with fqdn rules). */
	if (grp->borrowed)
		c = c->base;
	if (grp->walk_n && names) {
		const char *const *v;

		/* the tables know no names: an address the pod resolved walks the rules */
		if (names->lookup(names->ctx, dst, &v)) {
			pf_ruleset_eval_some(c->walk, c->walk_pols + grp->walk_off, grp->walk_n,
					     c->default_action, dst, proto, dport, names, out);
			out->by_name = true;
			return;
		}
	}
	/* A destination that is none of its names now may be one after the next answer. */
	out->by_name = grp->walk_n != 0;

	addr_split(dst, &hi, &lo);
	if (grp->has_exact)
		hit = l2_get(c, grp, hi, lo, 128);
	/* longest prefix first: its node already holds every shorter prefix that covers dst */
	lenmap = grp->lenmap[is_v4(hi, lo) ? FAM_V4 : FAM_V6];
	for (int w = 1; !hit && w >= 0; w--) {
		uint64_t m = lenmap[w];

		while (m) {
			unsigned bit = 63 - (unsigned)__builtin_clzll(m);
			unsigned len = (unsigned)w * 64 + bit;
			uint64_t mh = hi, ml = lo;

			m &= ~(1ull << bit);
			mask_len(&mh, &ml, len);
			hit = l2_get(c, grp, mh, ml, len);
			if (hit)
				break;
		}
	}
	if (hit)
		r = iv_find(c->iv + hit->val, hit->tag >> 8, port_key(proto, dport));
	else if (grp->any_n)
		r = iv_find(c->iv + grp->any_off, grp->any_n, port_key(proto, dport));
	else
		return;
	if (r == NONE)
		return;

	cr = &c->rules[r];
	out->pass_name = cr->pass_name;
	out->pass_policy_id = cr->pass_policy_id;
	out->pass_rule_index = cr->pass_rule_index;
	if (!cr->matched)
		return;
	out->cluster = cr->cluster;
	out->action = (enum pf_action)cr->action;
	out->log = cr->log;
	out->matched = true;
	out->rule_index = cr->rule_index;
	out->policy_id = cr->policy_id;
	out->policy_namespace = cr->namespace;
	out->policy_name = cr->name;
}

bool pf_cache_has_source(const struct pf_cache *c, const struct pf_addr *src)
{
	uint64_t hi, lo;

	addr_split(src, &hi, &lo);
	return htab_get(&c->l1, c->seed, hi, lo, 0) != NONE;
}

enum pf_action pf_cache_default_action(const struct pf_cache *c)
{
	return c->default_action;
}

void pf_cache_get_stats(const struct pf_cache *c, struct pf_cache_stats *st)
{
	*st = c->stats;
	st->n_rules = c->n_rules_all;
	st->n_audit_rules = c->audit ? c->audit->n_rules_all : 0;
}
