/* SPDX-License-Identifier: GPL-2.0-or-later */
/* DNS answer parsing (RFC 1035 section 4): every length and pointer checked. See dns.h. */
#include "dns.h"

#define HDR_LEN 12
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28
#define CLASS_IN 1
/* A name of at most 127 labels needs at most that many pointers; more is a loop. */
#define MAX_HOPS 128

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Decode the name at *off into out (lower case, dotted, no trailing dot; the root is "").
 * *off moves past the name as it stands in the message (a pointer ends it). Pointers must
 * point backwards, so decoding always ends. -EINVAL on anything else.
 */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out)
{
	size_t p = *off, n = 0, end = 0, limit = len;
	unsigned hops = 0;

	for (;;) {
		uint8_t l;

		if (p >= limit)
			return -EINVAL;
		l = msg[p];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (p + 1 >= limit || ++hops > MAX_HOPS)
				return -EINVAL;
			to = (size_t)(l & 0x3f) << 8 | msg[p + 1];
			if (!end)
				end = p + 2;
			/* strictly before this pointer: no loop can form */
			if (to >= p)
				return -EINVAL;
			limit = p;
			p = to;
			continue;
		}
		if (l & 0xc0) /* 0x40, 0x80: extended label types, obsolete */
			return -EINVAL;
		p++;
		if (l == 0)
			break;
		if (l > limit - p || n + (n ? 1 : 0) + l > PF_DNS_MAX_NAME)
			return -EINVAL;
		if (n)
			out[n++] = '.';
		for (size_t i = 0; i < l; i++) {
			char ch = (char)msg[p + i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
				   ch == '-' || ch == '_'))
				return -EINVAL;
			out[n++] = ch;
		}
		p += l;
	}
	out[n] = 0;
	*off = end ? end : p;
	return 0;
}

/* Skip a name without decoding it (the owner of a record we are not reading). */
static int skip_name(const uint8_t *msg, size_t len, size_t *off)
{
	char tmp[PF_DNS_MAX_NAME + 1];

	return read_name(msg, len, off, tmp);
}

struct rr {
	size_t owner; /* offset of the owner name */
	uint16_t type, class;
	uint32_t ttl;
	size_t rdata, rdlen;
};

/* The record at *off; *off moves past it. */
static int read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *rr)
{
	size_t p = *off;
	int r;

	rr->owner = p;
	r = skip_name(msg, len, &p);
	if (r < 0)
		return r;
	if (len - p < 10)
		return -EINVAL;
	rr->type = rd16(msg + p);
	rr->class = rd16(msg + p + 2);
	rr->ttl = rd32(msg + p + 4);
	rr->rdlen = rd16(msg + p + 8);
	p += 10;
	if (rr->rdlen > len - p)
		return -EINVAL;
	rr->rdata = p;
	*off = p + rr->rdlen;
	return 0;
}

static bool on_chain(const struct pf_dns_answer *a, const char *name)
{
	for (size_t i = 0; i < a->n_names; i++)
		if (!strcmp(a->names[i], name))
			return true;
	return false;
}

int pf_dns_parse(const uint8_t *msg, size_t len, struct pf_dns_answer *out)
{
	size_t off = HDR_LEN, first_rr, n_rr;
	uint16_t flags, qd, an;
	char name[PF_DNS_MAX_NAME + 1];
	bool grew;
	int r;

	memset(out, 0, sizeof(*out));
	if (!msg || len < HDR_LEN)
		return -EINVAL;
	out->id = rd16(msg);
	flags = rd16(msg + 2);
	qd = rd16(msg + 4);
	an = rd16(msg + 6);
	if (!(flags & 0x8000) || (flags >> 11 & 0xf) != 0) /* a response, opcode QUERY */
		return -EINVAL;
	if (qd != 1)
		return -EINVAL;
	r = read_name(msg, len, &off, out->names[0]);
	if (r < 0)
		return r;
	if (len - off < 4)
		return -EINVAL;
	out->qtype = rd16(msg + off);
	off += 4;
	out->n_names = 1;
	if ((flags & 0x000f) != 0 || (flags & 0x0200)) /* RCODE != NOERROR, or TC */
		return -ENOENT;

	/* Pass 1: follow CNAMEs from the question's name, in whatever order they come. */
	first_rr = off;
	n_rr = MIN((size_t)an, (size_t)PF_DNS_MAX_RECORDS);
	do {
		grew = false;
		off = first_rr;
		for (size_t i = 0; i < n_rr; i++) {
			struct rr rr;
			size_t o, t;

			r = read_rr(msg, len, &off, &rr);
			if (r < 0)
				return r;
			if (rr.type != TYPE_CNAME || rr.class != CLASS_IN)
				continue;
			o = rr.owner;
			if (read_name(msg, len, &o, name) < 0 || !on_chain(out, name))
				continue;
			t = rr.rdata;
			if (read_name(msg, rr.rdata + rr.rdlen, &t, name) < 0 ||
			    t != rr.rdata + rr.rdlen || on_chain(out, name))
				continue;
			if (out->n_names >= PF_DNS_MAX_CHAIN)
				break;
			memcpy(out->names[out->n_names++], name, sizeof(name));
			grew = true;
		}
	} while (grew && out->n_names < PF_DNS_MAX_CHAIN);

	/* Pass 2: the addresses of names on the chain. */
	off = first_rr;
	for (size_t i = 0; i < n_rr && out->n_addrs < PF_DNS_MAX_ADDRS; i++) {
		struct rr rr;
		size_t o;

		r = read_rr(msg, len, &off, &rr);
		if (r < 0)
			return r;
		if (rr.class != CLASS_IN || !((rr.type == TYPE_A && rr.rdlen == 4) ||
					      (rr.type == TYPE_AAAA && rr.rdlen == 16)))
			continue;
		o = rr.owner;
		if (read_name(msg, len, &o, name) < 0 || !on_chain(out, name))
			continue;
		if (rr.type == TYPE_A) {
			pf_addr_from_v4(&out->addrs[out->n_addrs].addr, msg + rr.rdata);
		} else {
			pf_addr_from_v6(&out->addrs[out->n_addrs].addr, msg + rr.rdata);
			/* an IPv4-mapped AAAA would alias an IPv4 destination: not taken */
			if (pf_addr_is_v4(&out->addrs[out->n_addrs].addr))
				continue;
		}
		/* RFC 2181 8: a TTL with the top bit set is 0 */
		out->addrs[out->n_addrs].ttl = rr.ttl & 0x80000000u ? 0 : rr.ttl;
		out->n_addrs++;
	}
	return 0;
}
