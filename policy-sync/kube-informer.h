/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The informer pattern over libcurl multi: for each resource a LIST paged by count and size,
 * then a WATCH from the list's resourceVersion with bookmarks, relisting on 410 Gone,
 * reconnecting with backoff and jitter, honouring Retry-After. Every resource streams in one
 * thread.
 */
#ifndef PF_KUBE_INFORMER_H
#define PF_KUBE_INFORMER_H

#include "doc.h"
#include "kube-client.h"

enum pf_kube_res {
	PF_KUBE_NAMESPACE = 0,
	PF_KUBE_POD,
	PF_KUBE_SERVICE,
	PF_KUBE_ENDPOINTSLICE,
	PF_KUBE_REPLICASET,
	PF_KUBE_DEPLOYMENT,
	PF_KUBE_STATEFULSET,
	PF_KUBE_DAEMONSET,
	PF_KUBE_JOB,
	PF_KUBE_CRONJOB,
	PF_KUBE_FENCEPOLICY,
	PF_KUBE_CLUSTERFENCEPOLICY, /* cluster-scoped */
	_PF_KUBE_RES_MAX,
};

struct pf_kube_res_info {
	const char *api;    /* "/api/v1", "/apis/apps/v1" */
	const char *plural; /* "pods" */
	const char *kind;   /* "Pod" */
};
extern const struct pf_kube_res_info pf_kube_resources[_PF_KUBE_RES_MAX];

enum pf_kube_event {
	PF_KUBE_ADDED,
	PF_KUBE_MODIFIED,
	PF_KUBE_DELETED,
};

/* What the informers feed. A LIST's items are staged between list_begin and list_end, and
 * replace the resource's whole set only when the list completed (complete = true). */
struct pf_kube_handler {
	void *userdata;
	void (*list_begin)(void *u, enum pf_kube_res r);
	int (*list_item)(void *u, enum pf_kube_res r, const struct pf_node *obj);
	void (*list_end)(void *u, enum pf_kube_res r, bool complete);
	int (*event)(void *u, enum pf_kube_res r, enum pf_kube_event type,
		     const struct pf_node *obj);
};

struct pf_kube_stats {
	unsigned long lists, pages, watches, events, bookmarks;
	unsigned long gone;	  /* 410: relisted */
	unsigned long reconnects; /* streams that broke */
	unsigned long throttled;  /* 429/5xx answers */
	unsigned long errors;	  /* other failures */
	unsigned long shrunk;	  /* pages asked for again with fewer objects (too large) */
};

struct pf_kube_informers;

/* watch false: list each resource once (--once). */
int pf_kube_informers_new(struct pf_kube_client *c, const struct pf_kube_handler *h, bool watch,
			  struct pf_kube_informers **out);
void pf_kube_informers_free(struct pf_kube_informers *in);
/*
 * Wait up to timeout_ms for the network, the informers' own timers, or fd (-1: none) to become
 * readable; run what is due, calling the handler. 1 when fd is readable, 0 otherwise,
 * negative errno on a fatal error.
 */
int pf_kube_informers_run(struct pf_kube_informers *in, int timeout_ms, int fd);
/* Every resource has completed its first LIST. */
bool pf_kube_informers_synced(const struct pf_kube_informers *in);
/* Largest number of consecutive failures of one resource, and the last error message. */
unsigned pf_kube_informers_failures(const struct pf_kube_informers *in, const char **last_error);
const struct pf_kube_stats *pf_kube_informers_stats(const struct pf_kube_informers *in);

#endif
