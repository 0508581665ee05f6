/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IPv4/IPv6 addresses and prefixes as one type, comparable. */
#ifndef PF_ADDR_H
#define PF_ADDR_H

#include <netinet/in.h>

#include "error.h"

/* IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) so one key type serves both. */
struct pf_addr {
	uint8_t b[16];
};

struct pf_prefix {
	struct pf_addr addr; /* host bits zero */
	uint8_t len;	     /* 0..128 in the mapped space: an IPv4 /n is 96+n */
};

#define PF_ADDR_STRLEN 46
#define PF_PREFIX_STRLEN 50

bool pf_addr_is_v4(const struct pf_addr *a);
void pf_addr_from_v4(struct pf_addr *a, const void *in4); /* network order, 4 bytes */
void pf_addr_from_v6(struct pf_addr *a, const void *in6); /* 16 bytes */
/* Parse "10.0.0.1" or "fd00::1". 0 or -EINVAL. */
int pf_addr_parse(const char *s, struct pf_addr *a);
/* Format into buf (PF_ADDR_STRLEN), returns buf. IPv4 prints dotted. */
const char *pf_addr_fmt(const struct pf_addr *a, char *buf);
int pf_addr_cmp(const struct pf_addr *a, const struct pf_addr *b);
static inline bool pf_addr_eq(const struct pf_addr *a, const struct pf_addr *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

/*
 * Parse "10.20.0.0/16", "fd00::/64", or a single address (a /32 or /128).
 * Host bits set is an error (-EINVAL, message in err names it), as Kubernetes' NetworkPolicy.
 */
int pf_prefix_parse(const char *s, struct pf_prefix *p, struct pf_error *err);
const char *pf_prefix_fmt(const struct pf_prefix *p, char *buf); /* PF_PREFIX_STRLEN */
/* Families never mix: an IPv6 prefix (length < 96 in the mapped space, such as ::/0) holds
 * no IPv4 address, an IPv4 one (::ffff:0:0/96 and longer) no IPv6 address. */
bool pf_prefix_contains(const struct pf_prefix *p, const struct pf_addr *a);
/* Mask a to len bits. */
void pf_addr_mask(struct pf_addr *a, uint8_t len);

#endif
