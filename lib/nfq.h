/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One nfqueue binding per enforced netns (libnetfilter_queue's mnl-based message helpers over
 * a plain libmnl socket): opened inside the netns (the caller has entered it; the socket stays
 * bound to that netns after the thread leaves), copy range the whole header chain up to a
 * bound, non-blocking fd for the engine's epoll loop. Verdicts of one read batch go out in one
 * send. The queue never accepts unjudged on overload (no NFQA_CFG_F_FAIL_OPEN): a full queue
 * drops, and the kernel's drop counters are read back for the stats. A verdict that could not
 * be sent is made good by a batch verdict (drop every packet up to that id), so no packet
 * holds a queue slot for ever.
 */
#ifndef PF_NFQ_H
#define PF_NFQ_H

#include <linux/netfilter.h> /* NF_ACCEPT, NF_DROP, NF_REPEAT */

#include "packet.h"
#include "error.h"

/* Bytes of each packet copied to user space: the IP header, any extension headers and the
 * TCP header must lie inside it. A SYN whose TCP header starts later (an IPv6 header chain
 * longer than about 3 KiB) cannot be read and is judged Deny; the message still fits one
 * receive slot (nfq.c), so it is never truncated. */
#define PF_NFQ_COPY_RANGE 3072
/* Packets the kernel holds for our verdict per queue; past it, new SYNs are dropped (and
 * retransmitted by their senders), never accepted. */
#define PF_NFQ_QUEUE_MAXLEN 4096
#define PF_NFQ_QUEUE_MAXLEN_MAX 1048576
/* Packets read per dispatch call: the engine's loop calls each ready queue once per round,
 * so one flooding netns delays another's verdict by at most this many. */
#define PF_NFQ_ROUND_MAX 8

struct pf_nfq;

/* Called for each queued packet; returns the verdict (NF_ACCEPT, NF_DROP, NF_REPEAT) and,
 * with NF_REPEAT, the mark to set (*mark, e.g. PF_REJECT_MARK from nft.h: the packet
 * re-traverses the chain and is rejected with a TCP reset, or ICMP port unreachable for UDP).
 * tuple (TCP or UDP: tuple->proto; tuple->inbound for the input hook) is NULL when the packet
 * did not parse (neither TCP nor UDP, headers past the copy range, truncated, malformed): such
 * a packet is dropped whatever cb returns (cb still sees it, to count it). */
typedef uint32_t (*pf_nfq_cb)(void *userdata, uint32_t packet_id, const struct pf_tuple *tuple,
			      uint32_t *mark);

struct pf_nfq_stats {
	uint64_t packets;	/* packets handed to the callback */
	uint64_t unparsed;	/* ... of which with tuple == NULL */
	uint64_t enobufs;	/* receive overruns (packets the kernel could not queue to us) */
	uint64_t send_errors;	/* verdict sends that failed */
	uint64_t kernel_errors; /* error messages from the kernel (e.g. verdict for a gone id) */
	uint64_t recv_calls;	/* receive syscalls that returned data */
	uint64_t truncated;	/* messages cut by the receive slot (their packet is dropped) */
	uint64_t verdicts_lost; /* packets whose verdict could not be sent (later batch-dropped) */
	uint64_t recoveries;	/* batch verdicts that dropped packets with a lost verdict */
	/* The kernel's counters for this queue (/proc/net/netfilter/nfnetlink_queue of the
	 * netns), read by pf_nfq_get_stats: */
	uint64_t queue_dropped; /* dropped because the queue was full */
	uint64_t user_dropped;	/* dropped because our socket could not take the message */
	uint64_t queue_total;	/* (a gauge) waiting for our verdict right now */
};

/* Bind queue_num in the current netns, holding at most maxlen packets (0: the default
 * PF_NFQ_QUEUE_MAXLEN). -EPERM when another socket in this netns already holds the queue (the
 * kernel's answer; also without CAP_NET_ADMIN); err says so. */
int pf_nfq_open(uint16_t queue_num, uint32_t maxlen, pf_nfq_cb cb, void *userdata,
		struct pf_nfq **out, struct pf_error *err);
/* Unbind and close; NULL is fine. The kernel drops packets still waiting for our verdict
 * (their senders retransmit the SYN); later SYNs follow the rule's bypass flag. */
void pf_nfq_close(struct pf_nfq *q);
/*
 * Unbind the queue now (the same packets dropped as by pf_nfq_close; the queue number is free
 * again at once), free q, and return its socket for the caller to close later (-1: it could
 * not be unbound apart, so it was closed here). The last close of a netfilter netlink socket
 * waits for nf_tables' pending destroy work (an RCU grace period, ~15 ms here, after a table
 * was removed): a loop that must not stall hands the fd to a thread that may.
 */
int pf_nfq_close_later(struct pf_nfq *q);
int pf_nfq_fd(const struct pf_nfq *q);
uint16_t pf_nfq_queue_num(const struct pf_nfq *q);
/* Read up to PF_NFQ_ROUND_MAX packets (non-blocking), calling cb and sending verdicts; the
 * rest stays readable for the next call. Returns packets handled (0 when nothing was
 * readable) or -errno (ENOBUFS is counted and not fatal). */
int pf_nfq_dispatch(struct pf_nfq *q);
/* Periodic work (call about every 100 ms): retry a batch verdict for lost verdicts that could
 * not be sent yet. True while one is still owed. */
bool pf_nfq_tick(struct pf_nfq *q);
/* Our counters plus the kernel's for this queue (a read of the proc file). */
void pf_nfq_get_stats(const struct pf_nfq *q, struct pf_nfq_stats *out);
/* Add q's counts to sum (the kernel's gauge queue_total excepted). */
void pf_nfq_add_stats(struct pf_nfq_stats *sum, const struct pf_nfq *q);
/* Fault injection for tests: the next n verdict sends are lost as if sendmsg had failed;
 * receive slots of bytes (64 up to the default) so that messages arrive truncated. */
void pf_nfq_test_lose_sends(struct pf_nfq *q, unsigned n);
void pf_nfq_test_rx_slot(struct pf_nfq *q, size_t bytes);

#endif
