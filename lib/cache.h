/*
 * The verdict cache (seed [0055], Fig. 2): an immutable multi-level hash compiled from a
 * resolved ruleset. Level 1: source IP. Level 2: destination IP (exact), then CIDR prefixes
 * by longest match, then "any destination". Level 3: the priority-ordered rules by port,
 * compiled into disjoint port intervals. A lookup does not walk policies: its cost does not
 * grow with the number of rules.
 */
#ifndef PF_CACHE_H
#define PF_CACHE_H

#include "ruleset.h"

struct pf_cache;

struct pf_cache_stats {
	size_t n_sources;	/* level-1 keys */
	size_t n_groups;	/* distinct policy sets shared by sources */
	size_t n_dst_nodes;	/* level-2 nodes, all groups */
	size_t n_port_tables;	/* level-3 tables after sharing */
	size_t bytes;		/* memory held */
};

/* Build from rs (which must be sorted, pf_ruleset_sort). The cache copies what it keeps:
 * rs may be freed afterwards. -ENOMEM / -E2BIG past internal limits. */
int pf_cache_build(const struct pf_ruleset *rs, enum pf_action default_action, struct pf_cache **out);
void pf_cache_free(struct pf_cache *c);
/* Same answer as pf_ruleset_eval on the ruleset it was built from. Thread-safe (read-only). */
void pf_cache_lookup(const struct pf_cache *c, const struct pf_addr *src, const struct pf_addr *dst,
		     uint16_t dport, struct pf_verdict *out);
/* True when src is a key of level 1 (some policy applies to it). */
bool pf_cache_has_source(const struct pf_cache *c, const struct pf_addr *src);
void pf_cache_get_stats(const struct pf_cache *c, struct pf_cache_stats *st);

#endif
