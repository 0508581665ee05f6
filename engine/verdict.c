/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hot path: a queued SYN -> a cache lookup -> a verdict, with events handed off in memory. */
#include <netinet/in.h>

#include "counters.h"
#include "dns.h"
#include "events.h"
#include "pods.h"
#include "reload.h"
#include "trace.h"
#include "verdict.h"

/* after netinet/in.h: the uapi header defers to glibc then */
#include <linux/netfilter.h>

/*
 * A DNS answer on its way to the pod (the dns chain queues UDP from port 53 on input): from
 * the pod's resolver, its addresses are recorded for their names before the pod can read it,
 * so the connection that follows is judged by them. Never held back: it is an answer to a
 * query the pod was allowed to send.
 */
static uint32_t dns_answer(struct pf_pod *p, const struct pf_verdict_ctx *vc,
			   const struct pf_tuple *t)
{
	struct pf_dns_answer a;

	if (t->proto != IPPROTO_UDP || t->sport != 53 ||
	    !pf_pod_names_is_resolver(&p->names, &t->src) ||
	    pf_dns_parse(t->payload, t->payload_len, &a) < 0) {
		vc->stats->dns_ignored++;
		return NF_ACCEPT;
	}
	vc->stats->dns_answers++;
	pf_pod_names_add(&p->names, &a, pf_now_ms());
	return NF_ACCEPT;
}

void pf_verdict_note_cut(struct pf_pod *p, uint8_t proto, uint16_t pod_port,
			 const struct pf_addr *remote, uint16_t remote_port, int64_t now_ms)
{
	struct pf_cut_flows *c = p->cut;

	if (!c && !(c = p->cut = calloc(1, sizeof(*c))))
		return; /* the cut stands; only a packet from the far end may go unjudged */
	c->e[c->next].remote = *remote;
	c->e[c->next].remote_port = remote_port;
	c->e[c->next].pod_port = pod_port;
	c->e[c->next].proto = proto;
	c->e[c->next].until_ms = now_ms + PF_CUT_FLOWS_MS;
	c->next = (c->next + 1) % PF_CUT_FLOWS_KEEP;
}

static bool was_cut(const struct pf_pod *p, const struct pf_tuple *t, int64_t now_ms)
{
	const struct pf_cut_flows *c = p->cut;

	for (size_t i = 0; c && i < PF_CUT_FLOWS_KEEP; i++)
		if (c->e[i].until_ms > now_ms && c->e[i].proto == t->proto &&
		    c->e[i].remote_port == t->sport && c->e[i].pod_port == t->dport &&
		    pf_addr_eq(&c->e[i].remote, &t->src))
			return true;
	return false;
}

uint32_t pf_verdict_judge(struct pf_pod *p, const struct pf_verdict_ctx *vc,
			  const struct pf_addr *src, const struct pf_addr *dst, uint8_t proto,
			  uint16_t dport, struct pf_verdict *v)
{
	const struct pf_cache *cache = pf_pod_cache(p, pf_reload_cache(vc->reload));
	uint32_t g = PF_CACHE_NO_GROUP;

	/* Policies apply to pods, and the queue tells us which pod sent the packet: judge it
	 * as that pod. An address of its own in the cache decides as itself; any other source
	 * (spoofed with a raw socket, or an address added since the last build) is judged by
	 * the pod's policy group, never as whichever other pod owns it. A pod with no address
	 * the cache knows has no group: the default action. */
	for (size_t i = 0; i < p->n_ips && !p->unresolved; i++)
		if (pf_addr_eq(&p->ips[i], src)) {
			g = pf_cache_source_group(cache, src);
			break;
		}
	if (g == PF_CACHE_NO_GROUP)
		g = p->cache_group;
	p->names.now_ms = pf_now_ms();
	/* The cache pointer is swapped only between epoll rounds, never during this call. */
	pf_cache_lookup_flow(cache, g, dst, proto == IPPROTO_UDP ? PF_PROTO_UDP : PF_PROTO_TCP,
			     dport, &p->names.view, v);
	/* A pod registered while builds fail is not in the cache: the engine is up and cannot
	 * judge it, so it is refused (the default action if that refuses, else Deny) whatever
	 * the fail mode, which is about the engine being down (pods.c). */
	if (_unlikely_(p->unresolved) &&
	    (v->action == PF_ACTION_ALLOW || v->action == PF_ACTION_ALERT))
		v->action = PF_ACTION_DENY;
	return g;
}

uint32_t pf_verdict_cb(void *userdata, uint32_t packet_id, const struct pf_tuple *t, uint32_t *mark)
{
	struct pf_pod *p = userdata;
	const struct pf_verdict_ctx *vc = p->verdict;
	const struct pf_cache *cache = pf_pod_cache(p, pf_reload_cache(vc->reload));
	struct pf_verdict v, av;

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
	if (t->inbound) {
		/* the input chain: a DNS answer, or a packet from outside starting a new entry */
		if (_unlikely_(p->cut) && was_cut(p, t, pf_now_ms())) {
			vc->stats->dropped++;
			return NF_DROP;
		}
		if (t->proto == IPPROTO_UDP && t->sport == 53)
			return dns_answer(p, vc, t);
		return NF_ACCEPT;
	}
	if (t->proto == IPPROTO_UDP)
		vc->stats->udp_judged++;
	pf_verdict_judge(p, vc, &t->src, &t->dst, t->proto, t->dport, &v);
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
		pf_cache_lookup_flow(ac, pf_cache_source_group(ac, src), &t->dst,
				     t->proto == IPPROTO_UDP ? PF_PROTO_UDP : PF_PROTO_TCP,
				     t->dport, NULL, &av);
		if (pf_audit_disagrees(&v, &av))
			pf_events_record_audit(vc->events, p, t, &av, pf_now_ms());
	}
	pf_trace_verdict(vc->trace, p, t, &v, &av, pf_now_ms());
	/* Remembered in the pod's kernel: the next SYN of this (source, destination, port) is
	 * accepted there until the sets are emptied (a new cache, an address change) or it
	 * times out. The key holds the source as sent, so a spoofed one is judged as above.
	 * Never one an Audit rule matched: its would-be decision must be seen each time. TCP
	 * only: the sets' key has no protocol and the rule that reads them matches TCP SYNs, so a
	 * UDP Allow there would let a SYN to the same port past a TCP Deny. */
	if (vc->reuse && t->proto == IPPROTO_TCP && pf_verdict_reusable(&v) && !av.matched &&
	    !p->unresolved && !p->reuse_stale && p->n_reuse < PF_ARRAY_SIZE(p->reuse))
		p->reuse[p->n_reuse++] = (struct pf_nft_reuse_elem){
		    .src = t->src, .dst = t->dst, .dport = t->dport, .v6 = t->v6};
	switch (v.action) {
	case PF_ACTION_DENY:
		vc->stats->dropped++;
		return NF_DROP;
	case PF_ACTION_REJECT:
		/* Back through the chain with the mark: the `reject with tcp reset` (UDP: port
		 * unreachable) rule ahead of the queue rule answers the client at once. */
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
