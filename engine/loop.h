/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine's one epoll loop: fds with their own callbacks, and hooks per tick and per round. */
#ifndef PF_ENGINE_LOOP_H
#define PF_ENGINE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* The loop's periodic timer; the slower jobs run every n-th tick. */
#define PF_TICK_MS 100
#define PF_LOOP_MAX_HOOKS 4

struct pf_watch;
typedef void (*pf_watch_cb)(struct pf_watch *w, uint32_t events);

/* One fd in the loop. It lives inside the object it stands for (data), which outlives it:
 * an object released during a round is freed only by a round hook, after every callback. */
struct pf_watch {
	int fd;
	pf_watch_cb cb;
	void *data;
	bool first; /* called before the others of the same round (queues: verdicts first) */
};

typedef void (*pf_loop_hook)(void *data, uint64_t ticks);

struct pf_loop_hook_slot {
	pf_loop_hook fn;
	void *data;
};

struct pf_loop {
	int epfd;
	int timerfd;
	uint64_t ticks;
	bool quit;
	struct pf_watch timer_watch;
	struct pf_loop_hook_slot tick_hooks[PF_LOOP_MAX_HOOKS], round_hooks[PF_LOOP_MAX_HOOKS];
	size_t n_tick_hooks, n_round_hooks;
};

#define PF_LOOP_INIT                                                                               \
	{                                                                                          \
		.epfd = -1, .timerfd = -1                                                          \
	}

static inline void pf_watch_set(struct pf_watch *w, int fd, pf_watch_cb cb, void *data, bool first)
{
	*w = (struct pf_watch){.fd = fd, .cb = cb, .data = data, .first = first};
}

int pf_loop_init(struct pf_loop *l);
void pf_loop_done(struct pf_loop *l);
/* w->fd, w->cb and w->data set (pf_watch_set); events as for epoll (0: kept, not reported). */
int pf_loop_add(struct pf_loop *l, struct pf_watch *w, uint32_t events);
int pf_loop_mod(struct pf_loop *l, struct pf_watch *w, uint32_t events);
/* Safe on a watch never added, and on a closed loop. */
void pf_loop_del(struct pf_loop *l, struct pf_watch *w);
/* fn(data, ticks) every tick / after every round of callbacks, in the order registered. */
int pf_loop_on_tick(struct pf_loop *l, pf_loop_hook fn, void *data);
int pf_loop_on_round(struct pf_loop *l, pf_loop_hook fn, void *data);
/* Wait for events and dispatch them: one round (tests), or until pf_loop_quit. */
int pf_loop_round(struct pf_loop *l, int timeout_ms);
int pf_loop_run(struct pf_loop *l);
void pf_loop_quit(struct pf_loop *l);

#endif
