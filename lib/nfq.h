/*
 * One nfqueue binding per enforced netns (libnetfilter_queue, nfnetlink under the hood):
 * opened inside the netns (caller has entered it), copy range just the headers, fail-open
 * flag, non-blocking fd for the engine's epoll loop.
 *
 * DRAFT CONTRACT: owned by the netlink maintainer.
 */
#ifndef PF_NFQ_H
#define PF_NFQ_H

#include "packet.h"
#include "error.h"

struct pf_nfq;

/* Called for each queued packet; returns the verdict (NF_ACCEPT, NF_DROP, NF_REPEAT) and,
 * with NF_REPEAT, the mark to set (*mark). tuple is NULL when the packet did not parse. */
typedef uint32_t (*pf_nfq_cb)(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
			      uint32_t *mark);

/* fail_open: NFQA_CFG_F_FAIL_OPEN (accept when the queue is full). */
int pf_nfq_open(uint16_t queue_num, bool fail_open, pf_nfq_cb cb, void *userdata, struct pf_nfq **out,
		struct pf_error *err);
void pf_nfq_close(struct pf_nfq *q);
int pf_nfq_fd(const struct pf_nfq *q);
/* Drain what is readable (non-blocking), calling cb and sending verdicts. Returns packets
 * handled or -errno (ENOBUFS is counted and not fatal). */
int pf_nfq_dispatch(struct pf_nfq *q);

#endif
