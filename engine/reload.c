/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cache rebuild and swap, and every store access the loop must not wait for. Loading a
 * ruleset of 10,000 rules from sqlite takes around 20 ms, and a commit can meet a WAL
 * checkpoint's fsync or wait for podfence-sync's write lock, far too long to hold every queue
 * of the node. So once the loop runs, it never touches sqlite. Two worker threads, each with its
 * own store connection, do it beside the loop:
 *  - the row thread writes the pods-table rows the loop hands it, in order, and for a
 *    registration lists the policies that apply to the pod as soon as its row is in, so the
 *    loop can enforce the pod with a cache of its own (pods.c) without waiting for a build;
 *  - the build thread writes event batches and DNS names, polls PRAGMA data_version, and loads
 *    and compiles new caches beside the old one. Each build has every row committed before
 *    its load began (and says which), so a registration's row is in the build after it.
 * The loop swaps the cache pointer when the build thread says a build is done. The loop is the
 * only reader of the pointer and verdicts run inside it, so a verdict sees the old cache or
 * the new one, never a mix.
 *
 * The build thread's own commits (events) do not move its connection's data_version, so
 * writing events never triggers a rebuild; rows, sync and the CLI do.
 *
 * Requests are numbered; the worker always builds for the newest one (requests that arrive
 * while it works fold into the next build), and whoever waits for number G (a registration,
 * a `reload` request) is answered once the cache of some number >= G is in place.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "cache.h"
#include "events.h"
#include "log.h"
#include "loop.h"
#include "reload.h"
#include "ruleset-file.h"

/* Retrying a build that failed for a passing reason (memory, I/O); a ruleset too large for
 * the cache's limits (E2BIG) is only tried again once the store changes. */
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 60000
#define DATA_VERSION_MS 200 /* the worker polls PRAGMA data_version */

/* A pods-table write the loop asked for; the record is a deep copy. */
struct pod_op {
	struct pod_op *next;
	bool delete;
	uint64_t seq;		  /* the loop's number for it (pf_reload_ops.row_committed) */
	struct pf_pod_record rec; /* delete: only netns_dev/netns_ino */
	bool policies;		  /* a registration: list its policies once it is in */
	/* retry queue */
	uint64_t next_try_ns;
	unsigned backoff_ms;
	unsigned failures;
};

/* A write that failed is tried again, later and later, until it commits or a newer write of
 * the same row replaces it: a pod is activated only once its row is in (the loop waits for
 * the report), and a released pod's row does go. */
#define ROW_RETRY_FIRST_MS 200
#define ROW_RETRY_MAX_MS 5000
#define N_CLOSERS 4	  /* see closer */
#define MAX_LATE_FDS 1024 /* sockets waiting for a closer */

struct pf_reloader {
	pthread_t thread;		   /* builds, events, DNS names (store) */
	pthread_t row_thread;		   /* pods-table rows (row_store) */
	pthread_t close_thread[N_CLOSERS]; /* released pods' sockets (pf_reload_close_later) */
	size_t n_closers;
	pthread_mutex_t mu;
	pthread_cond_t cv;	 /* for thread */
	pthread_cond_t row_cv;	 /* for row_thread */
	pthread_cond_t close_cv; /* for close_thread */
	/* under mu */
	uint64_t requested;
	bool stop;
	struct pf_cache *result;      /* handed to the loop */
	struct pf_ruleset *result_rs; /* what it was built from (the worker saves it first) */
	uint64_t result_gen;
	int result_err; /* < 0: the load or compile failed (pod rows are retried apart) */
	char result_msg[sizeof(((struct pf_error *)0)->msg)];
	uint64_t load_us, build_us;
	struct pod_op *ops, **ops_tail; /* pods-table writes, in order, before the next build */
	uint64_t pod_write_failures;
	/* committed rows for the loop, with the build that has them */
	struct pf_row_done *rows_done;
	size_t n_rows_done, cap_rows_done;
	size_t n_retry_shared;		 /* rows waiting for a retry (for status) */
	struct pf_pending_event *events; /* handed over by the loop, not yet written */
	size_t n_events;
	uint64_t events_written, events_dropped;
	struct names_job *names; /* dns_names snapshots, newest first, at most one per pod */
	struct pf_row_policies *policies_done; /* registrations' policies, for the loop */
	size_t n_policies_done, cap_policies_done;
	struct pf_row_done *committed; /* rows in since the last build began */
	size_t n_committed, cap_committed;
	/* What the loop replaced, freed here: thousands of frees are not the loop's to wait for. */
	struct pf_cache *trash_cache[4];
	struct pf_ruleset *trash_rs[4];
	size_t n_trash;
	int *trash_fds; /* for close_thread */
	size_t n_trash_fds, cap_trash_fds;
	/* row thread only */
	struct pod_op *retry; /* failed writes, at most one per netns (the newest) */
	struct pf_store *row_store;
	/* build thread only */
	/* The last good build (a reference): the next compiles only what changed since its base
	 * (pf_cache_update). NULL: the next build is a full one. */
	struct pf_cache *last;
	struct pf_events_out events_out;
	struct pf_store *store;
	enum pf_action default_action;
	uint64_t data_version;
	char *saved_path;
	uint64_t saved_hash;
	uint64_t retry_ns; /* 0: no timed retry */
	unsigned backoff_ms;
	/* loop only */
	int efd;
	struct pf_watch watch;
};

/*
 * The loop's side: the cache in place and what its builds did. A failed build never stops the
 * engine, a registration or a container start: the cache in place stays (stale), or at start
 * the last good build's ruleset saved in the state dir, or, if there is none, an empty cache
 * (the default action for everyone).
 */
struct pf_reload {
	struct pf_reload_config cfg;
	struct pf_loop *loop;
	struct pf_store *store; /* the loop thread's: start-up builds, rows before the worker */
	struct pf_reload_ops ops;
	struct pf_reloader *worker; /* NULL until pf_reloader_start */

	struct pf_cache *cache; /* swapped whole; only the loop thread reads it */
	/* What cache was built from (NULL: not kept, or the saved one): the ruleset a pod
	 * registered since is judged by until a build has its row (pf_reload_ruleset). The
	 * worker may still be reading it (saving it) when the loop takes it; it is freed on the
	 * loop only when a later build replaces it, after that. */
	struct pf_ruleset *ruleset;
	uint64_t generation; /* the request number the cache in place was built for */
	uint64_t requested;  /* last request number */
	uint64_t failed;     /* last request number whose build failed */
	bool stale;
	const char *source; /* "store", "saved" (last good build's ruleset), "none" */
	char last_error[1024];
	uint64_t failed_data_version; /* start-up: the store as the failed build saw it */
	uint64_t data_version;
	uint64_t saved_hash;	 /* of what was saved last (start-up, before the worker) */
	uint64_t events_dropped; /* handed over while no worker ran */

	uint64_t reloads, reload_failures, build_failures;
	int64_t last_reload_ms, last_build_failure_ms;
	uint64_t last_reload_us; /* how long the last rebuild took */
};

int pf_reload_new(const struct pf_reload_config *cfg, struct pf_loop *loop, struct pf_store *store,
		  const struct pf_reload_ops *ops, struct pf_reload **out)
{
	struct pf_reload *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return -ENOMEM;
	rl->cfg = *cfg;
	rl->loop = loop;
	rl->store = store;
	rl->ops = *ops;
	rl->source = "store";
	*out = rl;
	return 0;
}

void pf_reload_free(struct pf_reload *rl)
{
	if (!rl)
		return;
	pf_reloader_stop(rl);
	pf_cache_free(rl->cache);
	pf_ruleset_free(rl->ruleset);
	free(rl);
}

const struct pf_ruleset *pf_reload_ruleset(const struct pf_reload *rl)
{
	return rl->stale ? NULL : rl->ruleset;
}

struct pf_cache *pf_reload_cache(const struct pf_reload *rl)
{
	return rl->cache;
}

uint64_t pf_reload_generation(const struct pf_reload *rl)
{
	return rl->generation;
}

uint64_t pf_reload_failed_generation(const struct pf_reload *rl)
{
	return rl->failed;
}

bool pf_reloader_running(const struct pf_reload *rl)
{
	return rl->worker != NULL;
}

void pf_reload_get_state(const struct pf_reload *rl, struct pf_reload_state *out)
{
	*out = (struct pf_reload_state){
	    .generation = rl->generation,
	    .requested = rl->requested,
	    .failed = rl->failed,
	    .stale = rl->stale,
	    .source = rl->source ? rl->source : "store",
	    .last_error = rl->last_error,
	    .reloads = rl->reloads,
	    .reload_failures = rl->reload_failures,
	    .build_failures = rl->build_failures,
	    .last_reload_ms = rl->last_reload_ms,
	    .last_build_failure_ms = rl->last_build_failure_ms,
	    .last_reload_us = rl->last_reload_us,
	};
}

/* A ruleset that compiled, for a later start whose own build fails. */
static void save_ruleset(const struct pf_ruleset *rs, const char *path, uint64_t *hash)
{
	int r;

	if (!path || !rs)
		return;
	r = pf_ruleset_save(rs, path, hash);
	if (r < 0)
		log_warning_errno(r, "Saving the last good ruleset to %s: %m", path);
}

/* Load and compile from store; the common part of both paths. *good: the ruleset, when it
 * compiled (the caller saves and frees it). With prev (the last good build), only the groups
 * whose policies changed since its base are compiled. */
static int build(struct pf_store *store, enum pf_action def, const struct pf_cache *prev,
		 struct pf_cache **out, uint64_t *load_us, uint64_t *build_us,
		 struct pf_ruleset **good, struct pf_error *err)
{
	struct pf_ruleset *rs = NULL;
	uint64_t t0 = pf_mono_ns(), t1;
	int r;

	r = pf_store_load_ruleset(store, &rs, err);
	if (r < 0)
		return r;
	t1 = pf_mono_ns();
	r = pf_cache_update(prev, rs, def, out);
	if (r < 0)
		pf_error_set(err, -r, "compiling the verdict cache (%zu policies, %zu rules): %s",
			     rs->n_policies, pf_ruleset_n_rules(rs), strerror(-r));
	*build_us = (pf_mono_ns() - t1) / 1000;
	if (r == 0)
		*good = PF_TAKE_PTR(rs);
	pf_ruleset_free(rs);
	*load_us = (t1 - t0) / 1000;
	return r;
}

/* Free what a swap replaced: on the build thread, once it runs (a ruleset of 10,000 rules is
 * some 40,000 frees); here when it does not, or has no room left. */
static void discard(struct pf_reload *rl, struct pf_cache *c, struct pf_ruleset *rs)
{
	struct pf_reloader *w = rl->worker;

	if (w) {
		pthread_mutex_lock(&w->mu);
		if (w->n_trash < PF_ARRAY_SIZE(w->trash_cache)) {
			w->trash_cache[w->n_trash] = c;
			w->trash_rs[w->n_trash++] = rs;
			c = NULL;
			rs = NULL;
			pthread_cond_signal(&w->cv);
		}
		pthread_mutex_unlock(&w->mu);
	}
	pf_cache_free(c);
	pf_ruleset_free(rs);
}

void pf_reload_close_later(struct pf_reload *rl, int fd)
{
	struct pf_reloader *w = rl->worker;

	if (fd < 0)
		return;
	if (w) {
		pthread_mutex_lock(&w->mu);
		/* past MAX_LATE_FDS (pods released faster than the kernel lets their sockets go)
		 * the loop closes them itself: slower, and no pile of open sockets */
		if (w->n_trash_fds < MAX_LATE_FDS &&
		    pf_grow((void **)&w->trash_fds, &w->cap_trash_fds, w->n_trash_fds,
			    sizeof(*w->trash_fds)) == 0) {
			w->trash_fds[w->n_trash_fds++] = fd;
			fd = -1;
			pthread_cond_signal(&w->close_cv);
		}
		pthread_mutex_unlock(&w->mu);
	}
	if (fd >= 0)
		close(fd);
}

static void empty_trash(struct pf_reloader *w)
{
	struct pf_cache *c[PF_ARRAY_SIZE(w->trash_cache)];
	struct pf_ruleset *rs[PF_ARRAY_SIZE(w->trash_rs)];
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->n_trash;
	memcpy(c, w->trash_cache, n * sizeof(*c));
	memcpy(rs, w->trash_rs, n * sizeof(*rs));
	w->n_trash = 0;
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < n; i++) {
		pf_cache_free(c[i]);
		pf_ruleset_free(rs[i]);
	}
}

/*
 * The close thread: the last close of a netfilter socket flushes nf_tables' pending destroy
 * work (every commit leaves some: an RCU grace period, ~15 ms here), holding that netns's
 * commit mutex meanwhile. Neither the loop nor a registration's row or build should wait for
 * that; only a pod registering again in the same netns at that moment does, for its install.
 * N_CLOSERS threads close one socket each at a time: their waits overlap (one flush serves
 * all who wait for it), so a release of three sockets costs one grace period, not three, and
 * churn does not build a backlog of open sockets. At a stop they leave; pf_reloader_stop
 * closes what is left.
 */
static void *closer(void *arg)
{
	struct pf_reloader *w = arg;

	for (;;) {
		int fd;

		pthread_mutex_lock(&w->mu);
		while (!w->stop && !w->n_trash_fds)
			pthread_cond_wait(&w->close_cv, &w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		fd = w->trash_fds[--w->n_trash_fds];
		pthread_mutex_unlock(&w->mu);
		close(fd);
	}
	return NULL;
}

/* Stop and join the row thread, the close threads started, and with build the build thread
 * (at a stop; a start-up that failed before it has none). */
static void stop_threads(struct pf_reloader *w, bool build)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_cond_signal(&w->row_cv);
	pthread_cond_broadcast(&w->close_cv);
	pthread_mutex_unlock(&w->mu);
	if (build)
		pthread_join(w->thread, NULL);
	pthread_join(w->row_thread, NULL);
	for (size_t i = 0; i < w->n_closers; i++)
		pthread_join(w->close_thread[i], NULL);
}

static void swap_in(struct pf_reload *rl, struct pf_cache *c, struct pf_ruleset *rs, uint64_t gen,
		    uint64_t load_us, uint64_t build_us, const char *why)
{
	struct pf_cache_stats st = {};

	discard(rl, PF_TAKE_PTR(rl->cache), PF_TAKE_PTR(rl->ruleset));
	rl->cache = c;
	rl->ruleset = rs;
	if (rl->stale)
		log_info("Verdict cache rebuilt after %" PRIu64 " failed build(s); every pod is "
			 "judged by the store's policies again",
			 rl->build_failures);
	rl->stale = false;
	rl->source = "store";
	rl->failed_data_version = 0;
	/* Group numbers belong to one cache: the owner finds every pod's again. */
	if (rl->ops.swapped)
		rl->ops.swapped(rl->ops.data);
	if (gen > rl->generation)
		rl->generation = gen;
	rl->reloads++;
	rl->last_reload_ms = pf_now_ms();
	rl->last_reload_us = load_us + build_us;
	pf_cache_get_stats(c, &st);
	log_debug("Cache generation %" PRIu64 " (%s): %zu sources, loaded in %" PRIu64
		  " us, compiled in %" PRIu64 " us (%zu of %zu groups compiled, the rest taken "
		  "from the last full build)",
		  rl->generation, why, st.n_sources, load_us, build_us,
		  pf_cache_base(c) == c ? st.n_groups : st.n_groups_compiled, st.n_groups);
}

static int build_now(struct pf_reload *rl, const char *why, struct pf_error *err)
{
	struct pf_ruleset *good = NULL;
	struct pf_cache *c = NULL;
	uint64_t dv = 0, load_us, build_us;
	int r;

	/* Read the version first: a commit that lands while we load triggers one more reload
	 * rather than being missed. */
	r = pf_store_data_version(rl->store, &dv);
	if (r < 0) {
		rl->reload_failures++;
		return pf_error_set(err, -r, "reading the store's data_version: %s", strerror(-r));
	}
	/* Start-up registrations each ask for a build: do not compile again what just failed. */
	if (rl->stale && rl->failed_data_version && dv == rl->failed_data_version)
		return pf_error_set(
		    err, EAGAIN,
		    "not rebuilt: the store is unchanged since the build that failed "
		    "(%.600s)",
		    rl->last_error);
	r = build(rl->store, rl->cfg.default_action, NULL, &c, &load_us, &build_us, &good, err);
	save_ruleset(good, rl->cfg.saved_path, &rl->saved_hash);
	if (r < 0) {
		rl->reload_failures++;
		rl->build_failures++;
		rl->last_build_failure_ms = pf_now_ms();
		rl->failed_data_version = dv;
		rl->stale = rl->cache != NULL;
		snprintf(rl->last_error, sizeof(rl->last_error), "%s", err->msg);
		return r;
	}
	rl->data_version = dv;
	swap_in(rl, c, good, ++rl->requested, load_us, build_us, why);
	return 0;
}

int pf_reload_start(struct pf_reload *rl)
{
	struct pf_ruleset *rs = NULL;
	struct pf_error err = {}, lerr = {};
	struct pf_cache *c = NULL;
	uint64_t t0;
	int r;

	r = build_now(rl, "start", &err);
	if (r == 0)
		return 0;
	t0 = pf_mono_ns();
	r = pf_ruleset_load_file(rl->cfg.saved_path, &rs, &lerr);
	if (r == 0) {
		r = pf_cache_build(rs, rl->cfg.default_action, &c);
		if (r < 0)
			pf_error_set(&lerr, -r, "%s: compiling it: %s", rl->cfg.saved_path,
				     strerror(-r));
	}
	if (r == 0) {
		log_error(
		    "Failed to build the verdict cache: %s. Starting with the last good one "
		    "(%s, %zu policies); pods the store names since are judged by the default "
		    "action until a build succeeds",
		    err.msg, rl->cfg.saved_path, rs->n_policies);
		rl->source = "saved";
	} else {
		r = pf_cache_build(NULL, rl->cfg.default_action, &c);
		if (r < 0) {
			pf_ruleset_free(rs);
			return log_error_errno(r,
					       "Failed to build even an empty verdict cache: %m");
		}
		log_error("Failed to build the verdict cache: %s. No last good cache to start "
			  "with (%s): judging EVERY pod by the default action %s until a build "
			  "succeeds",
			  err.msg, lerr.msg, pf_action_to_string(rl->cfg.default_action));
		rl->source = "none";
	}
	pf_ruleset_free(rs);
	/* A generation of its own, so registrations waiting for one go on. */
	{
		const char *src = rl->source;
		uint64_t fdv = rl->failed_data_version;

		swap_in(rl, c, NULL, ++rl->requested, 0, (pf_mono_ns() - t0) / 1000, src);
		rl->source = src;
		rl->failed_data_version = fdv;
	}
	rl->stale = true;
	rl->data_version = rl->failed_data_version;
	return 0;
}

struct names_job {
	struct names_job *next;
	struct pf_netns_id id;
	struct pf_dns_name_row *rows;
	size_t n;
};

static void names_jobs_free(struct names_job *j)
{
	while (j) {
		struct names_job *next = j->next;

		free(j->rows);
		free(j);
		j = next;
	}
}

static void write_names(struct pf_reloader *w, struct names_job *jobs)
{
	for (struct names_job *j = jobs; j; j = j->next) {
		struct pf_error err = {};

		/* a view for people and scripts: a failure costs a stale view, never a verdict */
		if (pf_store_set_dns_names(w->store, j->id.dev, j->id.ino, j->rows, j->n, &err) < 0)
			log_debug("Writing a pod's dns_names rows: %s", err.msg);
	}
	names_jobs_free(jobs);
}

static void write_events(struct pf_reloader *w, struct pf_pending_event *pe, size_t n)
{
	struct pf_error err = {};
	size_t count = pf_events_count(pe, n);
	int r = pf_events_write_out(w->store, pe, n, &w->events_out, &err);

	pf_events_batch_free(pe, n);
	pthread_mutex_lock(&w->mu);
	if (r < 0)
		w->events_dropped += count;
	else
		w->events_written += n;
	pthread_mutex_unlock(&w->mu);
	/* Never retry: a broken store must not grow our memory. */
	if (r < 0)
		log_error("Dropped %zu event(s): %s", n, err.msg);
}

static void pod_op_free(struct pod_op *op)
{
	struct pf_pod_record *r;

	if (!op)
		return;
	r = &op->rec;
	free(r->namespace);
	free(r->name);
	free(r->uid);
	free(r->kind);
	free(r->netns_path);
	free(r->state);
	for (size_t j = 0; j < r->n_containers; j++)
		free(r->containers[j]);
	free(r->containers);
	free(r->procs);
	free(r->ips);
	free(op);
}

static bool same_row(const struct pod_op *a, const struct pod_op *b)
{
	return a->rec.netns_dev == b->rec.netns_dev && a->rec.netns_ino == b->rec.netns_ino;
}

static int write_op(struct pf_reloader *w, struct pod_op *op, struct pf_error *err)
{
	if (op->delete)
		return pf_store_delete_pod(w->row_store, op->rec.netns_dev, op->rec.netns_ino, err);
	return pf_store_put_pod(w->row_store, &op->rec, err);
}

/* The row is in: the next build that begins has it. */
static void committed(struct pf_reloader *w, const struct pod_op *op)
{
	pthread_mutex_lock(&w->mu);
	/* out of memory: the pod waits for its next row write to be reported */
	if (pf_grow((void **)&w->committed, &w->cap_committed, w->n_committed,
		    sizeof(*w->committed)) == 0)
		w->committed[w->n_committed++] = (struct pf_row_done){
		    .id = {op->rec.netns_dev, op->rec.netns_ino},
		    .seq = op->seq,
		    .delete = op->delete,
		};
	pthread_cond_signal(&w->cv); /* a build for it */
	pthread_mutex_unlock(&w->mu);
}

/*
 * A registration's row is in: which policies apply to the pod now, for the loop to judge it by
 * them before the build that has its row is done (pf_reload_ops.row_policies). Any failure is
 * reported too: the pod then waits for that build, as it would without this.
 */
static void list_policies(struct pf_reloader *w, const struct pod_op *op)
{
	struct pf_row_policies rp = {
	    .id = {op->rec.netns_dev, op->rec.netns_ino},
	    .seq = op->seq,
	};
	struct pf_error err = {};

	rp.err = pf_store_pod_policies(w->row_store, op->rec.netns_dev, op->rec.netns_ino, &rp.sp,
				       &rp.n_sp, &rp.shared, &err);
	if (rp.err < 0)
		log_debug("Pod %s/%s: listing its policies: %s", pf_strna(op->rec.namespace),
			  pf_strna(op->rec.name), err.msg);
	pthread_mutex_lock(&w->mu);
	if (pf_grow((void **)&w->policies_done, &w->cap_policies_done, w->n_policies_done,
		    sizeof(*w->policies_done)) < 0) {
		pthread_mutex_unlock(&w->mu);
		free(rp.sp); /* the pod waits for the build */
		return;
	}
	w->policies_done[w->n_policies_done++] = rp;
	pthread_mutex_unlock(&w->mu);
}

/* Unlink and free a waiting retry of the same row: op is newer and says all of it. */
static void drop_retry(struct pf_reloader *w, const struct pod_op *op)
{
	for (struct pod_op **pp = &w->retry; *pp; pp = &(*pp)->next) {
		struct pod_op *q = *pp;

		if (same_row(q, op)) {
			*pp = q->next;
			pod_op_free(q);
			return;
		}
	}
}

static void retry_later(struct pf_reloader *w, struct pod_op *op, const struct pf_error *err)
{
	op->failures++;
	op->backoff_ms =
	    op->backoff_ms ? MIN(op->backoff_ms * 2, ROW_RETRY_MAX_MS) : ROW_RETRY_FIRST_MS;
	op->next_try_ns = pf_mono_ns() + (uint64_t)op->backoff_ms * 1000000ull;
	pthread_mutex_lock(&w->mu);
	w->pod_write_failures++;
	pthread_mutex_unlock(&w->mu);
	/* The first failure, then every tenth: a store locked for minutes is one line a minute. */
	if (op->failures == 1 || op->failures % 10 == 0)
		log_error("Pods table: %s of %s/%s failed (%u time%s, next try in %u ms): %s",
			  op->delete ? "delete" : "write", pf_strna(op->rec.namespace),
			  pf_strna(op->rec.name), op->failures, op->failures == 1 ? "" : "s",
			  op->backoff_ms, err->msg);
	op->next = w->retry;
	w->retry = op;
}

/* New writes in order, then the retries that are due. Returns how many wait for a retry. */
static size_t run_ops(struct pf_reloader *w, struct pod_op *ops)
{
	uint64_t now = pf_mono_ns();
	struct pod_op *due = NULL;
	size_t waiting = 0;

	while (ops) {
		struct pod_op *op = ops;
		struct pf_error err = {};

		ops = op->next;
		op->next = NULL;
		drop_retry(w, op);
		if (write_op(w, op, &err) < 0) {
			retry_later(w, op, &err);
			continue;
		}
		committed(w, op);
		if (op->policies)
			list_policies(w, op);
		pod_op_free(op);
	}
	for (struct pod_op **pp = &w->retry; *pp;) {
		struct pod_op *q = *pp;

		if (q->next_try_ns > now) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		q->next = due;
		due = q;
	}
	while (due) {
		struct pod_op *op = due;
		struct pf_error err = {};

		due = op->next;
		op->next = NULL;
		if (write_op(w, op, &err) < 0) {
			retry_later(w, op, &err);
			continue;
		}
		if (op->failures)
			log_info("Pods table: %s of %s/%s done after %u failure%s",
				 op->delete ? "delete" : "write", pf_strna(op->rec.namespace),
				 pf_strna(op->rec.name), op->failures,
				 op->failures == 1 ? "" : "s");
		committed(w, op);
		if (op->policies)
			list_policies(w, op);
		pod_op_free(op);
	}
	for (struct pod_op *q = w->retry; q; q = q->next)
		waiting++;
	pthread_mutex_lock(&w->mu);
	w->n_retry_shared = waiting;
	pthread_mutex_unlock(&w->mu);
	return waiting;
}

/* Hand the rows of snap (committed before build gen began) to the loop, visible from gen on. */
static void publish_committed(struct pf_reloader *w, struct pf_row_done *snap, size_t n,
			      uint64_t gen)
{
	for (size_t i = 0; i < n; i++) {
		if (pf_grow((void **)&w->rows_done, &w->cap_rows_done, w->n_rows_done,
			    sizeof(*w->rows_done)) < 0)
			break;
		w->rows_done[w->n_rows_done] = snap[i];
		w->rows_done[w->n_rows_done].gen = gen;
		w->n_rows_done++;
	}
}

static void add_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ms * 1000000L;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

/*
 * The row thread: pods-table writes, in order, on a connection of its own, so a registration's
 * row goes in (and its policies are listed) while a build reads beside it (WAL: a reader never
 * holds up a writer). Failed writes are retried when due (it wakes at least every
 * DATA_VERSION_MS while some wait).
 */
static void *row_worker(void *arg)
{
	struct pf_reloader *w = arg;

	for (;;) {
		struct timespec next;
		struct pod_op *ops;
		uint64_t one = 1;
		bool stop, pols;

		add_ms(&next, DATA_VERSION_MS);
		pthread_mutex_lock(&w->mu);
		while (!w->stop && !w->ops) {
			if (pthread_cond_timedwait(&w->row_cv, &w->mu, &next) != ETIMEDOUT)
				continue;
			if (w->retry)
				break;
			/* a deadline passed stays passed: waiting on it again would spin */
			add_ms(&next, DATA_VERSION_MS);
		}
		stop = w->stop;
		/* at a stop what is left is written by pf_reloader_stop, after both threads */
		ops = stop ? NULL : PF_TAKE_PTR(w->ops);
		if (!stop)
			w->ops_tail = &w->ops;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		run_ops(w, ops);
		/* Registrations' policies now, not after a build: their pods need not wait. */
		pthread_mutex_lock(&w->mu);
		pols = w->n_policies_done > 0;
		pthread_mutex_unlock(&w->mu);
		if (pols)
			(void)!write(w->efd, &one, sizeof(one));
	}
	return NULL;
}

/* What the next build starts from (NULL: nothing, it is a full one). */
static void set_last(struct pf_reloader *w, const struct pf_cache *c)
{
	pf_cache_free(w->last);
	w->last = c ? pf_cache_ref(c) : NULL;
}

/* The build thread: events and DNS names, and a build when asked, when rows went in, or when
 * someone else committed (PRAGMA data_version, polled). */
static void *worker(void *arg)
{
	struct pf_reloader *w = arg;
	uint64_t done = w->requested; /* set before the thread started: the start-up build */
	struct timespec next_poll;

	/* Builds run at the loop's priority, not below it: a policy change (a new Deny among
	 * them) must not wait for a pod's busy loop to yield the CPU. At nice 10, a pod
	 * connecting back to back on a 2-CPU node made a 10,000-rule load take 100-190 ms
	 * instead of 6 (bench-propagation-dir.sh: p99 109 ms, 35-52 ms at nice 0), while
	 * registrations at 1,000 pods did not get measurably faster (bench-pods.sh). */
	add_ms(&next_poll, DATA_VERSION_MS);
	for (;;) {
		struct pf_error err = {};
		struct pf_cache *c = NULL;
		struct pf_ruleset *good = NULL;
		struct pf_pending_event *events;
		struct names_job *names;
		struct pf_row_done *snap;
		uint64_t gen, dv = 0, load_us = 0, build_us = 0, one = 1;
		bool stop, poll = false, want;
		size_t n_events, n_snap;
		int r;

		pthread_mutex_lock(&w->mu);
		while (!w->stop && w->requested == done && !w->n_events && !w->n_committed &&
		       !w->names && !w->n_trash) {
			if (pthread_cond_timedwait(&w->cv, &w->mu, &next_poll) == ETIMEDOUT) {
				poll = true;
				break;
			}
		}
		stop = w->stop;
		gen = w->requested;
		events = PF_TAKE_PTR(w->events);
		n_events = w->n_events;
		w->n_events = 0;
		names = PF_TAKE_PTR(w->names);
		/* The rows in so far: in the store before this build's load begins. */
		snap = PF_TAKE_PTR(w->committed);
		n_snap = w->n_committed;
		w->n_committed = w->cap_committed = 0;
		pthread_mutex_unlock(&w->mu);

		empty_trash(w);
		if (n_events)
			write_events(w, events, n_events);
		write_names(w, names);
		if (stop) {
			free(snap);
			break;
		}
		/* A row that went in is in the next build: build now, so the loop learns
		 * which generation has it. */
		want = gen != done || n_snap;
		if (poll) {
			add_ms(&next_poll, DATA_VERSION_MS);
			/* A commit by someone else (sync, the CLI, the row thread). */
			if (pf_store_data_version(w->store, &dv) == 0 && dv != w->data_version)
				want = true;
			if (w->retry_ns && pf_mono_ns() >= w->retry_ns)
				want = true;
		}
		if (!want) {
			free(snap);
			continue;
		}
		/* The version first: a commit landing during the load makes the next poll
		 * build again rather than be missed. */
		if (pf_store_data_version(w->store, &dv) == 0)
			w->data_version = dv;
		/* A registration whose row did not make it (database locked past the busy
		 * timeout, disk full) is not in this build: its pod stays unactivated (the loop
		 * activates a pod only with a build reported to have its row) while the write
		 * is retried. Other pods go on. */
		w->retry_ns = 0;
		r = build(w->store, w->default_action, w->last, &c, &load_us, &build_us, &good,
			  &err);
		if (r == 0)
			set_last(w, c);

		pthread_mutex_lock(&w->mu);
		publish_committed(w, snap, n_snap, gen ? gen : 1);
		free(snap);
		/* A result the loop has not taken yet is older: this one replaces it. */
		pf_cache_free(w->result);
		pf_ruleset_free(w->result_rs);
		w->result = r < 0 ? NULL : c;
		w->result_rs = r < 0 ? NULL : good;
		w->result_gen = gen ? gen : 1;
		w->result_err = r;
		snprintf(w->result_msg, sizeof(w->result_msg), "%s", err.msg);
		w->load_us = load_us;
		w->build_us = build_us;
		pthread_mutex_unlock(&w->mu);
		done = gen;
		if (r < 0) {
			/* Never in a loop: a build that failed for want of memory or a busy disk is
			 * tried again with backoff; one past the cache's limits when the store
			 * changes (a new request or commit). */
			if (r != -E2BIG) {
				w->retry_ns = pf_mono_ns() + (uint64_t)w->backoff_ms * 1000000ull;
				w->backoff_ms = MIN(2 * w->backoff_ms, (unsigned)RETRY_MAX_MS);
			}
		} else {
			w->backoff_ms = RETRY_FIRST_MS;
		}
		(void)!write(w->efd, &one, sizeof(one));
		/* after the loop has its cache: a registration waiting for it never waits for
		 * the disk. The loop holds good from now on, and frees it only once a later
		 * result (after this save) replaces it. */
		save_ruleset(good, w->saved_path, &w->saved_hash);
		/* the row thread's commits do not checkpoint (they would wait for the fsync) */
		if (n_snap && pf_store_checkpoint(w->store) < 0)
			log_debug("WAL checkpoint failed");
	}
	return NULL;
}

static void on_worker(struct pf_watch *watch, uint32_t events);
static void take_result(struct pf_reload *rl, struct pf_cache *c, struct pf_ruleset *rs,
			uint64_t gen, int r, const char *msg, uint64_t load_us, uint64_t build_us);

int pf_reloader_start(struct pf_reload *rl)
{
	struct pf_reloader *w;
	struct pf_error err = {};
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return log_error_errno(-ENOMEM, "Out of memory");
	w->efd = -1;
	w->default_action = rl->cfg.default_action;
	w->backoff_ms = RETRY_FIRST_MS;
	w->saved_hash = rl->saved_hash;
	w->events_out = rl->cfg.events;
	if (rl->cfg.saved_path) {
		w->saved_path = strdup(rl->cfg.saved_path);
		if (!w->saved_path) {
			free(w);
			return log_error_errno(-ENOMEM, "Out of memory");
		}
	}
	/* The start-up build failed: try once more soon (then as above). */
	if (rl->stale)
		w->retry_ns = pf_mono_ns() + RETRY_FIRST_MS * 1000000ull;
	w->requested = rl->requested;
	/* the start-up build (on the loop, from the store or the saved ruleset) comes first */
	set_last(w, rl->cache);
	w->ops_tail = &w->ops;
	pthread_mutex_init(&w->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cv, &ca);
		pthread_cond_init(&w->row_cv, &ca);
		pthread_cond_init(&w->close_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	r = pf_store_open(rl->cfg.db_path, 0, &w->store, &err);
	if (r == 0)
		r = pf_store_open(rl->cfg.db_path, 0, &w->row_store, &err);
	/* A registration's row never waits for a checkpoint: the build thread does them. */
	if (r == 0 && pf_store_set_autocheckpoint(w->row_store, 0) < 0)
		log_debug("Could not turn off the row connection's checkpoints");
	if (r < 0) {
		log_error_errno(r, "Failed to open the store for the reload worker: %s", err.msg);
		goto fail;
	}
	/* What the start-up build saw: the worker rebuilds only for later commits. */
	pf_store_data_version(w->store, &w->data_version);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		r = log_error_errno(-errno, "eventfd: %m");
		goto fail;
	}
	pf_watch_set(&w->watch, w->efd, on_worker, rl, false);
	r = pf_loop_add(rl->loop, &w->watch, EPOLLIN);
	if (r < 0) {
		log_error_errno(r, "epoll add eventfd: %m");
		goto fail;
	}
	/* Signals are blocked already (pf_engine_start), so the thread inherits the mask. */
	r = -pthread_create(&w->row_thread, NULL, row_worker, w);
	if (r < 0) {
		log_error_errno(r, "Failed to start the pods-table writer: %m");
		pf_loop_del(rl->loop, &w->watch);
		goto fail;
	}
	for (; w->n_closers < N_CLOSERS; w->n_closers++) {
		r = -pthread_create(&w->close_thread[w->n_closers], NULL, closer, w);
		if (r < 0) {
			log_error_errno(r, "Failed to start the socket closers: %m");
			stop_threads(w, false);
			pf_loop_del(rl->loop, &w->watch);
			goto fail;
		}
	}
	r = -pthread_create(&w->thread, NULL, worker, w);
	if (r < 0) {
		log_error_errno(r, "Failed to start the reload worker: %m");
		stop_threads(w, false);
		pf_loop_del(rl->loop, &w->watch);
		goto fail;
	}
	rl->worker = w;
	return 0;
fail:
	set_last(w, NULL);
	if (w->efd >= 0)
		close(w->efd);
	free(w->saved_path);
	pf_store_close(w->store);
	pf_store_close(w->row_store);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->row_cv);
	pthread_cond_destroy(&w->close_cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return r;
}

void pf_reloader_stop(struct pf_reload *rl)
{
	struct pf_reloader *w = rl->worker;

	if (!w)
		return;
	stop_threads(w, true);
	pf_loop_del(rl->loop, &w->watch);
	close(w->efd);
	pf_cache_free(w->result);
	pf_ruleset_free(w->result_rs);
	set_last(w, NULL);
	empty_trash(w);
	/* Anything queued after the worker's last round, and one last try for the retries. */
	for (struct pod_op *q = w->retry; q; q = q->next)
		q->next_try_ns = 0;
	if (run_ops(w, PF_TAKE_PTR(w->ops)))
		log_error("Pods table: %zu row write(s) still failing at shutdown; the next start "
			  "re-adopts from what the store has",
			  w->n_retry_shared);
	while (w->retry) {
		struct pod_op *q = w->retry;

		w->retry = q->next;
		pod_op_free(q);
	}
	free(w->committed);
	free(w->rows_done);
	for (size_t i = 0; i < w->n_policies_done; i++)
		free(w->policies_done[i].sp);
	free(w->policies_done);
	pf_events_batch_free(w->events, w->n_events);
	names_jobs_free(w->names);
	pf_store_close(w->store);
	pf_store_close(w->row_store);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->row_cv);
	pthread_cond_destroy(&w->close_cv);
	pthread_mutex_destroy(&w->mu);
	for (size_t i = 0; i < w->n_trash_fds; i++)
		close(w->trash_fds[i]);
	free(w->trash_fds);
	free(w->saved_path);
	free(w);
	rl->worker = NULL;
}

uint64_t pf_reload_request(struct pf_reload *rl, const char *why)
{
	struct pf_reloader *w = rl->worker;
	struct pf_error err = {};

	if (!w) {
		/* Start-up (before the loop runs): build right here. */
		if (build_now(rl, why, &err) < 0)
			log_error("Reload (%s) failed, keeping the previous cache: %s", why,
				  err.msg);
		return rl->requested;
	}
	pthread_mutex_lock(&w->mu);
	w->requested = ++rl->requested;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	log_debug("Reload %" PRIu64 " requested (%s)", rl->requested, why);
	return rl->requested;
}

/* The worker said something: rows it committed, a build done or failed. */
static void on_worker(struct pf_watch *watch, uint32_t events)
{
	struct pf_reload *rl = watch->data;
	struct pf_reloader *w = rl->worker;
	struct pf_cache *c;
	struct pf_ruleset *rs;
	uint64_t n, gen, load_us, build_us;
	char msg[sizeof(w->result_msg)];
	struct pf_row_done *rows;
	struct pf_row_policies *pols;
	size_t n_rows, n_pols;
	int r;

	if (read(w->efd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&w->mu);
	c = PF_TAKE_PTR(w->result);
	rs = PF_TAKE_PTR(w->result_rs);
	pols = PF_TAKE_PTR(w->policies_done);
	n_pols = w->n_policies_done;
	w->n_policies_done = w->cap_policies_done = 0;
	gen = w->result_gen;
	w->result_gen = 0; /* taken: a second wake-up finds nothing */
	r = w->result_err;
	snprintf(msg, sizeof(msg), "%s", w->result_msg);
	load_us = w->load_us;
	build_us = w->build_us;
	rows = PF_TAKE_PTR(w->rows_done);
	n_rows = w->n_rows_done;
	w->n_rows_done = w->cap_rows_done = 0;
	pthread_mutex_unlock(&w->mu);
	(void)events;
	for (size_t i = 0; i < n_rows; i++)
		if (rl->ops.row_committed)
			rl->ops.row_committed(rl->ops.data, &rows[i]);
	free(rows);
	if (gen)
		take_result(rl, c, rs, gen, r, msg, load_us, build_us);
	/* After the build they came with, if any: a pod it already has waits for nothing. */
	for (size_t i = 0; i < n_pols; i++) {
		if (rl->ops.row_policies)
			rl->ops.row_policies(rl->ops.data, &pols[i]);
		free(pols[i].sp);
	}
	free(pols);
}

static void take_result(struct pf_reload *rl, struct pf_cache *c, struct pf_ruleset *rs,
			uint64_t gen, int r, const char *msg, uint64_t load_us, uint64_t build_us)
{
	if (r < 0) {
		rl->reload_failures++;
		rl->failed = gen;
		rl->build_failures++;
		rl->last_build_failure_ms = pf_now_ms();
		snprintf(rl->last_error, sizeof(rl->last_error), "%s", msg);
		if (!rl->stale)
			log_error("Verdict cache build failed: %s. Every pod stays enforced by the "
				  "last good cache (generation %" PRIu64 "); pods registered from "
				  "now on are refused until a build succeeds",
				  msg, rl->generation);
		rl->stale = true;
		if (rl->reload_failures <= 10 || rl->reload_failures % 100 == 0)
			log_error("Reload failed, keeping the previous cache: %s", msg);
	} else if (c) {
		swap_in(rl, c, rs, gen, load_us, build_us, "worker");
		rs = NULL;
	}
	pf_ruleset_free(rs);
	/* Whoever waited for this generation (or an older one) goes on now. */
	if (rl->ops.ready)
		rl->ops.ready(rl->ops.data, gen, r < 0);
}

void pf_reload_push_events(struct pf_reload *rl, struct pf_pending_event *pe, size_t n)
{
	struct pf_reloader *w = rl->worker;

	if (!w) {
		rl->events_dropped += pf_events_count(pe, n);
		pf_events_batch_free(pe, n);
		return;
	}
	pthread_mutex_lock(&w->mu);
	if (w->n_events) {
		/* The worker is behind (a long build, a slow disk): append, up to a bound past
		 * which events are counted as dropped rather than grow memory. */
		struct pf_pending_event *m = NULL;

		if (w->n_events + n <= 4 * PF_EVENTS_MAX_PENDING)
			m = realloc(w->events, (w->n_events + n) * pf_events_size());
		if (!m) {
			w->events_dropped += pf_events_count(pe, n);
			pthread_mutex_unlock(&w->mu);
			pf_events_batch_free(pe, n);
			return;
		}
		pf_events_move(m, w->n_events, pe, n);
		w->events = m;
		w->n_events += n;
		pthread_mutex_unlock(&w->mu);
		free(pe);
		return;
	}
	w->events = pe;
	w->n_events = n;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void pf_reload_push_names(struct pf_reload *rl, const struct pf_netns_id *id,
			  struct pf_dns_name_row *rows, size_t n)
{
	struct pf_reloader *w = rl->worker;
	struct names_job *j;

	if (!w || !(j = calloc(1, sizeof(*j)))) {
		free(rows);
		return;
	}
	j->id = *id;
	j->rows = rows;
	j->n = n;
	pthread_mutex_lock(&w->mu);
	/* a newer snapshot of the same pod replaces one not written yet */
	for (struct names_job **pp = &w->names; *pp; pp = &(*pp)->next)
		if ((*pp)->id.dev == id->dev && (*pp)->id.ino == id->ino) {
			struct names_job *old = *pp;

			*pp = old->next;
			old->next = NULL;
			names_jobs_free(old);
			break;
		}
	j->next = w->names;
	w->names = j;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void pf_reloader_row_stats(const struct pf_reload *rl, uint64_t *failures, size_t *waiting)
{
	struct pf_reloader *w = rl->worker;

	*failures = 0;
	*waiting = 0;
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	*failures = w->pod_write_failures;
	*waiting = w->n_retry_shared;
	pthread_mutex_unlock(&w->mu);
}

void pf_reloader_event_stats(const struct pf_reload *rl, uint64_t *written, uint64_t *dropped)
{
	struct pf_reloader *w = rl->worker;

	*written = 0;
	*dropped = rl->events_dropped;
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	*written = w->events_written;
	*dropped += w->events_dropped;
	pthread_mutex_unlock(&w->mu);
}

static int copy_str(char **dst, const char *src)
{
	if (!src) {
		*dst = NULL;
		return 0;
	}
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

/* Deep copy, every part its own allocation (pod_op_free frees them). */
static int copy_record(struct pf_pod_record *d, const struct pf_pod_record *s)
{
	*d = (struct pf_pod_record){
	    .netns_dev = s->netns_dev,
	    .netns_ino = s->netns_ino,
	    .registered_at_ms = s->registered_at_ms,
	};
	if (copy_str(&d->namespace, s->namespace) < 0 || copy_str(&d->name, s->name) < 0 ||
	    copy_str(&d->uid, s->uid) < 0 || copy_str(&d->kind, s->kind) < 0 ||
	    copy_str(&d->netns_path, s->netns_path) < 0 || copy_str(&d->state, s->state) < 0)
		return -ENOMEM;
	d->containers = calloc(s->n_containers + 1, sizeof(*d->containers));
	if (!d->containers)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_containers; i++) {
		if (copy_str(&d->containers[i], s->containers[i]) < 0)
			return -ENOMEM;
		d->n_containers++;
	}
	if (s->procs && s->n_containers) {
		d->procs = malloc(s->n_containers * sizeof(*d->procs));
		if (!d->procs)
			return -ENOMEM;
		memcpy(d->procs, s->procs, s->n_containers * sizeof(*d->procs));
	}
	if (s->n_ips) {
		d->ips = malloc(s->n_ips * sizeof(*d->ips));
		if (!d->ips)
			return -ENOMEM;
		memcpy(d->ips, s->ips, s->n_ips * sizeof(*d->ips));
		d->n_ips = s->n_ips;
	}
	return 0;
}

static void push_op(struct pf_reloader *w, struct pod_op *op)
{
	pthread_mutex_lock(&w->mu);
	*w->ops_tail = op;
	w->ops_tail = &op->next;
	pthread_cond_signal(&w->row_cv);
	pthread_mutex_unlock(&w->mu);
}

int pf_reload_put_pod(struct pf_reload *rl, const struct pf_pod_record *rec, uint64_t seq,
		      bool policies, uint64_t *gen, struct pf_error *err)
{
	struct pod_op *op;
	int r;

	*gen = 0;
	if (!rl->worker) {
		/* Start-up: written here, and the build that follows has it. */
		r = pf_store_put_pod(rl->store, rec, err);
		if (r < 0)
			return r;
		*gen = rl->requested + 1;
		return 0;
	}
	op = calloc(1, sizeof(*op));
	if (!op)
		return pf_error_set(err, ENOMEM, "out of memory");
	op->seq = seq;
	op->policies = policies;
	if (copy_record(&op->rec, rec) < 0) {
		pod_op_free(op);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	push_op(rl->worker, op);
	return 0;
}

int pf_reload_delete_pod(struct pf_reload *rl, const struct pf_netns_id *id, uint64_t seq,
			 struct pf_error *err)
{
	struct pod_op *op;

	if (!rl->worker)
		return pf_store_delete_pod(rl->store, id->dev, id->ino, err);
	op = calloc(1, sizeof(*op));
	if (!op)
		return pf_error_set(err, ENOMEM, "out of memory");
	op->delete = true;
	op->seq = seq;
	op->rec.netns_dev = id->dev;
	op->rec.netns_ino = id->ino;
	push_op(rl->worker, op);
	return 0;
}
