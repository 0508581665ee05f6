/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hot path: a queued SYN -> a cache lookup -> a verdict. */
#ifndef PF_ENGINE_VERDICT_H
#define PF_ENGINE_VERDICT_H

#include "addr.h"
#include "packet.h"

struct pf_engine_stats;
struct pf_events;
struct pf_reload;
struct pf_trace;

/* What a verdict is made with, set up by the engine's owner; every pod points at it. */
struct pf_verdict_ctx {
	struct pf_reload *reload; /* the cache in place */
	struct pf_events *events;
	struct pf_engine_stats *stats;
	uint32_t reject_mark;	/* the mark the chain's reject rule matches */
	bool reuse;		/* verdict reuse on: Allows go to the pod's reuse sets */
	struct pf_trace *trace; /* live verdicts for subscribers (podfencectl trace) */
};

struct pf_pod;
struct pf_verdict;

/*
 * The flows of a pod enforce_established cut lately, newest over oldest: a packet from the
 * other end that would start a new conntrack entry for one of them is dropped, so the pod's
 * next packet cannot pass as that entry's reply.
 */
#define PF_CUT_FLOWS_KEEP 256
#define PF_CUT_FLOWS_MS 120000
struct pf_cut_flows {
	struct {
		struct pf_addr remote;
		uint16_t remote_port, pod_port;
		uint8_t proto;
		int64_t until_ms;
	} e[PF_CUT_FLOWS_KEEP];
	size_t next;
};

/* Remember that p's flow (proto, its port pod_port, to remote:remote_port) was cut. */
void pf_verdict_note_cut(struct pf_pod *p, uint8_t proto, uint16_t pod_port,
			 const struct pf_addr *remote, uint16_t remote_port, int64_t now_ms);

/* The verdict for a flow of pod p (src is the packet's: the pod's own address, or any other
 * it sent from), with the pod's DNS names for fqdn rules; returns the policy group used. */
uint32_t pf_verdict_judge(struct pf_pod *p, const struct pf_verdict_ctx *vc,
			  const struct pf_addr *src, const struct pf_addr *dst, uint8_t proto,
			  uint16_t dport, struct pf_verdict *v);

/* The queue callback; userdata is the pod. */
uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
		       uint32_t *mark);

#endif
