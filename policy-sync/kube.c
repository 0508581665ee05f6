/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * podfence-sync --kube: informers feed the object cache; changes are resolved and written to the
 * store in whole transactions, at most every --resync-min, with a full reconcile every
 * --resync-max; the engine is told to reload after each commit that changed something.
 */
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "kube-client.h"
#include "kube-informer.h"
#include "kube-map.h"
#include "kube-resolve.h"
#include "kube-status.h"
#include "log.h"
#include "store.h"
#include "sync.h"

#define KUBE_SOURCE "kube"
/* --once gives up after this many consecutive failures of one resource. */
#define ONCE_MAX_FAILURES 5
#define RETRY_STORE_NS (1000ULL * 1000000)
/* An engine that has not answered a reload request by then is not waited for any longer. */
#define NOTIFY_TIMEOUT_NS (5000ULL * 1000000)

/* Reload requests to the engine, without stalling the loop: one in flight at a time; commits
 * made meanwhile are covered by one more request once it is answered. */
struct notifier {
	int epfd;
	int fd;
	uint64_t sent_ns;
	bool again;
};

static void notify(struct notifier *n, const struct pf_sync_options *o)
{
	struct epoll_event ev = {.events = EPOLLIN};

	if (n->fd >= 0) {
		n->again = true;
		return;
	}
	n->again = false;
	n->fd = pf_sync_notify_start(o);
	if (n->fd < 0)
		return; /* no engine: it polls the store's data_version when it comes */
	ev.data.fd = n->fd;
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->fd, &ev) < 0) {
		close(n->fd);
		n->fd = -1;
		return;
	}
	n->sent_ns = pf_mono_ns();
}

/* The reply came (or too long passed): finish, and ask again if commits happened meanwhile. */
static void notify_done(struct notifier *n, const struct pf_sync_options *o)
{
	if (n->fd < 0)
		return;
	epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->fd, NULL);
	pf_sync_notify_finish(n->fd);
	n->fd = -1;
	if (n->again)
		notify(n, o);
}

/* What this process last committed to the store, to write only differences. */
struct mirror {
	struct pf_kmap workloads; /* workload key -> digest of its addresses */
	struct pf_kmap
	    policies;  /* "namespace/name" -> its version (malloc'ed, see pf_kube_policy) */
	bool complete; /* a full reconcile has been committed */
};

static void mirror_clear(struct mirror *m)
{
	size_t i;

	for (struct pf_kmap_entry *e = pf_kmap_first(&m->policies, &i); e;
	     e = pf_kmap_next(&m->policies, e, &i))
		free(e->value);
	pf_kmap_clear(&m->policies);
	pf_kmap_clear(&m->workloads);
	m->complete = false;
}

static int mirror_set(struct mirror *m, const struct pf_kube_workloads *w,
		      const struct pf_kube_policy *p, size_t n_p)
{
	mirror_clear(m);
	for (size_t i = 0; i < w->n; i++)
		if (pf_kmap_put(&m->workloads, w->w[i].key, (void *)(uintptr_t)w->w[i].digest,
				NULL) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < n_p; i++) {
		char *rv = strdup(p[i].version);

		if (!rv || pf_kmap_put(&m->policies, p[i].key, rv, NULL) < 0) {
			free(rv);
			return -ENOMEM;
		}
	}
	m->complete = true;
	return 0;
}

static int put_workload(struct pf_store *s, const struct pf_kube_workload *w, struct pf_error *err)
{
	int r = pf_store_put_workload(s, w->kind, w->namespace, w->name, w->ips, w->n_ips, err);

	if (r >= 0)
		r = pf_store_put_workload_pods(s, w->kind, w->namespace, w->name, w->pod_names,
					       w->n_pods, err);
	return r;
}

/* "Kind\x1fnamespace\x1fname" back into its parts (buf is modified). */
static int split_workload_key(char *buf, enum pf_kind *kind, const char **ns, const char **name)
{
	char *a = strchr(buf, '\x1f'), *b;
	int k;

	if (!a || !(b = strchr(a + 1, '\x1f')))
		return -EINVAL;
	*a = *b = '\0';
	k = pf_kind_from_string(buf);
	if (k < 0)
		return -EINVAL;
	*kind = (enum pf_kind)k;
	*ns = a + 1;
	*name = b + 1;
	return 0;
}

static int put_policy(struct pf_store *s, const struct pf_kube_policy *p, struct pf_error *err)
{
	return pf_store_put_policy(s, KUBE_SOURCE, p->doc, err);
}

/* Policies of source kube the store holds but the API server no longer has. */
static int delete_stale_policies(struct pf_store *s, const struct pf_kube_policy *p, size_t n_p,
				 unsigned *changes, struct pf_error *err)
{
	struct pf_kmap have = {0};
	sqlite3_stmt *st = NULL;
	char **stale = NULL;
	size_t n_stale = 0, cap = 0;
	int r = 0, rc;

	for (size_t i = 0; i < n_p && r >= 0; i++)
		r = pf_kmap_put(&have, p[i].key, (void *)&p[i], NULL);
	if (r < 0)
		goto out;
	rc = sqlite3_prepare_v2(
	    pf_store_db(s),
	    "SELECT namespace, name FROM policy WHERE source = '" KUBE_SOURCE
	    "' UNION SELECT namespace, name FROM source_error WHERE source = '" KUBE_SOURCE
	    "' AND namespace IS NOT NULL AND name IS NOT NULL",
	    -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = pf_error_set(err, EIO, "store: %s", sqlite3_errmsg(pf_store_db(s)));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *key;

		if (asprintf(&key, "%s/%s", sqlite3_column_text(st, 0),
			     sqlite3_column_text(st, 1)) < 0) {
			r = -ENOMEM;
			goto out;
		}
		if (pf_kmap_get(&have, key) ||
		    (r = pf_grow((void **)&stale, &cap, n_stale, sizeof(*stale))) < 0) {
			free(key);
			if (r < 0)
				goto out;
			continue;
		}
		stale[n_stale++] = key;
	}
	if (rc != SQLITE_DONE) {
		r = pf_error_set(err, EIO, "store: %s", sqlite3_errmsg(pf_store_db(s)));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < n_stale && r >= 0; i++) {
		char *slash = strchr(stale[i], '/');

		*slash = '\0';
		r = pf_store_delete_policy(s, stale[i], slash + 1, err);
		(*changes)++;
	}
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < n_stale; i++)
		free(stale[i]);
	free(stale);
	pf_kmap_clear(&have);
	return r;
}

/* What an incremental flush changed, applied to the mirror once the transaction committed. */
struct delta {
	const struct pf_kube_workload **put_w;
	size_t n_put_w, cap_put_w;
	const struct pf_kube_policy **put_p;
	size_t n_put_p, cap_put_p;
	char **del; /* mirror keys to drop, "W" or "P" prefixed */
	size_t n_del, cap_del;
};

static void delta_done(struct delta *d)
{
	for (size_t i = 0; i < d->n_del; i++)
		free(d->del[i]);
	free(d->del);
	free(d->put_w);
	free(d->put_p);
}

static int delta_del(struct delta *d, char type, const char *key)
{
	char *k;
	int r = pf_grow((void **)&d->del, &d->cap_del, d->n_del, sizeof(*d->del));

	if (r < 0 || asprintf(&k, "%c%s", type, key) < 0)
		return -ENOMEM;
	d->del[d->n_del++] = k;
	return 0;
}

static int delta_apply(struct mirror *m, const struct delta *d)
{
	for (size_t i = 0; i < d->n_put_w; i++)
		if (pf_kmap_put(&m->workloads, d->put_w[i]->key,
				(void *)(uintptr_t)d->put_w[i]->digest, NULL) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < d->n_put_p; i++) {
		char *rv = strdup(d->put_p[i]->version);
		void *old = NULL;

		if (!rv || pf_kmap_put(&m->policies, d->put_p[i]->key, rv, &old) < 0) {
			free(rv);
			return -ENOMEM;
		}
		free(old);
	}
	for (size_t i = 0; i < d->n_del; i++) {
		if (d->del[i][0] == 'W')
			pf_kmap_remove(&m->workloads, d->del[i] + 1);
		else
			free(pf_kmap_remove(&m->policies, d->del[i] + 1));
	}
	return 0;
}

/* Policies that differ from the mirror, and mirror entries the cache no longer has. */
static int diff_policies(struct pf_store *s, struct mirror *m, const struct pf_kube_policy *p,
			 size_t n_p, struct delta *d, unsigned *changes, struct pf_error *err)
{
	struct pf_kmap seen = {0};
	struct pf_kmap_entry *e;
	size_t i;
	int r = 0;

	for (i = 0; r >= 0 && i < n_p; i++) {
		r = pf_kmap_put(&seen, p[i].key, (void *)&p[i], NULL);
		if (r >= 0 && !pf_streq(pf_kmap_get(&m->policies, p[i].key), p[i].version)) {
			r = pf_grow((void **)&d->put_p, &d->cap_put_p, d->n_put_p,
				    sizeof(*d->put_p));
			if (r >= 0) {
				d->put_p[d->n_put_p++] = &p[i];
				r = put_policy(s, &p[i], err);
			}
			(*changes)++;
		}
	}
	for (e = pf_kmap_first(&m->policies, &i); r >= 0 && e;
	     e = pf_kmap_next(&m->policies, e, &i)) {
		_cleanup_free_ char *key = NULL;
		char *slash;

		if (pf_kmap_get(&seen, e->key))
			continue;
		key = strdup(e->key);
		r = key ? delta_del(d, 'P', e->key) : -ENOMEM;
		if (r < 0)
			break;
		slash = strchr(key, '/');
		*slash = '\0';
		r = pf_store_delete_policy(s, key, slash + 1, err);
		(*changes)++;
	}
	pf_kmap_clear(&seen);
	return r;
}

static int diff_workloads(struct pf_store *s, struct mirror *m, const struct pf_kube_workloads *w,
			  struct delta *d, unsigned *changes, struct pf_error *err)
{
	struct pf_kmap seen = {0};
	struct pf_kmap_entry *e;
	size_t i;
	int r = 0;

	size_t known = 0;

	for (i = 0; r >= 0 && i < w->n; i++) {
		void *digest = pf_kmap_get(&m->workloads, w->w[i].key);

		known += digest != NULL;
		if ((uintptr_t)digest != (uintptr_t)w->w[i].digest) {
			r = pf_grow((void **)&d->put_w, &d->cap_put_w, d->n_put_w,
				    sizeof(*d->put_w));
			if (r >= 0) {
				d->put_w[d->n_put_w++] = &w->w[i];
				r = put_workload(s, &w->w[i], err);
			}
			(*changes)++;
		}
	}
	/* Every mirrored workload still resolved: nothing to delete, and no need to index them. */
	if (r < 0 || known == pf_kmap_size(&m->workloads))
		return r;
	for (i = 0; r >= 0 && i < w->n; i++)
		r = pf_kmap_put(&seen, w->w[i].key, &w->w[i], NULL);
	for (e = pf_kmap_first(&m->workloads, &i); r >= 0 && e;
	     e = pf_kmap_next(&m->workloads, e, &i)) {
		_cleanup_free_ char *key = NULL;
		enum pf_kind kind;
		const char *ns, *name;

		if (pf_kmap_get(&seen, e->key))
			continue;
		key = strdup(e->key);
		r = key ? delta_del(d, 'W', e->key) : -ENOMEM;
		if (r < 0)
			break;
		if (split_workload_key(key, &kind, &ns, &name) < 0)
			continue;
		r = pf_store_delete_workload(s, kind, ns, name, err);
		(*changes)++;
	}
	pf_kmap_clear(&seen);
	return r;
}

/*
 * Write the cache to the store. full: every policy and workload, deleting what the store has
 * beyond them; otherwise only what differs from the last commit (workloads are resolved again
 * only when objects they resolve from changed). One transaction either way.
 */
static int flush(struct pf_store *s, struct pf_kube_cache *c, struct mirror *m, bool full,
		 bool workloads, unsigned *changes, struct pf_error *err)
{
	struct pf_kube_workloads w = {0};
	struct pf_kube_policy *p = NULL;
	struct delta d = {0};
	size_t n_p = 0, i;
	int r = 0;

	*changes = 0;
	if (full || workloads)
		r = pf_kube_resolve(c, &w);
	if (r >= 0)
		r = pf_kube_cache_policies(c, &p, &n_p);
	if (r < 0) {
		pf_error_set(err, -r, "resolving workloads: %s", strerror(-r));
		goto out;
	}
	r = pf_store_begin(s, err);
	if (r < 0)
		goto out;
	if (full) {
		r = delete_stale_policies(s, p, n_p, changes, err);
		for (i = 0; r >= 0 && i < n_p; i++, (*changes)++)
			r = put_policy(s, &p[i], err);
		if (r >= 0)
			r = pf_store_mark_workloads(s, err);
		for (i = 0; r >= 0 && i < w.n; i++, (*changes)++)
			r = put_workload(s, &w.w[i], err);
		if (r >= 0)
			r = pf_store_sweep_workloads(s, err);
	} else {
		r = diff_policies(s, m, p, n_p, &d, changes, err);
		if (r >= 0 && workloads)
			r = diff_workloads(s, m, &w, &d, changes, err);
	}
	if (r >= 0 && *changes == 0) {
		pf_store_rollback(s);
		goto out;
	}
	if (r >= 0)
		r = pf_store_commit(s, err);
	else
		pf_store_rollback(s);
	if (r >= 0)
		r = full ? mirror_set(m, &w, p, n_p) : delta_apply(m, &d);
	if (r == -ENOMEM && !err->msg[0])
		pf_error_set(err, ENOMEM, "out of memory");
out:
	delta_done(&d);
	pf_kube_workloads_done(&w);
	pf_kube_policies_free(p, n_p);
	return r;
}

/* --once exits 2 when some FencePolicy is invalid, as for a policy directory. */
static size_t count_invalid(const struct pf_kube_cache *c)
{
	struct pf_kube_policy *p = NULL;
	size_t n = 0, bad = 0;

	if (pf_kube_cache_policies(c, &p, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		bad += !p[i].doc || !p[i].doc->policy;
	pf_kube_policies_free(p, n);
	return bad;
}

static int signal_fd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static uint64_t s_to_ns(unsigned s)
{
	return (uint64_t)s * 1000000000ULL;
}

/*
 * When a change the store does not hold yet is written. --resync-min bounds how often a burst
 * of workload changes (pods coming and going) is written, not how long a lone change or a
 * policy waits: a write that holds a policy change, and the first QUICK_FLUSHES writes of a
 * --resync-min window, go out QUICK_SETTLE_NS after the first change they hold (the objects of
 * one `kubectl apply` arrive within it); further workload changes at most every --resync-min.
 */
#define QUICK_FLUSHES 4
#define QUICK_SETTLE_NS (5ULL * 1000000)

struct flush_pace {
	uint64_t dirty_since;  /* first seen a change not written yet, 0: none */
	uint64_t window_start; /* of the current --resync-min window */
	unsigned quick;	       /* writes in that window */
};

/* Both generations count every workload event, only the first counts policy events. */
static bool policy_changed(const struct pf_kube_cache *c, uint64_t flushed_gen,
			   uint64_t flushed_wgen)
{
	return pf_kube_cache_generation(c) - flushed_gen >
	       pf_kube_cache_workload_generation(c) - flushed_wgen;
}

static uint64_t change_due(struct flush_pace *fp, uint64_t now, uint64_t last_flush,
			   uint64_t resync_min_ns, bool policy_changed)
{
	if (!fp->dirty_since)
		fp->dirty_since = now;
	if (now - fp->window_start >= resync_min_ns) {
		fp->window_start = now;
		fp->quick = 0;
	}
	if (policy_changed || fp->quick < QUICK_FLUSHES)
		return fp->dirty_since + QUICK_SETTLE_NS;
	return last_flush + resync_min_ns;
}

int pf_sync_kube_run(const struct pf_sync_options *o)
{
	struct pf_kube_client client = {0};
	struct pf_kube_cache *cache = NULL;
	struct pf_kube_informers *inf = NULL;
	struct pf_kube_handler h = {0};
	struct pf_store *store = NULL;
	struct mirror m = {0};
	struct pf_error err = {0};
	uint64_t flushed_gen = UINT64_MAX, flushed_wgen = UINT64_MAX, last_flush = 0, last_full = 0,
		 retry_at = 0;
	bool force_full = false, logged_synced = false;
	struct flush_pace pace = {0};
	struct notifier nt = {.epfd = -1, .fd = -1};
	struct pf_kube_lease *lease = NULL;
	struct pf_kube_status *status = NULL;
	uint64_t status_gen = UINT64_MAX;
	int status_pending = 0;
	bool held = false;
	_cleanup_free_ char *agent = NULL;
	char host[256] = "";
	struct epoll_event ev = {.events = EPOLLIN};
	int sfd = -1, r, ret = 1;

	r = o->kubeconfig ? pf_kube_client_from_kubeconfig(&client, o->kubeconfig, &err)
			  : pf_kube_client_in_cluster(&client, &err);
	if (r < 0) {
		log_error("%s", err.msg[0] ? err.msg : strerror(-r));
		return 2;
	}
	/* Who we are in the Lease and in the API server's logs: the node. */
	if (!o->node_name && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	if (asprintf(&agent, "podfence-sync/%s (%s)", PACKAGE_VERSION,
		     o->node_name ? o->node_name : host) < 0) {
		agent = NULL;
		goto out_client;
	}
	client.user_agent = agent;
	if (!o->once) {
		const char *ns = o->lease_namespace ? o->lease_namespace
				 : client.namespace ? client.namespace
						    : PF_KUBE_LEASE_DEFAULT_NS;

		r = pf_kube_lease_new(&client, ns, o->node_name ? o->node_name : host,
				      o->lease_duration_s, &lease);
		if (r == -EINVAL) {
			log_error("--lease-namespace: not a namespace name: '%s'", ns);
			ret = 2;
			goto out_client;
		}
		if (r < 0 || pf_kube_status_new(&status) < 0)
			goto out_client;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("libcurl initialisation failed");
		goto out_client;
	}
	r = pf_store_open(o->db, 0, &store, &err);
	if (r < 0) {
		log_error("store %s: %s", o->db, err.msg);
		goto out;
	}
	if (pf_kube_cache_new(&cache) < 0)
		goto out;
	pf_kube_cache_handler(cache, &h);
	if (pf_kube_informers_new(&client, &h, !o->once, &inf) < 0)
		goto out;
	sfd = signal_fd();
	if (sfd < 0) {
		log_error_errno(sfd, "signalfd: %m");
		goto out;
	}
	/* Signals and the engine's replies, behind one fd the curl loop can wait on. */
	nt.epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = sfd;
	if (nt.epfd < 0 || epoll_ctl(nt.epfd, EPOLL_CTL_ADD, sfd, &ev) < 0) {
		log_error_errno(-errno, "epoll: %m");
		goto out;
	}
	log_info("watching the Kubernetes API at %s (%s)", client.server, client.origin);

	for (;;) {
		uint64_t now = pf_mono_ns(), due = now + 1000000000ULL;
		bool synced = pf_kube_informers_synced(inf);
		uint64_t gen = pf_kube_cache_generation(cache);
		int timeout_ms;

		if (synced) {
			if (!m.complete || force_full)
				due = now;
			else if (gen != flushed_gen)
				due = MIN(
				    due,
				    change_due(&pace, now, last_flush, s_to_ns(o->resync_min_s),
					       policy_changed(cache, flushed_gen, flushed_wgen)));
			if (m.complete && o->resync_max_s)
				due = MIN(due, last_full + s_to_ns(o->resync_max_s));
			due = MAX(due, retry_at);
		}
		timeout_ms = due > now ? (int)MIN((due - now) / 1000000 + 1, 1000ULL) : 0;
		r = pf_kube_informers_run(inf, timeout_ms, nt.epfd);
		if (r < 0)
			goto out;
		if (nt.fd >= 0 && pf_mono_ns() - nt.sent_ns > NOTIFY_TIMEOUT_NS)
			notify_done(&nt, o);
		while (r == 1 && epoll_wait(nt.epfd, &ev, 1, 0) == 1) {
			struct signalfd_siginfo si;

			if (ev.data.fd != sfd) {
				notify_done(&nt, o);
				continue;
			}
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: full reconcile");
					force_full = true;
				} else {
					log_info("signal %u: exiting", si.ssi_signo);
					ret = 0;
					goto out;
				}
			}
		}
		if (!pf_kube_informers_synced(inf)) {
			const char *last;

			if (o->once &&
			    pf_kube_informers_failures(inf, &last) >= ONCE_MAX_FAILURES) {
				log_error("giving up: %s", pf_strna(last));
				goto out;
			}
			continue;
		}
		now = pf_mono_ns();
		gen = pf_kube_cache_generation(cache);
		/* Status is written from a complete view only, by the Lease holder only. */
		if (lease) {
			bool was = held;

			held = pf_kube_lease_tick(lease, now);
			if (held && (!was || gen != status_gen || status_pending)) {
				struct pf_kube_policy *p = NULL;
				size_t n_p = 0;

				if (pf_kube_cache_policies(cache, &p, &n_p) >= 0) {
					r = pf_kube_status_write(status, &client, p, n_p, now);
					status_pending = r != 0;
					status_gen = gen;
					pf_kube_policies_free(p, n_p);
				}
			}
		}
		if (now < retry_at)
			continue;
		if (!m.complete || force_full ||
		    (o->resync_max_s && now >= last_full + s_to_ns(o->resync_max_s)) ||
		    (gen != flushed_gen &&
		     now >= change_due(&pace, now, last_flush, s_to_ns(o->resync_min_s),
				       policy_changed(cache, flushed_gen, flushed_wgen)))) {
			bool full =
			    !m.complete || force_full ||
			    (o->resync_max_s && now >= last_full + s_to_ns(o->resync_max_s));
			unsigned changes = 0;
			uint64_t t0, wgen;

			pf_error_clear(&err);
			t0 = pf_mono_ns();
			wgen = pf_kube_cache_workload_generation(cache);
			r = flush(store, cache, &m, full, wgen != flushed_wgen, &changes, &err);
			if (r < 0) {
				log_error("writing the store failed, will retry: %s",
					  err.msg[0] ? err.msg : strerror(-r));
				retry_at = now + RETRY_STORE_NS;
				m.complete = false; /* the next write is a full reconcile */
				if (o->once)
					goto out;
				continue;
			}
			flushed_gen = gen;
			flushed_wgen = wgen;
			last_flush = now;
			pace.dirty_since = 0;
			pace.quick++;
			if (full) {
				last_full = now;
				force_full = false;
			}
			if (!logged_synced) {
				log_info("synced: %zu policies, %zu cluster policies, %zu pods, "
					 "%zu namespaces",
					 pf_kube_cache_count(cache, PF_KUBE_FENCEPOLICY),
					 pf_kube_cache_count(cache, PF_KUBE_CLUSTERFENCEPOLICY),
					 pf_kube_cache_count(cache, PF_KUBE_POD),
					 pf_kube_cache_count(cache, PF_KUBE_NAMESPACE));
				logged_synced = true;
			} else
				log_debug("store updated: %u changes%s in %" PRIu64 " ms", changes,
					  full ? " (full reconcile)" : "",
					  (pf_mono_ns() - t0) / 1000000);
			if (changes && o->once)
				pf_sync_notify_engine(o);
			else if (changes)
				notify(&nt, o);
			if (o->once) {
				ret = count_invalid(cache) > 0 ? 2 : 0;
				goto out;
			}
		}
	}
out:
	if (inf) {
		const struct pf_kube_stats *st = pf_kube_informers_stats(inf);

		log_debug(
		    "kube: %lu lists, %lu pages (%lu asked again smaller), %lu watches, %lu "
		    "events, %lu bookmarks, %lu relists (410), %lu reconnects, %lu throttled, "
		    "%lu errors",
		    st->lists, st->pages, st->shrunk, st->watches, st->events, st->bookmarks,
		    st->gone, st->reconnects, st->throttled, st->errors);
	}
	if (ret == 0)
		pf_kube_lease_release(lease);
	pf_kube_informers_free(inf);
	pf_kube_cache_free(cache);
	mirror_clear(&m);
	pf_store_close(store);
	if (nt.fd >= 0)
		close(nt.fd);
	if (nt.epfd >= 0)
		close(nt.epfd);
	if (sfd >= 0)
		close(sfd);
	curl_global_cleanup();
out_client:
	pf_kube_status_free(status);
	pf_kube_lease_free(lease);
	pf_kube_client_done(&client);
	return ret;
}
