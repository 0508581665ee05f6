/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The metrics endpoint: Prometheus text format on GET /metrics, served from the loop. */
#ifndef PF_ENGINE_METRICS_H
#define PF_ENGINE_METRICS_H

#include <stdint.h>
#include <sys/socket.h>

#include "error.h"

#define PF_METRICS_MAX_CONNS 16
#define PF_METRICS_MAX_REQUEST 8192 /* request line and headers */
#define PF_METRICS_TIMEOUT_MS 2000  /* to send a whole request, and again to take the answer */

struct pf_engine_counters;
struct pf_loop;
struct pf_metrics;

/* Where the numbers come from, set by the owner (engine.c): one snapshot per scrape. */
struct pf_metrics_ops {
	void (*read)(void *data, struct pf_engine_counters *out);
	void *data;
};

struct pf_metrics_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	const char *unix_path; /* points into the parsed string; NULL for TCP */
};
/* ADDR: IPV4:PORT, [IPV6]:PORT or unix:/PATH. */
int pf_metrics_parse_addr(const char *s, struct pf_metrics_addr *out, struct pf_error *err);
/* Listen on addr (NULL: no endpoint, *out stays NULL); the watches go in loop. */
int pf_metrics_listen(const char *addr, struct pf_loop *loop, int64_t started_ms,
		      const struct pf_metrics_ops *ops, struct pf_metrics **out);
/* Hang up on connections past their deadline. */
void pf_metrics_expire(struct pf_metrics *m);
/* Free connections hung up on during this loop round. */
void pf_metrics_reap(struct pf_metrics *m);
void pf_metrics_close(struct pf_metrics *m);
/* The exposition text (malloc'ed, NUL-terminated). */
int pf_metrics_render(struct pf_metrics *m, char **out, size_t *len);

#endif
