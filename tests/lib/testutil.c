/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers the unit tests and the benchmarks share (tests/lib/testutil.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void out_of_memory(void)
{
	fprintf(stderr, "out of memory\n");
	abort();
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t n, size_t size)
{
	p = realloc(p, (n ? n : 1) * size);
	if (!p)
		out_of_memory();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		out_of_memory();
	return p;
}

uint64_t pf_test_rng_state;

uint64_t pf_test_rand(void)
{
	uint64_t z = (pf_test_rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t pf_test_rand_below(uint32_t n)
{
	return (uint32_t)(pf_test_rand() % n);
}

struct pf_addr pf_test_v4(uint32_t x)
{
	struct pf_addr a;
	uint32_t be = htonl(x);

	pf_addr_from_v4(&a, &be);
	return a;
}

struct pf_addr pf_test_v6(uint32_t top, uint64_t low)
{
	struct pf_addr a = {{0}};

	a.b[0] = (uint8_t)(top >> 24);
	a.b[1] = (uint8_t)(top >> 16);
	a.b[2] = (uint8_t)(top >> 8);
	a.b[3] = (uint8_t)top;
	for (int i = 0; i < 8; i++)
		a.b[15 - i] = (uint8_t)(low >> (8 * i));
	return a;
}

struct pf_ruleset *pf_test_ruleset_clone(const struct pf_ruleset *rs, size_t skip)
{
	uint32_t *keep = xcalloc(rs->n_policies, sizeof(*keep));
	struct pf_ruleset *c;
	size_t n = 0;

	for (size_t i = 0; i < rs->n_policies; i++)
		if (i != skip)
			keep[n++] = (uint32_t)i;
	if (pf_ruleset_copy_some(rs, keep, n, &c) < 0)
		out_of_memory();
	/* the copy leaves the sources out (it is what a cache walks for one source) */
	for (size_t i = 0; i < n; i++) {
		const struct pf_rs_policy *p = &rs->policies[keep[i]];

		c->policies[i].src = xcalloc(p->n_src, sizeof(*p->src));
		if (p->n_src)
			memcpy(c->policies[i].src, p->src, p->n_src * sizeof(*p->src));
		c->policies[i].n_src = p->n_src;
	}
	free(keep);
	return c;
}
