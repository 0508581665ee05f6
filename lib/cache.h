/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verdict cache: an immutable multi-level hash compiled from a
 * resolved ruleset. Level 1: source IP. Level 2: destination IP (exact), then CIDR prefixes
 * by longest match, then "any destination". Level 3: the priority-ordered rules by port,
 * compiled into disjoint port intervals. A lookup does not walk policies: its cost does not
 * grow with the number of rules (at most one probe per distinct prefix length a source's
 * policies use, then a binary search over that node's port intervals).
 *
 * Sources with the same set of applicable policies share one level-2 structure (a "group"),
 * and identical port tables are stored once, so a Deployment of many pods costs one copy.
 * Each node's port table is compiled from every rule that covers the node (its own, those of
 * every shorter covering prefix, the any-destination ones) in evaluation order, so the
 * longest match alone answers exactly as the rule walk does. The cluster tier comes first in
 * that order; a port interval its Pass rule claims holds the (Pass, first namespaced rule
 * there) pair instead, so a passed-down lookup costs no more. A cache of 2 MiB or more is
 * moved into one read-only mapping backed by huge pages where the kernel allows.
 */
#ifndef PF_CACHE_H
#define PF_CACHE_H

#include "ruleset.h"

/* Bounds on what a ruleset can make the cache allocate; past them pf_cache_build fails with
 * -E2BIG instead of exhausting memory. */
#define PF_CACHE_MAX_RULES (1u << 22)	     /* rules, all policies */
#define PF_CACHE_MAX_SRC_PAIRS (1u << 24)    /* (source IP, policy) pairs */
#define PF_CACHE_MAX_GROUPS ((1u << 24) - 1) /* distinct policy sets */
#define PF_CACHE_MAX_NODES (1u << 23)	     /* level-2 nodes, all groups */
#define PF_CACHE_MAX_INTERVALS (1u << 24)    /* level-3 port intervals after sharing */
#define PF_CACHE_MAX_WORK (1u << 24)	     /* merged rule lists held while building one group */

struct pf_cache;

struct pf_cache_stats {
	size_t n_sources;	/* level-1 keys */
	size_t n_groups;	/* distinct policy sets shared by sources */
	size_t n_dst_nodes;	/* level-2 nodes (exact IPs and prefixes), all groups */
	size_t n_port_tables;	/* level-3 tables after sharing */
	size_t n_intervals;	/* port intervals in those tables */
	size_t max_prefix_lens; /* most distinct prefix lengths in one group: worst-case probes */
	size_t bytes;		/* memory held */
	size_t n_rules;		/* rules compiled in (Audit policies' not counted) */
	size_t n_audit_rules;	/* rules of Audit policies, compiled apart */
	/* pf_cache_update: groups taken from the base as they were, and groups compiled anew
	 * (both 0 for a full build) */
	size_t n_groups_reused;
	size_t n_groups_compiled;
};

/*
 * Build from rs. Evaluation order is the order of rs->policies (as for pf_ruleset_eval), so
 * rs must be sorted (pf_ruleset_sort). The cache copies what it keeps: rs may be freed
 * afterwards; rs NULL builds an empty cache (every lookup: the default action). 0, or
 * -ENOMEM, or -E2BIG past the limits above; *out untouched on error.
 */
int pf_cache_build(const struct pf_ruleset *rs, enum pf_action default_action,
		   struct pf_cache **out);
/*
 * The Audit policies of rs alone, compiled as if they were the whole ruleset: a lookup answers
 * pf_ruleset_eval_audit (matched false: no Audit rule matches). The same limits apply.
 */
int pf_cache_build_audit(const struct pf_ruleset *rs, struct pf_cache **out);
/* A cache built from a ruleset with Audit policies carries their cache (freed with it): NULL
 * when there are none. */
const struct pf_cache *pf_cache_audit(const struct pf_cache *c);
/*
 * Incremental build: the cache of rs, compiling only the groups (sources with the same set of
 * policies) whose policies changed since the base, prev's (pf_cache_base), was built, and
 * taking every other group as the base compiled it. A policy is unchanged when its id, tier,
 * priority, names and every rule (action, log, destinations, ports) are the same; its sources
 * may differ (level 1 is always rebuilt). The result answers exactly as pf_cache_build(rs,
 * default_action) would, holds a reference to the base (memory held: both) and has the same
 * limits.
 *
 * It is a full build instead (pf_cache_base(*out) == *out) when prev is NULL, its base was not
 * built here, the default action differs, either side has Audit or fqdn rules, or the groups to
 * compile name more than a quarter of the rules all groups name (each group counting the rules
 * of its policies): the base is then replaced before the changes pile up. A full build made
 * here keeps a reference to rs (pf_ruleset_ref) to compare the next ruleset with, so rs must
 * not change afterwards. Returns as pf_cache_build.
 */
int pf_cache_update(const struct pf_cache *prev, struct pf_ruleset *rs,
		    enum pf_action default_action, struct pf_cache **out);
/* The full build c's groups come from: c itself unless c came from pf_cache_update. */
const struct pf_cache *pf_cache_base(const struct pf_cache *c);
/* One more reference to c (thread-safe): each is dropped by one pf_cache_free. */
struct pf_cache *pf_cache_ref(const struct pf_cache *c);
/* NULL-safe; returns NULL so `c = pf_cache_free(c);` works. Drops one reference; the cache is
 * freed with the last (a base lives as long as any cache built from it). */
struct pf_cache *pf_cache_free(struct pf_cache *c);
/*
 * Same answer as pf_ruleset_eval on the ruleset it was built from, field by field; the
 * policy strings point into the cache. c must not be NULL. Thread-safe (the cache is
 * read-only after build); no allocation, no lock, no system call.
 */
void pf_cache_lookup(const struct pf_cache *c, const struct pf_addr *src, const struct pf_addr *dst,
		     uint16_t dport, struct pf_verdict *out);
/*
 * The same in two steps: the group (set of applicable policies) of src, PF_CACHE_NO_GROUP when
 * no policy applies to it, then the verdict for that group. A group number is valid for the
 * cache that gave it only. pf_cache_lookup_group with PF_CACHE_NO_GROUP: the default action.
 */
#define PF_CACHE_NO_GROUP UINT32_MAX
uint32_t pf_cache_source_group(const struct pf_cache *c, const struct pf_addr *src);
void pf_cache_lookup_group(const struct pf_cache *c, uint32_t group, const struct pf_addr *dst,
			   uint16_t dport, struct pf_verdict *out);
/*
 * A flow of any protocol podfence judges, with the pod's DNS names for fqdn rules (names may
 * be NULL: fqdn peers match nothing). A destination that is none of the pod's names costs what
 * pf_cache_lookup_group costs; one that is walks the group's policies (O(their rules)).
 * pf_cache_lookup_group is this with TCP and no names.
 */
void pf_cache_lookup_flow(const struct pf_cache *c, uint32_t group, const struct pf_addr *dst,
			  enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			  struct pf_verdict *out);
/* True when src is a key of level 1 (some policy applies to it). */
bool pf_cache_has_source(const struct pf_cache *c, const struct pf_addr *src);
enum pf_action pf_cache_default_action(const struct pf_cache *c);
void pf_cache_get_stats(const struct pf_cache *c, struct pf_cache_stats *st);

#endif
