/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a hostile pod computes against the event table's old, unkeyed bucket function (base
 * ba824cf: netns dev/ino and port as the seed of a fixed mix of the destination): its own netns
 * id (readable in the pod) and many destinations that all land in one bucket. Tests and benches
 * only; the product hashes with a random key (lib/siphash.h).
 */
#ifndef PF_EVENTS_COLLIDE_H
#define PF_EVENTS_COLLIDE_H

#include <stdint.h>
#include <string.h>

#include "../../lib/addr.h"

static inline uint64_t old_addr_hash(const struct pf_addr *a, uint64_t seed)
{
	uint64_t x, y;

	memcpy(&x, a->b, 8);
	memcpy(&y, a->b + 8, 8);
	x ^= seed + 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x ^= y;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline size_t old_events_bucket(uint64_t dev, uint64_t ino, const struct pf_addr *dst,
				       uint16_t dport, size_t n_buckets)
{
	uint64_t h =
	    old_addr_hash(dst, ino * 0x9e3779b97f4a7c15ull ^ dev ^ ((uint64_t)dport << 48));

	return (size_t)(h % n_buckets);
}

/*
 * Fill dst[0..n) with IPv4 destinations in 10.0.0.0/8 (then 11/8, ...) that the old function
 * puts in bucket `target` for this pod and port. Returns how many it found.
 */
static inline size_t old_events_colliding(uint64_t dev, uint64_t ino, uint16_t dport,
					  size_t n_buckets, size_t target, struct pf_addr *dst,
					  size_t n)
{
	size_t found = 0;

	for (uint32_t ip = 0x0a000000u; found < n && ip < 0x7f000000u; ip++) {
		uint8_t v4[4] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8),
				 (uint8_t)ip};
		struct pf_addr a;

		pf_addr_from_v4(&a, v4);
		if (old_events_bucket(dev, ino, &a, dport, n_buckets) == target)
			dst[found++] = a;
	}
	return found;
}

#endif
