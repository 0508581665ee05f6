/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SipHash-2-4, a keyed hash for tables whose keys someone outside chooses. */
#ifndef PF_SIPHASH_H
#define PF_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct pf_siphash_key {
	uint64_t k0, k1;
};

/*
 * SipHash-2-4 of data under key (k0 = key bytes 0..7 little-endian, k1 = bytes 8..15), as in
 * the reference implementation.
 */
uint64_t pf_siphash(const struct pf_siphash_key *key, const void *data, size_t len);

/*
 * The process's random key, drawn once from getrandom(2) on first use (blocking until the
 * kernel's pool is ready, retried on interruption; never a constant). Which keys share a
 * bucket then cannot be planned from outside the process. Thread-safe.
 */
const struct pf_siphash_key *pf_hash_key(void);

/* Fill buf from getrandom(2), waiting and retrying as pf_hash_key does (never a fallback). */
void pf_random_bytes(void *buf, size_t len);

/* pf_siphash under the process key. */
static inline uint64_t pf_keyed_hash(const void *data, size_t len)
{
	return pf_siphash(pf_hash_key(), data, len);
}

#endif
