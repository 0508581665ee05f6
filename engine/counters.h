/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's counters: what the modules count, and the one snapshot status and /metrics read. */
#ifndef PF_ENGINE_COUNTERS_H
#define PF_ENGINE_COUNTERS_H

#include "cache.h"
#include "nfq.h"
#include "reload.h"

struct pf_events;
struct pf_pods;

/* Bumped by the module that sees the thing happen (through a pointer its owner gave it); read
 * only through pf_counters_read. The cache's rebuilds are counted by reload.c itself. */
struct pf_engine_stats {
	uint64_t accepted, dropped, rejected, unparsed;
	uint64_t nfq_errors;		   /* dispatch failures the loop saw */
	struct pf_nfq_stats nfq_released;  /* queues of released pods, so totals never go back */
	uint64_t ruleset_restored;	   /* a pod's ruleset changed by someone else, put back */
	uint64_t ruleset_restore_failures; /* restores that failed (retried every tick) */
	uint64_t ruleset_foreign;	   /* tables of someone else's added in a pod netns */
	uint64_t privileged_containers;	   /* registered with CAP_NET_ADMIN or CAP_NET_RAW */
	uint64_t privileged_refused;	   /* refused for it (privileged_pods = refuse) */
	uint64_t udp_judged;		   /* first packets of UDP flows judged */
	uint64_t dns_answers;		   /* answers from a pod's resolver recorded */
	uint64_t dns_ignored;		   /* answers not from the pod's resolver, or unparsable */
	uint64_t dns_evicted;		   /* addresses or names dropped for a pod's limits */
	uint64_t flows_cut;		   /* conntrack entries removed (enforce_established) */
	uint64_t pods_own_cache;	   /* pods activated with a cache of their own */
	uint64_t pods_after_build;	   /* pods activated once a full build had their row */
	/* How long verdicts take, from the queue read to the verdicts sent (a histogram over
	 * PF_LATENCY_BOUNDS_NS, the last bucket +Inf), see pf_counters_observe_latency. */
	uint64_t latency_buckets[13];
	uint64_t latency_count;
	uint64_t latency_sum_ns;
};

/* Bucket bounds of the verdict latency histogram, in ns (the 13th bucket is +Inf). Here, not
 * in counters.c, so that the modules which count (pods.c) never call the file that reads them
 * (counters.c calls pods.c). */
#define PF_LATENCY_N_BOUNDS 12
static inline const uint64_t *pf_latency_bounds_ns(void)
{
	static const uint64_t bounds[PF_LATENCY_N_BOUNDS] = {
	    10000,   25000,   50000,   100000,	 250000,   500000,
	    1000000, 2500000, 5000000, 10000000, 25000000, 100000000,
	};

	return bounds;
}

/* n verdicts that each took (at most) ns. */
static inline void pf_counters_observe_latency(struct pf_engine_stats *s, uint64_t ns, uint64_t n)
{
	const uint64_t *bounds = pf_latency_bounds_ns();
	size_t b = 0;

	while (b < PF_LATENCY_N_BOUNDS && ns > bounds[b])
		b++;
	s->latency_buckets[b] += n;
	s->latency_count += n;
	s->latency_sum_ns += ns * n;
}

/* The counters in one place: the block the modules bump, and where the rest is read. */
struct pf_counters {
	struct pf_engine_stats stats;
	struct pf_pods *pods;
	struct pf_reload *reload;
	const struct pf_events *events;
};

/* The numbers the status op and the metrics endpoint report, gathered in one place. */
struct pf_engine_counters {
	struct pf_engine_stats stats;
	struct pf_reload_state reload;
	struct pf_cache_stats cache;
	struct pf_nfq_stats queues; /* every queue the engine had, live or released */
	uint64_t events_recorded, events_suppressed, events_written, events_dropped;
	uint64_t events_audit; /* of events_recorded: Audit policies' would-be decisions */
	size_t events_pending;
	size_t n_pods;
	size_t n_privileged_pods;
	uint64_t row_write_failures; /* pods-table writes that failed (each retried) */
	size_t rows_waiting;	     /* rows waiting for a retry now */
	size_t n_unresolved;	     /* pods activated while builds fail, not in the cache */
};

void pf_counters_read(const struct pf_counters *c, struct pf_engine_counters *out);

#endif
