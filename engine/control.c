/* The control socket server: root peers only, bounded messages and time, JSON both ways. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ctl.h"
#include "doc.h"
#include "engine.h"
#include "log.h"

/* ---- a small JSON writer for replies --------------------------------------------------- */

static void jw_put(struct pf_jw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *b;

		while (cap < w->len + n + 1)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->failed = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void jw_sep(struct pf_jw *w)
{
	if (w->need_comma)
		jw_put(w, ",", 1);
	w->need_comma = true;
}

void pf_jw_raw(struct pf_jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

static void jw_string(struct pf_jw *w, const char *s)
{
	jw_put(w, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jw_put(w, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			jw_put(w, esc, 6);
		} else {
			jw_put(w, (const char *)p, 1);
		}
	}
	jw_put(w, "\"", 1);
}

void pf_jw_key(struct pf_jw *w, const char *k)
{
	jw_sep(w);
	jw_string(w, k);
	jw_put(w, ":", 1);
	w->need_comma = false;
}

void pf_jw_str(struct pf_jw *w, const char *s)
{
	jw_sep(w);
	if (s)
		jw_string(w, s);
	else
		jw_put(w, "null", 4);
}

void pf_jw_u64(struct pf_jw *w, uint64_t v)
{
	char b[32];

	jw_sep(w);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	pf_jw_raw(w, b);
}

void pf_jw_i64(struct pf_jw *w, int64_t v)
{
	char b[32];

	jw_sep(w);
	snprintf(b, sizeof(b), "%" PRId64, v);
	pf_jw_raw(w, b);
}

void pf_jw_bool(struct pf_jw *w, bool v)
{
	jw_sep(w);
	pf_jw_raw(w, v ? "true" : "false");
}

void pf_jw_open(struct pf_jw *w, char c)
{
	jw_sep(w);
	jw_put(w, &c, 1);
	w->need_comma = false;
}

void pf_jw_close(struct pf_jw *w, char c)
{
	jw_put(w, &c, 1);
	w->need_comma = true;
}

char *pf_jw_take(struct pf_jw *w)
{
	if (w->failed) {
		free(w->buf);
		w->buf = NULL;
		return NULL;
	}
	return PF_TAKE_PTR(w->buf);
}

static char *reply_error(const char *msg)
{
	struct pf_jw w = {};

	pf_jw_open(&w, '{');
	pf_jw_key(&w, "ok");
	pf_jw_bool(&w, false);
	pf_jw_key(&w, "error");
	pf_jw_str(&w, msg);
	pf_jw_close(&w, '}');
	return pf_jw_take(&w);
}

/* ---- requests ------------------------------------------------------------------------ */

const struct pf_doc_limits pf_ctl_limits = {
    .max_bytes = PF_CTL_MAX_MSG,
    .max_depth = 8,
    .max_nodes = 256,
    .max_string = PATH_MAX,
    .max_docs = 1,
};

/* An optional string field: absent is fine, present must be a string of sane length with
 * nothing a log line or a path could be confused by. */
static int get_str(const struct pf_node *req, const char *key, size_t max, bool required,
		   const char **out, struct pf_error *err)
{
	const struct pf_node *n = pf_node_get(req, key);
	size_t len;

	*out = NULL;
	if (!n || n->type == PF_NODE_NULL) {
		if (required)
			return pf_error_set(err, EINVAL, "missing field '%s'", key);
		return 0;
	}
	if (n->type != PF_NODE_STRING || !n->str)
		return pf_error_set(err, EINVAL, "field '%s' must be a string", key);
	len = strlen(n->str);
	if (len == 0)
		return pf_error_set(err, EINVAL, "field '%s' is empty", key);
	if (len > max)
		return pf_error_set(err, EINVAL, "field '%s' is longer than %zu bytes", key, max);
	for (const unsigned char *p = (const unsigned char *)n->str; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return pf_error_set(err, EINVAL, "field '%s' contains a control character",
					    key);
	*out = n->str;
	return 0;
}

static int get_int(const struct pf_node *req, const char *key, int64_t min, int64_t max,
		   bool *present, int64_t *out, struct pf_error *err)
{
	const struct pf_node *n = pf_node_get(req, key);

	*present = false;
	if (!n || n->type == PF_NODE_NULL)
		return 0;
	if (n->type != PF_NODE_INT)
		return pf_error_set(err, EINVAL, "field '%s' must be an integer", key);
	if (n->i < min || n->i > max)
		return pf_error_set(err, ERANGE, "field '%s' out of range", key);
	*present = true;
	*out = n->i;
	return 0;
}

/* "caps": the capabilities of the container's config that reach around the fence, as the
 * hook read them (names as in config.json; others are ignored, so a newer hook can say more). */
static int get_caps(const struct pf_node *req, unsigned *caps, struct pf_error *err)
{
	const struct pf_node *n = pf_node_get(req, "caps"), *u = pf_node_get(req, "caps_unknown");

	*caps = 0;
	if (u && u->type != PF_NODE_NULL) {
		if (u->type != PF_NODE_BOOL)
			return pf_error_set(err, EINVAL, "field 'caps_unknown' must be a boolean");
		if (u->b)
			*caps |= PF_CAP_UNKNOWN;
	}
	if (!n || n->type == PF_NODE_NULL)
		return 0;
	if (n->type != PF_NODE_SEQ)
		return pf_error_set(err, EINVAL, "field 'caps' must be an array of strings");
	if (n->n > 64)
		return pf_error_set(err, E2BIG, "field 'caps' has more than 64 entries");
	for (size_t i = 0; i < n->n; i++) {
		const struct pf_node *c = n->items[i];

		if (c->type != PF_NODE_STRING || !c->str)
			return pf_error_set(err, EINVAL,
					    "field 'caps' must be an array of strings");
		if (!strcmp(c->str, "CAP_NET_ADMIN"))
			*caps |= PF_CAP_NET_ADMIN;
		else if (!strcmp(c->str, "CAP_NET_RAW"))
			*caps |= PF_CAP_NET_RAW;
	}
	return 0;
}

static void jw_pod(struct pf_jw *w, const struct pf_pod *p, bool details)
{
	char a[PF_ADDR_STRLEN];

	pf_jw_open(w, '{');
	pf_jw_key(w, "namespace");
	pf_jw_str(w, p->namespace);
	pf_jw_key(w, "name");
	pf_jw_str(w, p->name);
	pf_jw_key(w, "uid");
	pf_jw_str(w, p->uid);
	pf_jw_key(w, "kind");
	pf_jw_str(w, p->kind);
	pf_jw_key(w, "netns");
	pf_jw_str(w, p->netns_path);
	pf_jw_key(w, "netns_dev");
	pf_jw_u64(w, p->id.dev);
	pf_jw_key(w, "netns_ino");
	pf_jw_u64(w, p->id.ino);
	pf_jw_key(w, "ips");
	pf_jw_open(w, '[');
	for (size_t i = 0; i < p->n_ips; i++)
		pf_jw_str(w, pf_addr_fmt(&p->ips[i], a));
	pf_jw_close(w, ']');
	pf_jw_key(w, "containers");
	if (details) {
		pf_jw_open(w, '[');
		for (size_t i = 0; i < p->n_containers; i++)
			pf_jw_str(w, p->containers[i]->id);
		pf_jw_close(w, ']');
	} else {
		pf_jw_u64(w, p->n_containers);
	}
	pf_jw_key(w, "state");
	pf_jw_str(w, p->active ? "enforced" : "pending");
	pf_jw_key(w, "privileged");
	pf_jw_bool(w, pf_pod_privileged(p));
	pf_jw_key(w, "verdicts");
	pf_jw_u64(w, p->n_verdicts);
	if (p->nfq) {
		struct pf_nfq_stats q;

		/* The kernel's counters of this pod's queue: what load cost it. */
		pf_nfq_get_stats(p->nfq, &q);
		pf_jw_key(w, "queue");
		pf_jw_open(w, '{');
		pf_jw_key(w, "dropped");
		pf_jw_u64(w, q.queue_dropped);
		pf_jw_key(w, "user_dropped");
		pf_jw_u64(w, q.user_dropped);
		pf_jw_key(w, "waiting");
		pf_jw_u64(w, q.queue_total);
		pf_jw_key(w, "unparsed");
		pf_jw_u64(w, q.unparsed);
		pf_jw_key(w, "verdicts_lost");
		pf_jw_u64(w, q.verdicts_lost);
		pf_jw_close(w, '}');
	}
	pf_jw_close(w, '}');
}

static char *register_reply(const struct pf_pod *pod, bool new_pod)
{
	struct pf_jw w = {};

	pf_jw_open(&w, '{');
	pf_jw_key(&w, "ok");
	pf_jw_bool(&w, true);
	pf_jw_key(&w, "new");
	pf_jw_bool(&w, new_pod);
	pf_jw_key(&w, "pod");
	jw_pod(&w, pod, true);
	pf_jw_close(&w, '}');
	return pf_jw_take(&w);
}

static int do_register(struct engine *e, const struct pf_node *req, char **reply,
		       struct pf_wait *wait, struct pf_error *err)
{
	struct pf_register_req r = {};
	struct pf_pod *pod = NULL;
	bool has_pid, has_dev, has_ino;
	int64_t pid = 0, dev = 0, ino = 0;
	size_t n_before = e->n_pods;
	uint64_t gen = 0;
	int k;

	if ((k = get_str(req, "netns", PATH_MAX - 1, true, &r.netns_path, err)) < 0 ||
	    (k = get_str(req, "namespace", PF_MAX_NAME, false, &r.namespace, err)) < 0 ||
	    (k = get_str(req, "name", PF_MAX_NAME, true, &r.name, err)) < 0 ||
	    (k = get_str(req, "uid", PF_MAX_NAME, false, &r.uid, err)) < 0 ||
	    (k = get_str(req, "container", PF_MAX_CONTAINER_ID, true, &r.container, err)) < 0 ||
	    (k = get_str(req, "kind", 16, false, &r.kind, err)) < 0 ||
	    (k = get_int(req, "pid", 1, INT_MAX, &has_pid, &pid, err)) < 0 ||
	    (k = get_int(req, "netns_dev", 0, INT64_MAX, &has_dev, &dev, err)) < 0 ||
	    (k = get_int(req, "netns_ino", 0, INT64_MAX, &has_ino, &ino, err)) < 0 ||
	    (k = get_caps(req, &r.caps, err)) < 0)
		return k;
	if (has_dev != has_ino)
		return pf_error_set(err, EINVAL, "netns_dev and netns_ino go together");
	if (!r.namespace)
		r.namespace = "default";
	if (!r.kind)
		r.kind = "Pod";
	if (strcmp(r.kind, "Pod") && strcmp(r.kind, "Container"))
		return pf_error_set(err, EINVAL, "field 'kind' must be \"Pod\" or \"Container\"");
	r.pid = (pid_t)pid;
	r.have_id = has_dev;
	r.id.dev = (uint64_t)dev;
	r.id.ino = (uint64_t)ino;

	k = pf_pods_register(e, &r, &pod, &gen, err);
	if (k < 0)
		return k;
	if (gen) {
		/* Answered once the cache holds the pod's addresses and its rules are in. */
		*wait = (struct pf_wait){.kind = PF_WAIT_REGISTER,
					 .gen = gen,
					 .id = pod->id,
					 .new_pod = e->n_pods > n_before};
		return 0;
	}
	*reply = register_reply(pod, e->n_pods > n_before);
	return *reply ? 0 : pf_error_set(err, ENOMEM, "out of memory");
}

static int do_unregister(struct engine *e, const struct pf_node *req, char **reply,
			 struct pf_error *err)
{
	const char *container, *netns;
	bool found = false, released = false;
	struct pf_jw w = {};
	int k;

	if ((k = get_str(req, "container", PF_MAX_CONTAINER_ID, true, &container, err)) < 0 ||
	    (k = get_str(req, "netns", PATH_MAX - 1, false, &netns, err)) < 0)
		return k;
	k = pf_pods_unregister(e, container, netns, &found, &released, err);
	if (k < 0)
		return k;
	/* Unknown containers are fine: poststop may run twice, or after a failed prestart. */
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "ok");
	pf_jw_bool(&w, true);
	pf_jw_key(&w, "found");
	pf_jw_bool(&w, found);
	pf_jw_key(&w, "released");
	pf_jw_bool(&w, released);
	pf_jw_close(&w, '}');
	*reply = pf_jw_take(&w);
	return *reply ? 0 : pf_error_set(err, ENOMEM, "out of memory");
}

static char *reload_reply(struct engine *e)
{
	struct pf_cache_stats st = {};
	struct pf_jw w = {};

	pf_cache_get_stats(e->cache, &st);
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "ok");
	pf_jw_bool(&w, true);
	pf_jw_key(&w, "generation");
	pf_jw_u64(&w, e->cache_generation);
	pf_jw_key(&w, "sources");
	pf_jw_u64(&w, st.n_sources);
	pf_jw_key(&w, "build_us");
	pf_jw_u64(&w, e->stats.last_reload_us);
	pf_jw_close(&w, '}');
	return pf_jw_take(&w);
}

static int do_reload(struct engine *e, char **reply, struct pf_wait *wait, struct pf_error *err)
{
	uint64_t gen = pf_reload_request(e, "request");

	if (gen > e->cache_generation) {
		*wait = (struct pf_wait){.kind = PF_WAIT_RELOAD, .gen = gen};
		return 0;
	}
	if (gen <= e->reload_failed && gen > e->cache_generation)
		return pf_error_set(err, EIO, "reload failed (see the engine's log)");
	*reply = reload_reply(e);
	return *reply ? 0 : pf_error_set(err, ENOMEM, "out of memory");
}

void pf_engine_add_queue_stats(struct pf_nfq_stats *sum, const struct pf_nfq *q)
{
	struct pf_nfq_stats s;

	pf_nfq_get_stats(q, &s);
	sum->packets += s.packets;
	sum->unparsed += s.unparsed;
	sum->enobufs += s.enobufs;
	sum->send_errors += s.send_errors;
	sum->kernel_errors += s.kernel_errors;
	sum->recv_calls += s.recv_calls;
	sum->truncated += s.truncated;
	sum->verdicts_lost += s.verdicts_lost;
	sum->recoveries += s.recoveries;
	sum->queue_dropped += s.queue_dropped;
	sum->user_dropped += s.user_dropped;
	/* queue_total is a gauge of one live queue: it does not add up over time. */
}

void pf_engine_counters(struct engine *e, struct pf_engine_counters *out)
{
	struct pf_nfq_stats *sum = &out->queues;
	uint64_t written = 0, dropped = 0;

	*out = (struct pf_engine_counters){.stats = e->stats, .queues = e->stats.nfq_released};
	pf_reloader_event_stats(e, &written, &dropped);
	pf_reloader_row_stats(e, &out->row_write_failures, &out->rows_waiting);
	if (e->cache)
		pf_cache_get_stats(e->cache, &out->cache);
	for (struct pf_pod *p = e->pods; p; p = p->next) {
		if (p->nfq)
			pf_engine_add_queue_stats(sum, p->nfq);
		out->n_privileged_pods += !p->dead && pf_pod_privileged(p);
		out->n_unresolved += p->active && p->unresolved;
	}
	out->cache_stale = e->cache_stale;
	out->events_recorded = e->events.recorded;
	out->events_suppressed = e->events.suppressed;
	out->events_written = written;
	/* Lost in memory here, or by the worker that could not write them. */
	out->events_dropped = e->events.dropped + dropped;
	out->events_pending = e->events.n_pending;
	out->n_pods = e->n_pods;
}

static int status_json(struct engine *e, bool details, char **out)
{
	struct pf_engine_counters n;
	struct pf_jw w = {};

	pf_engine_counters(e, &n);
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "ok");
	pf_jw_bool(&w, true);
	pf_jw_key(&w, "version");
	pf_jw_str(&w, PACKAGE_VERSION);
	pf_jw_key(&w, "pid");
	pf_jw_i64(&w, getpid());
	pf_jw_key(&w, "uptime_ms");
	pf_jw_i64(&w, pf_now_ms() - e->started_ms);
	pf_jw_key(&w, "fail_mode");
	pf_jw_str(&w, e->cfg.fail_closed ? "closed" : "open");
	pf_jw_key(&w, "default_action");
	pf_jw_str(&w, pf_action_to_string(e->cfg.default_action));
	pf_jw_key(&w, "queue_num");
	pf_jw_u64(&w, e->cfg.queue_num);
	pf_jw_key(&w, "queue_maxlen");
	pf_jw_u64(&w, e->cfg.queue_maxlen ? e->cfg.queue_maxlen : PF_NFQ_QUEUE_MAXLEN);
	pf_jw_key(&w, "backend");
	pf_jw_str(&w, e->nft.backend == PF_QUEUE_NATIVE ? "native" : "compat");
	pf_jw_key(&w, "store");
	pf_jw_str(&w, e->cfg.db_path);
	pf_jw_key(&w, "cache");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "generation");
	pf_jw_u64(&w, e->cache_generation);
	pf_jw_key(&w, "sources");
	pf_jw_u64(&w, n.cache.n_sources);
	pf_jw_key(&w, "groups");
	pf_jw_u64(&w, n.cache.n_groups);
	pf_jw_key(&w, "bytes");
	pf_jw_u64(&w, n.cache.bytes);
	pf_jw_key(&w, "reloads");
	pf_jw_u64(&w, n.stats.reloads);
	pf_jw_key(&w, "reload_failures");
	pf_jw_u64(&w, n.stats.reload_failures);
	pf_jw_key(&w, "last_build_us");
	pf_jw_u64(&w, n.stats.last_reload_us);
	/* A failed build keeps the cache in place: say that it is stale, since when, why. */
	pf_jw_key(&w, "stale");
	pf_jw_bool(&w, n.cache_stale);
	pf_jw_key(&w, "source");
	pf_jw_str(&w, e->cache_source ? e->cache_source : "store");
	pf_jw_key(&w, "build_failures");
	pf_jw_u64(&w, n.stats.build_failures);
	pf_jw_key(&w, "last_build_failure_ms");
	pf_jw_i64(&w, n.stats.last_build_failure_ms);
	pf_jw_key(&w, "last_build_error");
	pf_jw_str(&w, n.cache_stale ? e->last_build_error : "");
	pf_jw_key(&w, "pods_unresolved");
	pf_jw_u64(&w, n.n_unresolved);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "verdicts");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "accept");
	pf_jw_u64(&w, n.stats.accepted);
	pf_jw_key(&w, "drop");
	pf_jw_u64(&w, n.stats.dropped);
	pf_jw_key(&w, "reject");
	pf_jw_u64(&w, n.stats.rejected);
	pf_jw_key(&w, "unparsed");
	pf_jw_u64(&w, n.stats.unparsed);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "queues");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "packets");
	pf_jw_u64(&w, n.queues.packets);
	pf_jw_key(&w, "enobufs");
	pf_jw_u64(&w, n.queues.enobufs);
	pf_jw_key(&w, "send_errors");
	pf_jw_u64(&w, n.queues.send_errors);
	pf_jw_key(&w, "kernel_errors");
	pf_jw_u64(&w, n.queues.kernel_errors);
	pf_jw_key(&w, "dropped");
	pf_jw_u64(&w, n.queues.queue_dropped);
	pf_jw_key(&w, "user_dropped");
	pf_jw_u64(&w, n.queues.user_dropped);
	pf_jw_key(&w, "truncated");
	pf_jw_u64(&w, n.queues.truncated);
	pf_jw_key(&w, "verdicts_lost");
	pf_jw_u64(&w, n.queues.verdicts_lost);
	pf_jw_key(&w, "recoveries");
	pf_jw_u64(&w, n.queues.recoveries);
	pf_jw_key(&w, "dispatch_errors");
	pf_jw_u64(&w, n.stats.nfq_errors);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "events");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "recorded");
	pf_jw_u64(&w, n.events_recorded);
	pf_jw_key(&w, "suppressed");
	pf_jw_u64(&w, n.events_suppressed);
	pf_jw_key(&w, "written");
	pf_jw_u64(&w, n.events_written);
	pf_jw_key(&w, "dropped");
	pf_jw_u64(&w, n.events_dropped);
	pf_jw_key(&w, "pending");
	pf_jw_u64(&w, n.events_pending);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "pod_rows");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "write_failures");
	pf_jw_u64(&w, n.row_write_failures);
	pf_jw_key(&w, "waiting");
	pf_jw_u64(&w, n.rows_waiting);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "ruleset");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "restored");
	pf_jw_u64(&w, n.stats.ruleset_restored);
	pf_jw_key(&w, "restore_failures");
	pf_jw_u64(&w, n.stats.ruleset_restore_failures);
	pf_jw_key(&w, "foreign_tables");
	pf_jw_u64(&w, n.stats.ruleset_foreign);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "privileged_pods");
	pf_jw_open(&w, '{');
	pf_jw_key(&w, "mode");
	pf_jw_str(&w, e->cfg.refuse_privileged ? "refuse" : "warn");
	pf_jw_key(&w, "current");
	pf_jw_u64(&w, n.n_privileged_pods);
	pf_jw_key(&w, "containers");
	pf_jw_u64(&w, n.stats.privileged_containers);
	pf_jw_key(&w, "refused");
	pf_jw_u64(&w, n.stats.privileged_refused);
	pf_jw_close(&w, '}');
	pf_jw_key(&w, "n_pods");
	pf_jw_u64(&w, n.n_pods);
	if (details) {
		pf_jw_key(&w, "pods");
		pf_jw_open(&w, '[');
		for (struct pf_pod *p = e->pods; p; p = p->next)
			if (!p->dead)
				jw_pod(&w, p, false);
		pf_jw_close(&w, ']');
	}
	pf_jw_close(&w, '}');
	*out = pf_jw_take(&w);
	return *out ? 0 : -ENOMEM;
}

int pf_status_json(struct engine *e, char **out)
{
	int r = status_json(e, true, out);

	/* Many pods: the list would not fit one message; `podfencectl pods` reads the store. */
	if (r == 0 && strlen(*out) > PF_CTL_MAX_MSG) {
		free(*out);
		r = status_json(e, false, out);
	}
	return r;
}

int pf_control_dispatch(struct engine *e, const struct pf_node *req, const char *default_op,
			char **reply, struct pf_wait *wait)
{
	struct pf_error err = {};
	const struct pf_node *opn;
	uint32_t timeout_ms = 0;
	const char *op;
	int r;

	*reply = NULL;
	*wait = (struct pf_wait){};
	if (req->type != PF_NODE_MAP) {
		r = pf_error_set(&err, EINVAL, "invalid request: not a JSON object");
		goto fail;
	}
	opn = pf_node_get(req, "op");
	op = pf_node_str(req, "op");
	if (!opn && default_op)
		op = default_op;
	if (!op) {
		r = pf_error_set(&err, EINVAL, "invalid request: missing string field 'op'");
		goto fail;
	}
	{
		bool has;
		int64_t t = 0;

		r = get_int(req, "timeout_ms", 1, PF_CLIENT_MAX_TIMEOUT_MS, &has, &t, &err);
		if (r < 0)
			goto fail;
		timeout_ms = (uint32_t)t;
	}
	if (!strcmp(op, "register"))
		r = do_register(e, req, reply, wait, &err);
	else if (!strcmp(op, "unregister"))
		r = do_unregister(e, req, reply, &err);
	else if (!strcmp(op, "reload"))
		r = do_reload(e, reply, wait, &err);
	else if (!strcmp(op, "status"))
		r = pf_status_json(e, reply) < 0 ? pf_error_set(&err, ENOMEM, "out of memory") : 0;
	else
		r = pf_error_set(&err, EINVAL, "unknown op '%.64s'", op);
	if (r == 0) {
		if (wait->kind != PF_WAIT_NONE)
			wait->timeout_ms = timeout_ms;
		return 0;
	}
fail:
	*wait = (struct pf_wait){};
	free(*reply);
	if (!err.msg[0])
		snprintf(err.msg, sizeof(err.msg), "%s", strerror(-r));
	*reply = reply_error(err.msg);
	return r;
}

int pf_control_handle(struct engine *e, const char *buf, size_t len, char **reply,
		      struct pf_wait *wait)
{
	struct pf_node *req = NULL;
	struct pf_error err = {};
	int r;

	*reply = NULL;
	*wait = (struct pf_wait){};
	r = pf_json_parse(buf, len, &pf_ctl_limits, &req, &err);
	if (r < 0) {
		if (!err.msg[0])
			snprintf(err.msg, sizeof(err.msg), "%s", strerror(-r));
		pf_error_prefix(&err, "invalid request");
		*reply = reply_error(err.msg);
		return r;
	}
	r = pf_control_dispatch(e, req, NULL, reply, wait);
	pf_node_free(req);
	return r;
}

/* ---- the socket -------------------------------------------------------------------- */

int pf_control_listen(struct engine *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = e->cfg.socket_path;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;
	char *slash;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "Control socket path '%s' is too long", path);
	strcpy(sa.sun_path, path);
	dir = strdup(path);
	if (!dir)
		return log_error_errno(-ENOMEM, "Out of memory");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = pf_mkdir_p(dir, 0700);
		if (r < 0)
			return log_error_errno(r, "Failed to create %s: %m", dir);
	}

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "socket: %m");
	/* A socket file left by a crash is stale only if nobody answers on it. */
	{
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return log_error_errno(-EADDRINUSE, "Another engine is listening on %s",
					       path);
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "Failed to remove stale %s: %m", path);
	r = pf_bind_private(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r < 0)
		return log_error_errno(r, "Failed to bind %s: %m", path);
	if (listen(fd, 64) < 0)
		return log_error_errno(-errno, "listen %s: %m", path);
	e->listen_watch = (struct pf_watch){PF_WATCH_LISTEN, e};
	r = pf_loop_add(e, fd, EPOLLIN, &e->listen_watch);
	if (r < 0)
		return log_error_errno(r, "epoll add control socket: %m");
	e->listen_fd = PF_TAKE_FD(fd);
	return 0;
}

static void client_free(struct engine *e, struct pf_client *c)
{
	pf_loop_del(e, c->fd);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void client_drop(struct engine *e, struct pf_client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	/* Out of epoll now, so no new events; the struct waits for pf_control_reap, as events
	 * already fetched in this round may still point at it. */
	pf_loop_del(e, c->fd);
	close(c->fd);
	c->fd = -1;
}

static void send_reply(struct pf_client *c, const char *reply)
{
	if (!reply)
		reply = "{\"ok\":false,\"error\":\"out of memory\"}";
	/* Replies are small and the peer waits for them; a peer that cannot take one is gone. */
	if (send(c->fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug_errno(-errno, "Control reply not sent: %m");
}

/*
 * How long a request that waits for a rebuild may wait: a little less than its sender said it
 * would (so that the answer, an error if need be, arrives while someone still reads it),
 * never more than PF_CLIENT_WAIT_MS. The hook sends its own deadline, so a slow build or a
 * store locked past its busy timeout is answered with an error, never with silence.
 */
static uint64_t wait_budget_ms(uint32_t timeout_ms)
{
	uint64_t margin;

	if (!timeout_ms)
		return PF_CLIENT_WAIT_MS;
	margin = MIN(PF_CLIENT_ANSWER_MARGIN_MS, timeout_ms / 4);
	return MIN((uint64_t)PF_CLIENT_WAIT_MS, MAX(timeout_ms - margin, 1));
}

/* A waiting request ran out of time: say so before hanging up. */
static void answer_late(struct engine *e, struct pf_client *c)
{
	_cleanup_free_ char *reply = NULL;
	struct pf_pod *p;
	char msg[256];

	if (c->wait.kind == PF_WAIT_REGISTER) {
		p = pf_pods_find(e, &c->wait.id);
		snprintf(msg, sizeof(msg),
			 "pod %s/%s not enforced within %" PRIu64
			 " ms (the verdict cache that holds it is still being built; see the "
			 "engine's log)",
			 p ? p->namespace : "?", p ? p->name : "?",
			 wait_budget_ms(c->wait.timeout_ms));
		log_warning("Registration of %s/%s not done within %" PRIu64
			    " ms; answered with an error (cache generation %" PRIu64
			    " in place, %" PRIu64 " needed)",
			    p ? p->namespace : "?", p ? p->name : "?",
			    wait_budget_ms(c->wait.timeout_ms), e->cache_generation, c->wait.gen);
	} else {
		snprintf(msg, sizeof(msg),
			 "reload not done within %" PRIu64 " ms (it goes on; see the engine's log)",
			 wait_budget_ms(c->wait.timeout_ms));
	}
	reply = reply_error(msg);
	send_reply(c, reply);
	c->wait = (struct pf_wait){};
}

/* The listening socket is out of epoll while every client slot is taken. */
static bool listen_paused;

void pf_control_accept(struct engine *e)
{
	for (;;) {
		struct ucred cred = {};
		socklen_t cl = sizeof(cred);
		struct pf_client *c;
		int fd, r;

		if (e->n_clients >= PF_MAX_CLIENTS) {
			/* Full: the rest wait in the listen queue (each within its own timeout)
			 * until pf_control_reap makes room. Answering "busy" and hanging up would
			 * reach a peer that has sent as a connection reset, and refuse a hook for
			 * no fault of its container. */
			struct epoll_event ev = {.events = 0, .data.ptr = &e->listen_watch};

			if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->listen_fd, &ev) == 0)
				listen_paused = true;
			return;
		}
		fd = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning_errno(-errno, "accept: %m");
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
			cred.uid = (uid_t)-1;
		if (cred.uid != 0) {
			size_t refused = 0;

			log_warning("Refused control connection from uid %u pid %d: not root",
				    (unsigned)cred.uid, (int)cred.pid);
			/* Refused peers must not crowd out root ones: only a few get an answer. */
			for (struct pf_client *k = e->clients; k; k = k->next)
				refused += k->refused_uid && !k->dead;
			if (refused >= PF_MAX_CLIENTS / 8) {
				close(fd);
				continue;
			}
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		/* A refused peer still gets its answer to read, after it has sent: hanging up on
		 * it at once would turn the answer into a connection reset. The socket is 0600
		 * as well, so only a mis-set permission lets such a peer get this far. */
		c->refused_uid = cred.uid != 0;
		c->uid = cred.uid;
		c->deadline_ns = pf_mono_ns() + PF_CLIENT_TIMEOUT_MS * 1000000ull;
		c->watch = (struct pf_watch){PF_WATCH_CLIENT, c};
		r = pf_loop_add(e, fd, EPOLLIN | EPOLLRDHUP, &c->watch);
		if (r < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = e->clients;
		e->clients = c;
		e->n_clients++;
	}
}

void pf_control_client_io(struct engine *e, struct pf_client *c, uint32_t events)
{
	static char buf[PF_CTL_MAX_MSG + 1];
	_cleanup_free_ char *reply = NULL;
	ssize_t n;

	if (c->wait.kind != PF_WAIT_NONE) {
		if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
			client_drop(e, c); /* the work goes on; only the answer has nowhere to go */
		return;
	}
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* recv() says 0 both for an empty message and for a peer that hung up; only the
		 * hang-up comes with EPOLLHUP/EPOLLRDHUP. */
		if (n < 0 || (n == 0 && (events & (EPOLLHUP | EPOLLRDHUP)))) {
			client_drop(e, c);
			return;
		}
		break;
	}
	if (c->refused_uid) {
		char msg[96];

		snprintf(msg, sizeof(msg), "permission denied: uid %u is not root",
			 (unsigned)c->uid);
		reply = reply_error(msg);
		send_reply(c, reply);
		client_drop(e, c);
		return;
	}
	if ((size_t)n > PF_CTL_MAX_MSG) {
		char msg[96];

		snprintf(msg, sizeof(msg), "request larger than %d bytes", PF_CTL_MAX_MSG);
		reply = reply_error(msg);
		send_reply(c, reply);
		client_drop(e, c);
		return;
	}
	if (n == 0)
		reply = reply_error("invalid request: empty message");
	else
		pf_control_handle(e, buf, (size_t)n, &reply, &c->wait);
	if (c->wait.kind != PF_WAIT_NONE) {
		struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = &c->watch};

		/* Read nothing more until this one is answered; a hang-up still shows. */
		epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->deadline_ns = pf_mono_ns() + wait_budget_ms(c->wait.timeout_ms) * 1000000ull;
		return;
	}
	send_reply(c, reply);
	/* Each request buys the connection a fresh time budget. */
	c->deadline_ns = pf_mono_ns() + PF_CLIENT_TIMEOUT_MS * 1000000ull;
}

void pf_control_fail_waiters(struct engine *e, const struct pf_netns_id *id, const char *msg)
{
	for (struct pf_client *c = e->clients; c; c = c->next)
		if (!c->dead && c->wait.kind == PF_WAIT_REGISTER && pf_netns_id_eq(&c->wait.id, id))
			snprintf(c->wait.error, sizeof(c->wait.error), "%s", msg);
}

void pf_control_cache_ready(struct engine *e)
{
	for (struct pf_client *c = e->clients; c; c = c->next) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &c->watch};
		_cleanup_free_ char *reply = NULL;
		struct pf_pod *p;

		if (c->dead || c->wait.kind == PF_WAIT_NONE)
			continue;
		if (c->wait.gen > e->cache_generation && c->wait.gen > e->reload_failed)
			continue;
		if (c->wait.kind == PF_WAIT_REGISTER) {
			p = pf_pods_find(e, &c->wait.id);
			if (p && p->active)
				reply = register_reply(p, c->wait.new_pod);
			else if (p && !c->wait.error[0])
				continue; /* its own generation is still to come */
			else
				reply = reply_error(c->wait.error[0]
							? c->wait.error
							: "the pod went away while registering");
		} else if (c->wait.gen <= e->cache_generation) {
			reply = reload_reply(e);
		} else {
			reply = reply_error("reload failed (see the engine's log)");
		}
		send_reply(c, reply);
		c->wait = (struct pf_wait){};
		c->deadline_ns = pf_mono_ns() + PF_CLIENT_TIMEOUT_MS * 1000000ull;
		epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

void pf_control_expire(struct engine *e, bool all)
{
	uint64_t now = pf_mono_ns();

	for (struct pf_client *c = e->clients; c; c = c->next) {
		if (c->dead || (!all && now < c->deadline_ns))
			continue;
		if (c->wait.kind != PF_WAIT_NONE && !all)
			answer_late(e, c);
		client_drop(e, c);
	}
}

void pf_control_reap(struct engine *e)
{
	for (struct pf_client **pp = &e->clients; *pp;) {
		struct pf_client *c = *pp;

		if (c->dead) {
			*pp = c->next;
			e->n_clients--;
			client_free(e, c);
			continue;
		}
		pp = &c->next;
	}
	if (listen_paused && e->n_clients < PF_MAX_CLIENTS && e->listen_fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &e->listen_watch};

		if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->listen_fd, &ev) == 0)
			listen_paused = false;
	}
}

void pf_control_close(struct engine *e)
{
	pf_control_expire(e, true);
	pf_control_reap(e);
	if (e->listen_fd >= 0) {
		pf_loop_del(e, e->listen_fd);
		close(e->listen_fd);
		e->listen_fd = -1;
		unlink(e->cfg.socket_path);
	}
}
