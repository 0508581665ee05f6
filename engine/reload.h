/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store worker: cache rebuilds, pods-table rows and event batches off the loop's thread. */
#ifndef PF_ENGINE_RELOAD_H
#define PF_ENGINE_RELOAD_H

#include "error.h"
#include "netns.h"
#include "store.h"

struct engine;
struct pf_pending_event;

/* A pods-table write the store worker committed: every cache of generation >= gen has it. */
struct pf_row_done {
	struct pf_netns_id id;
	uint64_t seq;
	uint64_t gen;
	bool delete;
};

/* What the worker reports, to whoever owns it (engine.c), on the loop's thread. */
struct pf_reload_ops {
	/* A new cache is in place (start-up builds too): group numbers changed. */
	void (*swapped)(void *data);
	/* A row write committed. */
	void (*row_committed)(void *data, const struct pf_row_done *d);
	/* Generation gen is in place (failed: its build or a row write failed; the cache in
	 * place stays): whoever waited for it, or an older one, goes on. */
	void (*ready)(void *data, uint64_t gen, bool failed);
	void *data;
};

/* Build and swap on the calling thread (start-up, before the loop runs). */
int pf_reload(struct engine *e, const char *why, struct pf_error *err);
/* The start-up build; when it fails, the saved last good ruleset, or an empty cache. Logs. */
int pf_reload_start(struct engine *e);
int pf_reloader_start(struct engine *e);
void pf_reloader_stop(struct engine *e);
/* Ask for a rebuild; returns the generation that will contain everything committed so far. */
uint64_t pf_reload_request(struct engine *e, const char *why);
/* Hand a batch of events to the store worker (which frees it). */
void pf_reloader_push_events(struct engine *e, struct pf_pending_event *pe, size_t n);
/* Queue a pod row write / delete for the worker (done before its next rebuild, in order; a
 * failed one is retried with backoff until it commits or a newer one for the row replaces
 * it). seq comes back in pf_reload_ops.row_committed. */
int pf_reloader_put_pod(struct engine *e, const struct pf_pod_record *rec, uint64_t seq,
			struct pf_error *err);
int pf_reloader_delete_pod(struct engine *e, const struct pf_netns_id *id, uint64_t seq,
			   struct pf_error *err);
/* Row writes that failed so far, and how many rows wait for a retry now. */
void pf_reloader_row_stats(struct engine *e, uint64_t *failures, size_t *waiting);
/* Events the worker wrote and dropped so far. */
void pf_reloader_event_stats(struct engine *e, uint64_t *written, uint64_t *dropped);

#endif
