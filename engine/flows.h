/* SPDX-License-Identifier: GPL-2.0-or-later */
/* enforce_established: after a policy change, cut the connections it now denies. */
#ifndef PF_ENGINE_FLOWS_H
#define PF_ENGINE_FLOWS_H

struct pf_pods;
struct pf_verdict_ctx;

/*
 * In every active pod's netns, judge each established TCP connection and UDP flow the pod
 * opened by the cache in place, and remove the conntrack entries of those now denied or
 * rejected (an event each, reason "cut"): their next packet is queued by the flows chain and
 * judged again. Runs in the loop thread, right after a cache swap.
 */
void pf_flows_cut(struct pf_pods *reg, const struct pf_verdict_ctx *vc);

#endif
