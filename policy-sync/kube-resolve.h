/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Kubernetes objects podfence-sync keeps (only the fields it needs) and what names resolve
 * to: Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, Pod -> StatefulSet/DaemonSet,
 * Namespaces to their pods, Services to their cluster IPs and the endpoints behind them.
 */
#ifndef PF_KUBE_RESOLVE_H
#define PF_KUBE_RESOLVE_H

#include "addr.h"
#include "kube-informer.h"
#include "policy.h"

/* Bounds on what one object can make us keep. */
#define PF_KUBE_MAX_POD_IPS 16
#define PF_KUBE_MAX_SERVICE_IPS 16
#define PF_KUBE_MAX_SLICE_IPS 4096

struct pf_kube_cache;

int pf_kube_cache_new(struct pf_kube_cache **out);
void pf_kube_cache_free(struct pf_kube_cache *c);
/* The informer callbacks that feed this cache. */
void pf_kube_cache_handler(struct pf_kube_cache *c, struct pf_kube_handler *h);
/* Changes with every change of the cache's content. */
uint64_t pf_kube_cache_generation(const struct pf_kube_cache *c);
/* Changes only with objects workloads resolve from (not FencePolicies). */
uint64_t pf_kube_cache_workload_generation(const struct pf_kube_cache *c);
/* Objects held, per resource (stats, tests). */
size_t pf_kube_cache_count(const struct pf_kube_cache *c, enum pf_kube_res r);

/* A (kind, namespace, name) and the addresses and pod names it resolves to. */
struct pf_kube_workload {
	enum pf_kind kind;
	const char *namespace; /* for Namespace: the name, as in a policy ref */
	const char *name;
	struct pf_addr *ips;
	size_t n_ips;
	const char **pod_names; /* its pods by name (in namespace), sorted and unique; pods without
				 * an address yet included, finished ones not; for a Service the
				 * pods its selector picks; none for Pod and Namespace (the store
				 * matches those by name already) */
	size_t n_pods;
	uint64_t digest; /* of the address and pod name sets, never 0 */
	char *key;	 /* "kind\x1fnamespace\x1fname" */
};

struct pf_kube_workloads {
	struct pf_kube_workload *w;
	size_t n;
};

/* Every workload the cache knows, resolved. Strings point into the cache: use before it changes. */
int pf_kube_resolve(const struct pf_kube_cache *c, struct pf_kube_workloads *out);
void pf_kube_workloads_done(struct pf_kube_workloads *w);

/* FencePolicy and ClusterFencePolicy objects as the cache holds them (doc->policy NULL when
 * invalid); a ClusterFencePolicy has namespace "" and key "/name". */
struct pf_kube_policy {
	const char *namespace;
	const char *name;
	const char *resource_version;
	const struct pf_policy_doc *doc;
	char *key;	    /* "namespace/name" */
	char *version;	    /* "uid/generation" (or the resourceVersion when the object has no
			     * generation): changes with the spec, not with a status write */
	bool cluster;	    /* a ClusterFencePolicy */
	int64_t generation; /* metadata.generation, 0 when absent */
	/* The object's status as last written (by us or anyone): status.observedGeneration (-1
	 * when absent) and its Valid condition's fields (NULL when absent). */
	int64_t status_observed;
	const char *status_valid, *status_reason, *status_message, *status_transition;
};
int pf_kube_cache_policies(const struct pf_kube_cache *c, struct pf_kube_policy **out, size_t *n);
void pf_kube_policies_free(struct pf_kube_policy *p, size_t n);

#endif
