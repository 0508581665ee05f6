/* The hot path: a queued SYN -> a cache lookup -> a verdict, with events handed off in memory. */
#include "engine.h"

/* after netinet/in.h (through engine.h): the uapi header defers to glibc then */
#include <linux/netfilter.h>

uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *t, uint32_t *mark)
{
	struct pf_pod *p = userdata;
	struct engine *e = p->engine;
	const struct pf_addr *src;
	struct pf_verdict v;

	p->n_verdicts++;
	if (!t) {
		/* The rule matched a TCP SYN, so a packet we cannot read (a header chain past the
		 * copy range, a cut header, a malformed one) is one a pod made: Deny, whatever the
		 * fail mode (which is about the engine being down). One event per pod and window. */
		int64_t now = pf_now_ms();

		e->stats.unparsed++;
		e->stats.dropped++;
		if (!p->unparsed_event_ms || now - p->unparsed_event_ms >= e->events.window_ms) {
			p->unparsed_event_ms = now;
			pf_events_note(&e->events, p, "unparsed", NULL, NULL, 0, PF_ACTION_DENY, now);
		}
		return NF_DROP;
	}
	/* Policies apply to pods, and the queue tells us which pod sent the SYN: judge it as
	 * one of that pod's addresses. A source the pod does not own (spoofed with a raw
	 * socket, or an address added a moment ago and not seen yet) is judged as the pod's
	 * first known address, never as whichever other pod owns it. */
	src = &t->src;
	if (p->n_ips) {
		bool own = false;

		for (size_t i = 0; !own && i < p->n_ips; i++)
			own = pf_addr_eq(&p->ips[i], src);
		if (_unlikely_(!own))
			src = &p->ips[0];
	} else {
		/* No address of its own known (none global yet, or a scope-host one used as
		 * source): "::" belongs to no pod, so the default action, never another pod's
		 * policies. */
		static const struct pf_addr no_addr;

		src = &no_addr;
	}
	/* The cache pointer is swapped only between epoll rounds, never during this call. */
	pf_cache_lookup(e->cache, src, &t->dst, t->dport, &v);
	if (v.action != PF_ACTION_ALLOW || v.log)
		pf_events_record(&e->events, p, t, &v, pf_now_ms());
	switch (v.action) {
	case PF_ACTION_DENY:
		e->stats.dropped++;
		return NF_DROP;
	case PF_ACTION_REJECT:
		/* Back through the chain with the mark: the `reject with tcp reset` rule ahead of
		 * the queue rule answers the client at once. */
		e->stats.rejected++;
		*mark = e->nft.reject_mark;
		return NF_REPEAT;
	case PF_ACTION_ALLOW:
	case PF_ACTION_ALERT:
	default:
		e->stats.accepted++;
		return NF_ACCEPT;
	}
}
