/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's counters in one snapshot: what status and /metrics both report. */
#include "counters.h"
#include "events.h"
#include "pods.h"
#include "reload.h"

void pf_counters_read(const struct pf_counters *c, struct pf_engine_counters *out)
{
	uint64_t written = 0, dropped = 0;
	struct pf_cache *cache;

	*out = (struct pf_engine_counters){.stats = c->stats, .queues = c->stats.nfq_released};
	pf_reload_get_state(c->reload, &out->reload);
	pf_reloader_event_stats(c->reload, &written, &dropped);
	pf_reloader_row_stats(c->reload, &out->row_write_failures, &out->rows_waiting);
	cache = pf_reload_cache(c->reload);
	if (cache)
		pf_cache_get_stats(cache, &out->cache);
	pf_pods_stats(c->pods, &out->queues, &out->n_privileged_pods, &out->n_unresolved);
	out->n_pods = pf_pods_count(c->pods);
	out->events_recorded = c->events->recorded;
	out->events_audit = c->events->audit;
	out->events_suppressed = c->events->suppressed;
	out->events_written = written;
	/* Lost in memory here, or by the worker that could not write them. */
	out->events_dropped = c->events->dropped + dropped;
	out->events_pending = c->events->n_pending;
}
