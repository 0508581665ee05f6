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
#include "counters.h"
#include "engine.h"
#include "events.h"
#include "flows.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "nft.h"
#include "pods.h"
#include "reload.h"
#include "eventlog.h"
#include "requests.h"
#include "trace.h"
#include "store.h"
#include "verdict.h"

/* Cadence of the slower jobs, in loop ticks (PF_TICK_MS). */
#define EVENTS_FLUSH_TICKS 2  /* hand event batches to the store worker every 200 ms */
#define LIVENESS_TICKS 20     /* look for vanished netns every 2 s */
#define NAMES_EXPIRE_TICKS 10 /* pods' DNS names past their TTL go every second */

/* The parts, each owning its state, and what links them: only this file sees them all. */
struct engine {
	struct pf_engine_config cfg;
	struct pf_loop loop;
	int sigfd;
	struct pf_watch sig_watch;
	int64_t started_ms;

	struct pf_store *store; /* the loop thread's connection (start-up, adoption) */
	char *saved_path;	/* the last good build's ruleset */
	struct pf_nft_config nft;
	struct pf_netns_id host_id; /* PID 1's netns */
	struct pf_netns_id self_id; /* ours */
	struct pf_events events;
	struct pf_trace trace;
	struct pf_eventlog eventlog; /* the store worker's: events to the journal or syslog */
	struct pf_counters counters;
	struct pf_verdict_ctx verdict;
	struct pf_reload *reload;
	struct pf_pods *pods;
	struct pf_requests requests;
	struct pf_adopt *adopt;
	struct pf_control *control; /* NULL until it listens */
	struct pf_metrics *metrics; /* NULL without --metrics */
};

int pf_engine_new(const struct pf_engine_config *cfg, struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->loop = (struct pf_loop)PF_LOOP_INIT;
	e->sigfd = -1;
	*out = e;
	return 0;
}

void pf_engine_free(struct engine *e)
{
	free(e);
}

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
			pf_reload_request(e->reload, "SIGHUP");
			break;
		}
	}
}

static void on_tick(void *data, uint64_t ticks)
{
	struct engine *e = data;

	if (ticks % EVENTS_FLUSH_TICKS == 0) {
		struct pf_pending_event *batch;
		size_t n_batch;

		pf_events_collect(&e->events, pf_now_ms(), false, &batch, &n_batch);
		if (n_batch)
			pf_reload_push_events(e->reload, batch, n_batch);
	}
	if (ticks % LIVENESS_TICKS == 0) {
		pf_pods_check_liveness(e->pods);
		/* A hook that could not reach us (busy, restarting) left a record: take it now
		 * rather than at the next start. */
		pf_adopt_pending(e->adopt);
	}
	if (ticks % NAMES_EXPIRE_TICKS == 0)
		pf_pods_names_expire(e->pods, pf_now_ms());
	pf_pods_nft_retry(e->pods);
	pf_adopt_retry_tick(e->adopt);
	pf_control_expire(e->control, false);
	pf_metrics_expire(e->metrics);
	pf_pods_queue_tick(e->pods);
}

/* Objects released during a round may still have had events in it: freed only after it. */
static void on_round(void *data, uint64_t ticks)
{
	struct engine *e = data;

	(void)ticks;
	pf_pods_reap(e->pods);
	pf_control_reap(e->control);
	pf_metrics_reap(e->metrics);
}

static void cache_swapped(void *data)
{
	struct engine *e = data;

	pf_pods_regroup(e->pods);
	if (e->cfg.enforce_established)
		pf_flows_cut(e->pods, &e->verdict);
}

static void row_committed(void *data, const struct pf_row_done *d)
{
	struct engine *e = data;

	pf_pods_row_committed(e->pods, d);
}

/* A generation is in place or failed: pods waiting for it first, then the answers. */
static void generation_ready(void *data, uint64_t gen, bool failed)
{
	struct engine *e = data;

	(void)gen;
	(void)failed;
	pf_pods_cache_ready(e->pods);
	pf_control_cache_ready(e->control);
}

/* A registration's policies: its pod may be enforced now, and its answer sent. */
static void row_policies(void *data, const struct pf_row_policies *rp)
{
	struct engine *e = data;

	if (pf_pods_row_policies(e->pods, rp))
		pf_control_cache_ready(e->control);
}

static void pod_failed(void *data, const struct pf_netns_id *id, const char *msg)
{
	struct engine *e = data;

	pf_control_fail_waiters(e->control, id, msg);
}

static void read_counters(void *data, struct pf_engine_counters *out)
{
	struct engine *e = data;

	pf_counters_read(&e->counters, out);
}

/* The modules, each given what it works with; their reports come back here. */
static int build_parts(struct engine *e)
{
	const struct pf_reload_ops reload_ops = {
	    .swapped = cache_swapped,
	    .row_committed = row_committed,
	    .ready = generation_ready,
	    .row_policies = row_policies,
	    .data = e,
	};
	const struct pf_reload_config reload_cfg = {
	    .db_path = e->cfg.db_path,
	    .saved_path = e->saved_path,
	    .default_action = e->cfg.default_action,
	    .events =
		{
		    .max_rows = e->cfg.event_max_rows,
		    .max_age_ms = (int64_t)e->cfg.event_max_age_s * 1000,
		    .log = &e->eventlog,
		},
	};
	const struct pf_pods_ops pods_ops = {.failed = pod_failed, .data = e};
	const struct pf_pods_config pods_cfg = {
	    .queue_num = e->cfg.queue_num,
	    .queue_maxlen = e->cfg.queue_maxlen,
	    .refuse_privileged = e->cfg.refuse_privileged,
	    .host_id = e->host_id,
	    .self_id = e->self_id,
	    .nft = &e->nft,
	    .verdict = &e->verdict,
	};
	int r;

	pf_eventlog_open(&e->eventlog, (enum pf_eventlog_mode)e->cfg.event_log);
	r = pf_reload_new(&reload_cfg, &e->loop, e->store, &reload_ops, &e->reload);
	if (r < 0)
		return log_error_errno(r, "Out of memory");
	r = pf_pods_new(&pods_cfg, &e->loop, e->reload, &e->events, &e->counters.stats, &pods_ops,
			&e->pods);
	if (r < 0)
		return log_error_errno(r, "Out of memory");
	e->verdict = (struct pf_verdict_ctx){
	    .reload = e->reload,
	    .events = &e->events,
	    .stats = &e->counters.stats,
	    .trace = &e->trace,
	    .reject_mark = e->nft.reject_mark,
	    .reuse = e->nft.reuse_timeout_ms != 0,
	};
	e->counters.pods = e->pods;
	e->counters.reload = e->reload;
	e->counters.events = &e->events;
	e->requests = (struct pf_requests){
	    .cfg =
		{
		    .fail_closed = e->cfg.fail_closed,
		    .default_action = e->cfg.default_action,
		    .queue_num = e->cfg.queue_num,
		    .queue_maxlen = e->cfg.queue_maxlen,
		    .backend = e->nft.backend,
		    .db_path = e->cfg.db_path,
		    .refuse_privileged = e->cfg.refuse_privileged,
		    .started_ms = e->started_ms,
		},
	    .pods = e->pods,
	    .reload = e->reload,
	    .counters = &e->counters,
	    .trace = &e->trace,
	};
	r = pf_adopt_new(e->cfg.state_dir, e->store, &e->nft, e->pods, e->reload, &e->requests,
			 &e->adopt);
	if (r < 0)
		return log_error_errno(r, "Out of memory");
	return 0;
}

/* Signals through the loop, the loop's hooks, and the modules' reports to their peers. */
static int wire(struct engine *e)
{
	sigset_t mask;
	int r;

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
	const struct pf_metrics_ops metrics_ops = {.read = read_counters, .data = e};
	struct pf_error err = {};
	int r;

	e->started_ms = pf_now_ms();
	e->nft.queue_num = e->cfg.queue_num;
	e->nft.bypass = !e->cfg.fail_closed;
	e->nft.priority = e->cfg.priority;
	e->nft.reject_mark = PF_REJECT_MARK;
	/* UDP flows and connections whose entry was cut (the flows chain), DNS answers (dns) */
	e->nft.flows = true;
	e->nft.dns = true;
	/* a cut connection's far end must not start a new entry the pod's packets would match */
	e->nft.cut_inbound = e->cfg.enforce_established;
	e->nft.flow_priority = PF_NFT_FLOW_PRIORITY;
	e->nft.reuse_timeout_ms = e->cfg.verdict_reuse_ms;

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
	r = pf_metrics_listen(e->cfg.metrics, &e->loop, e->started_ms, &metrics_ops, &e->metrics);
	if (r < 0)
		return r;
	/* A failed build never stops the start: see pf_reload_start. */
	if (asprintf(&e->saved_path, "%s/last-good-ruleset", e->cfg.state_dir) < 0) {
		e->saved_path = NULL;
		return log_error_errno(-ENOMEM, "Out of memory");
	}
	r = pf_mkdir_p(e->cfg.state_dir, 0700);
	if (r < 0)
		log_warning_errno(r, "Cannot create the state directory %s: %m", e->cfg.state_dir);
	r = build_parts(e);
	if (r < 0)
		return r;
	r = pf_reload_start(e->reload);
	if (r < 0)
		return r;
	/* Pods first, socket last: a hook that reaches us finds every earlier pod judged. */
	pf_adopt_store(e->adopt);
	pf_adopt_pending(e->adopt);
	/* From here on rebuilds run beside the loop. */
	r = pf_reloader_start(e->reload);
	if (r < 0)
		return r;
	pf_pods_sync_rows(e->pods);
	pf_adopt_flush_gone(e->adopt);
	r = pf_control_listen(e->cfg.socket_path, &e->loop, &e->requests, &e->control);
	if (r < 0)
		return r;
	/* Adoption may have been a long time; take pending records that arrived meanwhile. */
	pf_adopt_pending(e->adopt);
	log_info(
	    "podfenced %s ready: socket %s, store %s, fail mode %s, default action %s, %zu pod(s)",
	    PACKAGE_VERSION, e->cfg.socket_path, e->cfg.db_path,
	    e->cfg.fail_closed ? "closed" : "open", pf_action_to_string(e->cfg.default_action),
	    pf_pods_count(e->pods));
	return 0;
}

void pf_engine_stop(struct engine *e)
{
	struct pf_pending_event *batch;
	size_t n;

	/* Last events to the worker, which writes them before it stops. */
	pf_events_collect(&e->events, pf_now_ms(), true, &batch, &n);
	if (n && e->reload)
		pf_reload_push_events(e->reload, batch, n);
	else
		pf_events_batch_free(batch, n);
	if (e->reload)
		pf_reloader_stop(e->reload);
	pf_control_close(e->control);
	e->control = NULL;
	pf_metrics_close(e->metrics);
	e->metrics = NULL;
	/* Every queue and fd closed; rules and store rows stay (restart re-adopts). */
	pf_pods_free(e->pods);
	e->pods = NULL;
	pf_adopt_free(e->adopt);
	e->adopt = NULL;
	pf_reload_free(e->reload);
	e->reload = NULL;
	pf_events_free(&e->events);
	pf_eventlog_close(&e->eventlog);
	free(e->saved_path);
	e->saved_path = NULL;
	pf_store_close(e->store);
	e->store = NULL;
	if (e->sigfd >= 0)
		close(e->sigfd);
	e->sigfd = -1;
	pf_loop_done(&e->loop);
}
