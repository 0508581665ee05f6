/* SPDX-License-Identifier: GPL-2.0-or-later */
/* enforce_established (flows.h): one conntrack dump per pod, deletes for what is now denied. */
#include <netinet/in.h>

#include "counters.h"
#include "ct.h"
#include "events.h"
#include "flows.h"
#include "log.h"
#include "pods.h"
#include "verdict.h"

struct cut_ctx {
	struct pf_pod *pod;
	const struct pf_verdict_ctx *vc;
	int64_t now_ms;
};

/* Traffic inside the pod (to itself, over lo) is never judged, so never cut either. */
static bool inside(const struct pf_pod *p, const struct pf_addr *dst)
{
	static const uint8_t v6_lo[16] = {[15] = 1};

	if ((pf_addr_is_v4(dst) && dst->b[12] == 127) || !memcmp(dst->b, v6_lo, 16))
		return true;
	for (size_t i = 0; i < p->n_ips; i++)
		if (pf_addr_eq(&p->ips[i], dst))
			return true;
	return false;
}

static bool judge(void *data, const struct pf_ct_flow *f)
{
	struct cut_ctx *c = data;
	struct pf_pod *p = c->pod;
	struct pf_verdict v;
	bool own = false;

	/* Only what the pod opened is egress: a connection into the pod is not ours to judge. */
	for (size_t i = 0; i < p->n_ips && !own; i++)
		own = pf_addr_eq(&p->ips[i], &f->src);
	if (!own || inside(p, &f->dst))
		return false;
	pf_verdict_judge(p, c->vc, &f->src, &f->dst, f->proto, f->dport, &v);
	if (v.action != PF_ACTION_DENY && v.action != PF_ACTION_REJECT)
		return false;
	pf_events_note_flow(c->vc->events, p, "cut", &f->src, &f->dst, f->dport, f->proto, v.action,
			    c->now_ms);
	pf_verdict_note_cut(p, f->proto, f->sport, &f->dst, f->dport, c->now_ms);
	return true;
}

void pf_flows_cut(struct pf_pods *reg, const struct pf_verdict_ctx *vc)
{
	for (struct pf_pod *p = pf_pods_list(reg); p; p = p->next) {
		struct cut_ctx c = {.pod = p, .vc = vc, .now_ms = pf_now_ms()};
		struct pf_error err = {};
		size_t seen = 0, cut = 0;
		int saved = -1, r;

		if (p->dead || !p->active)
			continue;
		r = pf_netns_enter(p->netns_fd, &saved);
		if (r < 0) {
			log_warning_errno(r, "Pod %s/%s: cannot enter its netns to cut flows: %m",
					  p->namespace, p->name);
			continue;
		}
		r = pf_ct_cut(judge, &c, &seen, &cut, &err);
		pf_netns_leave(&saved);
		if (r < 0)
			log_warning("Pod %s/%s: cutting denied flows: %s", p->namespace, p->name,
				    err.msg);
		vc->stats->flows_cut += cut;
		if (cut)
			log_info(
			    "Pod %s/%s: cut %zu of %zu established flows the new policies deny",
			    p->namespace, p->name, cut, seen);
	}
}
