/* The registry of enforced network namespaces: register, follow addresses, notice death, release.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "engine.h"
#include "log.h"

pid_t pf_pid_from_netns_path(const char *path)
{
	char tail[16];
	int pid = 0, n = 0;

	if (sscanf(path, "/proc/%d/ns/%7s%n", &pid, tail, &n) != 2 || path[n] ||
	    strcmp(tail, "net") || pid <= 0)
		return 0;
	return pid;
}

static bool id_eq(const struct pf_netns_id *a, const struct pf_netns_id *b)
{
	return pf_netns_id_eq(a, b);
}

static bool path_is_netns(const char *path, const struct pf_netns_id *id)
{
	struct stat st;

	return stat(path, &st) == 0 && (uint64_t)st.st_dev == id->dev &&
	       (uint64_t)st.st_ino == id->ino;
}

/*
 * The netns may outlive the path it was registered by (`ip netns del` only unmounts; a
 * /proc/PID path dies with its PID while other processes stay). Any process still in it
 * gives us a way back in.
 */
int pf_pods_find_netns(const struct pf_netns_id *id, int *fd, pid_t *pid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[64];
		uint32_t n;

		if (pf_parse_u32(de->d_name, INT32_MAX, &n) < 0 || n == 0 || (pid_t)n == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%" PRIu32 "/ns/net", n);
		if (!path_is_netns(path, id))
			continue;
		if (fd) {
			struct pf_netns_id got;
			int f = open(path, O_RDONLY | O_CLOEXEC);

			/* The process may have gone or moved between stat and open. */
			if (f < 0)
				continue;
			if (pf_netns_id_of_fd(f, &got) < 0 || !id_eq(&got, id)) {
				close(f);
				continue;
			}
			*fd = f;
		}
		if (pid)
			*pid = (pid_t)n;
		r = 0;
		break;
	}
	closedir(d);
	return r;
}

static int addr_order(const void *a, const void *b)
{
	return pf_addr_cmp(a, b);
}

/* ---- containers ---------------------------------------------------------------------- */

/* Watch pid only if it really lives in the pod's netns (the pid in a request is a claim). */
static void container_watch_pid(struct engine *e, struct pf_pod *p, struct pf_container *c,
				pid_t pid)
{
	char path[64];
	int fd, r;

	if (pid <= 0 || c->pidfd >= 0)
		return;
	fd = (int)pidfd_open(pid, 0);
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (!path_is_netns(path, &p->id)) {
		close(fd);
		return;
	}
	/* pidfds are CLOEXEC by default. */
	c->pid = pid;
	c->pidfd = fd;
	c->pid_watch = (struct pf_watch){PF_WATCH_PIDFD, c};
	if (!p->dead && p->active) {
		r = pf_loop_add(e, fd, EPOLLIN, &c->pid_watch);
		if (r < 0)
			log_debug_errno(r, "epoll add pidfd: %m");
	}
}

static struct pf_container *container_add(struct pf_pod *p, const char *id)
{
	struct pf_container *c;

	if (pf_grow((void **)&p->containers, &p->cap_containers, p->n_containers,
		    sizeof(*p->containers)) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = strdup(id);
	if (!c->id) {
		free(c);
		return NULL;
	}
	c->pod = p;
	c->pidfd = -1;
	p->containers[p->n_containers++] = c;
	return c;
}

/* Unlink c from its pod and park it until the end of this loop round. */
static void container_remove(struct engine *e, struct pf_container *c)
{
	struct pf_pod *p = c->pod;

	for (size_t i = 0; i < p->n_containers; i++) {
		if (p->containers[i] != c)
			continue;
		memmove(&p->containers[i], &p->containers[i + 1],
			(p->n_containers - i - 1) * sizeof(*p->containers));
		p->n_containers--;
		break;
	}
	if (c->pidfd >= 0) {
		pf_loop_del(e, c->pidfd);
		close(c->pidfd);
		c->pidfd = -1;
	}
	c->dead = true;
	c->next_dead = e->dead_containers;
	e->dead_containers = c;
}

static struct pf_container *container_find(struct pf_pod *p, const char *id)
{
	for (size_t i = 0; i < p->n_containers; i++)
		if (!strcmp(p->containers[i]->id, id))
			return p->containers[i];
	return NULL;
}

struct pf_pod *pf_pods_find_container(struct engine *e, const char *container,
				      struct pf_container **c)
{
	for (struct pf_pod *p = e->pods; p; p = p->next) {
		struct pf_container *k = container_find(p, container);

		if (k) {
			if (c)
				*c = k;
			return p;
		}
	}
	return NULL;
}

static struct pf_pod *find_pod(struct engine *e, const struct pf_netns_id *id)
{
	for (struct pf_pod *p = e->pods; p; p = p->next)
		if (id_eq(&p->id, id))
			return p;
	return NULL;
}

/* ---- the store row ------------------------------------------------------------------ */

int pf_pods_store_put(struct engine *e, struct pf_pod *p, struct pf_error *err)
{
	_cleanup_free_ char **ids = NULL;
	struct pf_pod_record rec = {
	    .namespace = p->namespace,
	    .name = p->name,
	    .uid = p->uid,
	    .kind = p->kind,
	    .netns_dev = p->id.dev,
	    .netns_ino = p->id.ino,
	    .netns_path = p->netns_path,
	    .n_containers = p->n_containers,
	    .ips = p->ips,
	    .n_ips = p->n_ips,
	    .registered_at_ms = p->registered_at_ms,
	    .state = (char *)"enforced",
	};

	ids = calloc(p->n_containers + 1, sizeof(*ids));
	if (!ids)
		return pf_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_containers; i++)
		ids[i] = p->containers[i]->id;
	rec.containers = ids;
	/* Once the loop runs, the store worker writes it (ahead of any rebuild asked for
	 * after this call), so a busy database never holds up a verdict. */
	if (e->reloader)
		return pf_reloader_put_pod(e, &rec, err);
	return pf_store_put_pod(e->store, &rec, err);
}

int pf_pods_store_delete(struct engine *e, const struct pf_netns_id *id, struct pf_error *err)
{
	if (e->reloader)
		return pf_reloader_delete_pod(e, id, err);
	return pf_store_delete_pod(e->store, id->dev, id->ino, err);
}

/* ---- pods --------------------------------------------------------------------------- */

static void pod_free(struct pf_pod *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_containers; i++) {
		if (p->containers[i]->pidfd >= 0)
			close(p->containers[i]->pidfd);
		free(p->containers[i]->id);
		free(p->containers[i]);
	}
	free(p->containers);
	pf_nfq_close(p->nfq);
	if (p->rtnl_fd >= 0)
		close(p->rtnl_fd);
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	free(p->netns_path);
	free(p->namespace);
	free(p->name);
	free(p->uid);
	free(p->kind);
	free(p->ips);
	free(p);
}

static int read_addrs(struct pf_pod *p, struct pf_addr **out, size_t *n)
{
	int r = pf_netns_list_addrs_at(p->netns_fd, out, n);

	if (r < 0)
		return r;
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), addr_order);
	return 0;
}

static char *addrs_string(const struct pf_addr *a, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o + PF_ADDR_STRLEN + 2 < size; i++) {
		char s[PF_ADDR_STRLEN];

		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? " " : "",
				      pf_addr_fmt(&a[i], s));
	}
	if (n == 0)
		snprintf(buf, size, "none");
	return buf;
}

static int epoll_add_pod(struct engine *e, struct pf_pod *p)
{
	int r;

	p->nfq_watch = (struct pf_watch){PF_WATCH_NFQ, p};
	r = pf_loop_add(e, pf_nfq_fd(p->nfq), EPOLLIN, &p->nfq_watch);
	if (r < 0)
		return r;
	p->rtnl_watch = (struct pf_watch){PF_WATCH_RTNL, p};
	r = pf_loop_add(e, p->rtnl_fd, EPOLLIN, &p->rtnl_watch);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_containers; i++) {
		struct pf_container *c = p->containers[i];

		if (c->pidfd >= 0) {
			c->pid_watch = (struct pf_watch){PF_WATCH_PIDFD, c};
			r = pf_loop_add(e, c->pidfd, EPOLLIN, &c->pid_watch);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void epoll_del_pod(struct engine *e, struct pf_pod *p)
{
	if (p->nfq)
		pf_loop_del(e, pf_nfq_fd(p->nfq));
	pf_loop_del(e, p->rtnl_fd);
	for (size_t i = 0; i < p->n_containers; i++)
		pf_loop_del(e, p->containers[i]->pidfd);
}

static void unlink_pod(struct engine *e, struct pf_pod *p)
{
	for (struct pf_pod **pp = &e->pods; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			e->n_pods--;
			return;
		}
}

static int add_container_to(struct engine *e, struct pf_pod *p, const struct pf_register_req *req,
			    pid_t pid, struct pf_error *err)
{
	struct pf_container *c = container_find(p, req->container);
	int r;

	if (!pf_streq(p->namespace, req->namespace) || !pf_streq(p->name, req->name))
		log_warning("Container %s registers netns %s as %s/%s, which is already pod %s/%s; "
			    "keeping the latter",
			    req->container, req->netns_path, req->namespace, req->name,
			    p->namespace, p->name);
	if (!c) {
		if (p->n_containers >= PF_MAX_CONTAINERS_PER_POD)
			return pf_error_set(err, ENOSPC, "pod %s/%s already has %d containers",
					    p->namespace, p->name, PF_MAX_CONTAINERS_PER_POD);
		c = container_add(p, req->container);
		if (!c)
			return pf_error_set(err, ENOMEM, "out of memory");
		container_watch_pid(e, p, c, pid);
		r = pf_pods_store_put(e, p, err);
		if (r < 0)
			return r;
		log_info("Container %s joins pod %s/%s (%zu containers)", req->container,
			 p->namespace, p->name, p->n_containers);
	} else {
		container_watch_pid(e, p, c, pid);
	}
	return 0;
}

struct pf_pod *pf_pods_find(struct engine *e, const struct pf_netns_id *id)
{
	return find_pod(e, id);
}

/* Install the ruleset (replacing whatever a previous engine left) and start judging. */
static int activate(struct engine *e, struct pf_pod *p, struct pf_error *err)
{
	char ipbuf[512];
	int saved = -1, r;

	r = pf_netns_enter(p->netns_fd, &saved);
	if (r < 0)
		return pf_error_set(err, -r, "cannot enter netns %s: %s", p->netns_path,
				    strerror(-r));
	r = pf_nft_install(&e->nft, err);
	pf_netns_leave(&saved);
	if (r < 0)
		return pf_error_prefix(err, "netns %s: installing the ruleset", p->netns_path);
	r = epoll_add_pod(e, p);
	if (r < 0) {
		epoll_del_pod(e, p);
		if (pf_netns_enter(p->netns_fd, &saved) == 0) {
			pf_nft_remove(&e->nft, NULL);
			pf_netns_leave(&saved);
		}
		return pf_error_set(err, -r, "epoll: %s", strerror(-r));
	}
	p->active = true;
	p->pending_gen = 0;
	log_info("Enforcing pod %s/%s netns %s [%" PRIu64 ":%" PRIu64
		 "], %zu container(s), addresses %s",
		 p->namespace, p->name, p->netns_path, p->id.dev, p->id.ino, p->n_containers,
		 addrs_string(p->ips, p->n_ips, ipbuf, sizeof(ipbuf)));
	return 0;
}

int pf_pods_register(struct engine *e, const struct pf_register_req *req, struct pf_pod **out,
		     uint64_t *wait_gen, struct pf_error *err)
{
	_cleanup_close_ int fd = -1;
	struct pf_netns_id id;
	struct pf_pod *p;
	pid_t pid;
	uint64_t gen;
	int saved = -1, r;

	*wait_gen = 0;
	r = pf_netns_open(req->netns_path, &fd, &id, err);
	if (r < 0)
		return r;
	if (req->have_id && !id_eq(&id, &req->id))
		return pf_error_set(err, ESTALE,
				    "%s is netns %" PRIu64 ":%" PRIu64 ", not the %" PRIu64
				    ":%" PRIu64 " the request names (process gone?)",
				    req->netns_path, id.dev, id.ino, req->id.dev, req->id.ino);
	if (id_eq(&id, &e->host_id) || id_eq(&id, &e->self_id))
		return pf_error_set(err, EPERM,
				    "%s is the host's network namespace; it is never enforced",
				    req->netns_path);
	pid = req->pid ? req->pid : pf_pid_from_netns_path(req->netns_path);

	p = find_pod(e, &id);
	if (p) {
		r = add_container_to(e, p, req, pid, err);
		if (r < 0)
			return r;
		/* A pod still waiting for its cache: this container waits with it. */
		*wait_gen = p->active ? 0 : p->pending_gen;
		*out = p;
		return 0;
	}
	if (e->n_pods >= PF_MAX_PODS)
		return pf_error_set(err, ENOSPC, "already enforcing %d network namespaces",
				    PF_MAX_PODS);

	p = calloc(1, sizeof(*p));
	if (!p)
		return pf_error_set(err, ENOMEM, "out of memory");
	p->engine = e;
	p->id = id;
	p->netns_fd = PF_TAKE_FD(fd);
	p->rtnl_fd = -1;
	p->registered_at_ms = pf_now_ms();
	p->netns_path = strdup(req->netns_path);
	p->namespace = strdup(req->namespace);
	p->name = strdup(req->name);
	p->uid = req->uid ? strdup(req->uid) : NULL;
	p->kind = strdup(req->kind);
	if (!p->netns_path || !p->namespace || !p->name || (req->uid && !p->uid) || !p->kind ||
	    !container_add(p, req->container)) {
		r = pf_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	container_watch_pid(e, p, p->containers[0], pid);

	/* Inside the netns: the address watch (before listing, so no change falls between), the
	 * addresses, and the queue, bound before the rule that feeds it exists. */
	r = pf_netns_enter(p->netns_fd, &saved);
	if (r < 0) {
		pf_error_set(err, -r, "cannot enter netns %s: %s", req->netns_path, strerror(-r));
		goto fail;
	}
	p->rtnl_fd = pf_addrmon_open();
	if (p->rtnl_fd < 0) {
		r = p->rtnl_fd;
		pf_netns_leave(&saved);
		pf_error_set(err, -r, "rtnetlink socket in netns %s: %s", req->netns_path,
			     strerror(-r));
		goto fail;
	}
	r = pf_netns_list_addrs(&p->ips, &p->n_ips);
	if (r < 0) {
		pf_netns_leave(&saved);
		pf_error_set(err, -r, "cannot read the addresses of netns %s: %s", req->netns_path,
			     strerror(-r));
		goto fail;
	}
	r = pf_nfq_open(e->cfg.queue_num, e->cfg.queue_maxlen, pf_verdict_cb, p, &p->nfq, err);
	pf_netns_leave(&saved);
	if (r < 0) {
		pf_error_prefix(err, "netns %s: queue %u", req->netns_path, e->cfg.queue_num);
		goto fail;
	}
	if (p->n_ips > 1)
		qsort(p->ips, p->n_ips, sizeof(*p->ips), addr_order);

	/* The store resolves Pod and Namespace refs through its pods table: write the pod, then
	 * have the cache rebuilt so its addresses are level-1 keys before its first packet is
	 * queued. Re-adoption at start installs at once: the loop does not run yet, and one
	 * rebuild follows for all pods. */
	r = pf_pods_store_put(e, p, err);
	if (r < 0)
		goto fail;
	p->next = e->pods;
	e->pods = p;
	e->n_pods++;
	*out = p;
	gen = req->adopting ? 0 : pf_reload_request(e, "register");
	if (gen > e->cache_generation) {
		p->pending_gen = gen;
		*wait_gen = gen;
		return 0;
	}
	r = activate(e, p, err);
	if (r < 0) {
		pf_pods_release(e, p, err->msg);
		return r;
	}
	return 0;

fail:
	epoll_del_pod(e, p);
	pod_free(p);
	return r;
}

void pf_pods_cache_ready(struct engine *e)
{
	for (struct pf_pod *p = e->pods, *next; p; p = next) {
		struct pf_error err = {};

		next = p->next;
		if (p->dead || p->active || !p->pending_gen)
			continue;
		if (p->pending_gen <= e->cache_generation) {
			if (activate(e, p, &err) < 0) {
				log_error("Pod %s/%s: %s", p->namespace, p->name, err.msg);
				pf_control_fail_waiters(e, &p->id, err.msg);
				pf_pods_release(e, p, "its ruleset could not be installed");
			}
		} else if (p->pending_gen <= e->reload_failed) {
			pf_control_fail_waiters(
			    e, &p->id,
			    "the verdict cache could not be rebuilt (see the engine's log)");
			pf_pods_release(e, p, "the verdict cache could not be rebuilt");
		}
	}
}

void pf_pods_release(struct engine *e, struct pf_pod *p, const char *why)
{
	struct pf_error err = {};
	int saved = -1, r;

	if (p->dead)
		return;
	p->dead = true;
	epoll_del_pod(e, p);
	/* The netns still exists (our fd pins it); take the table out so nothing is left queued. */
	r = pf_netns_enter(p->netns_fd, &saved);
	if (r == 0) {
		r = pf_nft_remove(&e->nft, &err);
		pf_netns_leave(&saved);
		if (r < 0)
			log_warning("Pod %s/%s: removing the ruleset: %s", p->namespace, p->name,
				    err.msg);
	}
	/* Closing the queue and the netns fd lets the kernel free the namespace. Its counts
	 * stay in the engine's totals, which metrics expose as counters that never go back. */
	if (p->nfq)
		pf_engine_add_queue_stats(&e->stats.nfq_released, p->nfq);
	pf_nfq_close(p->nfq);
	p->nfq = NULL;
	if (p->rtnl_fd >= 0)
		close(p->rtnl_fd);
	p->rtnl_fd = -1;
	close(p->netns_fd);
	p->netns_fd = -1;
	while (p->n_containers)
		container_remove(e, p->containers[p->n_containers - 1]);
	pf_error_clear(&err);
	if (pf_pods_store_delete(e, &p->id, &err) < 0)
		log_error("Pod %s/%s: removing it from the store: %s", p->namespace, p->name,
			  err.msg);
	unlink_pod(e, p);
	p->next = e->dead_pods;
	e->dead_pods = p;
	log_info("Released pod %s/%s netns %s: %s", p->namespace, p->name, p->netns_path, why);
	pf_reload_request(e, "release");
}

int pf_pods_unregister(struct engine *e, const char *container, const char *netns_path, bool *found,
		       bool *released, struct pf_error *err)
{
	struct pf_netns_id id;
	bool have_id = false;
	struct pf_container *c = NULL;
	struct pf_pod *p = NULL;

	*found = *released = false;
	if (netns_path) {
		_cleanup_close_ int fd = -1;

		/* The netns may be gone already at poststop; then the container id alone decides.
		 */
		if (pf_netns_open(netns_path, &fd, &id, NULL) == 0)
			have_id = true;
	}
	for (struct pf_pod *q = e->pods; q && !p; q = q->next) {
		if (have_id && !id_eq(&q->id, &id))
			continue;
		c = container_find(q, container);
		if (c)
			p = q;
	}
	if (!p && have_id)
		p = pf_pods_find_container(e, container, &c);
	if (!p)
		return 0;
	*found = true;
	container_remove(e, c);
	if (p->n_containers == 0) {
		pf_pods_release(e, p, "its last container left");
		*released = true;
		return 0;
	}
	log_info("Container %s left pod %s/%s (%zu remain)", container, p->namespace, p->name,
		 p->n_containers);
	return pf_pods_store_put(e, p, err);
}

void pf_pods_rtnl_event(struct engine *e, struct pf_pod *p)
{
	struct pf_addr *ips = NULL;
	struct pf_error err = {};
	size_t n = 0;
	char ipbuf[512];
	int r;

	/* One re-read of the addresses answers any number of notifications, lost ones too. */
	r = pf_addrmon_drain(p->rtnl_fd);
	if (r == 0)
		return;
	if (r < 0 && r != -EAGAIN) {
		log_warning_errno(r, "Pod %s/%s: address notifications: %m", p->namespace, p->name);
		return;
	}
	r = read_addrs(p, &ips, &n);
	if (r < 0) {
		log_warning_errno(r, "Pod %s/%s: re-reading addresses: %m", p->namespace, p->name);
		return;
	}
	if (n == p->n_ips && (n == 0 || !memcmp(ips, p->ips, n * sizeof(*ips)))) {
		free(ips);
		return;
	}
	free(p->ips);
	p->ips = ips;
	p->n_ips = n;
	log_info("Pod %s/%s addresses now %s", p->namespace, p->name,
		 addrs_string(ips, n, ipbuf, sizeof(ipbuf)));
	if (pf_pods_store_put(e, p, &err) < 0) {
		log_error("Pod %s/%s: updating the store: %s", p->namespace, p->name, err.msg);
		return;
	}
	pf_reload_request(e, "address change");
}

void pf_pods_pid_exit(struct engine *e, struct pf_container *c)
{
	struct pf_pod *p = c->pod;
	struct pf_error err = {};

	if (c->dead || p->dead)
		return;
	log_info("Container %s of pod %s/%s exited (pid %d)", c->id, p->namespace, p->name,
		 (int)c->pid);
	container_remove(e, c);
	if (p->n_containers == 0) {
		pf_pods_release(e, p, "its last container exited");
		return;
	}
	if (pf_pods_store_put(e, p, &err) < 0)
		log_error("Pod %s/%s: updating the store: %s", p->namespace, p->name, err.msg);
}

/*
 * Our queue socket and netns fd pin the namespace, so it never disappears by itself while we
 * enforce it. A pod is alive while one of: a container process we watch (pidfd) lives, its
 * registered path still names it (a bind mount such as /run/netns/X), or some process is
 * inside it (/proc scan, only when the first two fail). When a scan finds a process, we
 * watch it, so the next change arrives as a pidfd event rather than another scan.
 */
void pf_pods_check_liveness(struct engine *e)
{
	for (struct pf_pod *p = e->pods, *next; p; p = next) {
		pid_t pid = 0;

		next = p->next;
		if (p->dead)
			continue;
		bool watched = false;

		for (size_t i = 0; i < p->n_containers; i++)
			if (p->containers[i]->pidfd >= 0)
				watched = true;
		if (watched || path_is_netns(p->netns_path, &p->id))
			continue;
		if (pf_pods_find_netns(&p->id, NULL, &pid) == 0) {
			if (p->n_containers)
				container_watch_pid(e, p, p->containers[0], pid);
			continue;
		}
		pf_pods_release(e, p, "its network namespace is gone");
	}
}

void pf_pods_reap(struct engine *e)
{
	while (e->dead_pods) {
		struct pf_pod *p = e->dead_pods;

		e->dead_pods = p->next;
		pod_free(p);
	}
	while (e->dead_containers) {
		struct pf_container *c = e->dead_containers;

		e->dead_containers = c->next_dead;
		free(c->id);
		free(c);
	}
}

void pf_pods_shutdown(struct engine *e)
{
	while (e->pods) {
		struct pf_pod *p = e->pods;

		e->pods = p->next;
		epoll_del_pod(e, p);
		pod_free(p);
	}
	e->n_pods = 0;
}
