/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pf_packet_parse: well-formed IPv4/IPv6 TCP, options and extension headers, and every kind of
 * truncated or malformed input a queue could hand us. */
#include <arpa/inet.h>
#include <stdio.h>

#include "nfq.h"
#include "packet.h"
#include "tap.h"

int main(void);

static uint8_t pkt[8192];

static size_t put_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t flags, size_t optlen)
{
	memset(p, 0, 20 + optlen);
	p[0] = (uint8_t)(sport >> 8);
	p[1] = (uint8_t)sport;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	p[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	p[13] = flags;
	for (size_t i = 0; i < optlen; i++)
		p[20 + i] = 1; /* NOP */
	return 20 + optlen;
}

/* IPv4 header with optlen bytes of options, total length covering l4len more bytes. */
static size_t put_v4(uint8_t *p, uint8_t proto, uint16_t frag, size_t optlen, size_t l4len)
{
	size_t hl = 20 + optlen, tot = hl + l4len;

	memset(p, 0, hl);
	p[0] = (uint8_t)(0x40 | (hl / 4));
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, "10.1.2.3", p + 12);
	inet_pton(AF_INET, "192.168.7.9", p + 16);
	for (size_t i = 0; i < optlen; i++)
		p[20 + i] = 1;
	return hl;
}

static size_t put_v6(uint8_t *p, uint8_t nh, size_t paylen)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(paylen >> 8);
	p[5] = (uint8_t)paylen;
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, "fd00::1", p + 8);
	inet_pton(AF_INET6, "fd00:1::2", p + 24);
	return 40;
}

/* A generic extension header of 8*(1+len8) bytes. */
static size_t put_ext(uint8_t *p, uint8_t nh, uint8_t len8)
{
	memset(p, 0, (size_t)(len8 + 1) * 8);
	p[0] = nh;
	p[1] = len8;
	return (size_t)(len8 + 1) * 8;
}

static void test_v4(void)
{
	struct pf_tuple t;
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];
	size_t n;

	n = put_v4(pkt, IPPROTO_TCP, 0, 0, 20);
	n += put_tcp(pkt + n, 40000, 443, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, n, &t), 0, "IPv4 SYN parses");
	is_str(pf_addr_fmt(&t.src, s), "10.1.2.3", "IPv4 source");
	is_str(pf_addr_fmt(&t.dst, d), "192.168.7.9", "IPv4 destination");
	is_int(t.sport, 40000, "source port");
	is_int(t.dport, 443, "destination port");
	is_int(t.tcp_flags, PF_TCP_SYN, "flags");
	ok(!t.v6, "not v6");

	for (size_t cut = 0; cut < n; cut++)
		if (pf_packet_parse(pkt, cut, &t) != -EINVAL) {
			ok(0, "IPv4 SYN truncated to %zu bytes is -EINVAL", cut);
			break;
		}
	ok(1, "every truncation of an IPv4 SYN is -EINVAL");

	/* IP options and TCP options: captured only partly (copy range), still parses. */
	n = put_v4(pkt, IPPROTO_TCP, 0, 40, 60);
	n += put_tcp(pkt + n, 1, 8080, PF_TCP_SYN, 40);
	is_int(pf_packet_parse(pkt, 60 + 20, &t), 0, "IPv4+options, TCP options not captured");
	is_int(t.dport, 8080, "port after 40 bytes of IP options");
	is_int(pf_packet_parse(pkt, 60 + 19, &t), -EINVAL, "TCP base header cut is -EINVAL");

	/* Packet longer than declared: trailing bytes are ignored, TCP must fit tot_len. */
	n = put_v4(pkt, IPPROTO_TCP, 0, 0, 19);
	put_tcp(pkt + n, 1, 2, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, 60, &t), -EINVAL, "total length too short for TCP");

	n = put_v4(pkt, IPPROTO_TCP, 0, 0, 20);
	put_tcp(pkt + n, 1, 2, PF_TCP_SYN, 0);
	pkt[0] = 0x44;
	is_int(pf_packet_parse(pkt, 40, &t), -EINVAL, "IHL 4 is -EINVAL");
	pkt[0] = 0x4f;
	is_int(pf_packet_parse(pkt, 40, &t), -EINVAL, "IHL past the capture is -EINVAL");
	pkt[0] = 0x45;
	pkt[2] = 0;
	pkt[3] = 10;
	is_int(pf_packet_parse(pkt, 40, &t), -EINVAL, "total length below IHL is -EINVAL");
	pkt[3] = 40;
	pkt[20 + 12] = 0x40;
	is_int(pf_packet_parse(pkt, 40, &t), -EINVAL, "TCP data offset 4 is -EINVAL");
	pkt[20 + 12] = 0x60;
	is_int(pf_packet_parse(pkt, 40, &t), -EINVAL, "TCP data offset past the packet is -EINVAL");
	pkt[20 + 12] = 0x50;
	is_int(pf_packet_parse(pkt, 40, &t), 0, "restored packet parses");
	pkt[0] = 0x55;
	is_int(pf_packet_parse(pkt, 40, &t), -EINVAL, "IP version 5 is -EINVAL");
	pkt[0] = 0x45;

	n = put_v4(pkt, IPPROTO_UDP, 0, 0, 20);
	is_int(pf_packet_parse(pkt, n + 20, &t), -EPROTONOSUPPORT, "UDP is -EPROTONOSUPPORT");
	n = put_v4(pkt, IPPROTO_TCP, 0x2000, 0, 20);
	put_tcp(pkt + n, 5, 6, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, n + 20, &t), 0, "first fragment (MF, offset 0) parses");
	n = put_v4(pkt, IPPROTO_TCP, 0x0005, 0, 20);
	is_int(pf_packet_parse(pkt, n + 20, &t), -EPROTONOSUPPORT,
	       "non-first fragment has no TCP header");
	is_int(pf_packet_parse(NULL, 10, &t), -EINVAL, "NULL packet");
}

static void test_v6(void)
{
	struct pf_tuple t;
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];
	size_t n, l4;

	n = put_v6(pkt, IPPROTO_TCP, 20);
	n += put_tcp(pkt + n, 50000, 80, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, n, &t), 0, "IPv6 SYN parses");
	is_str(pf_addr_fmt(&t.src, s), "fd00::1", "IPv6 source");
	is_str(pf_addr_fmt(&t.dst, d), "fd00:1::2", "IPv6 destination");
	is_int(t.dport, 80, "IPv6 destination port");
	ok(t.v6, "v6");
	for (size_t cut = 0; cut < n; cut++)
		if (pf_packet_parse(pkt, cut, &t) != -EINVAL) {
			ok(0, "IPv6 SYN truncated to %zu bytes is -EINVAL", cut);
			break;
		}
	ok(1, "every truncation of an IPv6 SYN is -EINVAL");

	/* hop-by-hop (16) -> dest opts (8) -> routing (24) -> fragment (first) -> AH (12) -> TCP */
	n = put_v6(pkt, IPPROTO_HOPOPTS, 0);
	n += put_ext(pkt + n, IPPROTO_DSTOPTS, 1);
	n += put_ext(pkt + n, IPPROTO_ROUTING, 0);
	n += put_ext(pkt + n, IPPROTO_FRAGMENT, 2);
	memset(pkt + n, 0, 8);
	pkt[n] = IPPROTO_AH;
	pkt[n + 3] = 1; /* M flag, offset 0 */
	n += 8;
	memset(pkt + n, 0, 12);
	pkt[n] = IPPROTO_TCP;
	pkt[n + 1] = 1; /* (1 + 2) * 4 = 12 */
	n += 12;
	l4 = put_tcp(pkt + n, 7, 22, PF_TCP_SYN, 0);
	pkt[4] = (uint8_t)((n - 40 + l4) >> 8);
	pkt[5] = (uint8_t)(n - 40 + l4);
	n += l4;
	is_int(pf_packet_parse(pkt, n, &t), 0, "IPv6 with HBH, dstopts, routing, fragment, AH");
	is_int(t.dport, 22, "port behind five extension headers");
	for (size_t cut = 0; cut < n; cut++)
		if (pf_packet_parse(pkt, cut, &t) != -EINVAL) {
			ok(0, "extension chain truncated to %zu bytes is -EINVAL", cut);
			break;
		}
	ok(1, "every truncation of the extension chain is -EINVAL");
	pkt[5] -= 1;
	is_int(pf_packet_parse(pkt, n, &t), -EINVAL, "payload length one short of the TCP header");
	pkt[4] = pkt[5] = 0;
	is_int(pf_packet_parse(pkt, n, &t), 0,
	       "payload length 0 (jumbo / BIG TCP) uses the capture");

	n = put_v6(pkt, IPPROTO_DSTOPTS, 200);
	put_ext(pkt + n, IPPROTO_TCP, 20); /* claims 168 bytes */
	is_int(pf_packet_parse(pkt, 100, &t), -EINVAL, "extension header past the capture");

	n = put_v6(pkt, IPPROTO_FRAGMENT, 40);
	memset(pkt + n, 0, 8);
	pkt[n] = IPPROTO_TCP;
	pkt[n + 2] = 0x01; /* offset 32 */
	is_int(pf_packet_parse(pkt, n + 40, &t), -EPROTONOSUPPORT, "non-first IPv6 fragment");

	n = put_v6(pkt, IPPROTO_TCP, 20);
	put_tcp(pkt + n, 1, 2, PF_TCP_SYN, 0);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", pkt + 24);
	is_int(pf_packet_parse(pkt, n + 20, &t), -EINVAL, "IPv6 to an IPv4-mapped address");
	inet_pton(AF_INET6, "fd00::9", pkt + 24);
	inet_pton(AF_INET6, "::ffff:10.0.0.2", pkt + 8);
	is_int(pf_packet_parse(pkt, n + 20, &t), -EINVAL, "IPv6 from an IPv4-mapped address");

	n = put_v6(pkt, IPPROTO_ICMPV6, 8);
	is_int(pf_packet_parse(pkt, n + 8, &t), -EPROTONOSUPPORT, "ICMPv6 is -EPROTONOSUPPORT");
	n = put_v6(pkt, IPPROTO_NONE, 0);
	is_int(pf_packet_parse(pkt, n, &t), -EPROTONOSUPPORT, "no next header");
	n = put_v6(pkt, 50 /* ESP */, 40);
	is_int(pf_packet_parse(pkt, n + 40, &t), -EPROTONOSUPPORT, "ESP is not parseable");

	/* A chain longer than any real packet's: bounded, not walked forever. */
	n = put_v6(pkt, IPPROTO_DSTOPTS, 0);
	for (int i = 0; i < 40; i++)
		n += put_ext(pkt + n, IPPROTO_DSTOPTS, 0);
	pkt[4] = (uint8_t)((n - 40) >> 8);
	pkt[5] = (uint8_t)(n - 40);
	is_int(pf_packet_parse(pkt, n, &t), -EINVAL, "40 extension headers are refused");
}

/* What the queue hands us is the first PF_NFQ_COPY_RANGE bytes: a SYN whose headers fit is
 * read and judged; one whose TCP header lies past it is not read (the engine drops it). */
static size_t captured(size_t n)
{
	return n < PF_NFQ_COPY_RANGE ? n : PF_NFQ_COPY_RANGE;
}

static void test_long_chains(void)
{
	struct pf_tuple t;
	size_t n;

	/* 1 KiB hop-by-hop + 1 KiB destination + 512 bytes routing header: 2.6 KiB of headers. */
	n = put_v6(pkt, IPPROTO_HOPOPTS, 0);
	n += put_ext(pkt + n, IPPROTO_DSTOPTS, 127);
	n += put_ext(pkt + n, IPPROTO_ROUTING, 127);
	n += put_ext(pkt + n, IPPROTO_TCP, 63);
	n += put_tcp(pkt + n, 41000, 9000, PF_TCP_SYN, 40);
	pkt[4] = (uint8_t)((n - 40) >> 8);
	pkt[5] = (uint8_t)(n - 40);
	is_int(
	    pf_packet_parse(pkt, captured(n), &t), 0,
	    "a SYN behind 2.6 KiB of extension headers is read from the queue's copy (%zu bytes)",
	    captured(n));
	is_int(t.dport, 9000, "... with its port");
	is_int(t.tcp_flags, PF_TCP_SYN, "... and flags");
	ok(PF_NFQ_COPY_RANGE >= 40 + 2048 + 512 + 60,
	   "the copy range covers two 1 KiB option headers "
	   "and a routing header");

	/* 2 x 2040 bytes of options: the TCP header starts past the copy. */
	n = put_v6(pkt, IPPROTO_HOPOPTS, 0);
	n += put_ext(pkt + n, IPPROTO_DSTOPTS, 254);
	n += put_ext(pkt + n, IPPROTO_TCP, 254);
	n += put_tcp(pkt + n, 41000, 80, PF_TCP_SYN, 0);
	pkt[4] = (uint8_t)((n - 40) >> 8);
	pkt[5] = (uint8_t)(n - 40);
	is_int(pf_packet_parse(pkt, n, &t), 0, "4 KiB of headers parse when all of it is there");
	is_int(pf_packet_parse(pkt, captured(n), &t), -EINVAL,
	       "... and not from the queue's copy: the engine drops it as unparsed");

	/* The TCP header cut by the copy range itself: 8 of its 20 bytes inside. */
	n = put_v6(pkt, IPPROTO_HOPOPTS, 0);
	n += put_ext(pkt + n, IPPROTO_DSTOPTS, 255);
	n += put_ext(pkt + n, IPPROTO_TCP, (uint8_t)((PF_NFQ_COPY_RANGE - 8 - n) / 8 - 1));
	n += put_tcp(pkt + n, 1, 2, PF_TCP_SYN, 0);
	pkt[4] = (uint8_t)((n - 40) >> 8);
	pkt[5] = (uint8_t)(n - 40);
	is_int(pf_packet_parse(pkt, captured(n), &t), -EINVAL,
	       "a TCP header cut by the copy range is not read");
}

/* Fragments reach the queue too (the ruleset queues them): only a first fragment holding the
 * whole TCP header can be judged. */
static void test_fragments(void)
{
	struct pf_tuple t;
	size_t n;

	n = put_v4(pkt, IPPROTO_TCP, 0x2000 /* MF */, 0, 8);
	put_tcp(pkt + n, 40000, 9000, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, n + 8, &t), -EINVAL,
	       "IPv4 first fragment with 8 bytes of the TCP header: not read");
	n = put_v4(pkt, IPPROTO_TCP, 0x2000, 0, 20);
	put_tcp(pkt + n, 40000, 9000, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, n + 20, &t), 0,
	       "IPv4 first fragment with the whole TCP header");
	is_int(t.dport, 9000, "... judged by its port");
	n = put_v4(pkt, IPPROTO_TCP, 1 /* offset 8 */, 0, 12);
	is_int(pf_packet_parse(pkt, n + 12, &t), -EPROTONOSUPPORT,
	       "IPv4 second fragment: no TCP header");

	n = put_v6(pkt, IPPROTO_FRAGMENT, 16);
	memset(pkt + n, 0, 8);
	pkt[n] = IPPROTO_TCP;
	pkt[n + 3] = 1; /* offset 0, M */
	n += 8;
	put_tcp(pkt + n, 40000, 9000, PF_TCP_SYN, 0);
	is_int(pf_packet_parse(pkt, n + 8, &t), -EINVAL,
	       "IPv6 first fragment with 8 bytes of the TCP header: not read");
	n = put_v6(pkt, IPPROTO_FRAGMENT, 20);
	memset(pkt + n, 0, 8);
	pkt[n] = IPPROTO_TCP;
	pkt[n + 3] = 8; /* offset 1 */
	is_int(pf_packet_parse(pkt, n + 20, &t), -EPROTONOSUPPORT,
	       "IPv6 second fragment: no TCP header");
}

int main(void)
{
	test_v4();
	test_v6();
	test_long_chains();
	test_fragments();
	return tap_done();
}
