/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Events off the hot path: a verdict only touches memory (a rate-limit table and a queue);
 * batches go to the store on the loop's timer. Per (pod, destination, port), the first event
 * of a window is written at once and later ones are counted; when the window closes the
 * count goes out as one summary event (count = how many were suppressed).
 */
#include "eventlog.h"
#include "events.h"
#include "pods.h"
#include <netinet/in.h>

#include "log.h"
#include "siphash.h"

struct pf_event_key {
	struct pf_hnode node;
	struct pf_netns_id pod;
	struct pf_addr dst;
	uint16_t dport;
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP */
	bool audit;    /* an Audit policy's would-be decision: rate-limited apart from verdicts */
	int64_t window_start_ms;
	uint32_t suppressed;
	/* what the summary says: the last suppressed verdict */
	int64_t last_ms;
	struct pf_addr src;
	enum pf_action action;
	int32_t rule_index;
	char *pod_namespace, *pod_name, *policy_namespace, *policy_name;
};

struct pf_pending_event {
	struct pf_event ev;
	char *strings; /* one allocation holds every string ev points at */
};

int pf_events_init(struct pf_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->window_ms = PF_EVENTS_WINDOW_MS;
	return pf_hashtable_init(&ev->keys, PF_EVENTS_MAX_KEYS / 4, PF_EVENTS_MAX_KEYS, 0);
}

static struct pf_event_key *key_of(struct pf_hnode *n)
{
	return n ? pf_container_of(n, struct pf_event_key, node) : NULL;
}

static void key_free(struct pf_event_key *k)
{
	free(k->pod_namespace);
	free(k->pod_name);
	free(k->policy_namespace);
	free(k->policy_name);
	free(k);
}

void pf_events_free(struct pf_events *ev)
{
	struct pf_hnode *n, *next;
	size_t b;

	for (n = pf_hashtable_first(&ev->keys, &b); n; n = next) {
		next = pf_hashtable_next(&ev->keys, n, &b);
		key_free(key_of(n));
	}
	pf_hashtable_fini(&ev->keys);
	for (size_t i = 0; i < ev->n_pending; i++)
		free(ev->pending[i].strings);
	free(ev->pending);
	memset(ev, 0, sizeof(*ev));
}

/*
 * A pod chooses the destinations and ports of its own keys and can read its netns id, so the
 * bucket comes from a keyed hash (the process's random SipHash key): which keys share a chain
 * cannot be computed from outside.
 */
static uint64_t key_hash(const struct pf_netns_id *pod, const struct pf_addr *dst, uint16_t dport,
			 uint8_t proto, bool audit)
{
	uint8_t buf[35];
	uint64_t dev = pod->dev, ino = pod->ino;

	memcpy(buf, &dev, 8);
	memcpy(buf + 8, &ino, 8);
	memcpy(buf + 16, dst->b, 16);
	memcpy(buf + 32, &dport, 2);
	buf[34] = (uint8_t)(proto << 1 | audit);
	return pf_keyed_hash(buf, sizeof(buf));
}

struct key_probe {
	const struct pf_netns_id *pod;
	const struct pf_addr *dst;
	uint16_t dport;
	uint8_t proto;
	bool audit;
};

static bool key_eq(const struct pf_hnode *n, const void *key)
{
	const struct pf_event_key *k = pf_container_of(n, struct pf_event_key, node);
	const struct key_probe *p = key;

	return k->dport == p->dport && k->proto == p->proto && k->audit == p->audit &&
	       k->pod.dev == p->pod->dev && k->pod.ino == p->pod->ino &&
	       pf_addr_eq(&k->dst, p->dst);
}

size_t pf_events_longest_chain(const struct pf_events *ev)
{
	return pf_hashtable_longest_chain(&ev->keys);
}

static int str_set(char **slot, const char *s)
{
	char *d = NULL;

	if (pf_streq(*slot, s))
		return 0;
	if (s && !(d = strdup(s)))
		return -ENOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

static void queue_event(struct pf_events *ev, int64_t at_ms, const char *pod_ns,
			const char *pod_name, const struct pf_addr *src, const struct pf_addr *dst,
			uint16_t dport, enum pf_action action, const char *pol_ns,
			const char *pol_name, int32_t rule_index, uint32_t count,
			const char *reason, uint8_t proto, bool audit)
{
	const char *in[4] = {pod_ns, pod_name, pol_ns, pol_name};
	size_t len[4], total = 0;
	struct pf_pending_event *pe;
	const char *out[4] = {};
	char *s;

	if (ev->n_pending >= PF_EVENTS_MAX_PENDING) {
		ev->dropped += count;
		return;
	}
	for (int i = 0; i < 4; i++) {
		len[i] = in[i] ? strlen(in[i]) + 1 : 0;
		total += len[i];
	}
	if (pf_grow((void **)&ev->pending, &ev->cap_pending, ev->n_pending, sizeof(*ev->pending)) <
		0 ||
	    !(s = malloc(total ? total : 1))) {
		ev->dropped += count;
		return;
	}
	pe = &ev->pending[ev->n_pending++];
	pe->strings = s;
	for (int i = 0; i < 4; i++) {
		if (!in[i])
			continue;
		memcpy(s, in[i], len[i]);
		out[i] = s;
		s += len[i];
	}
	pe->ev = (struct pf_event){
	    .at_ms = at_ms,
	    .pod_namespace = out[0],
	    .pod_name = out[1],
	    .src = *src,
	    .dst = *dst,
	    .dport = dport,
	    .action = action,
	    .policy_namespace = out[2],
	    .policy_name = out[3],
	    .rule_index = rule_index,
	    .count = count,
	    .reason = reason,
	    .protocol = proto == IPPROTO_UDP ? PF_PROTO_UDP : PF_PROTO_TCP,
	    .audit = audit,
	};
}

static void record(struct pf_events *ev, const struct pf_pod *pod, const struct pf_tuple *t,
		   const struct pf_verdict *v, int64_t now_ms, bool audit)
{
	const struct key_probe probe = {
	    .pod = &pod->id, .dst = &t->dst, .dport = t->dport, .proto = t->proto, .audit = audit};
	uint64_t h = key_hash(&pod->id, &t->dst, t->dport, t->proto, audit);
	const char *pol_ns = v->matched ? v->policy_namespace : NULL;
	const char *pol_name = v->matched ? v->policy_name : NULL;
	struct pf_event_key *k;
	size_t chain = 0;

	ev->recorded++;
	k = key_of(pf_hashtable_find_depth(&ev->keys, h, key_eq, &probe, &chain));
	ev->probes += chain + 1;
	if (k && now_ms - k->window_start_ms < ev->window_ms) {
		/* Inside the window: count it and remember what the summary will say. */
		if (str_set(&k->pod_namespace, pod->namespace) < 0 ||
		    str_set(&k->pod_name, pod->name) < 0 ||
		    str_set(&k->policy_namespace, pol_ns) < 0 ||
		    str_set(&k->policy_name, pol_name) < 0) {
			ev->dropped++;
			return;
		}
		k->suppressed++;
		ev->suppressed++;
		k->last_ms = now_ms;
		k->src = t->src;
		k->action = v->action;
		k->rule_index = v->matched ? v->rule_index : -1;
		return;
	}
	if (!k) {
		if (pf_hashtable_count(&ev->keys) >= PF_EVENTS_MAX_KEYS ||
		    chain >= PF_EVENTS_MAX_CHAIN) {
			/* Table (or this chain) full, a scan across many destinations: keep
			 * writing, unlimited, but the queue bound still holds. The chain bound
			 * caps what one verdict can cost whatever the keys. */
			queue_event(ev, now_ms, pod->namespace, pod->name, &t->src, &t->dst,
				    t->dport, v->action, pol_ns, pol_name,
				    v->matched ? v->rule_index : -1, 1, NULL, t->proto, audit);
			return;
		}
		k = calloc(1, sizeof(*k));
		if (!k || pf_hashtable_add(&ev->keys, &k->node, h) < 0) {
			free(k);
			ev->dropped++;
			return;
		}
		k->pod = pod->id;
		k->dst = t->dst;
		k->dport = t->dport;
		k->proto = t->proto;
		k->audit = audit;
	} else if (k->suppressed) {
		/* The old window ended before the timer closed it: its summary goes first. */
		queue_event(ev, k->last_ms, k->pod_namespace, k->pod_name, &k->src, &k->dst,
			    k->dport, k->action, k->policy_namespace, k->policy_name, k->rule_index,
			    k->suppressed, NULL, k->proto, k->audit);
		k->suppressed = 0;
	}
	k->window_start_ms = now_ms;
	queue_event(ev, now_ms, pod->namespace, pod->name, &t->src, &t->dst, t->dport, v->action,
		    pol_ns, pol_name, v->matched ? v->rule_index : -1, 1, NULL, t->proto, audit);
}

void pf_events_record(struct pf_events *ev, const struct pf_pod *pod, const struct pf_tuple *t,
		      const struct pf_verdict *v, int64_t now_ms)
{
	record(ev, pod, t, v, now_ms, false);
}

void pf_events_record_audit(struct pf_events *ev, const struct pf_pod *pod,
			    const struct pf_tuple *t, const struct pf_verdict *v, int64_t now_ms)
{
	ev->audit++;
	record(ev, pod, t, v, now_ms, true);
}

void pf_events_note(struct pf_events *ev, const struct pf_pod *pod, const char *reason,
		    const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
		    enum pf_action action, int64_t now_ms)
{
	pf_events_note_flow(ev, pod, reason, src, dst, dport, IPPROTO_TCP, action, now_ms);
}

void pf_events_note_flow(struct pf_events *ev, const struct pf_pod *pod, const char *reason,
			 const struct pf_addr *src, const struct pf_addr *dst, uint16_t dport,
			 uint8_t proto, enum pf_action action, int64_t now_ms)
{
	static const struct pf_addr none;

	ev->recorded++;
	queue_event(ev, now_ms, pod ? pod->namespace : NULL, pod ? pod->name : NULL,
		    src ? src : &none, dst ? dst : &none, dport, action, NULL, NULL, -1, 1, reason,
		    proto, false);
}

/* Close windows that ended: suppressed counts become summary events; idle keys go away. */
static void close_windows(struct pf_events *ev, int64_t now_ms, bool final)
{
	struct pf_hnode *n, *next;
	size_t b;

	for (n = pf_hashtable_first(&ev->keys, &b); n; n = next) {
		struct pf_event_key *k = key_of(n);

		next = pf_hashtable_next(&ev->keys, n, &b);
		if (!final && now_ms - k->window_start_ms < ev->window_ms)
			continue;
		if (k->suppressed)
			queue_event(ev, k->last_ms, k->pod_namespace, k->pod_name, &k->src, &k->dst,
				    k->dport, k->action, k->policy_namespace, k->policy_name,
				    k->rule_index, k->suppressed, NULL, k->proto, k->audit);
		pf_hashtable_del(&ev->keys, n);
		key_free(k);
	}
}

void pf_events_collect(struct pf_events *ev, int64_t now_ms, bool final,
		       struct pf_pending_event **out, size_t *n)
{
	if (pf_hashtable_count(&ev->keys))
		close_windows(ev, now_ms, final);
	*out = ev->n_pending ? PF_TAKE_PTR(ev->pending) : NULL;
	*n = ev->n_pending;
	if (*n) {
		ev->n_pending = 0;
		ev->cap_pending = 0;
	}
}

size_t pf_events_count(const struct pf_pending_event *pe, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += pe[i].ev.count;
	return c;
}

void pf_events_batch_free(struct pf_pending_event *pe, size_t n)
{
	for (size_t i = 0; pe && i < n; i++)
		free(pe[i].strings);
	free(pe);
}

/* Runs on the store worker, with its own connection: the loop never waits for this. */
int pf_events_write(struct pf_store *store, const struct pf_pending_event *pe, size_t n,
		    struct pf_error *err)
{
	_cleanup_free_ struct pf_event *batch = NULL;

	if (!n)
		return 0;
	batch = malloc(n * sizeof(*batch));
	if (!batch)
		return pf_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		batch[i] = pe[i].ev;
	return pf_store_append_events(store, batch, n, PF_EVENTS_MAX_ROWS, err);
}

int pf_events_write_out(struct pf_store *store, const struct pf_pending_event *pe, size_t n,
			const struct pf_events_out *o, struct pf_error *err)
{
	_cleanup_free_ struct pf_event *batch = NULL;
	int r = 0;

	if (n) {
		batch = malloc(n * sizeof(*batch));
		if (!batch)
			return pf_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			batch[i] = pe[i].ev;
		r = pf_store_append_events(store, batch, n, o->max_rows, err);
		/* the log pipeline gets them whatever the store did */
		if (o->log)
			pf_eventlog_write(o->log, batch, n);
	}
	if (r >= 0 && o->max_age_ms > 0)
		r = pf_store_trim_events_before(store, pf_now_ms() - o->max_age_ms, err);
	return r;
}

size_t pf_events_size(void)
{
	return sizeof(struct pf_pending_event);
}

void pf_events_move(struct pf_pending_event *dst, size_t at, const struct pf_pending_event *src,
		    size_t n)
{
	memcpy(dst + at, src, n * sizeof(*src));
}
