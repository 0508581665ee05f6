/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The metrics endpoint: Prometheus text format on GET /metrics, a tiny HTTP server in the loop. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "counters.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"

/*
 * Everything here runs on the verdict loop, so nothing may wait: sockets are non-blocking,
 * a connection reads at most one buffer per event and writes only what the socket takes,
 * and the number of connections, the request size and the time each may hold are bounded.
 */

enum conn_state {
	CONN_READ,  /* collecting the request line and headers */
	CONN_WRITE, /* sending the answer */
	CONN_DRAIN, /* answer sent, our side shut: reading to EOF so closing does not reset */
};

struct pf_metrics_conn {
	struct pf_metrics_conn *next;
	struct pf_metrics *m;
	bool dead;
	int fd;
	enum conn_state state;
	uint64_t deadline_ns;
	struct pf_watch watch;
	size_t in_len;
	bool out_watched; /* waiting for EPOLLOUT */
	char *out;
	size_t out_len, out_off;
	char in[PF_METRICS_MAX_REQUEST];
};

struct pf_metrics {
	struct pf_loop *loop;
	int64_t started_ms;
	struct pf_metrics_ops ops;
	int fd;
	char *unix_path; /* unlinked at close */
	struct pf_watch watch;
	struct pf_metrics_conn *conns; /* newest first */
	size_t n_conns;		       /* not counting the dead ones waiting for the reaper */
};

/* ---- the address ------------------------------------------------------------------- */

int pf_metrics_parse_addr(const char *s, struct pf_metrics_addr *out, struct pf_error *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *whole = s, *port_s;
	bool v6 = s[0] == '[';
	uint32_t port;
	size_t hl;

	*out = (struct pf_metrics_addr){};
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&out->sa;
		const char *path = s + 5;
		size_t len = strlen(path);

		if (path[0] != '/')
			return pf_error_set(err, EINVAL, "'%s': unix: needs an absolute path", s);
		if (len >= sizeof(sun->sun_path))
			return pf_error_set(err, ENAMETOOLONG, "'%s': socket path too long", s);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, len + 1);
		out->len = (socklen_t)sizeof(*sun);
		out->unix_path = path;
		return 0;
	}
	if (v6) {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return pf_error_set(err, EINVAL, "'%s': expected [IPV6]:PORT", s);
		hl = (size_t)(end - s - 1);
		port_s = end + 2;
		s++;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return pf_error_set(
			    err, EINVAL, "'%s': expected HOST:PORT, [IPV6]:PORT or unix:/PATH", s);
		hl = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return pf_error_set(err, EINVAL, "'%s': expected an IP address before the port",
				    whole);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (pf_parse_u32(port_s, UINT16_MAX, &port) < 0 || port == 0)
		return pf_error_set(err, EINVAL, "'%s': invalid port '%s'", whole, port_s);
	/* Literal addresses only: a resolver could block the loop, and a daemon's listen address
	 * should not depend on DNS. */
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return pf_error_set(err, EINVAL, "'%s': '%s' is not an IPv6 address", whole,
					    host);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		out->len = (socklen_t)sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;

		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return pf_error_set(
			    err, EINVAL,
			    "'%s': '%s' is not an IPv4 address (literal addresses only)", whole,
			    host);
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		out->len = (socklen_t)sizeof(*in4);
	}
	return 0;
}

/* ---- the exposition -------------------------------------------------------------------- */

struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void _printf_(2, 3) put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (pf_grow((void **)&t->buf, &t->cap, t->len + (size_t)n + 256, 1) < 0) {
			t->failed = true;
			return;
		}
	}
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP podfence_%s %s\n# TYPE podfence_%s %s\n", name, help, name, type);
}

static void counter(struct text *t, const char *name, const char *help, uint64_t v)
{
	head(t, name, "counter", help);
	put(t, "podfence_%s %" PRIu64 "\n", name, v);
}

static void gauge(struct text *t, const char *name, const char *help, uint64_t v)
{
	head(t, name, "gauge", help);
	put(t, "podfence_%s %" PRIu64 "\n", name, v);
}

/* A label value: backslash, double quote and newline escaped, as the format asks. */
static void label_value(struct text *t, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(t, "\\%c", *s);
		else if (*s == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *s);
	}
}

int pf_metrics_render(struct pf_metrics *m, char **out, size_t *len)
{
	struct pf_engine_counters n;
	struct text t = {};

	m->ops.read(m->ops.data, &n);
	head(&t, "verdicts_total", "counter", "Verdicts given to queued connection attempts.");
	put(&t, "podfence_verdicts_total{action=\"accept\"} %" PRIu64 "\n", n.stats.accepted);
	put(&t, "podfence_verdicts_total{action=\"drop\"} %" PRIu64 "\n", n.stats.dropped);
	put(&t, "podfence_verdicts_total{action=\"reject\"} %" PRIu64 "\n", n.stats.rejected);
	head(&t, "verdict_duration_seconds", "histogram",
	     "Time from reading a pod's queue to sending the verdicts read (each verdict counted "
	     "with its whole batch's duration).");
	{
		uint64_t cum = 0;

		for (size_t b = 0; b <= PF_LATENCY_N_BOUNDS; b++) {
			cum += n.stats.latency_buckets[b];
			if (b < PF_LATENCY_N_BOUNDS)
				put(&t,
				    "podfence_verdict_duration_seconds_bucket{le=\"%" PRIu64
				    ".%06" PRIu64 "\"} %" PRIu64 "\n",
				    pf_latency_bounds_ns()[b] / 1000000000,
				    pf_latency_bounds_ns()[b] / 1000 % 1000000, cum);
			else
				put(&t,
				    "podfence_verdict_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64
				    "\n",
				    cum);
		}
		put(&t,
		    "podfence_verdict_duration_seconds_sum %" PRIu64 ".%09" PRIu64 "\n"
		    "podfence_verdict_duration_seconds_count %" PRIu64 "\n",
		    n.stats.latency_sum_ns / 1000000000, n.stats.latency_sum_ns % 1000000000,
		    n.stats.latency_count);
	}
	counter(&t, "packets_unparsed_total",
		"Queued packets the engine could not read (always dropped, in either fail mode).",
		n.stats.unparsed);
	counter(&t, "queue_dropped_total",
		"Packets the kernel dropped because a pod's queue was full (never accepted).",
		n.queues.queue_dropped);
	counter(&t, "queue_user_dropped_total",
		"Packets the kernel dropped because the engine's queue socket was full.",
		n.queues.user_dropped);
	counter(&t, "nfqueue_verdicts_lost_total",
		"Verdicts that could not be sent or packets that could not be read; each such "
		"packet is dropped by a later batch verdict.",
		n.queues.verdicts_lost);
	counter(&t, "nfqueue_recoveries_total",
		"Batch verdicts sent to drop packets whose verdict was lost.", n.queues.recoveries);
	gauge(&t, "pods", "Pods registered.", n.n_pods);
	counter(&t, "cache_reloads_total", "Verdict cache rebuilds put in place.",
		n.reload.reloads);
	counter(&t, "cache_reload_failures_total", "Verdict cache rebuilds that failed.",
		n.reload.reload_failures);
	head(&t, "cache_build_seconds", "gauge", "How long the last cache rebuild took.");
	put(&t, "podfence_cache_build_seconds %" PRIu64 ".%06" PRIu64 "\n",
	    n.reload.last_reload_us / 1000000, n.reload.last_reload_us % 1000000);
	counter(&t, "cache_build_failures_total",
		"Verdict cache builds (load or compile) that failed; the cache in place stays.",
		n.reload.build_failures);
	gauge(&t, "cache_stale",
	      "1 while the cache in place is not what the store says (the last build failed).",
	      n.reload.stale);
	gauge(&t, "pods_unresolved",
	      "Pods registered while builds fail, refused until a build succeeds.", n.n_unresolved);
	gauge(&t, "cache_sources", "Source addresses in the verdict cache.", n.cache.n_sources);
	gauge(&t, "cache_bytes", "Memory held by the verdict cache.", n.cache.bytes);
	head(&t, "cache_rules", "gauge", "Policy rules compiled into the verdict cache, by mode.");
	put(&t, "podfence_cache_rules{mode=\"Enforce\"} %zu\n", n.cache.n_rules);
	put(&t, "podfence_cache_rules{mode=\"Audit\"} %zu\n", n.cache.n_audit_rules);
	head(&t, "events_total", "counter",
	     "Events asked for, by mode: Enforce (verdicts) and Audit (an Audit policy would have "
	     "decided otherwise).");
	put(&t, "podfence_events_total{mode=\"Enforce\"} %" PRIu64 "\n",
	    n.events_recorded - n.events_audit);
	put(&t, "podfence_events_total{mode=\"Audit\"} %" PRIu64 "\n", n.events_audit);
	counter(&t, "events_recorded_total", "Verdicts that asked for an event.",
		n.events_recorded);
	counter(&t, "events_suppressed_total",
		"Events folded into a later summary by the rate limit.", n.events_suppressed);
	counter(&t, "events_written_total", "Events written to the store.", n.events_written);
	counter(&t, "events_dropped_total",
		"Events lost: queue full in memory, or the store write failed.", n.events_dropped);
	counter(&t, "nfqueue_errors_total",
		"Queue failures: receive errors, verdicts not sent, errors from the kernel.",
		n.stats.nfq_errors + n.queues.send_errors + n.queues.kernel_errors);
	counter(&t, "nfqueue_overruns_total",
		"Queue receive overruns (ENOBUFS): the kernel could not hand packets to us.",
		n.queues.enobufs);
	counter(&t, "pod_row_write_failures_total",
		"Writes of registered pods to the store that failed (each is retried).",
		n.row_write_failures);
	gauge(&t, "pod_rows_waiting", "Pod rows whose write waits for a retry.", n.rows_waiting);
	counter(&t, "ruleset_restored_total",
		"Pod rulesets changed or deleted by someone else and put back.",
		n.stats.ruleset_restored);
	counter(&t, "ruleset_restore_failures_total",
		"Attempts to put a changed pod ruleset back that failed (retried every 100 ms).",
		n.stats.ruleset_restore_failures);
	counter(&t, "ruleset_foreign_total",
		"Tables of someone else's added inside an enforced pod's netns.",
		n.stats.ruleset_foreign);
	gauge(&t, "privileged_pods",
	      "Registered pods with a container granted CAP_NET_ADMIN or CAP_NET_RAW.",
	      n.n_privileged_pods);
	counter(&t, "privileged_containers_total",
		"Containers registered with CAP_NET_ADMIN or CAP_NET_RAW (privileged_pods = warn).",
		n.stats.privileged_containers);
	counter(&t, "privileged_refused_total",
		"Containers refused for CAP_NET_ADMIN or CAP_NET_RAW (privileged_pods = refuse).",
		n.stats.privileged_refused);
	counter(&t, "udp_flows_judged_total", "First packets of UDP flows judged.",
		n.stats.udp_judged);
	counter(&t, "dns_answers_total",
		"DNS answers from a pod's resolver whose addresses were recorded for fqdn rules.",
		n.stats.dns_answers);
	counter(&t, "dns_answers_ignored_total",
		"DNS answers not from the pod's resolver, or unreadable: not recorded.",
		n.stats.dns_ignored);
	counter(&t, "dns_evictions_total",
		"Addresses or names a pod had to give up for its limits (oldest first).",
		n.stats.dns_evicted);
	counter(&t, "flows_cut_total",
		"Established flows whose conntrack entry was removed after a policy change "
		"(enforce_established).",
		n.stats.flows_cut);
	counter(&t, "pods_activated_own_cache_total",
		"Pods enforced at registration with a cache compiled from their own policies, "
		"before the rebuild of the node's cache that adds them finished.",
		n.stats.pods_own_cache);
	counter(&t, "pods_activated_after_build_total",
		"Pods enforced only once a rebuild of the node's verdict cache had them.",
		n.stats.pods_after_build);
	head(&t, "engine_start_time_seconds", "gauge",
	     "When the engine started, in seconds since the Unix epoch.");
	put(&t, "podfence_engine_start_time_seconds %" PRId64 ".%03" PRId64 "\n",
	    m->started_ms / 1000, m->started_ms % 1000);
	head(&t, "build_info", "gauge", "The engine's version; the value is always 1.");
	put(&t, "podfence_build_info{version=\"");
	label_value(&t, PACKAGE_VERSION);
	put(&t, "\"} 1\n");
	if (t.failed) {
		free(t.buf);
		return -ENOMEM;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}

/* ---- the listening socket ---------------------------------------------------------- */

static int listen_unix(const struct pf_metrics_addr *a, const char *what)
{
	_cleanup_free_ char *dir = strdup(a->unix_path);
	_cleanup_close_ int fd = -1;
	char *slash;
	int r;

	if (!dir)
		return log_error_errno(-ENOMEM, "Out of memory");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = pf_mkdir_p(dir, 0700);
		if (r < 0)
			return log_error_errno(r, "Metrics address %s: cannot create %s: %m", what,
					       dir);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "Metrics address %s: socket: %m", what);
	/* A socket file left by a crash is stale only if nobody answers on it. */
	{
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (const struct sockaddr *)&a->sa, a->len) == 0)
			return log_error_errno(-EADDRINUSE,
					       "Cannot listen for metrics on %s: %m (another "
					       "process answers there)",
					       what);
	}
	if (unlink(a->unix_path) < 0 && errno != ENOENT)
		return log_error_errno(
		    -errno, "Metrics address %s: cannot remove the stale socket: %m", what);
	/* Per-pod numbers: the engine's user only (a scraper runs as root or reads TCP). */
	r = pf_bind_private(fd, (const struct sockaddr *)&a->sa, a->len);
	if (r < 0)
		return log_error_errno(r, "Cannot listen for metrics on %s: %m", what);
	return PF_TAKE_FD(fd);
}

static int listen_inet(const struct pf_metrics_addr *a, const char *what)
{
	_cleanup_close_ int fd = -1;
	int one = 1;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "Metrics address %s: socket: %m", what);
	/* A restart must not wait for the last run's TIME_WAIT connections. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return log_error_errno(-errno, "Metrics address %s: SO_REUSEADDR: %m", what);
	/* [::] means IPv6 only, whatever net.ipv6.bindv6only says. */
	if (a->sa.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return log_error_errno(-errno, "Metrics address %s: IPV6_V6ONLY: %m", what);
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0)
		return log_error_errno(-errno, "Cannot listen for metrics on %s: %m", what);
	return PF_TAKE_FD(fd);
}

static void on_accept(struct pf_watch *w, uint32_t events);

int pf_metrics_listen(const char *what, struct pf_loop *loop, int64_t started_ms,
		      const struct pf_metrics_ops *ops, struct pf_metrics **out)
{
	struct pf_metrics_addr a;
	struct pf_error err = {};
	struct pf_metrics *m;
	int fd, r;

	*out = NULL;
	if (!what)
		return 0;
	r = pf_metrics_parse_addr(what, &a, &err);
	if (r < 0)
		return log_error_errno(r, "Invalid metrics address %s", err.msg);
	fd = a.unix_path ? listen_unix(&a, what) : listen_inet(&a, what);
	if (fd < 0)
		return fd;
	if (listen(fd, 32) < 0) {
		r = log_error_errno(-errno, "Cannot listen for metrics on %s: %m", what);
		close(fd);
		return r;
	}
	m = calloc(1, sizeof(*m));
	if (!m || (a.unix_path && !(m->unix_path = strdup(a.unix_path)))) {
		free(m);
		close(fd);
		return log_error_errno(-ENOMEM, "Out of memory");
	}
	m->loop = loop;
	m->started_ms = started_ms;
	m->ops = *ops;
	m->fd = fd;
	pf_watch_set(&m->watch, fd, on_accept, m, false);
	*out = m;
	r = pf_loop_add(m->loop, &m->watch, EPOLLIN);
	if (r < 0)
		return log_error_errno(r, "epoll add metrics socket: %m");
	log_info("Metrics on %s%s/metrics", a.unix_path ? "" : "http://", what);
	return 0;
}

/* ---- connections ------------------------------------------------------------------- */

static void conn_drop(struct pf_metrics *m, struct pf_metrics_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	m->n_conns--;
	/* Events already fetched this round may still point at c: pf_metrics_reap frees it. */
	pf_loop_del(m->loop, &c->watch);
	close(c->fd);
	c->fd = -1;
}

static void conn_watch(struct pf_metrics *m, struct pf_metrics_conn *c, uint32_t events)
{
	if (pf_loop_mod(m->loop, &c->watch, events) < 0)
		conn_drop(m, c);
}

static void on_conn(struct pf_watch *w, uint32_t events);

static void on_accept(struct pf_watch *w, uint32_t events)
{
	struct pf_metrics *m = w->data;

	(void)events;
	/* A bounded batch per event: a flood of connects waits for the next round, the queues
	 * do not wait for it. */
	for (int i = 0; i < 2 * PF_METRICS_MAX_CONNS; i++) {
		struct pf_metrics_conn *c;
		int fd;

		fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_debug_errno(-errno, "metrics accept: %m");
			return;
		}
		/* Full: make room by hanging up on the connection that has waited longest for its
		 * request, so idle connections cannot lock a scraper out. A scraper sends its
		 * request at once and is answered in the same round, so it is never that one. */
		if (m->n_conns >= PF_METRICS_MAX_CONNS) {
			struct pf_metrics_conn *oldest = NULL;

			for (struct pf_metrics_conn *k = m->conns; k; k = k->next)
				if (!k->dead && k->state == CONN_READ)
					oldest = k;
			if (oldest)
				conn_drop(m, oldest);
		}
		if (m->n_conns >= PF_METRICS_MAX_CONNS) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
						   "Content-Length: 0\r\nConnection: close\r\n\r\n";

			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = CONN_READ;
		/* Not renewed by each byte: a request trickled in must still be whole in time. */
		c->deadline_ns = pf_mono_ns() + PF_METRICS_TIMEOUT_MS * 1000000ull;
		c->m = m;
		pf_watch_set(&c->watch, fd, on_conn, c, false);
		if (pf_loop_add(m->loop, &c->watch, EPOLLIN | EPOLLRDHUP) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = m->conns;
		m->conns = c;
		m->n_conns++;
	}
}

static const char *status_text(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

/* The whole answer in c->out: status line, headers, and the body unless head_only. */
static int respond(struct pf_metrics *m, struct pf_metrics_conn *c, int code, bool head_only)
{
	_cleanup_free_ char *body = NULL;
	const char *type = "text/plain; charset=utf-8";
	struct text t = {};
	size_t blen;

	if (code == 200) {
		if (pf_metrics_render(m, &body, &blen) < 0)
			code = 500;
		else
			type = "text/plain; version=0.0.4; charset=utf-8";
	}
	if (code != 200) {
		free(body);
		body = NULL;
		put(&t, "%d %s\n", code, status_text(code));
		if (t.failed)
			return -ENOMEM;
		body = PF_TAKE_PTR(t.buf);
		blen = t.len;
		t = (struct text){};
	}
	put(&t,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n",
	    code, status_text(code), type, blen, code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only)
		put(&t, "%.*s", (int)blen, body);
	if (t.failed) {
		free(t.buf);
		return -ENOMEM;
	}
	c->out = t.buf;
	c->out_len = t.len;
	c->out_off = 0;
	return 0;
}

/* The start of a complete request (in[] holds its headers): which answer it gets. */
static int judge_request(const char *in, size_t len, bool *head_only)
{
	const char *eol = memchr(in, '\n', len);
	const char *sp1, *sp2, *method, *target, *version;
	size_t line, mlen, tlen, vlen;

	*head_only = false;
	/* Control characters anywhere in the head are not HTTP; neither is a bare CR. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if ((ch < 0x20 && ch != '\r' && ch != '\n' && ch != '\t') || ch == 0x7f)
			return 400;
		if (ch == '\r' && (i + 1 >= len || in[i + 1] != '\n'))
			return 400;
	}
	if (!eol)
		return 400;
	line = (size_t)(eol - in);
	if (line && in[line - 1] == '\r')
		line--;
	method = in;
	sp1 = memchr(in, ' ', line);
	if (!sp1)
		return 400;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', line - (size_t)(target - in));
	if (!sp2)
		return 400;
	version = sp2 + 1;
	mlen = (size_t)(sp1 - method);
	tlen = (size_t)(sp2 - target);
	vlen = line - (size_t)(version - in);
	if (mlen == 0 || mlen > 16 || tlen == 0 || memchr(version, ' ', vlen))
		return 400;
	for (size_t i = 0; i < mlen; i++)
		if (method[i] < 'A' || method[i] > 'Z')
			return 400;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			return 400;
	if (vlen != 8 || memcmp(version, "HTTP/", 5) || version[6] != '.' || version[5] < '0' ||
	    version[5] > '9' || version[7] < '0' || version[7] > '9')
		return 400;
	if (memcmp(version, "HTTP/1.0", 8) && memcmp(version, "HTTP/1.1", 8))
		return 505;
	/* The path, without a query string. */
	for (size_t i = 0; i < tlen; i++)
		if (target[i] == '?') {
			tlen = i;
			break;
		}
	if (tlen != 8 || memcmp(target, "/metrics", 8))
		return 404;
	if (mlen == 4 && !memcmp(method, "HEAD", 4))
		*head_only = true;
	else if (mlen != 3 || memcmp(method, "GET", 3))
		return 405;
	return 200;
}

static void conn_write(struct pf_metrics *m, struct pf_metrics_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* The rest when the socket has room again. Not EPOLLRDHUP: a client
			 * that shut its side after the request would wake us in a spin. */
			if (!c->out_watched) {
				c->out_watched = true;
				conn_watch(m, c, EPOLLOUT);
			}
			return;
		}
		if (n <= 0) {
			conn_drop(m, c);
			return;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	/* Closing with unread input would reset the connection and could lose the answer on
	 * the way: shut our side, then read until the client closes (or its time is up). */
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	if (c->out_watched)
		conn_watch(m, c, EPOLLIN | EPOLLRDHUP);
}

static void conn_read(struct pf_metrics *m, struct pf_metrics_conn *c)
{
	bool head_only = false;
	size_t scan_from;
	const char *end;
	int code;
	ssize_t n;

	if (c->state == CONN_DRAIN) {
		char sink[4096];

		/* One read per event, so a client that keeps sending cannot hold the loop. */
		n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_drop(m, c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone before a whole request: nobody to answer. */
		conn_drop(m, c);
		return;
	}
	scan_from = c->in_len > 3 ? c->in_len - 3 : 0;
	c->in_len += (size_t)n;
	/* Headers end at an empty line; bare LF line ends are tolerated, as RFC 9112 allows. */
	if ((end = memmem(c->in + scan_from, c->in_len - scan_from, "\r\n\r\n", 4)))
		code = judge_request(c->in, (size_t)(end - c->in) + 4, &head_only);
	else if ((end = memmem(c->in + scan_from, c->in_len - scan_from, "\n\n", 2)))
		code = judge_request(c->in, (size_t)(end - c->in) + 2, &head_only);
	else if (c->in_len == sizeof(c->in))
		code = 431;
	else
		return; /* more to come */
	if (respond(m, c, code, head_only) < 0) {
		conn_drop(m, c);
		return;
	}
	/* A fresh budget to take the answer; a client that does not read it loses it. */
	c->deadline_ns = pf_mono_ns() + PF_METRICS_TIMEOUT_MS * 1000000ull;
	c->state = CONN_WRITE;
	conn_write(m, c);
}

static void on_conn(struct pf_watch *w, uint32_t events)
{
	struct pf_metrics_conn *c = w->data;
	struct pf_metrics *m = c->m;

	if (c->dead)
		return;
	if (c->state == CONN_WRITE) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			conn_drop(m, c);
			return;
		}
		if (events & EPOLLOUT)
			conn_write(m, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_read(m, c);
}

void pf_metrics_expire(struct pf_metrics *m)
{
	uint64_t now = pf_mono_ns();

	if (!m)
		return;
	for (struct pf_metrics_conn *c = m->conns; c; c = c->next)
		if (!c->dead && now >= c->deadline_ns)
			conn_drop(m, c);
}

void pf_metrics_reap(struct pf_metrics *m)
{
	if (!m)
		return;
	for (struct pf_metrics_conn **pp = &m->conns; *pp;) {
		struct pf_metrics_conn *c = *pp;

		if (c->dead) {
			*pp = c->next;
			free(c->out);
			free(c);
			continue;
		}
		pp = &c->next;
	}
}

void pf_metrics_close(struct pf_metrics *m)
{
	if (!m)
		return;
	for (struct pf_metrics_conn *c = m->conns; c; c = c->next)
		conn_drop(m, c);
	pf_metrics_reap(m);
	pf_loop_del(m->loop, &m->watch);
	close(m->fd);
	if (m->unix_path)
		unlink(m->unix_path);
	free(m->unix_path);
	free(m);
}
