/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict cache's layout, shared by its builder (cache-build.c) and its lookup (cache.c). */
#ifndef PF_CACHE_INTERNAL_H
#define PF_CACHE_INTERNAL_H

#include <endian.h>

#include "cache.h"
#include "util.h"

#define NONE UINT32_MAX

/*
 * Level 3 keys a port by protocol too: TCP ports are 0..65535, UDP ports follow at 65536, so
 * one table of disjoint intervals answers both and a rule without ports covers the whole
 * space.
 */
#define PORT_SPACE (2u * 65536)

static inline uint32_t port_key(unsigned proto, uint16_t port)
{
	return proto * 65536u + port;
}

/*
 * Open addressing with linear probing. Level 1 is one table keyed by source (tag 0, val the
 * group), load <= 1/2. Level 2 is one table per group keyed by destination masked to a
 * prefix length (hashed with the length; tag and val carry the port table, see port_table),
 * all groups' tables in one array so a group's nodes sit together. Addresses are kept as two
 * host-order words so masking to a prefix length is two ANDs.
 */
struct slot {
	uint64_t hi, lo;
	uint32_t tag;
	uint32_t val; /* NONE: empty */
};

struct htab {
	struct slot *s;
	size_t mask; /* capacity - 1 */
	size_t n;
};

/*
 * What a verdict needs, in one place: a lookup ends with one read here. rules[] holds the
 * ruleset's rules by evaluation order, then one entry per (cluster Pass rule, namespaced rule
 * or none) pair some port interval ends in: a connection the cluster tier passes down.
 */
struct cache_rule {
	const char *namespace; /* owned by policies[] */
	const char *name;
	const char *pass_name; /* NULL: no Pass on the way */
	uint32_t policy_id;
	uint32_t pass_policy_id;
	int32_t rule_index;
	int32_t pass_rule_index;
	uint8_t action;
	bool log;
	bool matched; /* false: passed down and no namespaced rule matched */
	bool cluster;
};

struct cache_policy {
	uint32_t id;
	char *namespace;
	char *name;
};

enum { FAM_V4, FAM_V6 };

struct cache_group {
	/*
	 * Distinct prefix lengths 0..127 of the group's prefixes that can hold an IPv4 (FAM_V4)
	 * or another (FAM_V6) address: bit L%64 of lenmap[fam][L/64]. A lookup probes only its
	 * family's lengths, longest first.
	 */
	uint64_t lenmap[2][2];
	uint32_t l2_off; /* this group's level-2 table: l2[l2_off .. l2_off + l2_mask] */
	uint32_t l2_mask;
	/*
	 * A one-hash Bloom filter over the same keys, ~8 bits a node: most probes (every prefix
	 * length that does not hold dst) end here, in a few hundred bytes per group that stay in
	 * cache, instead of in the table.
	 */
	uint32_t bloom_off;  /* in 64-bit words */
	uint32_t bloom_mask; /* bits - 1 */
	/* level-3 table when neither an exact IP nor a prefix matched; any_n 0: none */
	uint32_t any_off, any_n;
	bool has_exact;
	/* Taken as it was from the base of an incremental build (pf_cache_update): its offsets
	 * and rule numbers are into the base's arrays (c->base->l2, ...), not this cache's. */
	bool borrowed;
	/* Some of this group's policies name fqdns: a destination the pod received in a DNS
	 * answer is judged by walking them (walk_pols[walk_off .. + walk_n)), every other one
	 * by the tables above. walk_n 0: no fqdn rule. */
	uint32_t walk_off, walk_n;
};

/*
 * A level-3 table: iv[off .. off + n), sorted, each (first port << 32 | rule), the first
 * starting at port 0, so together they cover every port. rule NONE: no rule matches there.
 * A level-2 slot holds its table inline: val = off, tag = n << 8 | prefix length.
 */
struct port_table {
	uint32_t off;
	uint32_t n;
};

struct pf_cache {
	struct pf_cache *audit; /* the Audit policies' own cache (pf_cache_audit), or NULL */
	uint64_t seed;
	enum pf_action default_action;
	struct htab l1;
	struct slot *l2;
	uint64_t *bloom;
	size_t n_l2, n_bloom, n_nodes;
	struct cache_group *groups;
	uint64_t *iv;
	struct cache_rule *rules;
	struct cache_policy *policies;
	size_t n_groups, n_tables, n_iv, n_rules, n_policies;
	struct pf_ruleset *walk; /* copies of the policies fqdn groups walk; NULL: none */
	uint32_t *walk_pols;	 /* indices into walk->policies, per group (see walk_off) */
	size_t n_walk_pols;
	void *arena; /* when set, l1.s, groups, bloom, l2, iv and rules live here (see freeze) */
	size_t arena_len;
	struct pf_cache_stats stats;
	size_t n_rules_all; /* the ruleset's rules (an incremental build compiles some only) */
	/*
	 * Incremental builds. A full build keeps its groups' policy lists (glist[g_off[g] ..
	 * + g_n[g]), ascending policy indices) so that a later pf_cache_update can tell which
	 * groups it may take as they are. An incremental build holds a reference to its base
	 * (the full build its unchanged groups come from; never itself incremental) and keeps
	 * no lists: the next update starts from the same base.
	 */
	struct pf_cache *base;
	struct pf_ruleset *rs; /* a full build by pf_cache_update: what it was built from */
	uint32_t *glist, *g_off, *g_n;
	uint32_t *g_nodes; /* per group: its level-2 nodes (for an update's stats) */
	int refs;	   /* references beyond the first (pf_cache_ref) */
};

/* One multiply-xorshift round: lookups hash up to a few times each, so this is kept cheap. */
static inline uint64_t key_hash(uint64_t seed, uint64_t hi, uint64_t lo, uint32_t tag)
{
	uint64_t h = (lo ^ seed) * 0x9e3779b97f4a7c15ull + (hi ^ ((uint64_t)tag << 56 | tag));

	h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static inline void addr_split(const struct pf_addr *a, uint64_t *hi, uint64_t *lo)
{
	uint64_t x, y;

	memcpy(&x, a->b, 8);
	memcpy(&y, a->b + 8, 8);
	*hi = be64toh(x);
	*lo = be64toh(y);
}

static inline void mask_len(uint64_t *hi, uint64_t *lo, unsigned len)
{
	if (len < 64) {
		*hi &= ~(~0ull >> len);
		*lo = 0;
	} else if (len < 128) {
		*lo &= ~(~0ull >> (len - 64));
	}
}

static inline bool is_v4(uint64_t hi, uint64_t lo)
{
	return hi == 0 && (lo >> 32) == 0xffff;
}

static inline uint32_t slots_get(const struct slot *s, size_t mask, uint64_t seed, uint64_t hi,
				 uint64_t lo, uint32_t tag)
{
	size_t i = key_hash(seed, hi, lo, tag) & mask;

	for (;;) {
		if (s[i].val == NONE)
			return NONE;
		if (s[i].hi == hi && s[i].lo == lo && s[i].tag == tag)
			return s[i].val;
		i = (i + 1) & mask;
	}
}

static inline uint32_t htab_get(const struct htab *t, uint64_t seed, uint64_t hi, uint64_t lo,
				uint32_t tag)
{
	return slots_get(t->s, t->mask, seed, hi, lo, tag);
}

#endif
