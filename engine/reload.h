/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store worker: cache rebuilds, pods-table rows and event batches off the loop's thread. */
#ifndef PF_ENGINE_RELOAD_H
#define PF_ENGINE_RELOAD_H

#include "events.h"
#include "error.h"
#include "netns.h"
#include "policy.h"
#include "store.h"

struct pf_cache;
struct pf_loop;
struct pf_pending_event;
struct pf_reload;
struct pf_ruleset;

/* What the owner gives; the strings must outlive the reload. */
struct pf_reload_config {
	const char *db_path;	/* the worker opens a connection of its own */
	const char *saved_path; /* the last good build's ruleset (NULL: none kept) */
	enum pf_action default_action;
	struct pf_events_out events; /* retention and the log pipeline (worker only) */
};

/* The cache in place and what its builds did, for status, metrics and waiting requests. */
struct pf_reload_state {
	uint64_t generation; /* the request number the cache in place was built for */
	uint64_t requested;  /* last request number */
	uint64_t failed;     /* last request number whose build failed */
	bool stale;	     /* the cache in place is not what the store says */
	const char *source;  /* "store", "saved" (last good build's ruleset), "none" */
	const char *last_error;
	uint64_t reloads, reload_failures;
	uint64_t build_failures; /* loads or compiles that failed (not pod-row writes) */
	int64_t last_reload_ms, last_build_failure_ms;
	uint64_t last_reload_us; /* how long the last rebuild took */
};

/* A pods-table write the store worker committed: every cache of generation >= gen has it. */
struct pf_row_done {
	struct pf_netns_id id;
	uint64_t seq;
	uint64_t gen;
	bool delete;
};

/* A registration's row committed, and the policies that apply to its pod now (asked for with
 * pf_reload_put_pod's policies): sp as pf_store_pod_policies gives them, unless err < 0. */
struct pf_row_policies {
	struct pf_netns_id id;
	uint64_t seq;
	int err;
	bool shared;
	struct pf_source_policy *sp;
	size_t n_sp;
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
	/* A registration's policies (after the build reported with them, if any; the report
	 * and what it points to are the worker's again on return). */
	void (*row_policies)(void *data, const struct pf_row_policies *rp);
	void *data;
};

/* store is the loop thread's connection, used until the worker runs (pf_reloader_start). */
int pf_reload_new(const struct pf_reload_config *cfg, struct pf_loop *loop, struct pf_store *store,
		  const struct pf_reload_ops *ops, struct pf_reload **out);
/* Stops the worker if it runs, frees the cache in place. */
void pf_reload_free(struct pf_reload *rl);
/* The start-up build; when it fails, the saved last good ruleset, or an empty cache. Logs. */
int pf_reload_start(struct pf_reload *rl);
/* From here on rebuilds and store writes run on the worker, beside the loop. */
int pf_reloader_start(struct pf_reload *rl);
void pf_reloader_stop(struct pf_reload *rl);
bool pf_reloader_running(const struct pf_reload *rl);

/* The cache in place: swapped only between loop rounds, never during a verdict. */
struct pf_cache *pf_reload_cache(const struct pf_reload *rl);
uint64_t pf_reload_generation(const struct pf_reload *rl);
/* The ruleset the cache in place was built from; NULL when that is not the store's (a failed
 * build left it stale, or it came from the saved ruleset). Read-only, valid until the next
 * swap. */
const struct pf_ruleset *pf_reload_ruleset(const struct pf_reload *rl);
uint64_t pf_reload_failed_generation(const struct pf_reload *rl);
void pf_reload_get_state(const struct pf_reload *rl, struct pf_reload_state *out);

/* Ask for a rebuild; returns the generation that will contain everything committed so far.
 * Before the worker runs, builds right here. */
uint64_t pf_reload_request(struct pf_reload *rl, const char *why);
/* Hand a batch of events to the store worker (which frees it). */
void pf_reload_push_events(struct pf_reload *rl, struct pf_pending_event *pe, size_t n);
/* Queue a pod row write / delete for the worker (done before its next rebuild, in order; a
 * failed one is retried with backoff until it commits or a newer one for the row replaces
 * it); seq comes back in pf_reload_ops.row_committed, and with policies in
 * pf_reload_ops.row_policies as soon as the row is in. Before the worker runs, the row is
 * written at once: then *gen is the first generation that has it (else 0). */
int pf_reload_put_pod(struct pf_reload *rl, const struct pf_pod_record *rec, uint64_t seq,
		      bool policies, uint64_t *gen, struct pf_error *err);
int pf_reload_delete_pod(struct pf_reload *rl, const struct pf_netns_id *id, uint64_t seq,
			 struct pf_error *err);
/* Close fd on the build thread (here when there is none): see pf_nfq_close_later. */
void pf_reload_close_later(struct pf_reload *rl, int fd);
/* Hand the worker a pod's dns_names snapshot (rows: malloc'ed, taken; NULL with n 0 clears). */
void pf_reload_push_names(struct pf_reload *rl, const struct pf_netns_id *id,
			  struct pf_dns_name_row *rows, size_t n);
/* Row writes that failed so far, and how many rows wait for a retry now. */
void pf_reloader_row_stats(const struct pf_reload *rl, uint64_t *failures, size_t *waiting);
/* Events the worker wrote, and dropped (by it, or handed over while it did not run). */
void pf_reloader_event_stats(const struct pf_reload *rl, uint64_t *written, uint64_t *dropped);

#endif
