/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: root peers only, one request per message, bounded clients and time. */
#ifndef PF_ENGINE_CONTROL_H
#define PF_ENGINE_CONTROL_H

#include <stdbool.h>

#include "netns.h"
#include "requests.h"

#define PF_MAX_CLIENTS 64
#define PF_CLIENT_TIMEOUT_MS 5000
#define PF_CLIENT_WAIT_MS 60000	       /* a request waiting for a rebuild, unless it says less */
#define PF_CLIENT_ANSWER_MARGIN_MS 500 /* answer this much before the sender gives up */

struct pf_control;
struct pf_loop;

/* Listen on path; requests go to req. Every function below takes NULL (not listening). */
int pf_control_listen(const char *path, struct pf_loop *loop, struct pf_requests *req,
		      struct pf_control **out);
/* Hang up on clients past their deadline (all: every client). */
void pf_control_expire(struct pf_control *ctl, bool all);
/* Free clients hung up on during this loop round. */
void pf_control_reap(struct pf_control *ctl);
void pf_control_close(struct pf_control *ctl);
/* Answer the requests waiting for a cache generation now in place (or failed). */
void pf_control_cache_ready(struct pf_control *ctl);
/* A waiting registration of pod id failed: its answer says why. */
void pf_control_fail_waiters(struct pf_control *ctl, const struct pf_netns_id *id, const char *msg);

#endif
