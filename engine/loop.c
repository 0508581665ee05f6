/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The single epoll loop: it calls each fd's own callback, and the hooks registered for every
 * tick and after every round; it knows none of the modules that use it. */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"

int pf_loop_add(struct pf_loop *l, struct pf_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	return 0;
}

int pf_loop_mod(struct pf_loop *l, struct pf_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	return 0;
}

void pf_loop_del(struct pf_loop *l, struct pf_watch *w)
{
	if (w->fd >= 0 && l->epfd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static int add_hook(struct pf_loop_hook_slot *slots, size_t *n, pf_loop_hook fn, void *data)
{
	if (*n >= PF_LOOP_MAX_HOOKS)
		return -ENOSPC;
	slots[(*n)++] = (struct pf_loop_hook_slot){fn, data};
	return 0;
}

int pf_loop_on_tick(struct pf_loop *l, pf_loop_hook fn, void *data)
{
	return add_hook(l->tick_hooks, &l->n_tick_hooks, fn, data);
}

int pf_loop_on_round(struct pf_loop *l, pf_loop_hook fn, void *data)
{
	return add_hook(l->round_hooks, &l->n_round_hooks, fn, data);
}

static void on_tick(struct pf_watch *w, uint32_t events)
{
	struct pf_loop *l = w->data;
	uint64_t n;

	(void)events;
	if (read(l->timerfd, &n, sizeof(n)) != sizeof(n))
		return;
	l->ticks += n;
	for (size_t i = 0; i < l->n_tick_hooks; i++)
		l->tick_hooks[i].fn(l->tick_hooks[i].data, l->ticks);
}

int pf_loop_init(struct pf_loop *l)
{
	struct itimerspec its = {
	    .it_interval = {.tv_nsec = PF_TICK_MS * 1000000L},
	    .it_value = {.tv_nsec = PF_TICK_MS * 1000000L},
	};
	int r;

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return log_error_errno(-errno, "epoll_create1: %m");
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0)
		return log_error_errno(-errno, "timerfd_create: %m");
	if (timerfd_settime(l->timerfd, 0, &its, NULL) < 0)
		return log_error_errno(-errno, "timerfd_settime: %m");
	pf_watch_set(&l->timer_watch, l->timerfd, on_tick, l, false);
	r = pf_loop_add(l, &l->timer_watch, EPOLLIN);
	if (r < 0)
		return log_error_errno(r, "epoll add timerfd: %m");
	return 0;
}

void pf_loop_done(struct pf_loop *l)
{
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->timerfd = l->epfd = -1;
}

void pf_loop_quit(struct pf_loop *l)
{
	l->quit = true;
}

int pf_loop_round(struct pf_loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(l->epfd, evs, PF_ARRAY_SIZE(evs), timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return log_error_errno(-errno, "epoll_wait: %m");
	}
	/* Queues first: a verdict should not wait behind a slow control request. */
	for (int i = 0; i < n; i++) {
		struct pf_watch *w = evs[i].data.ptr;

		if (w->first)
			w->cb(w, evs[i].events);
	}
	for (int i = 0; i < n; i++) {
		struct pf_watch *w = evs[i].data.ptr;

		if (!w->first)
			w->cb(w, evs[i].events);
	}
	/* Objects released above may still have had events in evs: freed only now. */
	for (size_t i = 0; i < l->n_round_hooks; i++)
		l->round_hooks[i].fn(l->round_hooks[i].data, l->ticks);
	return 0;
}

int pf_loop_run(struct pf_loop *l)
{
	while (!l->quit) {
		int r = pf_loop_round(l, -1);

		if (r < 0)
			return r;
	}
	return 0;
}
