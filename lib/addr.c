/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IPv4/IPv6 addresses and prefixes in one (IPv4-mapped) representation. */
#include <arpa/inet.h>
#include <stdio.h>

#include "addr.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool pf_addr_is_v4(const struct pf_addr *a)
{
	return memcmp(a->b, v4mapped, 12) == 0;
}

void pf_addr_from_v4(struct pf_addr *a, const void *in4)
{
	memcpy(a->b, v4mapped, 12);
	memcpy(a->b + 12, in4, 4);
}

void pf_addr_from_v6(struct pf_addr *a, const void *in6)
{
	memcpy(a->b, in6, 16);
}

int pf_addr_parse(const char *s, struct pf_addr *a)
{
	uint8_t buf[16];

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, buf) == 1) {
		pf_addr_from_v4(a, buf);
		return 0;
	}
	if (strchr(s, ':') && inet_pton(AF_INET6, s, buf) == 1) {
		pf_addr_from_v6(a, buf);
		return 0;
	}
	return -EINVAL;
}

const char *pf_addr_fmt(const struct pf_addr *a, char *buf)
{
	if (pf_addr_is_v4(a))
		inet_ntop(AF_INET, a->b + 12, buf, PF_ADDR_STRLEN);
	else
		inet_ntop(AF_INET6, a->b, buf, PF_ADDR_STRLEN);
	return buf;
}

int pf_addr_cmp(const struct pf_addr *a, const struct pf_addr *b)
{
	return memcmp(a->b, b->b, 16);
}

void pf_addr_mask(struct pf_addr *a, uint8_t len)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = i * 8;

		if (bits >= len)
			a->b[i] = 0;
		else if (len - bits < 8)
			a->b[i] &= (uint8_t)(0xff << (8 - (len - bits)));
	}
}

int pf_prefix_parse(const char *s, struct pf_prefix *p, struct pf_error *err)
{
	char buf[PF_PREFIX_STRLEN + 8];
	const char *slash;
	struct pf_addr masked;
	uint32_t len;
	bool v4;

	if (!s || strlen(s) >= sizeof(buf))
		return pf_error_set(err, EINVAL, "invalid CIDR '%s'", s ? s : "");
	strcpy(buf, s);
	slash = strchr(s, '/');
	if (slash)
		buf[slash - s] = '\0';
	if (pf_addr_parse(buf, &p->addr) < 0)
		return pf_error_set(err, EINVAL, "invalid CIDR '%s': '%s' is not an IP address", s,
				    buf);
	v4 = pf_addr_is_v4(&p->addr);
	if (slash) {
		if (pf_parse_u32(slash + 1, v4 ? 32 : 128, &len) < 0)
			return pf_error_set(err, EINVAL,
					    "invalid CIDR '%s': prefix length must be 0..%d", s,
					    v4 ? 32 : 128);
	} else {
		len = v4 ? 32 : 128;
	}
	p->len = (uint8_t)(v4 ? 96 + len : len);
	masked = p->addr;
	pf_addr_mask(&masked, p->len);
	if (!pf_addr_eq(&masked, &p->addr)) {
		char m[PF_ADDR_STRLEN];

		return pf_error_set(err, EINVAL,
				    "invalid CIDR '%s': host bits set (did you mean %s/%u?)", s,
				    pf_addr_fmt(&masked, m), len);
	}
	return 0;
}

const char *pf_prefix_fmt(const struct pf_prefix *p, char *buf)
{
	char a[PF_ADDR_STRLEN];
	bool v4 = pf_addr_is_v4(&p->addr) && p->len >= 96;

	snprintf(buf, PF_PREFIX_STRLEN, "%s/%u", pf_addr_fmt(&p->addr, a),
		 v4 ? p->len - 96 : p->len);
	return buf;
}

bool pf_prefix_contains(const struct pf_prefix *p, const struct pf_addr *a)
{
	struct pf_addr m = *a;

	pf_addr_mask(&m, p->len);
	/* Below /96 a prefix is an IPv6 one (an IPv4 /n is 96+n here): it must not take in the
	 * IPv4 addresses that live inside it as ::ffff:0:0/96. From /96 on the bits decide. */
	return pf_addr_eq(&m, &p->addr) && (p->len >= 96 || !pf_addr_is_v4(a));
}
