/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A bounded parser for DNS answers (A, AAAA, CNAME chains): what a pod learnt for fqdn rules. */
#ifndef PF_DNS_H
#define PF_DNS_H

#include "addr.h"

/* Bounds: past them records are ignored, never allocated for. */
#define PF_DNS_MAX_NAME 253    /* text form, no trailing dot */
#define PF_DNS_MAX_CHAIN 8     /* the question's name and the CNAMEs that follow from it */
#define PF_DNS_MAX_ADDRS 32    /* addresses taken from one answer */
#define PF_DNS_MAX_RECORDS 256 /* answer records looked at */

struct pf_dns_answer {
	uint16_t id;
	uint16_t qtype; /* 1 A, 28 AAAA, ... */
	/* names[0] is the question's name; names[1..] the CNAME chain from it, in order. Lower
	 * case, no trailing dot. */
	char names[PF_DNS_MAX_CHAIN][PF_DNS_MAX_NAME + 1];
	size_t n_names;
	struct {
		struct pf_addr addr; /* IPv4 mapped, as everywhere */
		uint32_t ttl;	     /* seconds, as sent (a value with the top bit set reads 0) */
	} addrs[PF_DNS_MAX_ADDRS];
	size_t n_addrs;
};

/*
 * Parse one DNS message (msg, len: the UDP payload, or a TCP message without its length
 * prefix) as a response. Addresses are taken from A and AAAA records of class IN whose owner
 * is on the chain, so every address in out is one the question's name resolves to (through
 * names[1..] when there are CNAMEs). 0 on a well-formed NOERROR response with one question
 * (n_addrs may be 0); -EINVAL on a query, a malformed or truncated message, compression
 * loops, names with bytes other than letters, digits, '-' and '_'; -ENOENT on an error
 * response (NXDOMAIN and the like) or a truncated (TC) one.
 */
int pf_dns_parse(const uint8_t *msg, size_t len, struct pf_dns_answer *out);

#endif
