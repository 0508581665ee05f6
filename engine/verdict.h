/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hot path: a queued SYN -> a cache lookup -> a verdict. */
#ifndef PF_ENGINE_VERDICT_H
#define PF_ENGINE_VERDICT_H

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
	struct pf_trace *trace; /* live verdicts for subscribers (podfencectl trace) */
	uint32_t reject_mark;	/* the mark the chain's reject rule matches */
};

/* The queue callback; userdata is the pod. */
uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
		       uint32_t *mark);

#endif
