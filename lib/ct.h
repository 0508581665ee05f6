/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The conntrack table of the current netns (libnetfilter_conntrack): list flows, cut some. */
#ifndef PF_CT_H
#define PF_CT_H

#include "addr.h"
#include "error.h"

/* Entries looked at in one pass; a netns with more is cut in several passes. */
#define PF_CT_MAX_CUT 65536

struct pf_ct_flow {
	struct pf_addr src, dst; /* the original direction: who opened it */
	uint16_t sport, dport;	 /* host order */
	uint8_t proto;		 /* IPPROTO_TCP or IPPROTO_UDP */
};

/* Whether to cut f: true deletes its entry. */
typedef bool (*pf_ct_judge_fn)(void *data, const struct pf_ct_flow *f);

/*
 * List the TCP (established: ESTABLISHED, and the closing states after it) and UDP entries
 * of the current netns, IPv4 and IPv6, ask judge about each and delete those it says to
 * cut, so that the flow's next packet is judged again. *n_seen, *n_cut (may be NULL): how
 * many were looked at and deleted (an entry gone meanwhile is not counted). 0 or -errno with
 * err set.
 */
int pf_ct_cut(pf_ct_judge_fn judge, void *data, size_t *n_seen, size_t *n_cut,
	      struct pf_error *err);

#endif
