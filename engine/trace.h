/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live verdicts for `podfencectl trace`: the verdict path copies each judged connection into
 * the ring of every subscriber whose filter takes it (no allocation, no system call); the
 * control socket sends the rings out on its tick. A ring that is full loses the line, counted:
 * a slow reader never slows a verdict.
 */
#ifndef PF_ENGINE_TRACE_H
#define PF_ENGINE_TRACE_H

#include "packet.h"
#include "ruleset.h"

#define PF_TRACE_MAX_SUBS 4
#define PF_TRACE_RING 1024 /* lines a subscriber may have waiting */

struct pf_pod;
struct pf_trace_sub;

struct pf_trace {
	struct pf_trace_sub *subs[PF_TRACE_MAX_SUBS];
	unsigned n_subs;
};

/* Filter: pod "NAMESPACE/NAME" (NULL: every pod), action (-1: every action). -EBUSY when
 * PF_TRACE_MAX_SUBS are tracing already. */
int pf_trace_subscribe(struct pf_trace *t, const char *pod, int action, struct pf_trace_sub **out);
void pf_trace_unsubscribe(struct pf_trace *t, struct pf_trace_sub *s);
/* The verdict path: v is the verdict given, av what the Audit policies would do (may be NULL). */
void pf_trace_verdict_slow(struct pf_trace *t, const struct pf_pod *p, const struct pf_tuple *tp,
			   const struct pf_verdict *v, const struct pf_verdict *av, int64_t now_ms);
static inline void pf_trace_verdict(struct pf_trace *t, const struct pf_pod *p,
				    const struct pf_tuple *tp, const struct pf_verdict *v,
				    const struct pf_verdict *av, int64_t now_ms)
{
	if (t && t->n_subs)
		pf_trace_verdict_slow(t, p, tp, v, av, now_ms);
}
/* Send what s holds to fd, one JSON object per message, without blocking. 0 (the rest stays
 * for later when the socket is full), or -EPIPE when the reader is gone. */
int pf_trace_flush(struct pf_trace_sub *s, int fd);

#endif
