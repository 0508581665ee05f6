/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's top: start-up in order, shutdown, and the wiring of the modules (the loop's
 * hooks, signals, and what the store worker and the registry report, fanned out). */
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "adopt.h"
#include "control.h"
#include "engine.h"
#include "events.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pods.h"
#include "reload.h"

static void on_signal(struct pf_watch *w, uint32_t events)
{
	struct engine *e = w->data;
	struct signalfd_siginfo si;

	(void)events;
	while (read(e->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("Received %s", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			pf_loop_quit(&e->loop);
			break;
		case SIGHUP:
			pf_reload_request(e, "SIGHUP");
			break;
		}
	}
}

static void on_tick(void *data, uint64_t ticks)
{
	struct engine *e = data;

	if (ticks % PF_EVENTS_FLUSH_TICKS == 0) {
		struct pf_pending_event *batch;
		size_t n_batch;

		pf_events_collect(&e->events, pf_now_ms(), false, &batch, &n_batch);
		if (n_batch)
			pf_reloader_push_events(e, batch, n_batch);
	}
	if (ticks % PF_LIVENESS_TICKS == 0) {
		pf_pods_check_liveness(e);
		/* A hook that could not reach us (busy, restarting) left a record: take it now
		 * rather than at the next start. */
		pf_adopt_pending(e);
	}
	pf_pods_nft_retry(e);
	pf_adopt_retry_tick(e);
	pf_control_expire(e, false);
	pf_metrics_expire(e);
	pf_pods_queue_tick(e);
}

/* Objects released during a round may still have had events in it: freed only after it. */
static void on_round(void *data, uint64_t ticks)
{
	struct engine *e = data;

	(void)ticks;
	pf_pods_reap(e);
	pf_control_reap(e);
	pf_metrics_reap(e);
}

static void cache_swapped(void *data)
{
	pf_pods_regroup(data);
}

static void row_committed(void *data, const struct pf_row_done *d)
{
	pf_pods_row_committed(data, d);
}

/* A generation is in place or failed: pods waiting for it first, then the answers. */
static void generation_ready(void *data, uint64_t gen, bool failed)
{
	(void)gen;
	(void)failed;
	pf_pods_cache_ready(data);
	pf_control_cache_ready(data);
}

static void pod_failed(void *data, const struct pf_netns_id *id, const char *msg)
{
	pf_control_fail_waiters(data, id, msg);
}

/* Signals through the loop, the loop's hooks, and the modules' reports to their peers. */
static int wire(struct engine *e)
{
	sigset_t mask;
	int r;

	e->reload_ops = (struct pf_reload_ops){
	    .swapped = cache_swapped,
	    .row_committed = row_committed,
	    .ready = generation_ready,
	    .data = e,
	};
	e->pods_ops = (struct pf_pods_ops){.failed = pod_failed, .data = e};
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(-errno, "sigprocmask: %m");
	e->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (e->sigfd < 0)
		return log_error_errno(-errno, "signalfd: %m");
	pf_watch_set(&e->sig_watch, e->sigfd, on_signal, e, false);
	r = pf_loop_add(&e->loop, &e->sig_watch, EPOLLIN);
	if (r < 0)
		return log_error_errno(r, "epoll add signalfd: %m");
	if (pf_loop_on_tick(&e->loop, on_tick, e) < 0 ||
	    pf_loop_on_round(&e->loop, on_round, e) < 0)
		return log_error_errno(-ENOSPC, "Loop hooks: %m");
	return 0;
}

int pf_engine_run(struct engine *e)
{
	return pf_loop_run(&e->loop);
}

/* Decide the queue backend once, in a throwaway netns so the host's ruleset is never touched. */
static int probe_backend(struct engine *e)
{
	struct pf_error err = {};
	int saved = -1, r;

	saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return log_error_errno(-errno, "Failed to open own netns: %m");
	if (unshare(CLONE_NEWNET) < 0) {
		r = -errno;
		close(saved);
		return log_error_errno(r, "Failed to create a netns to probe nftables: %m");
	}
	r = pf_nft_probe_backend(&e->nft.backend, &err);
	pf_netns_leave(&saved);
	if (r < 0)
		return log_error_errno(r, "Failed to probe the nftables queue backend: %s",
				       err.msg);
	log_info("Queue backend: %s", pf_nft_backend_name(e->nft.backend));
	return 0;
}

int pf_engine_start(struct engine *e)
{
	struct pf_error err = {};
	int r;

	e->started_ms = pf_now_ms();
	e->nft.queue_num = e->cfg.queue_num;
	e->nft.bypass = !e->cfg.fail_closed;
	e->nft.priority = e->cfg.priority;
	e->nft.reject_mark = PF_REJECT_MARK;

	/* Refused for registration: our own netns, and PID 1's when we may look at it (in a
	 * sandbox or a container PID 1 can be out of reach; then ours stands for the host's). */
	r = pf_netns_current_id(&e->self_id);
	if (r < 0)
		return log_error_errno(r, "Failed to identify our own network namespace: %m");
	r = pf_netns_host_id(&e->host_id);
	if (r < 0) {
		log_debug_errno(
		    r, "Cannot read PID 1's network namespace (%m); using our own as the host's");
		e->host_id = e->self_id;
	}
	r = probe_backend(e);
	if (r < 0)
		return r;
	r = pf_events_init(&e->events);
	if (r < 0)
		return log_error_errno(r, "Failed to set up events: %m");
	e->events.window_ms = e->cfg.event_window_ms;
	r = pf_store_open(e->cfg.db_path, 0, &e->store, &err);
	if (r < 0)
		return log_error_errno(r, "Failed to open the store %s: %s", e->cfg.db_path,
				       err.msg);
	r = pf_loop_init(&e->loop);
	if (r < 0)
		return r;
	r = wire(e);
	if (r < 0)
		return r;
	/* Before the long part of start-up, so a taken address fails at once. Connections wait
	 * in the backlog until the loop runs. */
	r = pf_metrics_listen(e);
	if (r < 0)
		return r;
	/* A failed build never stops the start: see pf_reload_start. */
	if (asprintf(&e->saved_path, "%s/last-good-ruleset", e->cfg.state_dir) < 0)
		return log_error_errno(-ENOMEM, "Out of memory");
	r = pf_mkdir_p(e->cfg.state_dir, 0700);
	if (r < 0)
		log_warning_errno(r, "Cannot create the state directory %s: %m", e->cfg.state_dir);
	r = pf_reload_start(e);
	if (r < 0)
		return r;
	/* Pods first, socket last: a hook that reaches us finds every earlier pod judged. */
	pf_adopt_store(e);
	pf_adopt_pending(e);
	/* From here on rebuilds run beside the loop. */
	r = pf_reloader_start(e);
	if (r < 0)
		return r;
	pf_pods_sync_rows(e);
	pf_adopt_flush_gone(e);
	r = pf_control_listen(e);
	if (r < 0)
		return r;
	/* Adoption may have been a long time; take pending records that arrived meanwhile. */
	pf_adopt_pending(e);
	log_info(
	    "podfenced %s ready: socket %s, store %s, fail mode %s, default action %s, %zu pod(s)",
	    PACKAGE_VERSION, e->cfg.socket_path, e->cfg.db_path,
	    e->cfg.fail_closed ? "closed" : "open", pf_action_to_string(e->cfg.default_action),
	    e->n_pods);
	return 0;
}

void pf_engine_stop(struct engine *e)
{
	struct pf_pending_event *batch;
	size_t n;

	/* Last events to the worker, which writes them before it stops. */
	pf_events_collect(&e->events, pf_now_ms(), true, &batch, &n);
	if (n)
		pf_reloader_push_events(e, batch, n);
	pf_reloader_stop(e);
	pf_control_close(e);
	pf_metrics_close(e);
	pf_pods_shutdown(e);
	pf_pods_reap(e);
	pf_adopt_done(e);
	pf_events_free(&e->events);
	pf_cache_free(e->cache);
	e->cache = NULL;
	free(e->saved_path);
	e->saved_path = NULL;
	pf_store_close(e->store);
	e->store = NULL;
	if (e->sigfd >= 0)
		close(e->sigfd);
	e->sigfd = -1;
	pf_loop_done(&e->loop);
}
