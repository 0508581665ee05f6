/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Defensive IPv4/IPv6 + TCP header parsing for queued packets (see packet.h). */
#include <netinet/in.h>

#include "packet.h"

/* Fixed sizes of the headers we read; named so every bound below says what it checks. */
#define IPV4_MIN_HDR 20
#define IPV6_HDR 40
#define IPV6_FRAG_HDR 8
#define TCP_MIN_HDR 20
#define UDP_HDR 8
/* An IPv6 packet cannot hold more than this many extension headers in our copy range anyway;
 * the cap only makes the loop's bound obvious. */
#define IPV6_MAX_EXT 32

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* l4 points at the TCP header, avail is how much of it was captured, declared is its length
 * according to the IP header. */
static int parse_tcp(const uint8_t *l4, size_t avail, size_t declared, struct pf_tuple *t)
{
	size_t doff;

	if (avail < TCP_MIN_HDR || declared < TCP_MIN_HDR)
		return -EINVAL;
	doff = (size_t)(l4[12] >> 4) * 4;
	/* Options need not be captured (we never read them), but they must fit the packet. */
	if (doff < TCP_MIN_HDR || doff > declared)
		return -EINVAL;
	t->sport = rd16(l4);
	t->dport = rd16(l4 + 2);
	t->tcp_flags = l4[13];
	return 0;
}

/* The UDP header and what of its payload was captured (payload_off from pkt). */
static int parse_udp(const uint8_t *pkt, size_t off, size_t avail, size_t declared,
		     struct pf_tuple *t)
{
	const uint8_t *l4 = pkt + off;
	size_t ulen;

	if (avail < UDP_HDR || declared < UDP_HDR)
		return -EINVAL;
	ulen = rd16(l4 + 4);
	/* 0 only in IPv6 jumbograms; otherwise the datagram must fit what IP says */
	if (ulen == 0)
		ulen = declared;
	if (ulen < UDP_HDR || ulen > declared)
		return -EINVAL;
	t->sport = rd16(l4);
	t->dport = rd16(l4 + 2);
	t->proto = IPPROTO_UDP;
	t->payload_off = off + UDP_HDR;
	t->payload_len = MIN(avail, ulen) - UDP_HDR;
	t->payload = pkt + t->payload_off;
	return 0;
}

static int parse_l4(const uint8_t *pkt, uint8_t proto, size_t off, size_t avail, size_t declared,
		    bool udp, struct pf_tuple *t)
{
	int r;

	if (proto == IPPROTO_UDP && udp)
		return parse_udp(pkt, off, avail, declared, t);
	if (proto != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	r = parse_tcp(pkt + off, avail, declared, t);
	if (r == 0)
		t->proto = IPPROTO_TCP;
	return r;
}

static int parse_v4(const uint8_t *pkt, size_t len, bool udp, struct pf_tuple *t)
{
	size_t ihl, tot, end;
	uint16_t frag;

	if (len < IPV4_MIN_HDR)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = rd16(pkt + 2);
	if (ihl < IPV4_MIN_HDR || ihl > len || tot < ihl)
		return -EINVAL;
	/* The capture may be shorter than the packet (copy range); it is never longer in a
	 * well-formed packet, but trailing bytes past tot are not ours to read either. */
	end = MIN(len, tot);
	pf_addr_from_v4(&t->src, pkt + 12);
	pf_addr_from_v4(&t->dst, pkt + 16);
	t->v6 = false;
	if (pkt[9] != IPPROTO_TCP && !(udp && pkt[9] == IPPROTO_UDP))
		return -EPROTONOSUPPORT;
	frag = rd16(pkt + 6);
	if (frag & 0x1fff) /* non-first fragment: no TCP header here */
		return -EPROTONOSUPPORT;
	return parse_l4(pkt, pkt[9], ihl, end - ihl, tot - ihl, udp, t);
}

static int parse_v6(const uint8_t *pkt, size_t len, bool udp, struct pf_tuple *t)
{
	size_t off = IPV6_HDR, end, declared;
	uint8_t nh;

	if (len < IPV6_HDR)
		return -EINVAL;
	declared = rd16(pkt + 4);
	/* 0 is a jumbogram (or a BIG TCP GSO packet): trust the capture. */
	declared = declared ? declared + IPV6_HDR : SIZE_MAX;
	end = MIN(len, declared);
	pf_addr_from_v6(&t->src, pkt + 8);
	pf_addr_from_v6(&t->dst, pkt + 24);
	t->v6 = true;
	/* IPv4-mapped addresses never appear on the wire (RFC 4291 2.5.5.2) and would alias
	 * the IPv4 keys of the cache (addr.h stores IPv4 mapped): not a packet we judge. */
	if (pf_addr_is_v4(&t->src) || pf_addr_is_v4(&t->dst))
		return -EINVAL;
	nh = pkt[6];
	for (int i = 0; i < IPV6_MAX_EXT; i++) {
		size_t hlen;

		switch (nh) {
		case IPPROTO_UDP:
			if (!udp)
				return -EPROTONOSUPPORT;
			/* fall through */
		case IPPROTO_TCP:
			if (off > end)
				return -EINVAL;
			return parse_l4(pkt, nh, off, end - off,
					declared == SIZE_MAX ? end - off : declared - off, udp, t);
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			if (end - off < 2)
				return -EINVAL;
			hlen = ((size_t)pkt[off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			if (end - off < 2)
				return -EINVAL;
			hlen = ((size_t)pkt[off + 1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if (end - off < IPV6_FRAG_HDR)
				return -EINVAL;
			if (rd16(pkt + off + 2) & 0xfff8) /* offset != 0 */
				return -EPROTONOSUPPORT;
			hlen = IPV6_FRAG_HDR;
			break;
		default: /* UDP, ICMPv6, ESP, no next header, ... */
			return -EPROTONOSUPPORT;
		}
		if (hlen > end - off)
			return -EINVAL;
		nh = pkt[off];
		off += hlen;
	}
	return -EINVAL;
}

static int parse(const uint8_t *pkt, size_t len, bool udp, struct pf_tuple *t)
{
	if (!pkt || !t)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	if (len < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		return parse_v4(pkt, len, udp, t);
	case 6:
		return parse_v6(pkt, len, udp, t);
	default:
		return -EINVAL;
	}
}

int pf_packet_parse(const uint8_t *pkt, size_t len, struct pf_tuple *t)
{
	return parse(pkt, len, false, t);
}

int pf_packet_parse_flow(const uint8_t *pkt, size_t len, struct pf_tuple *t)
{
	return parse(pkt, len, true, t);
}
