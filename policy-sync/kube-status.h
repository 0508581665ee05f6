/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * podfence-sync --kube writing back: the Lease that makes one instance of the cluster the
 * writer, and status.conditions (Valid, observedGeneration) on FencePolicy and
 * ClusterFencePolicy objects through their status subresource.
 */
#ifndef PF_KUBE_STATUS_H
#define PF_KUBE_STATUS_H

#include "kube-client.h"
#include "kube-resolve.h"

#define PF_KUBE_LEASE_NAME "podfence-sync"
#define PF_KUBE_LEASE_DEFAULT_NS "podfence-system"
#define PF_KUBE_LEASE_DEFAULT_S 15
#define PF_KUBE_LEASE_MAX_S 3600
/* At most this many status writes per pass: a new writer facing thousands of policies whose
 * status is stale does not stall the informers; the rest follow on the next passes. */
#define PF_KUBE_STATUS_BATCH 100

struct pf_kube_lease;

/* identity: holderIdentity (the node name); duration_s: leaseDurationSeconds we write. */
int pf_kube_lease_new(struct pf_kube_client *c, const char *namespace, const char *identity,
		      unsigned duration_s, struct pf_kube_lease **out);
void pf_kube_lease_free(struct pf_kube_lease *l);
/*
 * Acquire, renew or watch the Lease when due (every third of its duration; a holder that has
 * not renewed for a whole duration, as this process observed it, is taken over). True while
 * this process holds it. now_ns: CLOCK_MONOTONIC.
 */
bool pf_kube_lease_tick(struct pf_kube_lease *l, uint64_t now_ns);
/* When the next tick is due (CLOCK_MONOTONIC ns). */
uint64_t pf_kube_lease_due(const struct pf_kube_lease *l);
/* Give the Lease up on a clean exit, so that another instance takes over at once. */
void pf_kube_lease_release(struct pf_kube_lease *l);

struct pf_kube_status;

int pf_kube_status_new(struct pf_kube_status **out);
void pf_kube_status_free(struct pf_kube_status *s);
/*
 * Write the Valid condition on every policy whose status does not say what its current spec
 * is (at most PF_KUBE_STATUS_BATCH per call). Returns how many still differ (call again), or
 * a negative errno on a failure (retried later, logged once per streak).
 */
int pf_kube_status_write(struct pf_kube_status *s, struct pf_kube_client *c,
			 const struct pf_kube_policy *p, size_t n, uint64_t now_ns);

#endif
