/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control requests (register, unregister, reload, status), apart from any transport. */
#ifndef PF_ENGINE_REQUESTS_H
#define PF_ENGINE_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "doc.h"
#include "netns.h"
#include "nft.h"
#include "policy.h"

#define PF_CLIENT_MAX_TIMEOUT_MS 3600000 /* largest "timeout_ms" a request may give */

struct pf_counters;
struct pf_node;
struct pf_pod;
struct pf_pods;
struct pf_reload;
struct pf_trace;
struct pf_trace_sub;

/* What status reports of the engine's settings. */
struct pf_requests_config {
	bool fail_closed;
	enum pf_action default_action;
	uint16_t queue_num;
	uint32_t queue_maxlen;
	enum pf_queue_backend backend;
	const char *db_path;
	bool refuse_privileged;
	int64_t started_ms;
};

/* The requests' view of the engine, set up by its owner (engine.c). */
struct pf_requests {
	struct pf_requests_config cfg;
	struct pf_pods *pods;
	struct pf_reload *reload;
	struct pf_counters *counters;
	struct pf_trace *trace; /* subscriptions of `trace` requests (engine/trace.h) */
};

enum pf_wait_kind {
	PF_WAIT_NONE,
	PF_WAIT_REGISTER,
	PF_WAIT_RELOAD,
	PF_WAIT_TRACE, /* not an answer to wait for: the connection streams verdicts (trace) */
};

/* A request answered later, once the cache generation it needs is in place. */
struct pf_wait {
	enum pf_wait_kind kind;
	uint64_t gen;
	struct pf_netns_id id; /* register: the pod */
	bool new_pod;
	char error[256];	    /* set when the pod failed before its answer */
	uint32_t timeout_ms;	    /* the sender's "timeout_ms", 0 when it gave none */
	struct pf_trace_sub *trace; /* PF_WAIT_TRACE: the subscription, the connection's now */
};

/* Limits for control messages and pending records. */
extern const struct pf_doc_limits pf_ctl_limits;

/* Handle one request (JSON bytes); reply is malloc'ed JSON, or NULL with *wait set: the
 * answer comes once the generation it waits for is in place (pf_requests_answer). */
int pf_requests_handle(struct pf_requests *rq, const char *req, size_t len, char **reply,
		       struct pf_wait *wait);
/* The same for a parsed request; default_op stands in when "op" is absent (pending records). */
int pf_requests_dispatch(struct pf_requests *rq, const struct pf_node *req, const char *default_op,
			 char **reply, struct pf_wait *wait);
/* The answer to a waiting request, once the cache generation it needs is in place or failed.
 * Returns false when it must wait longer (the pod's own generation is still to come). */
bool pf_requests_answer(struct pf_requests *rq, const struct pf_wait *wait, char **reply);
/* A waiting request ran out of time after budget_ms: the error to answer with. */
char *pf_requests_late(struct pf_requests *rq, const struct pf_wait *wait, uint64_t budget_ms);
char *pf_requests_error(const char *msg);
int pf_status_json(struct pf_requests *rq, char **out);

#endif
