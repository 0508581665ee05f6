/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pf_dns_parse: answers as resolvers send them (A, AAAA, CNAME chains in any order, compressed
 * names), and what it must refuse: queries, errors, loops, names it cannot match, overflows. */
#include <stdio.h>

#include "dns.h"
#include "packet.h"
#include "tap.h"

int main(void);

struct msg {
	uint8_t b[4096];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	if (m->n + n > sizeof(m->b))
		abort();
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* A name in labels; "" is the root. */
static void put_name(struct msg *m, const char *s)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, s, l);
		s += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

static void put_ptr(struct msg *m, size_t off)
{
	put16(m, (uint16_t)(0xc000 | off));
}

static void header(struct msg *m, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, 0x4242);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void question(struct msg *m, const char *name, uint16_t type)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* A record owned by the question's name (pointer to offset 12) unless owner is given. */
static void record(struct msg *m, const char *owner, uint16_t type, uint32_t ttl, const void *rdata,
		   uint16_t rdlen)
{
	if (owner)
		put_name(m, owner);
	else
		put_ptr(m, 12);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
	put(m, rdata, rdlen);
}

static const char *ip(const struct pf_dns_answer *a, size_t i)
{
	static char buf[4][PF_ADDR_STRLEN];

	return pf_addr_fmt(&a->addrs[i].addr, buf[i % 4]);
}

static void test_a_aaaa(void)
{
	struct pf_dns_answer a;
	struct msg m;
	const uint8_t v4[4] = {192, 0, 2, 10}, v4b[4] = {192, 0, 2, 11};
	const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

	header(&m, 0x8180, 1, 3);
	question(&m, "DB.Shop.Test", 1);
	record(&m, NULL, 1, 300, v4, 4);
	record(&m, NULL, 1, 0x80000000u, v4b, 4);
	record(&m, NULL, 28, 60, v6, 16);
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "A and AAAA answer parses");
	is_str(a.names[0], "db.shop.test", "question name in lower case");
	is_int(a.n_names, 1, "no CNAME: one name");
	is_int(a.n_addrs, 3, "three addresses");
	is_str(ip(&a, 0), "192.0.2.10", "first A");
	is_int(a.addrs[0].ttl, 300, "its TTL");
	is_int(a.addrs[1].ttl, 0, "a TTL with the top bit set reads 0");
	is_str(ip(&a, 2), "2001:db8::1", "the AAAA");
	is_int(a.id, 0x4242, "id");
	is_int(a.qtype, 1, "qtype");
	/* every shorter prefix is refused, never read past */
	{
		unsigned long bad = 0;

		for (size_t n = 0; n < m.n; n++)
			bad += pf_dns_parse(m.b, n, &a) != -EINVAL;
		is_int(bad, 0, "every truncation of it is refused");
	}
}

static void test_cname(void)
{
	struct pf_dns_answer a;
	struct msg m;
	const uint8_t v4[4] = {192, 0, 2, 20}, other[4] = {192, 0, 2, 99};
	size_t cname_at;

	/* db.shop.test CNAME lb.internal.test CNAME lb-1.internal.test A 192.0.2.20, the
	 * records out of order and compressed, plus an A for a name off the chain */
	header(&m, 0x8180, 1, 4);
	question(&m, "db.shop.test", 1);
	record(&m, "lb-1.internal.test", 1, 30, v4, 4);
	cname_at = m.n + 12; /* the rdata of the next record */
	record(&m, NULL, 5, 300, "\x02lb\x08internal\x04test", 18);
	record(&m, "unrelated.test", 1, 30, other, 4);
	/* lb.internal.test CNAME lb-1.<pointer to internal.test> */
	put_ptr(&m, cname_at);
	put16(&m, 5);
	put16(&m, 1);
	put32(&m, 300);
	put16(&m, 7);
	put(&m, "\x04lb-1", 5);
	put_ptr(&m, cname_at + 3);
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "CNAME chain parses");
	is_int(a.n_names, 3, "the question and two CNAMEs");
	is_str(a.names[1], "lb.internal.test", "first CNAME");
	is_str(a.names[2], "lb-1.internal.test", "second CNAME (compressed)");
	is_int(a.n_addrs, 1, "only the chain's address is taken");
	is_str(ip(&a, 0), "192.0.2.20", "the address at the end of the chain");
}

static void test_refused(void)
{
	struct pf_dns_answer a;
	struct msg m;
	const uint8_t v4[4] = {192, 0, 2, 10};
	const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1};

	header(&m, 0x0100, 1, 0);
	question(&m, "db.shop.test", 1);
	is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "a query is not an answer");
	header(&m, 0x8183, 1, 0);
	question(&m, "db.shop.test", 1);
	is_int(pf_dns_parse(m.b, m.n, &a), -ENOENT, "NXDOMAIN: no addresses");
	header(&m, 0x8380, 1, 1);
	question(&m, "db.shop.test", 1);
	record(&m, NULL, 1, 30, v4, 4);
	is_int(pf_dns_parse(m.b, m.n, &a), -ENOENT, "truncated (TC): not taken");
	header(&m, 0x8180, 2, 0);
	question(&m, "a.test", 1);
	question(&m, "b.test", 1);
	is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "two questions: refused");
	header(&m, 0x8180, 1, 1);
	question(&m, "db.shop.test", 1);
	record(&m, NULL, 1, 30, v4, 3);
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "an A of 3 bytes is skipped");
	is_int(a.n_addrs, 0, "  nothing taken");
	header(&m, 0x8180, 1, 1);
	question(&m, "db.shop.test", 1);
	put_ptr(&m, m.n); /* a pointer to itself */
	is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "a pointer loop is refused");
	header(&m, 0x8180, 1, 0);
	put_ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "a question pointing at itself is refused");
	header(&m, 0x8180, 1, 0);
	question(&m, "db.sh\\op.test", 1);
	is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "a name with a byte no policy could name");
	header(&m, 0x8180, 1, 0);
	put(&m,
	    "\x03"
	    "a.b\x04test\0",
	    10);
	put16(&m, 1);
	put16(&m, 1);
	is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "a label holding a dot is refused");
	header(&m, 0x8180, 1, 1);
	question(&m, "x.test", 28);
	record(&m, NULL, 28, 30, mapped, 16);
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "an IPv4-mapped AAAA answer parses");
	is_int(a.n_addrs, 0, "  but its address is not taken");
	{
		/* a name of 300 characters: longer than any DNS name */
		char longname[320];

		memset(longname, 'a', sizeof(longname));
		for (size_t i = 60; i < 310; i += 61)
			longname[i] = '.';
		longname[310] = 0;
		header(&m, 0x8180, 1, 0);
		question(&m, longname, 1);
		is_int(pf_dns_parse(m.b, m.n, &a), -EINVAL, "a name past 253 characters");
	}
}

static void test_bounds(void)
{
	struct pf_dns_answer a;
	struct msg m;

	/* more addresses than kept: the first PF_DNS_MAX_ADDRS */
	header(&m, 0x8180, 1, 100);
	question(&m, "many.test", 1);
	for (int i = 0; i < 100; i++) {
		uint8_t v4[4] = {10, 0, 0, (uint8_t)i};

		record(&m, NULL, 1, 30, v4, 4);
	}
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "100 addresses parse");
	is_int(a.n_addrs, PF_DNS_MAX_ADDRS, "the first %d are kept", PF_DNS_MAX_ADDRS);
	/* a CNAME chain longer than kept */
	header(&m, 0x8180, 1, 20);
	question(&m, "c0.test", 1);
	for (int i = 0; i < 20; i++) {
		char o[16], t[16];
		struct msg rd = {.n = 0};

		snprintf(o, sizeof(o), "c%d.test", i);
		snprintf(t, sizeof(t), "c%d.test", i + 1);
		put_name(&rd, t);
		record(&m, o, 5, 30, rd.b, (uint16_t)rd.n);
	}
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "a long CNAME chain parses");
	is_int(a.n_names, PF_DNS_MAX_CHAIN, "the chain stops at %d names", PF_DNS_MAX_CHAIN);
	/* a CNAME loop (a -> b -> a) ends */
	header(&m, 0x8180, 1, 2);
	question(&m, "a.test", 1);
	record(&m, "a.test", 5, 30,
	       "\x01"
	       "b\x04test\0",
	       8);
	record(&m, "b.test", 5, 30,
	       "\x01"
	       "a\x04test\0",
	       8);
	is_int(pf_dns_parse(m.b, m.n, &a), 0, "a CNAME loop parses");
	is_int(a.n_names, 2, "  each name once");
}

/* A DNS answer as the queue hands it: IPv4 + UDP from port 53, the payload found. */
static void test_udp_packet(void)
{
	struct msg m;
	uint8_t pkt[512] = {0x45};
	struct pf_tuple t;
	struct pf_dns_answer a;
	const uint8_t v4[4] = {192, 0, 2, 10};
	size_t tot;

	header(&m, 0x8180, 1, 1);
	question(&m, "db.shop.test", 1);
	record(&m, NULL, 1, 300, v4, 4);
	tot = 20 + 8 + m.n;
	pkt[2] = (uint8_t)(tot >> 8);
	pkt[3] = (uint8_t)tot;
	pkt[9] = 17;
	memcpy(pkt + 12, "\x0a\x00\x00\x35", 4); /* 10.0.0.53 */
	memcpy(pkt + 16, "\x0a\x00\x00\x02", 4);
	pkt[20] = 0;
	pkt[21] = 53;
	pkt[22] = 0x9c;
	pkt[23] = 0x40;
	pkt[24] = (uint8_t)((8 + m.n) >> 8);
	pkt[25] = (uint8_t)(8 + m.n);
	memcpy(pkt + 28, m.b, m.n);
	is_int(pf_packet_parse(pkt, tot, &t), -EPROTONOSUPPORT, "the TCP parser leaves UDP alone");
	is_int(pf_packet_parse_flow(pkt, tot, &t), 0, "the flow parser takes UDP");
	ok(t.proto == 17 && t.sport == 53 && t.dport == 40000 && t.payload_off == 28 &&
	       t.payload_len == m.n,
	   "UDP ports and payload");
	is_int(pf_dns_parse(pkt + t.payload_off, t.payload_len, &a), 0, "its payload parses");
	is_int(a.n_addrs, 1, "  one address");
	pkt[25] = (uint8_t)(8 + m.n + 1);
	is_int(pf_packet_parse_flow(pkt, tot, &t), -EINVAL, "a UDP length past the packet");
}

int main(void)
{
	test_a_aaaa();
	test_cname();
	test_refused();
	test_bounds();
	test_udp_packet();
	return tap_done();
}
