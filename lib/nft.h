/*
 * The per-netns ruleset of SPEC §5, built with libnftnl and sent with libmnl in one atomic
 * batch: table `podfence`, base chain at hook output / type filter / priority raw-1 (-301),
 * rules: oif lo accept; meta mark REJECT_MARK reject with tcp reset; TCP SYN (ACK clear) ->
 * queue queue_num [bypass]. Native `queue` (family inet) where the kernel has it, else the
 * xtables NFQUEUE target v3 through nft_compat (families ip and ip6).
 *
 * DRAFT CONTRACT: owned by the netlink maintainer.
 */
#ifndef PF_NFT_H
#define PF_NFT_H

#include "error.h"

#define PF_NFT_TABLE "podfence"
#define PF_NFT_CHAIN "output"
#define PF_NFT_DEFAULT_PRIORITY (-301)
#define PF_REJECT_MARK 0x70660001u /* "pf" + 1: verdict NF_REPEAT with this mark -> TCP RST */

enum pf_queue_backend {
	PF_QUEUE_NATIVE,  /* nft `queue` expression, family inet */
	PF_QUEUE_COMPAT,  /* xt NFQUEUE v3 via nft_compat, families ip + ip6 */
};

struct pf_nft_config {
	enum pf_queue_backend backend;
	uint16_t queue_num;
	bool bypass;	   /* fail_mode=open */
	int32_t priority;  /* chain priority */
	uint32_t reject_mark;
};

/* Probe, in the calling thread's current netns, which backend the kernel supports. */
int pf_nft_probe_backend(enum pf_queue_backend *out, struct pf_error *err);
/* Replace (delete-if-exists + create) the ruleset in the current netns, atomically. */
int pf_nft_install(const struct pf_nft_config *cfg, struct pf_error *err);
/* Delete the table(s) in the current netns; missing is fine. */
int pf_nft_remove(const struct pf_nft_config *cfg, struct pf_error *err);
/* Build the batch into buf without a kernel (for tests): returns bytes used or -errno. */
ssize_t pf_nft_build_batch(const struct pf_nft_config *cfg, void *buf, size_t size, uint32_t seq);

#endif
