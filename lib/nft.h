/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-netns ruleset (doc/architecture.md, "The ruleset"), built with libnftnl and sent
 * with libmnl in one atomic batch: table `podfence`, base chain `output` at hook output /
 * type filter / priority raw-1 (-301), policy accept, rules in this order:
 *   1. meta oif 1 (lo) accept              traffic inside the pod is never queued
 *   2. meta mark REJECT_MARK tcp -> reject with tcp reset
 *   3. (verdict reuse on) a SYN whose (saddr . daddr . dport) is in set allowed4 (IPv4, not
 *      a fragment) or allowed6 (IPv6, TCP right after the fixed header) -> accept
 *   4. tcp flags & (syn|ack) == syn -> queue queue_num [bypass]
 *   5. fragments (IPv4, IPv6) -> queue
 * Native `queue` expression (family inet) where the kernel has it, else the xtables NFQUEUE
 * target revision 3 through nft_compat (one table in each of families ip and ip6).
 *
 * With cfg->flows, a second base chain `flows` at hook output after conntrack (priority -199:
 * conntrack's output hook runs at -200, so the chain at -301 sees packets before conntrack
 * does and knows no connection state), rules in this order:
 *   1. meta oif 1 (lo) accept
 *   2. meta mark REJECT_MARK udp -> reject with icmpx port-unreachable (icmp/icmpv6 in the
 *      ip/ip6 tables), tcp -> reject with tcp reset
 *   3. udp, ct state new, ct status not confirmed -> queue: the first packet of a UDP flow,
 *      exactly once (once accepted the entry is confirmed; later packets of the flow find
 *      it; a dropped first packet leaves none, so a retry is judged again)
 *   4. tcp without SYN, ct state new, not confirmed -> queue: a packet of a connection whose
 *      conntrack entry was removed (enforce_established), judged again
 * With cfg->dns or cfg->cut_inbound, a base chain `input` at hook input, priority
 * cfg->priority (conntrack ran at prerouting already), rules in this order:
 *   1. meta iif 1 (lo) accept: nothing the pod sends itself is read as an answer
 *   2. (dns) ip[6] saddr RESOLVER udp sport 53 -> queue, one rule per resolver of
 *      cfg->dns_from (none: no rule), so the engine reads each DNS answer from the pod's
 *      resolver before the pod does, and nobody else can make it read theirs
 *   3. (cut_inbound) tcp without SYN, or udp, ct state new, not confirmed -> queue: a packet
 *      from outside that would make a new conntrack entry, e.g. for a connection whose entry
 *      was cut, before the pod's next packet could match it as a reply
 *
 * Every function works in the calling thread's current netns (see netns.h to enter one).
 * No function shells out: only netlink.
 */
#ifndef PF_NFT_H
#define PF_NFT_H

#include <sys/types.h>

#include "addr.h"
#include "error.h"

#define PF_NFT_TABLE "podfence"
#define PF_NFT_CHAIN "output"
#define PF_NFT_DEFAULT_PRIORITY (-301)
#define PF_NFT_DEFAULT_QUEUE 1
#define PF_NFT_FLOW_CHAIN "flows"
#define PF_NFT_INPUT_CHAIN "input"
#define PF_NFT_FLOW_PRIORITY (-199) /* right after conntrack (NF_IP_PRI_CONNTRACK, -200) */
#define PF_REJECT_MARK 0x70660001u  /* "pf" + 1: verdict NF_REPEAT with this mark -> TCP RST */
/* Verdict reuse: the sets of connections already allowed, one per address family. */
#define PF_NFT_REUSE_SET4 "allowed4"
#define PF_NFT_REUSE_SET6 "allowed6"
/* Elements per set: past it an Allow is not remembered (the next SYN is queued again). The
 * kernel memory of the elements is charged to the engine (it adds them), and a pod allowed to
 * reach anything can make distinct destinations at will: about 100 KiB per pod and family. */
#define PF_NFT_REUSE_MAX 1024
#define PF_NFT_REUSE_TIMEOUT_MAX_MS (3600u * 1000u)

enum pf_queue_backend {
	PF_QUEUE_NATIVE, /* nft `queue` expression, family inet */
	PF_QUEUE_COMPAT, /* xt NFQUEUE v3 via nft_compat, families ip + ip6 */
};

struct pf_nft_config {
	enum pf_queue_backend backend;
	uint16_t queue_num;
	bool bypass;	  /* fail_mode=open: no listener -> accept instead of drop */
	int32_t priority; /* chain priority */
	uint32_t reject_mark;
	bool flows;	  /* the `flows` chain: UDP flows, and connections whose entry was cut */
	bool dns;	  /* the `input` chain queues the DNS answers the pod receives */
	bool cut_inbound; /* ... and packets from outside that start a new conntrack entry */
	const struct pf_addr *dns_from; /* the pod's resolvers (dns); at most 8 are used */
	size_t n_dns_from;
	int32_t flow_priority;
	/* Verdict reuse: 0 off (no sets, no reuse rule), else how long (ms) the kernel accepts
	 * SYNs of a (source, destination, port) the engine allowed without queueing them. */
	uint32_t reuse_timeout_ms;
};

/* Defaults: compat backend, queue 1, bypass on, priority -301, PF_REJECT_MARK; no flows or dns
 * chain (flow_priority PF_NFT_FLOW_PRIORITY when one is asked for); no reuse. */
void pf_nft_config_init(struct pf_nft_config *cfg);
/* "native" / "compat" */
const char *pf_nft_backend_name(enum pf_queue_backend b);

/*
 * Probe which backend the kernel supports, in the current netns: one batch that adds a
 * throwaway table with a native queue rule and deletes it again (nothing remains either way).
 * ENOENT/EOPNOTSUPP from the kernel -> PF_QUEUE_COMPAT. Other failures are returned.
 * Call once per process and remember the answer (the kernel's modules do not change).
 */
int pf_nft_probe_backend(enum pf_queue_backend *out, struct pf_error *err);

/*
 * Put the ruleset in place in the current netns atomically: one batch that removes any
 * `podfence` table of the other backend's families and, in ours, creates the table and base
 * chain or keeps them (never deleting a base chain in use: that unregisters its hook and
 * drops every packet queued through it), rewrites the chain's rules and creates or empties
 * the reuse sets. Either all of it applies or none (the old ruleset stays). A chain `output`
 * that is not our base chain is replaced; only when even that fails is the table replaced
 * whole.
 */
int pf_nft_install(const struct pf_nft_config *cfg, struct pf_error *err);

/* The same, and the netlink port id the batch was sent from (its NEWGEN notification carries
 * it: how a ruleset watch tells our own changes from anyone else's). fd: a socket of the
 * caller's in that netns (pf_nft_reuse_open) to send on, whose port id the caller knows; -1:
 * one of its own for this batch. Closing a netfilter socket right after a commit waits for the
 * kernel to free the rules it replaced (an RCU grace period: milliseconds), which a socket
 * kept open does not; the same holds for pf_nft_replace and pf_nft_restore. */
int pf_nft_install_as(int fd, const struct pf_nft_config *cfg, uint32_t *portid,
		      struct pf_error *err);

/* Replace our table(s) whole, in one transaction: the base chain too, so what was queued
 * through it is dropped. Only for a table whose contents are unknown (the ruleset watch lost
 * count of the chains a pod added to it). */
int pf_nft_replace(int fd, const struct pf_nft_config *cfg, uint32_t *portid, struct pf_error *err);

/* Delete the `podfence` tables (inet, ip, ip6) in the current netns; missing is fine.
 * cfg may be NULL (it is not needed: every family is removed). */
int pf_nft_remove(const struct pf_nft_config *cfg, struct pf_error *err);
/* The same on fd, a netfilter netlink socket opened in the netns (no socket of its own: the
 * caller chooses when to close, see pf_nfq_close_later). */
int pf_nft_remove_on(int fd, struct pf_error *err);

/*
 * Build the install batch (begin ... end) into buf without a kernel, for tests: returns the
 * bytes used, -ENOSPC when buf is too small, -EINVAL on a bad cfg. Every message but the
 * batch delimiters carries NLM_F_ACK, sequence numbers start at seq.
 */
ssize_t pf_nft_build_batch(const struct pf_nft_config *cfg, void *buf, size_t size, uint32_t seq);
/* The same for the removal batch. */
ssize_t pf_nft_build_remove_batch(void *buf, size_t size, uint32_t seq);

/* ---- verdict reuse: what the engine allowed, remembered in the kernel ---- */

struct pf_nft_reuse_elem {
	struct pf_addr src, dst; /* IPv4 as mapped (addr.h) */
	uint16_t dport;		 /* host order */
	bool v6;
};

/* A non-blocking NETLINK_NETFILTER socket in the current netns for pf_nft_reuse_add/flush and
 * the install, restore and replace batches (it stays in that netns after the thread leaves);
 * *portid: the port its batches carry, so the ruleset watch knows their notifications for
 * ours. */
int pf_nft_reuse_open(int *fd, uint32_t *portid);
/*
 * Add elements (n <= PF_NFT_REUSE_BATCH) in one transaction, without waiting: an element
 * that cannot be added (a full set) only means its next SYN is queued again. Answers to
 * earlier sends are read and dropped here, so the socket never fills.
 */
#define PF_NFT_REUSE_BATCH 32
int pf_nft_reuse_add(int fd, const struct pf_nft_config *cfg, const struct pf_nft_reuse_elem *e,
		     size_t n);
/* Empty every reuse set in one transaction and wait for the kernel's answer: on success no
 * element added before the call survives. Errors (a set gone: the ruleset was tampered with)
 * are returned; the caller restores the ruleset, which empties them too. */
int pf_nft_reuse_flush(int fd, const struct pf_nft_config *cfg, struct pf_error *err);
/* The batches without a kernel, for tests (like pf_nft_build_batch). */
ssize_t pf_nft_build_reuse_add_batch(const struct pf_nft_config *cfg,
				     const struct pf_nft_reuse_elem *e, size_t n, void *buf,
				     size_t size, uint32_t seq);
ssize_t pf_nft_build_reuse_flush_batch(const struct pf_nft_config *cfg, void *buf, size_t size,
				       uint32_t seq);

/* ---- the ruleset watch: who changed what in this netns ---- */

#define PF_NFT_MAX_EXTRA_CHAINS 8

struct pf_nft_chain_ref {
	int family;
	char name[256]; /* NFT_CHAIN_MAXNAMELEN */
};

/* What one committed generation (nftables transaction) changed, from its notifications. */
struct pf_nft_gen {
	bool touched;	    /* anything in our table (our families) */
	bool foreign_table; /* a table of another name (or ours in another family) was added */
	int foreign_family;
	char foreign_name[64];
	size_t n_chains; /* chains added to our table besides ours */
	bool chains_overflow;
	struct pf_nft_chain_ref chains[PF_NFT_MAX_EXTRA_CHAINS];
};

/*
 * Put our ruleset back in one transaction, changing only what differs: the table is created
 * or woken (dormant), the base chain created when missing (never deleted while it is ours:
 * that would unregister its hook and drop what is queued), its rules flushed and rewritten,
 * and chains someone added to our table (extra, at most PF_NFT_MAX_EXTRA_CHAINS) removed.
 * Falls back to replacing a chain `output` that is not ours, then to pf_nft_install_as.
 * *portid: the port id of the batch that applied.
 */
int pf_nft_restore(int fd, const struct pf_nft_config *cfg, const struct pf_nft_chain_ref *extra,
		   size_t n_extra, uint32_t *portid, struct pf_error *err);
/* The restore batch without a kernel, for tests (like pf_nft_build_batch). */
ssize_t pf_nft_build_restore_batch(const struct pf_nft_config *cfg, bool replace_chain,
				   const struct pf_nft_chain_ref *extra, size_t n_extra, void *buf,
				   size_t size, uint32_t seq);

/* A non-blocking NETLINK_NETFILTER socket subscribed to NFNLGRP_NFTABLES in the current netns. */
int pf_nft_monitor_open(int *fd);
typedef void (*pf_nft_gen_done_fn)(void *data, uint32_t portid, const struct pf_nft_gen *g);
/*
 * Read at most max_reads datagrams; each committed generation (NFT_MSG_NEWGEN, whose header
 * holds the port id of the socket that sent the transaction) is handed to done() with what it
 * changed, then g starts over; a generation cut by max_reads continues in g at the next call.
 * Returns 0 (more may be queued), -EAGAIN (drained), -ENOBUFS (notifications were lost), or
 * another -errno.
 */
int pf_nft_monitor_read(int fd, const struct pf_nft_config *cfg, struct pf_nft_gen *g,
			unsigned max_reads, pf_nft_gen_done_fn done, void *data);

#endif
