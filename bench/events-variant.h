/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * engine/events.c compiled once more with the old, unkeyed bucket function of base ba824cf
 * (tests/unit/events-collide.h), its functions renamed VARIANT_*: the bench runs the table
 * as it was next to the product in one process. Include after defining VARIANT and, for the
 * base's unbounded chains, BENCH_UNBOUNDED.
 */
#include "../lib/siphash.h"
#include "../tests/unit/events-collide.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

/* The product hashes netns dev, ino, the destination and the port, in that layout. */
static inline uint64_t CAT(VARIANT, _old_hash)(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t dev, ino;
	uint16_t dport;
	struct pf_addr dst;

	(void)len;
	memcpy(&dev, p, 8);
	memcpy(&ino, p + 8, 8);
	memcpy(dst.b, p + 16, 16);
	memcpy(&dport, p + 32, 2);
	return old_addr_hash(&dst, ino * 0x9e3779b97f4a7c15ull ^ dev ^ ((uint64_t)dport << 48));
}

#define pf_keyed_hash CAT(VARIANT, _old_hash)
#define pf_events_init CAT(VARIANT, _init)
#define pf_events_free CAT(VARIANT, _free)
#define pf_events_longest_chain CAT(VARIANT, _longest_chain)
#define pf_events_record CAT(VARIANT, _record)
#define pf_events_record_audit CAT(VARIANT, _record_audit)
#define pf_events_note CAT(VARIANT, _note)
#define pf_events_note_flow CAT(VARIANT, _note_flow)
#define pf_events_collect CAT(VARIANT, _collect)
#define pf_events_count CAT(VARIANT, _count)
#define pf_events_batch_free CAT(VARIANT, _batch_free)
#define pf_events_write CAT(VARIANT, _write)
#define pf_events_write_out CAT(VARIANT, _write_out)
#define pf_events_size CAT(VARIANT, _size)
#define pf_events_move CAT(VARIANT, _move)

/* events.h, included after the renames, declares the VARIANT_* functions. */
#include "../engine/events.h"
#include "../engine/pods.h"

#ifdef BENCH_UNBOUNDED
#undef PF_EVENTS_MAX_CHAIN
#define PF_EVENTS_MAX_CHAIN SIZE_MAX
#endif

#include "../engine/events.c"
