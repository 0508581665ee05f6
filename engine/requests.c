/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control requests: register, unregister, reload and status, for any transport (the control
 * socket, and re-adoption of the hook's pending records). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "counters.h"
#include "ctl.h"
#include "doc.h"
#include "json-gen.h"
#include "log.h"
#include "pods.h"
#include "reload.h"
#include "explain.h"
#include "trace.h"
#include "requests.h"

/* The reply's text, or NULL when writing it failed (out of memory). */
static char *take(struct pf_jgen *w)
{
	char *s = NULL;

	return pf_jgen_take(w, &s) < 0 ? NULL : s;
}

char *pf_requests_error(const char *msg)
{
	_cleanup_jgen_ struct pf_jgen w = {};

	pf_jgen_init(&w, 0);
	pf_jgen_map_open(&w);
	pf_jgen_kv_bool(&w, "ok", false);
	pf_jgen_kv_str(&w, "error", msg);
	pf_jgen_map_close(&w);
	return take(&w);
}

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

static void jw_pod(struct pf_jgen *w, const struct pf_pod *p, bool details)
{
	char a[PF_ADDR_STRLEN];

	pf_jgen_map_open(w);
	pf_jgen_kv_str(w, "namespace", p->namespace);
	pf_jgen_kv_str(w, "name", p->name);
	pf_jgen_kv_str(w, "uid", p->uid);
	pf_jgen_kv_str(w, "kind", p->kind);
	pf_jgen_kv_str(w, "netns", p->netns_path);
	pf_jgen_kv_uint(w, "netns_dev", p->id.dev);
	pf_jgen_kv_uint(w, "netns_ino", p->id.ino);
	pf_jgen_key(w, "ips");
	pf_jgen_array_open(w);
	for (size_t i = 0; i < p->n_ips; i++)
		pf_jgen_str(w, pf_addr_fmt(&p->ips[i], a));
	pf_jgen_array_close(w);
	pf_jgen_key(w, "containers");
	if (details) {
		pf_jgen_array_open(w);
		for (size_t i = 0; i < p->n_containers; i++)
			pf_jgen_str(w, p->containers[i]->id);
		pf_jgen_array_close(w);
	} else {
		pf_jgen_uint(w, p->n_containers);
	}
	pf_jgen_kv_str(w, "state", p->active ? "enforced" : "pending");
	pf_jgen_kv_bool(w, "privileged", pf_pod_privileged(p));
	pf_jgen_kv_uint(w, "verdicts", p->n_verdicts);
	if (p->nfq) {
		struct pf_nfq_stats q;

		/* The kernel's counters of this pod's queue: what load cost it. */
		pf_nfq_get_stats(p->nfq, &q);
		pf_jgen_key(w, "queue");
		pf_jgen_map_open(w);
		pf_jgen_kv_uint(w, "dropped", q.queue_dropped);
		pf_jgen_kv_uint(w, "user_dropped", q.user_dropped);
		pf_jgen_kv_uint(w, "waiting", q.queue_total);
		pf_jgen_kv_uint(w, "unparsed", q.unparsed);
		pf_jgen_kv_uint(w, "verdicts_lost", q.verdicts_lost);
		pf_jgen_map_close(w);
	}
	pf_jgen_map_close(w);
}

static char *register_reply(const struct pf_pod *pod, bool new_pod)
{
	_cleanup_jgen_ struct pf_jgen w = {};

	pf_jgen_init(&w, 0);
	pf_jgen_map_open(&w);
	pf_jgen_kv_bool(&w, "ok", true);
	pf_jgen_kv_bool(&w, "new", new_pod);
	pf_jgen_key(&w, "pod");
	jw_pod(&w, pod, true);
	pf_jgen_map_close(&w);
	return take(&w);
}

static int do_register(struct pf_requests *rq, const struct pf_node *req, char **reply,
		       struct pf_wait *wait, struct pf_error *err)
{
	struct pf_register_req r = {};
	struct pf_pod *pod = NULL;
	bool has_pid, has_dev, has_ino, has_sbpid;
	int64_t pid = 0, dev = 0, ino = 0, sbpid = 0;
	size_t n_before = pf_pods_count(rq->pods);
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
	    (k = get_caps(req, &r.caps, err)) < 0 ||
	    (k = get_str(req, "sandbox", PF_MAX_CONTAINER_ID, false, &r.sandbox, err)) < 0 ||
	    (k = get_int(req, "sandbox_pid", 2, INT_MAX, &has_sbpid, &sbpid, err)) < 0)
		return k;
	if (has_dev != has_ino)
		return pf_error_set(err, EINVAL, "netns_dev and netns_ino go together");
	if (!r.sandbox != !has_sbpid)
		return pf_error_set(err, EINVAL, "sandbox and sandbox_pid go together");
	r.sandbox_pid = (pid_t)sbpid;
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

	k = pf_pods_register(rq->pods, &r, &pod, &gen, err);
	if (k < 0)
		return k;
	if (gen) {
		/* Answered once the cache holds the pod's addresses and its rules are in. */
		*wait = (struct pf_wait){.kind = PF_WAIT_REGISTER,
					 .gen = gen,
					 .id = pod->id,
					 .new_pod = pf_pods_count(rq->pods) > n_before};
		return 0;
	}
	*reply = register_reply(pod, pf_pods_count(rq->pods) > n_before);
	return *reply ? 0 : pf_error_set(err, ENOMEM, "out of memory");
}

static int do_unregister(struct pf_requests *rq, const struct pf_node *req, char **reply,
			 struct pf_error *err)
{
	const char *container, *netns;
	bool found = false, released = false;
	_cleanup_jgen_ struct pf_jgen w = {};
	int k;

	if ((k = get_str(req, "container", PF_MAX_CONTAINER_ID, true, &container, err)) < 0 ||
	    (k = get_str(req, "netns", PATH_MAX - 1, false, &netns, err)) < 0)
		return k;
	k = pf_pods_unregister(rq->pods, container, netns, &found, &released, err);
	if (k < 0)
		return k;
	/* Unknown containers are fine: poststop may run twice, or after a failed prestart. */
	pf_jgen_init(&w, 0);
	pf_jgen_map_open(&w);
	pf_jgen_kv_bool(&w, "ok", true);
	pf_jgen_kv_bool(&w, "found", found);
	pf_jgen_kv_bool(&w, "released", released);
	pf_jgen_map_close(&w);
	*reply = take(&w);
	return *reply ? 0 : pf_error_set(err, ENOMEM, "out of memory");
}

static char *reload_reply(struct pf_requests *rq)
{
	struct pf_cache_stats st = {};
	struct pf_reload_state rs;
	_cleanup_jgen_ struct pf_jgen w = {};

	pf_cache_get_stats(pf_reload_cache(rq->reload), &st);
	pf_reload_get_state(rq->reload, &rs);
	pf_jgen_init(&w, 0);
	pf_jgen_map_open(&w);
	pf_jgen_kv_bool(&w, "ok", true);
	pf_jgen_kv_uint(&w, "generation", rs.generation);
	pf_jgen_kv_uint(&w, "sources", st.n_sources);
	pf_jgen_kv_uint(&w, "build_us", rs.last_reload_us);
	pf_jgen_map_close(&w);
	return take(&w);
}

static int do_reload(struct pf_requests *rq, char **reply, struct pf_wait *wait,
		     struct pf_error *err)
{
	uint64_t gen = pf_reload_request(rq->reload, "request");

	if (gen > pf_reload_generation(rq->reload)) {
		*wait = (struct pf_wait){.kind = PF_WAIT_RELOAD, .gen = gen};
		return 0;
	}
	if (gen <= pf_reload_failed_generation(rq->reload) &&
	    gen > pf_reload_generation(rq->reload))
		return pf_error_set(err, EIO, "reload failed (see the engine's log)");
	*reply = reload_reply(rq);
	return *reply ? 0 : pf_error_set(err, ENOMEM, "out of memory");
}

static int status_json(struct pf_requests *rq, bool details, char **out)
{
	struct pf_engine_counters n;
	_cleanup_jgen_ struct pf_jgen w = {};

	pf_counters_read(rq->counters, &n);
	pf_jgen_init(&w, 0);
	pf_jgen_map_open(&w);
	pf_jgen_kv_bool(&w, "ok", true);
	pf_jgen_kv_str(&w, "version", PACKAGE_VERSION);
	pf_jgen_kv_int(&w, "pid", getpid());
	pf_jgen_kv_int(&w, "uptime_ms", pf_now_ms() - rq->cfg.started_ms);
	pf_jgen_kv_str(&w, "fail_mode", rq->cfg.fail_closed ? "closed" : "open");
	pf_jgen_kv_str(&w, "default_action", pf_action_to_string(rq->cfg.default_action));
	pf_jgen_kv_uint(&w, "queue_num", rq->cfg.queue_num);
	pf_jgen_kv_uint(&w, "queue_maxlen",
			rq->cfg.queue_maxlen ? rq->cfg.queue_maxlen : PF_NFQ_QUEUE_MAXLEN);
	pf_jgen_kv_str(&w, "backend", rq->cfg.backend == PF_QUEUE_NATIVE ? "native" : "compat");
	pf_jgen_kv_str(&w, "store", rq->cfg.db_path);
	pf_jgen_key(&w, "cache");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "generation", pf_reload_generation(rq->reload));
	pf_jgen_kv_uint(&w, "sources", n.cache.n_sources);
	pf_jgen_kv_uint(&w, "groups", n.cache.n_groups);
	/* the rest were taken from the last full build (only what changed is compiled) */
	pf_jgen_kv_uint(&w, "groups_compiled", n.cache.n_groups - n.cache.n_groups_reused);
	pf_jgen_kv_uint(&w, "bytes", n.cache.bytes);
	pf_jgen_kv_uint(&w, "rules", n.cache.n_rules);
	pf_jgen_kv_uint(&w, "audit_rules", n.cache.n_audit_rules);
	pf_jgen_kv_uint(&w, "reloads", n.reload.reloads);
	pf_jgen_kv_uint(&w, "reload_failures", n.reload.reload_failures);
	pf_jgen_kv_uint(&w, "last_build_us", n.reload.last_reload_us);
	/* A failed build keeps the cache in place: say that it is stale, since when, why. */
	pf_jgen_kv_bool(&w, "stale", n.reload.stale);
	pf_jgen_kv_str(&w, "source", n.reload.source);
	pf_jgen_kv_uint(&w, "build_failures", n.reload.build_failures);
	pf_jgen_kv_int(&w, "last_build_failure_ms", n.reload.last_build_failure_ms);
	pf_jgen_kv_str(&w, "last_build_error", n.reload.stale ? n.reload.last_error : "");
	pf_jgen_kv_uint(&w, "pods_unresolved", n.n_unresolved);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "verdicts");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "accept", n.stats.accepted);
	pf_jgen_kv_uint(&w, "drop", n.stats.dropped);
	pf_jgen_kv_uint(&w, "reject", n.stats.rejected);
	pf_jgen_kv_uint(&w, "unparsed", n.stats.unparsed);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "queues");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "packets", n.queues.packets);
	pf_jgen_kv_uint(&w, "enobufs", n.queues.enobufs);
	pf_jgen_kv_uint(&w, "send_errors", n.queues.send_errors);
	pf_jgen_kv_uint(&w, "kernel_errors", n.queues.kernel_errors);
	pf_jgen_kv_uint(&w, "dropped", n.queues.queue_dropped);
	pf_jgen_kv_uint(&w, "user_dropped", n.queues.user_dropped);
	pf_jgen_kv_uint(&w, "truncated", n.queues.truncated);
	pf_jgen_kv_uint(&w, "verdicts_lost", n.queues.verdicts_lost);
	pf_jgen_kv_uint(&w, "recoveries", n.queues.recoveries);
	pf_jgen_kv_uint(&w, "dispatch_errors", n.stats.nfq_errors);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "events");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "recorded", n.events_recorded);
	pf_jgen_kv_uint(&w, "suppressed", n.events_suppressed);
	pf_jgen_kv_uint(&w, "written", n.events_written);
	pf_jgen_kv_uint(&w, "dropped", n.events_dropped);
	pf_jgen_kv_uint(&w, "pending", n.events_pending);
	pf_jgen_kv_uint(&w, "audit", n.events_audit);
	pf_jgen_kv_uint(&w, "traces", rq->trace ? rq->trace->n_subs : 0);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "pod_rows");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "write_failures", n.row_write_failures);
	pf_jgen_kv_uint(&w, "waiting", n.rows_waiting);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "ruleset");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "restored", n.stats.ruleset_restored);
	pf_jgen_kv_uint(&w, "restore_failures", n.stats.ruleset_restore_failures);
	pf_jgen_kv_uint(&w, "foreign_tables", n.stats.ruleset_foreign);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "privileged_pods");
	pf_jgen_map_open(&w);
	pf_jgen_kv_str(&w, "mode", rq->cfg.refuse_privileged ? "refuse" : "warn");
	pf_jgen_kv_uint(&w, "current", n.n_privileged_pods);
	pf_jgen_kv_uint(&w, "containers", n.stats.privileged_containers);
	pf_jgen_kv_uint(&w, "refused", n.stats.privileged_refused);
	pf_jgen_map_close(&w);
	pf_jgen_key(&w, "dns");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "answers", n.stats.dns_answers);
	pf_jgen_kv_uint(&w, "ignored", n.stats.dns_ignored);
	pf_jgen_kv_uint(&w, "evicted", n.stats.dns_evicted);
	pf_jgen_map_close(&w);
	pf_jgen_kv_uint(&w, "udp_judged", n.stats.udp_judged);
	pf_jgen_kv_uint(&w, "flows_cut", n.stats.flows_cut);
	pf_jgen_key(&w, "activations");
	pf_jgen_map_open(&w);
	pf_jgen_kv_uint(&w, "own_cache", n.stats.pods_own_cache);
	pf_jgen_kv_uint(&w, "after_build", n.stats.pods_after_build);
	pf_jgen_map_close(&w);
	pf_jgen_kv_uint(&w, "n_pods", n.n_pods);
	if (details) {
		pf_jgen_key(&w, "pods");
		pf_jgen_array_open(&w);
		for (struct pf_pod *p = pf_pods_list(rq->pods); p; p = p->next)
			if (!p->dead)
				jw_pod(&w, p, false);
		pf_jgen_array_close(&w);
	}
	pf_jgen_map_close(&w);
	*out = take(&w);
	return *out ? 0 : -ENOMEM;
}

int pf_status_json(struct pf_requests *rq, char **out)
{
	int r = status_json(rq, true, out);

	/* Many pods: the list would not fit one message; `podfencectl pods` reads the store. */
	if (r == 0 && strlen(*out) > PF_CTL_MAX_MSG) {
		free(*out);
		r = status_json(rq, false, out);
	}
	return r;
}

/* {"op":"trace","pod":"NS/NAME"?,"action":"Deny"?}: the answer says ok, then the connection
 * carries one verdict per message (engine/trace.h) until the reader hangs up. */
static int do_trace(struct pf_requests *rq, const struct pf_node *req, char **reply,
		    struct pf_wait *wait, struct pf_error *err)
{
	const char *pod = NULL, *action = NULL;
	int a = -1, r;

	if ((r = get_str(req, "pod", PF_MAX_NAME * 2 + 1, false, &pod, err)) < 0 ||
	    (r = get_str(req, "action", 16, false, &action, err)) < 0)
		return r;
	if (action && ((a = pf_action_from_string(action)) < 0 || a == PF_ACTION_PASS))
		return pf_error_set(
		    err, EINVAL, "invalid request: 'action' must be Allow, Deny, Reject or Alert");
	if (!rq->trace)
		return pf_error_set(err, ENOTSUP, "tracing is not available");
	r = pf_trace_subscribe(rq->trace, pod, a, &wait->trace);
	if (r == -EBUSY)
		return pf_error_set(err, EBUSY, "%d traces run already", PF_TRACE_MAX_SUBS);
	if (r < 0)
		return pf_error_set(err, -r, "out of memory");
	*reply = strdup("{\"ok\":true,\"trace\":true}");
	if (!*reply) {
		pf_trace_unsubscribe(rq->trace, PF_TAKE_PTR(wait->trace));
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	wait->kind = PF_WAIT_TRACE;
	return 0;
}

/* {"op":"explain","from":F,"to":IP,"port":N}: see engine/explain.h. */
static int do_explain(struct pf_requests *rq, const struct pf_node *req, char **reply,
		      struct pf_error *err)
{
	const char *from = NULL, *to = NULL;
	struct pf_addr dst;
	int64_t port = 0;
	bool has;
	int r;

	if ((r = get_str(req, "from", PF_MAX_NAME * 2 + 1, true, &from, err)) < 0 ||
	    (r = get_str(req, "to", 64, true, &to, err)) < 0 ||
	    (r = get_int(req, "port", 1, 65535, &has, &port, err)) < 0)
		return r;
	if (!has)
		return pf_error_set(err, EINVAL, "invalid request: missing integer field 'port'");
	if (pf_addr_parse(to, &dst) < 0)
		return pf_error_set(err, EINVAL, "invalid request: 'to' is not an IP address");
	return pf_explain_json(rq->pods, rq->reload, from, &dst, (uint16_t)port, reply, err);
}

int pf_requests_dispatch(struct pf_requests *rq, const struct pf_node *req, const char *default_op,
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
		r = do_register(rq, req, reply, wait, &err);
	else if (!strcmp(op, "unregister"))
		r = do_unregister(rq, req, reply, &err);
	else if (!strcmp(op, "reload"))
		r = do_reload(rq, reply, wait, &err);
	else if (!strcmp(op, "trace") && !default_op) /* a live connection only: it streams */
		r = do_trace(rq, req, reply, wait, &err);
	else if (!strcmp(op, "explain"))
		r = do_explain(rq, req, reply, &err);
	else if (!strcmp(op, "status"))
		r = pf_status_json(rq, reply) < 0 ? pf_error_set(&err, ENOMEM, "out of memory") : 0;
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
	*reply = pf_requests_error(err.msg);
	return r;
}

int pf_requests_handle(struct pf_requests *rq, const char *buf, size_t len, char **reply,
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
		*reply = pf_requests_error(err.msg);
		return r;
	}
	r = pf_requests_dispatch(rq, req, NULL, reply, wait);
	pf_node_free(req);
	return r;
}

bool pf_requests_answer(struct pf_requests *rq, const struct pf_wait *wait, char **reply)
{
	struct pf_pod *p;

	*reply = NULL;
	/* A pod enforced with a cache of its own is answered before its generation is built. */
	if (wait->kind == PF_WAIT_REGISTER) {
		p = pf_pods_find(rq->pods, &wait->id);
		if (p && p->active && !p->dead) {
			*reply = register_reply(p, wait->new_pod);
			return true;
		}
	}
	if (wait->gen > pf_reload_generation(rq->reload) &&
	    wait->gen > pf_reload_failed_generation(rq->reload))
		return false;
	if (wait->kind == PF_WAIT_REGISTER) {
		p = pf_pods_find(rq->pods, &wait->id);
		if (p && p->active)
			*reply = register_reply(p, wait->new_pod);
		else if (p && !wait->error[0])
			return false; /* its own generation is still to come */
		else
			*reply = pf_requests_error(
			    wait->error[0] ? wait->error : "the pod went away while registering");
	} else if (wait->gen <= pf_reload_generation(rq->reload)) {
		*reply = reload_reply(rq);
	} else {
		*reply = pf_requests_error("reload failed (see the engine's log)");
	}
	return true;
}

char *pf_requests_late(struct pf_requests *rq, const struct pf_wait *wait, uint64_t budget_ms)
{
	struct pf_pod *p;
	char msg[256];

	if (wait->kind == PF_WAIT_REGISTER) {
		p = pf_pods_find(rq->pods, &wait->id);
		snprintf(msg, sizeof(msg),
			 "pod %s/%s not enforced within %" PRIu64
			 " ms (the verdict cache that holds it is still being built; see the "
			 "engine's log)",
			 p ? p->namespace : "?", p ? p->name : "?", budget_ms);
		log_warning("Registration of %s/%s not done within %" PRIu64
			    " ms; answered with an error (cache generation %" PRIu64
			    " in place, %" PRIu64 " needed)",
			    p ? p->namespace : "?", p ? p->name : "?", budget_ms,
			    pf_reload_generation(rq->reload), wait->gen);
	} else {
		snprintf(msg, sizeof(msg),
			 "reload not done within %" PRIu64 " ms (it goes on; see the engine's log)",
			 budget_ms);
	}
	return pf_requests_error(msg);
}
