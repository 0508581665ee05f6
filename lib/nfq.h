/*
 * One nfqueue binding per enforced netns (libnetfilter_queue's mnl-based message helpers over
 * a plain libmnl socket): opened inside the netns (the caller has entered it; the socket stays
 * bound to that netns after the thread leaves), copy range just the headers, fail-open flag,
 * non-blocking fd for the engine's epoll loop. Verdicts of one read batch go out in one send.
 */
#ifndef PF_NFQ_H
#define PF_NFQ_H

#include <linux/netfilter.h> /* NF_ACCEPT, NF_DROP, NF_REPEAT */

#include "packet.h"
#include "error.h"

/* Bytes of each packet copied to user space: IPv6 (40) + extension headers + TCP (<= 60). */
#define PF_NFQ_COPY_RANGE 256
#define PF_NFQ_QUEUE_MAXLEN 4096

struct pf_nfq;

/* Called for each queued packet; returns the verdict (NF_ACCEPT, NF_DROP, NF_REPEAT) and,
 * with NF_REPEAT, the mark to set (*mark, e.g. PF_REJECT_MARK from nft.h: the packet
 * re-traverses the chain and is rejected with a TCP reset). tuple is NULL when the packet
 * did not parse (not TCP, truncated, malformed). */
typedef uint32_t (*pf_nfq_cb)(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
			      uint32_t *mark);

struct pf_nfq_stats {
	uint64_t packets;	/* packets handed to the callback */
	uint64_t unparsed;	/* ... of which with tuple == NULL */
	uint64_t enobufs;	/* receive overruns (packets the kernel could not queue to us) */
	uint64_t send_errors;	/* verdict sends that failed */
	uint64_t kernel_errors; /* error messages from the kernel (e.g. verdict for a gone id) */
	uint64_t recv_calls;	/* receive syscalls that returned data */
};

/* Bind queue_num in the current netns. fail_open: NFQA_CFG_F_FAIL_OPEN (accept when the
 * queue is full). -EPERM when another socket in this netns already holds the queue (the
 * kernel's answer; also without CAP_NET_ADMIN); err says so. */
int pf_nfq_open(uint16_t queue_num, bool fail_open, pf_nfq_cb cb, void *userdata,
		struct pf_nfq **out, struct pf_error *err);
/* Unbind and close; NULL is fine. The kernel drops packets still waiting for our verdict
 * (their senders retransmit the SYN); later SYNs follow the rule's bypass flag. */
void pf_nfq_close(struct pf_nfq *q);
int pf_nfq_fd(const struct pf_nfq *q);
uint16_t pf_nfq_queue_num(const struct pf_nfq *q);
/* Drain what is readable (non-blocking), calling cb and sending verdicts. Returns packets
 * handled (0 when nothing was readable) or -errno (ENOBUFS is counted and not fatal). */
int pf_nfq_dispatch(struct pf_nfq *q);
void pf_nfq_get_stats(const struct pf_nfq *q, struct pf_nfq_stats *out);

#endif
