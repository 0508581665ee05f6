/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers the unit tests and the benchmarks share: allocation, the RNG, addresses, rulesets. */
#ifndef PF_TESTUTIL_H
#define PF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "ruleset.h"

/* Allocation for tests and benchmarks: out of memory aborts (there is nothing to recover). */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/*
 * splitmix64: a fast, reproducible stream. Tests and benchmarks set the state to their seed
 * before use, so a run is repeated exactly from its seed.
 */
extern uint64_t pf_test_rng_state;
uint64_t pf_test_rand(void);
/* Uniform enough in [0, n) for n far below 2^32 (n > 0). */
uint32_t pf_test_rand_below(uint32_t n);

/* An IPv4 address (as a v4-mapped pf_addr) from a host-order integer. */
struct pf_addr pf_test_v4(uint32_t x);
/* An IPv6 address: the top 32 bits, then zeros, then the low 64 bits. */
struct pf_addr pf_test_v6(uint32_t top, uint64_t low);

/* A deep copy of rs, sources included, without its policy `skip` (SIZE_MAX: none), in order:
 * the next version of a ruleset, to change. */
struct pf_ruleset *pf_test_ruleset_clone(const struct pf_ruleset *rs, size_t skip);

#endif
