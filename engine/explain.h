/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The explain request: what the cache in place answers for a connection from a pod now. */
#ifndef PF_ENGINE_EXPLAIN_H
#define PF_ENGINE_EXPLAIN_H

#include "addr.h"
#include "error.h"

/* One pod with many addresses, or many pods of one name: the answer stays one message. */
#define PF_EXPLAIN_MAX_RESULTS 32

struct pf_pods;
struct pf_reload;

/* JSON answer {"ok":true,"source":"engine","generation":N,"results":[...]} for a connection
 * from `from` (NAMESPACE/NAME, NAME in default, a container id, or an address) to dst:port. */
int pf_explain_json(struct pf_pods *pods, struct pf_reload *reload, const char *from,
		    const struct pf_addr *dst, uint16_t port, char **out, struct pf_error *err);

#endif
