/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parse a queued packet (IPv4/IPv6 + TCP or UDP) defensively: every length checked, options and
 * IPv6 extension headers walked with bounds. Fuzzed (tests/fuzz/fuzz-packet.c). */
#ifndef PF_PACKET_H
#define PF_PACKET_H

#include "addr.h"

#define PF_TCP_FIN 0x01
#define PF_TCP_SYN 0x02
#define PF_TCP_RST 0x04
#define PF_TCP_PSH 0x08
#define PF_TCP_ACK 0x10

struct pf_tuple {
	struct pf_addr src; /* IPv4 as mapped (see addr.h) */
	struct pf_addr dst;
	uint16_t sport; /* host order */
	uint16_t dport;
	uint8_t tcp_flags;
	bool v6;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	/* UDP: where its payload starts in pkt and how much of it was captured; payload points
	 * there (valid as long as pkt) */
	size_t payload_off, payload_len;
	const uint8_t *payload;
	bool inbound; /* set by the queue: the packet came through the input hook */
};

/*
 * pkt starts at the IP header; len is what was captured (may be less than the packet: the
 * queue copies only the headers). 0 on a TCP packet whose ports and flags are present.
 * -EINVAL on anything malformed or truncated, and on IPv6 with an IPv4-mapped address.
 * -EPROTONOSUPPORT on non-TCP, on fragments other than the first (they carry no TCP
 * header), and on IPv6 ESP / no-next-header.
 */
int pf_packet_parse(const uint8_t *pkt, size_t len, struct pf_tuple *t);
/* The same for TCP and UDP (t->proto says which; a UDP length that does not fit the IP
 * packet is -EINVAL). */
int pf_packet_parse_flow(const uint8_t *pkt, size_t len, struct pf_tuple *t);

#endif
