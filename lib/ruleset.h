/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The resolved ruleset: policies with every name turned into IPs. The store produces it,
 * the verdict cache compiles it, and the reference evaluator in tests walks it.
 */
#ifndef PF_RULESET_H
#define PF_RULESET_H

#include "addr.h"
#include "policy.h"

struct pf_rs_rule {
	enum pf_action action;
	bool log;
	uint32_t rule_index;	 /* index in the policy's spec.egress */
	bool any_dst;		 /* `to` omitted or empty */
	struct pf_addr *dst_ips; /* resolved refs (a ref that resolves to nothing adds nothing) */
	size_t n_dst_ips;
	struct pf_prefix *dst_nets; /* cidr peers */
	size_t n_dst_nets;
	struct pf_port_range *ports; /* n_ports == 0: any port (and protocol) */
	size_t n_ports;
	/* fqdn peers (policy form: lower case, "*." wildcard): they match an address the pod
	 * received in a DNS answer for a matching name (struct pf_names) */
	char **fqdns;
	size_t n_fqdns;
};

struct pf_rs_policy {
	uint32_t id;  /* store's policy id */
	bool cluster; /* ClusterFencePolicy: the tier evaluated first (namespace "") */
	char *namespace;
	char *name;
	uint32_t priority;
	struct pf_addr *src; /* IPs appliesTo resolves to */
	size_t n_src;
	struct pf_rs_rule *rules;
	size_t n_rules;
	bool
	    audit; /* spec.mode Audit: skipped by evaluation, judged apart (pf_cache_build_audit) */
};

struct pf_ruleset {
	/* Sorted in evaluation order: ClusterFencePolicies first, then FencePolicies; within a
	 * tier priority ascending, then namespace, then name. */
	struct pf_rs_policy *policies;
	size_t n_policies;
	int refs; /* references beyond the first (pf_ruleset_ref) */
};

/* Drops one reference (NULL-safe); the ruleset is freed with the last. */
void pf_ruleset_free(struct pf_ruleset *rs);
/* One more reference to rs (thread-safe; rs is not changed while shared). */
struct pf_ruleset *pf_ruleset_ref(struct pf_ruleset *rs);

/* A policy that applies to a source: to all of its addresses, or to one (pf_store_pod_policies). */
struct pf_source_policy {
	uint32_t policy_id;
	bool all; /* every address of the source; else ip only */
	struct pf_addr ip;
};
/*
 * The ruleset one source sees: copies of the policies of rs that sp names (in rs's order), each
 * with src the source's addresses ips[0..n_ips) it applies to, the rest of rs left out; its
 * cache answers for those addresses what a cache of rs with the source added would answer,
 * except for destinations that are the source's own addresses (rs resolved its peers without
 * them). 0, -ENOMEM, or -ENOENT when sp names a policy rs does not hold (rs is older than the
 * store that listed sp), or an address that is not one of ips.
 */
int pf_ruleset_for_source(const struct pf_ruleset *rs, const struct pf_addr *ips, size_t n_ips,
			  const struct pf_source_policy *sp, size_t n_sp, struct pf_ruleset **out);
/* Sort policies into evaluation order: the cluster tier, then the namespaced one. */
void pf_ruleset_sort(struct pf_ruleset *rs);
/* Total number of rules, and of (src, rule) pairs, for sizing and benchmarks. */
size_t pf_ruleset_n_rules(const struct pf_ruleset *rs);

struct pf_verdict {
	enum pf_action action; /* never PF_ACTION_PASS */
	bool log;	       /* Allow with log: true */
	bool matched;	       /* false: no rule matched, action is the default */
	bool cluster;	       /* the deciding policy is a ClusterFencePolicy */
	uint32_t policy_id;
	const char *policy_namespace; /* NULL when !matched ("" for a cluster policy); valid
				       * while the cache/ruleset lives */
	const char *policy_name;
	int32_t rule_index; /* -1 when !matched */
	/* A cluster policy's Pass rule handed the connection to the namespaced tier (which then
	 * decided, or left it to the default action): that rule. pass_name NULL: no Pass. */
	uint32_t pass_policy_id;
	const char *pass_name;
	int32_t pass_rule_index; /* -1 without a Pass */
	/* The pod's policies name fqdns: the verdict may change with the DNS answers it gets
	 * (never reused in the kernel). */
	bool by_name;
};

/*
 * What a pod learnt from the DNS answers it received: lookup gives the names (lower case, no
 * trailing dot) for which dst is one of its current addresses, *names pointing at n of them
 * (valid until the caller's next change to that state), 0 when none. A NULL struct pf_names
 * knows no name: fqdn peers then match nothing.
 */
struct pf_names {
	size_t (*lookup)(void *ctx, const struct pf_addr *dst, const char *const **names);
	void *ctx;
};

/* Whether one rule matches (dst, protocol, dport): the reference every evaluator shares. */
bool pf_rs_rule_matches(const struct pf_rs_rule *r, const struct pf_addr *dst,
			enum pf_protocol proto, uint16_t dport, const struct pf_names *names);

/*
 * Whether the kernel may give this verdict again to the same (source, destination, port)
 * without asking the engine (verdict reuse, podfenced(8)): only an Allow that records
 * nothing. Alert, `log: true`, and any verdict that must be seen each time or that depends on
 * more than the source, destination and port (an audited or a name-based decision) are not.
 */
static inline bool pf_verdict_reusable(const struct pf_verdict *v)
{
	return v->action == PF_ACTION_ALLOW && !v->log && !v->by_name;
}

/* The plain evaluator: walks every policy and rule in evaluation order; the first matching rule
 * decides, except that a cluster policy's Pass skips the rest of the cluster tier (a Pass rule
 * in a namespaced policy, which validation refuses, matches nothing). Reference for tests and
 * `podfencectl explain` cross-checks; O(rules). */
void pf_ruleset_eval(const struct pf_ruleset *rs, enum pf_action default_action,
		     const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		     struct pf_verdict *out);
/* The same for a flow of any protocol, with the pod's names for fqdn peers (may be NULL). */
void pf_ruleset_eval_flow(const struct pf_ruleset *rs, enum pf_action default_action,
			  const struct pf_addr *src, const struct pf_addr *dst,
			  enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			  struct pf_verdict *out);
/*
 * The same walk over the policies rs->policies[pols[0..n)] only (ascending indices, all
 * taken to apply to the source): what the verdict cache does for an fqdn destination.
 */
void pf_ruleset_eval_some(const struct pf_ruleset *rs, const uint32_t *pols, size_t n,
			  enum pf_action default_action, const struct pf_addr *dst,
			  enum pf_protocol proto, uint16_t dport, const struct pf_names *names,
			  struct pf_verdict *out);
/* A deep copy of the policies rs->policies[pols[0..n)] (ascending), in that order; 0 or
 * -ENOMEM. */
int pf_ruleset_copy_some(const struct pf_ruleset *rs, const uint32_t *pols, size_t n,
			 struct pf_ruleset **out);
/* Whether any rule of rs names an fqdn. */
bool pf_ruleset_has_fqdn(const struct pf_ruleset *rs);
/* The same walk over the Audit policies only (as if they were the whole ruleset): what they
 * would decide; matched false when no Audit rule matches. */
void pf_ruleset_eval_audit(const struct pf_ruleset *rs, const struct pf_addr *src,
			   const struct pf_addr *dst, uint16_t dport, struct pf_verdict *out);
/* An Audit verdict worth recording: a rule matched and would have decided otherwise. */
static inline bool pf_audit_disagrees(const struct pf_verdict *real, const struct pf_verdict *audit)
{
	return audit->matched && audit->action != real->action;
}

/* True when some policy of rs is in Audit mode. */
bool pf_ruleset_has_audit(const struct pf_ruleset *rs);
/*
 * A view of rs holding only its Audit policies (audit true, their audit flag cleared in the
 * view) or only the others: the policy structs are copied, what they point to is shared, so
 * the view lives no longer than rs and is released with pf_ruleset_view_done, never
 * pf_ruleset_free.
 */
int pf_ruleset_view(const struct pf_ruleset *rs, bool audit, struct pf_ruleset *view);
void pf_ruleset_view_done(struct pf_ruleset *view);

#endif
