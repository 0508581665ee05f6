/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's counters in one snapshot: what status and /metrics both report. */
#include "counters.h"
#include "engine.h"
#include "events.h"
#include "pods.h"
#include "reload.h"

void pf_engine_add_queue_stats(struct pf_nfq_stats *sum, const struct pf_nfq *q)
{
	struct pf_nfq_stats s;

	pf_nfq_get_stats(q, &s);
	sum->packets += s.packets;
	sum->unparsed += s.unparsed;
	sum->enobufs += s.enobufs;
	sum->send_errors += s.send_errors;
	sum->kernel_errors += s.kernel_errors;
	sum->recv_calls += s.recv_calls;
	sum->truncated += s.truncated;
	sum->verdicts_lost += s.verdicts_lost;
	sum->recoveries += s.recoveries;
	sum->queue_dropped += s.queue_dropped;
	sum->user_dropped += s.user_dropped;
	/* queue_total is a gauge of one live queue: it does not add up over time. */
}

void pf_engine_counters(struct engine *e, struct pf_engine_counters *out)
{
	struct pf_nfq_stats *sum = &out->queues;
	uint64_t written = 0, dropped = 0;

	*out = (struct pf_engine_counters){.stats = e->stats, .queues = e->stats.nfq_released};
	pf_reloader_event_stats(e, &written, &dropped);
	pf_reloader_row_stats(e, &out->row_write_failures, &out->rows_waiting);
	if (e->cache)
		pf_cache_get_stats(e->cache, &out->cache);
	for (struct pf_pod *p = e->pods; p; p = p->next) {
		if (p->nfq)
			pf_engine_add_queue_stats(sum, p->nfq);
		out->n_privileged_pods += !p->dead && pf_pod_privileged(p);
		out->n_unresolved += p->active && p->unresolved;
	}
	out->cache_stale = e->cache_stale;
	out->events_recorded = e->events.recorded;
	out->events_suppressed = e->events.suppressed;
	out->events_written = written;
	/* Lost in memory here, or by the worker that could not write them. */
	out->events_dropped = e->events.dropped + dropped;
	out->events_pending = e->events.n_pending;
	out->n_pods = e->n_pods;
}
