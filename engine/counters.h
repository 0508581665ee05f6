/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's counters: what the modules count, and the one snapshot status and /metrics read. */
#ifndef PF_ENGINE_COUNTERS_H
#define PF_ENGINE_COUNTERS_H

#include "cache.h"
#include "nfq.h"

struct engine;

/* Bumped by the module that sees the thing happen; read only through pf_engine_counters. */
struct pf_engine_stats {
	uint64_t accepted, dropped, rejected, unparsed;
	uint64_t reloads, reload_failures;
	uint64_t nfq_errors;		  /* dispatch failures the loop saw */
	struct pf_nfq_stats nfq_released; /* queues of released pods, so totals never go back */
	int64_t last_reload_ms;
	uint64_t last_reload_us;	   /* how long the last rebuild took */
	uint64_t ruleset_restored;	   /* a pod's ruleset changed by someone else, put back */
	uint64_t ruleset_restore_failures; /* restores that failed (retried every tick) */
	uint64_t ruleset_foreign;	   /* tables of someone else's added in a pod netns */
	uint64_t privileged_containers;	   /* registered with CAP_NET_ADMIN or CAP_NET_RAW */
	uint64_t privileged_refused;	   /* refused for it (privileged_pods = refuse) */
	uint64_t build_failures;	   /* loads or compiles that failed (not pod-row writes) */
	int64_t last_build_failure_ms;
};

/* The numbers the status op and the metrics endpoint report, gathered in one place. */
struct pf_engine_counters {
	struct pf_engine_stats stats;
	struct pf_cache_stats cache;
	struct pf_nfq_stats queues; /* every queue the engine had, live or released */
	uint64_t events_recorded, events_suppressed, events_written, events_dropped;
	size_t events_pending;
	size_t n_pods;
	size_t n_privileged_pods;
	uint64_t row_write_failures; /* pods-table writes that failed (each retried) */
	size_t rows_waiting;	     /* rows waiting for a retry now */
	size_t n_unresolved;	     /* pods activated while builds fail, not in the cache */
	bool cache_stale;
};

void pf_engine_counters(struct engine *e, struct pf_engine_counters *out);
/* Add a queue's counts to sum (live queues here, released ones into stats.nfq_released). */
void pf_engine_add_queue_stats(struct pf_nfq_stats *sum, const struct pf_nfq *q);

#endif
