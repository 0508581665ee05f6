/* Parse a queued packet (IPv4/IPv6 + TCP) defensively: every length checked, options and IPv6
 * extension headers walked with bounds. Fuzzed. */
#ifndef PF_PACKET_H
#define PF_PACKET_H

#include "addr.h"

struct pf_tuple {
	struct pf_addr src;
	struct pf_addr dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	bool v6;
};

/* 0 on a TCP packet; -EINVAL on anything malformed or truncated; -EPROTONOSUPPORT on non-TCP. */
int pf_packet_parse(const uint8_t *pkt, size_t len, struct pf_tuple *t);

#endif
