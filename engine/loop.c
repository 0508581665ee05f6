/* The single epoll loop: signals, the tick timer, the control and metrics sockets, every queue
 * and netlink fd. */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "engine.h"
#include "log.h"

int pf_loop_add(struct engine *e, int fd, uint32_t events, struct pf_watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int pf_loop_mod(struct engine *e, int fd, uint32_t events, struct pf_watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void pf_loop_del(struct engine *e, int fd)
{
	if (fd >= 0 && e->epfd >= 0)
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int pf_loop_init(struct engine *e)
{
	struct itimerspec its = {
	    .it_interval = {.tv_nsec = PF_TICK_MS * 1000000L},
	    .it_value = {.tv_nsec = PF_TICK_MS * 1000000L},
	};
	sigset_t mask;
	int r;

	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		return log_error_errno(-errno, "epoll_create1: %m");

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(-errno, "sigprocmask: %m");
	e->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (e->sigfd < 0)
		return log_error_errno(-errno, "signalfd: %m");
	e->sig_watch = (struct pf_watch){PF_WATCH_SIGNAL, e};
	r = pf_loop_add(e, e->sigfd, EPOLLIN, &e->sig_watch);
	if (r < 0)
		return log_error_errno(r, "epoll add signalfd: %m");

	e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (e->timerfd < 0)
		return log_error_errno(-errno, "timerfd_create: %m");
	if (timerfd_settime(e->timerfd, 0, &its, NULL) < 0)
		return log_error_errno(-errno, "timerfd_settime: %m");
	e->timer_watch = (struct pf_watch){PF_WATCH_TIMER, e};
	r = pf_loop_add(e, e->timerfd, EPOLLIN, &e->timer_watch);
	if (r < 0)
		return log_error_errno(r, "epoll add timerfd: %m");
	return 0;
}

void pf_loop_done(struct engine *e)
{
	if (e->timerfd >= 0)
		close(e->timerfd);
	if (e->sigfd >= 0)
		close(e->sigfd);
	if (e->epfd >= 0)
		close(e->epfd);
	e->timerfd = e->sigfd = e->epfd = -1;
}

static void on_signal(struct engine *e)
{
	struct signalfd_siginfo si;

	while (read(e->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("Received %s", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			e->quit = true;
			break;
		case SIGHUP:
			pf_reload_request(e, "SIGHUP");
			break;
		}
	}
}

static void on_tick(struct engine *e)
{
	uint64_t n;

	if (read(e->timerfd, &n, sizeof(n)) != sizeof(n))
		return;
	e->ticks += n;
	if (e->ticks % PF_EVENTS_FLUSH_TICKS == 0) {
		struct pf_pending_event *batch;
		size_t n_batch;

		pf_events_collect(&e->events, pf_now_ms(), false, &batch, &n_batch);
		if (n_batch)
			pf_reloader_push_events(e, batch, n_batch);
	}
	if (e->ticks % PF_LIVENESS_TICKS == 0) {
		pf_pods_check_liveness(e);
		/* A hook that could not reach us (busy, restarting) left a record: take it now
		 * rather than at the next start. */
		pf_adopt_pending(e);
	}
	pf_pods_nft_retry(e);
	pf_adopt_retry_tick(e);
	pf_control_expire(e, false);
	pf_metrics_expire(e);
	/* Verdicts that could not be sent are owed as a batch drop; retry here too, since a
	 * queue whose slots they hold may have nothing more to read. */
	for (struct pf_pod *p = e->pods; p; p = p->next) {
		if (p->dead || !p->nfq)
			continue;
		pf_nfq_tick(p->nfq);
		p->tick_verdicts = 0;
		if (p->nfq_paused && p->active &&
		    pf_loop_mod(e, pf_nfq_fd(p->nfq), EPOLLIN, &p->nfq_watch) == 0)
			p->nfq_paused = false;
	}
}

static void on_nfq(struct engine *e, struct pf_pod *p)
{
	int r;

	if (p->dead)
		return;
	r = pf_nfq_dispatch(p->nfq);
	if (r > 0) {
		p->tick_verdicts += (uint32_t)r;
		/* Its share for this tick is used: the rest waits in (or overflows) its own queue,
		 * and the engine's time goes to the other pods. */
		if (p->tick_verdicts >= PF_POD_VERDICTS_PER_TICK &&
		    pf_loop_mod(e, pf_nfq_fd(p->nfq), 0, &p->nfq_watch) == 0)
			p->nfq_paused = true;
	}
	if (r < 0 && r != -EAGAIN && r != -ENOBUFS) {
		/* Unknown trouble on one queue must not spin the loop: log once per kind. */
		if (e->stats.nfq_errors++ < 10)
			log_warning_errno(r, "Queue of pod %s/%s: %m", p->namespace, p->name);
	}
}

int pf_loop_run(struct engine *e)
{
	struct epoll_event evs[64];

	while (!e->quit) {
		int n = epoll_wait(e->epfd, evs, PF_ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(-errno, "epoll_wait: %m");
		}
		/* Queues first: a verdict should not wait behind a slow control request. */
		for (int i = 0; i < n; i++) {
			struct pf_watch *w = evs[i].data.ptr;

			if (w->type == PF_WATCH_NFQ)
				on_nfq(e, w->owner);
		}
		for (int i = 0; i < n; i++) {
			struct pf_watch *w = evs[i].data.ptr;

			switch (w->type) {
			case PF_WATCH_NFQ:
				break;
			case PF_WATCH_SIGNAL:
				on_signal(e);
				break;
			case PF_WATCH_TIMER:
				on_tick(e);
				break;
			case PF_WATCH_LISTEN:
				pf_control_accept(e);
				break;
			case PF_WATCH_CLIENT: {
				struct pf_client *c = w->owner;

				if (!c->dead)
					pf_control_client_io(e, c, evs[i].events);
				break;
			}
			case PF_WATCH_RTNL: {
				struct pf_pod *p = w->owner;

				if (!p->dead)
					pf_pods_rtnl_event(e, p);
				break;
			}
			case PF_WATCH_NFT: {
				struct pf_pod *p = w->owner;

				if (!p->dead)
					pf_pods_nft_event(e, p);
				break;
			}
			case PF_WATCH_RELOAD:
				pf_reloader_event(e);
				break;
			case PF_WATCH_METRICS_LISTEN:
				pf_metrics_accept(e);
				break;
			case PF_WATCH_METRICS_CONN:
				pf_metrics_conn_io(e, w->owner, evs[i].events);
				break;
			case PF_WATCH_PIDFD: {
				struct pf_container *c = w->owner;

				pf_pods_pid_exit(e, c);
				break;
			}
			}
		}
		/* Objects released above may still have had events in evs: free them only now. */
		pf_pods_reap(e);
		pf_control_reap(e);
		pf_metrics_reap(e);
	}
	return 0;
}
