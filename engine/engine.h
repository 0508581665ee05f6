/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfenced's state, owned by engine.c (start, stop, wiring); modules get it by parameter. */
#ifndef PF_ENGINE_H
#define PF_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "adopt.h"
#include "cache.h"
#include "counters.h"
#include "events.h"
#include "loop.h"
#include "netns.h"
#include "nft.h"
#include "pods.h"
#include "policy.h"
#include "reload.h"
#include "store.h"

/* Cadence of the slower jobs, in loop ticks (PF_TICK_MS). */
#define PF_EVENTS_FLUSH_TICKS 2 /* hand event batches to the store worker every 200 ms */
#define PF_DATA_VERSION_MS 200	/* the store worker polls PRAGMA data_version */
#define PF_LIVENESS_TICKS 20	/* look for vanished netns every 2 s */

/* Bounds on what outsiders can make the engine hold. */
#define PF_MAX_PENDING_FILES 4096

struct pf_control;
struct pf_metrics;

struct pf_engine_config {
	bool foreground;
	char *config_path;
	char *db_path;
	char *socket_path;
	char *state_dir;
	bool fail_closed;
	enum pf_action default_action;
	uint16_t queue_num;
	uint32_t queue_maxlen; /* 0: PF_NFQ_QUEUE_MAXLEN */
	int32_t priority;
	uint32_t event_window_ms;
	char *metrics;
	int log_level;
	bool refuse_privileged; /* privileged_pods = refuse (default warn) */
};

struct engine {
	struct pf_engine_config cfg;
	struct pf_loop loop;
	int sigfd;
	struct pf_watch sig_watch;

	struct pf_store *store;
	uint64_t data_version;
	struct pf_cache *cache;	   /* swapped whole on reload; only the loop thread reads it */
	uint64_t cache_generation; /* the request number the cache in place was built for */
	uint64_t reload_requested; /* last request number */
	uint64_t reload_failed;	   /* last request number whose build failed */
	uint64_t build_failed;	   /* ... whose load or compile failed (pods go on, see pods.c) */
	/*
	 * A failed build never stops the engine, a registration or a container start: the
	 * cache in place stays (stale), or at start the last good build's ruleset saved in the
	 * state dir, or, if there is none, an empty cache (the default action for everyone).
	 */
	bool cache_stale;
	const char *cache_source; /* "store", "saved" (last good build's ruleset), "none" */
	char last_build_error[1024];
	uint64_t failed_data_version; /* start-up: the store as the failed build saw it */
	char *saved_path;	      /* the last good build's ruleset */
	uint64_t saved_hash;	      /* of what was saved last (worker, or start-up before it) */
	struct pf_reloader *reloader;
	struct pf_reload_ops reload_ops; /* what the worker reports, set by engine.c */
	struct pf_pods_ops pods_ops;	 /* what the registry reports, set by engine.c */

	struct pf_nft_config nft;
	struct pf_netns_id host_id; /* PID 1's netns */
	struct pf_netns_id self_id; /* ours */

	struct pf_pod *pods;
	size_t n_pods;
	uint64_t row_seq; /* numbers pods-table writes */
	struct pf_pod *dead_pods;
	struct pf_container *dead_containers;
	struct pf_control *control; /* NULL until it listens */

	struct pf_metrics *metrics; /* NULL without --metrics */

	struct pf_events events;
	struct pf_engine_stats stats;
	bool pending_dir_warned;
	int64_t started_ms;

	struct pf_adopt adopt; /* adopt.c's */
};

/* Start-up in order (pods before the socket), the loop, and shutdown. */
int pf_engine_start(struct engine *e);
int pf_engine_run(struct engine *e);
void pf_engine_stop(struct engine *e);

#endif
