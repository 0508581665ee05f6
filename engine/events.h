/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Events: verdicts and notices rate-limited per (pod, destination, port), batched for the store. */
#ifndef PF_ENGINE_EVENTS_H
#define PF_ENGINE_EVENTS_H

#include "error.h"
#include "hashtable.h"
#include "packet.h"
#include "policy.h"
#include "store.h"

/* Default rate-limit window per (pod, destination, port): long enough that the SYN
 * retransmits of one dropped connect (1 s, 3 s, 7 s) fold into one summary. */
#define PF_EVENTS_WINDOW_MS 10000
#define PF_EVENTS_MAX_WINDOW_MS 3600000
#define PF_EVENTS_MAX_KEYS 16384
#define PF_EVENTS_MAX_CHAIN 32 /* keys one bucket holds; past it a key is not rate-limited */
#define PF_EVENTS_MAX_PENDING 8192
#define PF_EVENTS_MAX_ROWS 100000	   /* event_max_rows default */
#define PF_EVENTS_MAX_ROWS_LIMIT 100000000 /* the largest event_max_rows */
#define PF_EVENTS_MAX_AGE_S (7 * 86400)	   /* event_max_age default */

struct pf_pod;
struct pf_event_key;
struct pf_pending_event;

struct pf_events {
	struct pf_hashtable keys; /* PF_EVENTS_MAX_KEYS / 4 buckets, at most PF_EVENTS_MAX_KEYS */
	int64_t window_ms;	  /* PF_EVENTS_WINDOW_MS unless configured */
	struct pf_pending_event *pending;
	size_t n_pending, cap_pending;
	/* counters */
	uint64_t recorded;   /* verdicts that asked for an event */
	uint64_t suppressed; /* folded into a later summary event */
	uint64_t dropped;    /* lost in memory: queue full (the worker counts write failures) */
	uint64_t probes;     /* keys compared, one more per record: the table's cost */
	uint64_t audit;	     /* Audit policies' would-be decisions that differed (recorded) */
};

int pf_events_init(struct pf_events *ev);
void pf_events_free(struct pf_events *ev);
/* The longest bucket chain (tests and benches: what one record can cost). */
size_t pf_events_longest_chain(const struct pf_events *ev);
void pf_events_record(struct pf_events *ev, const struct pf_pod *pod, const struct pf_tuple *t,
		      const struct pf_verdict *v, int64_t now_ms);
/* What an Audit policy would have decided (v: the audit cache's answer), where it differs
 * from the verdict given; rate-limited apart from the verdicts' events. */
void pf_events_record_audit(struct pf_events *ev, const struct pf_pod *pod,
			    const struct pf_tuple *t, const struct pf_verdict *v, int64_t now_ms);
/* Queue one event that is not a plain verdict: reason is a static string (event.reason, see
 * podfenced(8)); src/dst may be NULL (unknown). Not rate-limited: callers bound how often. */
void pf_events_note(struct pf_events *ev, const struct pf_pod *pod, const char *reason,
		    const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		    enum pf_action action, int64_t now_ms);
/* The same for a flow of protocol proto (IPPROTO_TCP, IPPROTO_UDP). */
void pf_events_note_flow(struct pf_events *ev, const struct pf_pod *pod, const char *reason,
			 const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
			 uint8_t proto, enum pf_action action, int64_t now_ms);
/* Fold expired rate windows (all of them when final) into summary events and hand out what is
 * queued (*out owns it; NULL when n is 0). */
void pf_events_collect(struct pf_events *ev, int64_t now_ms, bool final,
		       struct pf_pending_event **out, size_t *n);
/* Sum of the counts in a batch. */
size_t pf_events_count(const struct pf_pending_event *pe, size_t n);
void pf_events_batch_free(struct pf_pending_event *pe, size_t n);
/* For appending batches: element size, and moving n elements to dst[at] (src keeps nothing). */
size_t pf_events_size(void);
void pf_events_move(struct pf_pending_event *dst, size_t at, const struct pf_pending_event *src,
		    size_t n);
/* Write a batch in one transaction (store worker). */
int pf_events_write(struct pf_store *store, const struct pf_pending_event *pe, size_t n,
		    struct pf_error *err);
struct pf_eventlog;
/* Where events go and how long they stay (event_max_rows, event_max_age, event_log). */
struct pf_events_out {
	size_t max_rows;	 /* 0: no bound */
	int64_t max_age_ms;	 /* 0: no bound; older rows go with each batch */
	struct pf_eventlog *log; /* NULL: the store only */
};
int pf_events_write_out(struct pf_store *store, const struct pf_pending_event *pe, size_t n,
			const struct pf_events_out *o, struct pf_error *err);

#endif
