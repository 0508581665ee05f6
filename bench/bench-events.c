/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What one event record costs when a pod aims at the event table: destinations that all fall
 * in one bucket of the old, unkeyed bucket function (as the pod can compute them), recorded
 * by the table as in base ba824cf, by the old function with today's chain bound, and by the
 * product (keyed SipHash and the bound), side by side in one run. See bench/README.md.
 */
#include <stdio.h>

#include "../engine/events.h"
#include "../engine/pods.h"
#include "../tests/unit/events-collide.h"
#include "util.h"

int main(int argc, char **argv);

#define DECLARE(v)                                                                                 \
	int v##_init(struct pf_events *ev);                                                        \
	void v##_free(struct pf_events *ev);                                                       \
	size_t v##_longest_chain(const struct pf_events *ev);                                      \
	void v##_record(struct pf_events *ev, const struct pf_pod *pod, const struct pf_tuple *t,  \
			const struct pf_verdict *v, int64_t now_ms);                               \
	void v##_collect(struct pf_events *ev, int64_t now_ms, bool final,                         \
			 struct pf_pending_event **out, size_t *n);                                \
	void v##_batch_free(struct pf_pending_event *pe, size_t n);
DECLARE(bench_base)
DECLARE(bench_bound)

struct variant {
	const char *name;
	int (*init)(struct pf_events *ev);
	void (*free)(struct pf_events *ev);
	size_t (*longest)(const struct pf_events *ev);
	void (*record)(struct pf_events *ev, const struct pf_pod *pod, const struct pf_tuple *t,
		       const struct pf_verdict *v, int64_t now_ms);
	void (*collect)(struct pf_events *ev, int64_t now_ms, bool final,
			struct pf_pending_event **out, size_t *n);
	void (*batch_free)(struct pf_pending_event *pe, size_t n);
};

#define VARIANT(v, label)                                                                          \
	{                                                                                          \
		label, v##_init, v##_free, v##_longest_chain, v##_record, v##_collect,             \
		    v##_batch_free                                                                 \
	}

static const struct variant variants[] = {
    VARIANT(bench_base, "base (old hash, unbounded)"),
    VARIANT(bench_bound, "old hash + chain bound"),
    VARIANT(pf_events, "keyed SipHash + bound"),
};

static void drain(const struct variant *v, struct pf_events *ev, int64_t now)
{
	struct pf_pending_event *pe;
	size_t n;

	v->collect(ev, now, false, &pe, &n);
	v->batch_free(pe, n);
}

int main(int argc, char **argv)
{
	size_t n = PF_EVENTS_MAX_KEYS, found, rounds = 5;
	struct pf_pod evil = {
	    .namespace = "evil", .name = "scan", .id = {.dev = 4, .ino = 4026533001ull}};
	struct pf_pod quiet = {
	    .namespace = "calm", .name = "web", .id = {.dev = 4, .ino = 4026533002ull}};
	struct pf_verdict deny = {.action = PF_ACTION_DENY, .rule_index = -1};
	struct pf_tuple t = {.dport = 443, .sport = 40000};
	struct pf_addr *dst;
	uint32_t u;

	if (argc > 1) {
		if (pf_parse_u32(argv[1], PF_EVENTS_MAX_KEYS, &u) < 0 || u == 0) {
			fprintf(stderr, "usage: %s [keys 1..%d]\n", argv[0], PF_EVENTS_MAX_KEYS);
			return 2;
		}
		n = u;
	}
	dst = calloc(n, sizeof(*dst));
	if (!dst)
		return 1;
	pf_addr_parse("10.1.1.9", &t.src);
	found =
	    old_events_colliding(evil.id.dev, evil.id.ino, 443, PF_EVENTS_MAX_KEYS / 4, 7, dst, n);
	printf("%zu destinations of one pod on port 443 in one bucket of the old function\n\n",
	       found);
	printf("%-28s %6s %6s %10s %12s %12s %10s\n", "table", "kept", "chain", "fill_ms",
	       "first_ns", "record_ns", "probes");
	for (size_t vi = 0; vi < PF_ARRAY_SIZE(variants); vi++) {
		const struct variant *v = &variants[vi];
		struct pf_events ev;
		uint64_t t0, fill_ns, rec_ns, probes;
		int64_t now = 1000;

		if (v->init(&ev) < 0)
			return 1;
		/* first sight of each key: the pod's scan, the 0.76 s stall of the report */
		t0 = pf_mono_ns();
		for (size_t i = 0; i < found; i++) {
			t.dst = dst[i];
			v->record(&ev, &evil, &t, &deny, now);
			if ((i & 1023) == 1023)
				drain(v, &ev, now); /* the loop hands batches to the worker */
		}
		fill_ns = pf_mono_ns() - t0;
		drain(v, &ev, now);
		/* inside the window: every later verdict of the pod walks its chain */
		probes = ev.probes;
		t0 = pf_mono_ns();
		for (size_t r = 0; r < rounds; r++)
			for (size_t i = 0; i < found; i++) {
				t.dst = dst[i];
				v->record(&ev, &evil, &t, &deny, now + 1);
			}
		rec_ns = pf_mono_ns() - t0;
		printf("%-28s %6zu %6zu %10.1f %12.1f %12.1f %10.2f\n", v->name,
		       pf_hashtable_count(&ev.keys), v->longest(&ev), (double)fill_ns / 1e6,
		       (double)fill_ns / (double)found, (double)rec_ns / (double)(found * rounds),
		       (double)(ev.probes - probes) / (double)(found * rounds));
		/* a quiet pod's verdict next to the flood (its key is in another bucket) */
		t.dst = dst[0];
		v->record(&ev, &quiet, &t, &deny, now + 2);
		v->free(&ev);
	}
	printf(
	    "\nkept: keys with a rate-limit entry; chain: longest bucket; first_ns: mean cost of "
	    "a key's first record;\nrecord_ns: mean cost of a later record inside the window; "
	    "probes: keys compared per record.\n");
	free(dst);
	return 0;
}
