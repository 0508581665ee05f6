/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hot path: a queued SYN -> a cache lookup -> a verdict, with events handed off in memory. */
#include <netinet/in.h>

#include "counters.h"
#include "events.h"
#include "pods.h"
#include "reload.h"
#include "trace.h"
#include "verdict.h"

/* after netinet/in.h: the uapi header defers to glibc then */
#include <linux/netfilter.h>

uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *t, uint32_t *mark)
{
	struct pf_pod *p = userdata;
	const struct pf_verdict_ctx *vc = p->verdict;
	const struct pf_cache *cache = pf_reload_cache(vc->reload);
	struct pf_verdict v, av;
	uint32_t g;

	p->n_verdicts++;
	if (!t) {
		/* The rule matched a TCP SYN, so a packet we cannot read (a header chain past the
		 * copy range, a cut header, a malformed one) is one a pod made: Deny, whatever the
		 * fail mode (which is about the engine being down). One event per pod and window.
		 */
		int64_t now = pf_now_ms();

		vc->stats->unparsed++;
		vc->stats->dropped++;
		if (!p->unparsed_event_ms || now - p->unparsed_event_ms >= vc->events->window_ms) {
			p->unparsed_event_ms = now;
			pf_events_note(vc->events, p, "unparsed", NULL, NULL, 0, PF_ACTION_DENY,
				       now);
		}
		return NF_DROP;
	}
	/* Policies apply to pods, and the queue tells us which pod sent the SYN: judge it as
	 * that pod. An address of its own in the cache decides as itself; any other source
	 * (spoofed with a raw socket, or an address added since the last build) is judged by
	 * the pod's policy group, never as whichever other pod owns it. A pod with no address
	 * the cache knows has no group: the default action. */
	g = PF_CACHE_NO_GROUP;
	for (size_t i = 0; i < p->n_ips && !p->unresolved; i++)
		if (pf_addr_eq(&p->ips[i], &t->src)) {
			g = pf_cache_source_group(cache, &t->src);
			break;
		}
	if (g == PF_CACHE_NO_GROUP)
		g = p->cache_group;
	/* The cache pointer is swapped only between epoll rounds, never during this call. */
	pf_cache_lookup_group(cache, g, &t->dst, t->dport, &v);
	/* A pod registered while builds fail is not in the cache: the engine is up and cannot
	 * judge it, so it is refused (the default action if that refuses, else Deny) whatever
	 * the fail mode, which is about the engine being down (pods.c). */
	if (_unlikely_(p->unresolved) &&
	    (v.action == PF_ACTION_ALLOW || v.action == PF_ACTION_ALERT))
		v.action = PF_ACTION_DENY;
	if (v.action != PF_ACTION_ALLOW || v.log)
		pf_events_record(vc->events, p, t, &v, pf_now_ms());
	/* Audit policies: judged apart, by the pod's own address (a spoofed source is the pod's
	 * all the same), recorded only where they would have decided otherwise. */
	av.matched = false;
	if (_unlikely_(pf_cache_audit(cache) != NULL) && p->n_ips) {
		const struct pf_cache *ac = pf_cache_audit(cache);
		const struct pf_addr *src = &p->ips[0];

		for (size_t i = 0; i < p->n_ips; i++)
			if (pf_addr_eq(&p->ips[i], &t->src))
				src = &t->src;
		pf_cache_lookup(ac, src, &t->dst, t->dport, &av);
		if (pf_audit_disagrees(&v, &av))
			pf_events_record_audit(vc->events, p, t, &av, pf_now_ms());
	}
	pf_trace_verdict(vc->trace, p, t, &v, &av, pf_now_ms());
	switch (v.action) {
	case PF_ACTION_DENY:
		vc->stats->dropped++;
		return NF_DROP;
	case PF_ACTION_REJECT:
		/* Back through the chain with the mark: the `reject with tcp reset` rule ahead of
		 * the queue rule answers the client at once. */
		vc->stats->rejected++;
		*mark = vc->reject_mark;
		return NF_REPEAT;
	case PF_ACTION_ALLOW:
	case PF_ACTION_ALERT:
	default:
		vc->stats->accepted++;
		return NF_ACCEPT;
	}
}
