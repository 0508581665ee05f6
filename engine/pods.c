/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The registry of enforced network namespaces: register, follow addresses, notice death, release.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "counters.h"
#include "events.h"
#include "log.h"
#include "pods.h"
#include "reload.h"
#include "verdict.h"

/* The registry: the pods, and what it was given to enforce them with. */
struct pf_pods {
	struct pf_pods_config cfg;
	struct pf_loop *loop;
	struct pf_reload *reload;
	struct pf_events *events;
	struct pf_engine_stats *stats;
	struct pf_pods_ops ops;

	struct pf_pod *pods;
	size_t n_pods;
	uint64_t row_seq; /* numbers pods-table writes */
	struct pf_pod *dead_pods;
	struct pf_container *dead_containers;
};

static void on_nfq(struct pf_watch *w, uint32_t events);
static void on_rtnl(struct pf_watch *w, uint32_t events);
static void on_nft(struct pf_watch *w, uint32_t events);
static void on_pid_exit(struct pf_watch *w, uint32_t events);

/* Out of the loop: the watch's fd is the object's fd of now (-1: never added). */
static void loop_del(struct pf_pods *reg, struct pf_watch *w, int fd)
{
	if (fd < 0)
		return;
	w->fd = fd;
	pf_loop_del(reg->loop, w);
}

int pf_pods_new(const struct pf_pods_config *cfg, struct pf_loop *loop, struct pf_reload *reload,
		struct pf_events *events, struct pf_engine_stats *stats,
		const struct pf_pods_ops *ops, struct pf_pods **out)
{
	struct pf_pods *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return -ENOMEM;
	reg->cfg = *cfg;
	reg->loop = loop;
	reg->reload = reload;
	reg->events = events;
	reg->stats = stats;
	reg->ops = *ops;
	*out = reg;
	return 0;
}

void pf_pods_free(struct pf_pods *reg)
{
	if (!reg)
		return;
	pf_pods_shutdown(reg);
	pf_pods_reap(reg);
	free(reg);
}

struct pf_pod *pf_pods_list(const struct pf_pods *reg)
{
	return reg->pods;
}

size_t pf_pods_count(const struct pf_pods *reg)
{
	return reg->n_pods;
}

void pf_pods_stats(const struct pf_pods *reg, struct pf_nfq_stats *queues, size_t *n_privileged,
		   size_t *n_unresolved)
{
	*n_privileged = *n_unresolved = 0;
	for (const struct pf_pod *p = reg->pods; p; p = p->next) {
		if (p->nfq)
			pf_nfq_add_stats(queues, p->nfq);
		*n_privileged += !p->dead && pf_pod_privileged(p);
		*n_unresolved += p->active && p->unresolved;
	}
}

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

int pf_proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so count from the last ')'.
	 * starttime is field 22, the 20th after the ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	{
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(p + 1, &end, 10);
		if (errno || end == p + 1 || (*end != ' ' && *end != '\n' && *end))
			return -EIO;
		*out = v;
	}
	return 0;
}

/* A pidfd whose process has exited is readable. */
static bool pidfd_exited(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) != 0;
}

/*
 * Watch pid only if it really lives in the pod's netns (the pid in a request is a claim) and,
 * when start_time is given (re-adoption), is still the process that was registered: a pid
 * the kernel gave to another process since is not the container. Returns whether it watches.
 */
static bool container_watch_pid(struct pf_pods *reg, struct pf_pod *p, struct pf_container *c,
				pid_t pid, uint64_t start_time)
{
	char path[64];
	uint64_t st = 0;
	int fd, r;

	if (pid <= 0 || c->pidfd >= 0)
		return c->pidfd >= 0;
	fd = (int)pidfd_open(pid, 0);
	if (fd < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	/* Read while the pidfd holds the process: if it is still alive after the reads, the pid
	 * named it all along (a live process's pid is never reused). */
	if (!path_is_netns(path, &p->id) || pf_proc_start_time(pid, &st) < 0 ||
	    (start_time && st != start_time) || pidfd_exited(fd)) {
		close(fd);
		return false;
	}
	/* pidfds are CLOEXEC by default. */
	c->pid = pid;
	c->start_time = st;
	c->pidfd = fd;
	pf_watch_set(&c->pid_watch, fd, on_pid_exit, c, false);
	if (!p->dead && p->active) {
		r = pf_loop_add(reg->loop, &c->pid_watch, EPOLLIN);
		if (r < 0)
			log_debug_errno(r, "epoll add pidfd: %m");
	}
	return true;
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
static void container_remove(struct pf_pods *reg, struct pf_container *c)
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
		loop_del(reg, &c->pid_watch, c->pidfd);
		close(c->pidfd);
		c->pidfd = -1;
	}
	c->dead = true;
	c->next_dead = reg->dead_containers;
	reg->dead_containers = c;
}

static struct pf_container *container_find(struct pf_pod *p, const char *id)
{
	for (size_t i = 0; i < p->n_containers; i++)
		if (!strcmp(p->containers[i]->id, id))
			return p->containers[i];
	return NULL;
}

struct pf_pod *pf_pods_find_container(struct pf_pods *reg, const char *container,
				      struct pf_container **c)
{
	for (struct pf_pod *p = reg->pods; p; p = p->next) {
		struct pf_container *k = container_find(p, container);

		if (k) {
			if (c)
				*c = k;
			return p;
		}
	}
	return NULL;
}

static struct pf_pod *find_pod(struct pf_pods *reg, const struct pf_netns_id *id)
{
	for (struct pf_pod *p = reg->pods; p; p = p->next)
		if (id_eq(&p->id, id))
			return p;
	return NULL;
}

/* ---- the store row ------------------------------------------------------------------ */

int pf_pods_store_put(struct pf_pods *reg, struct pf_pod *p, struct pf_error *err)
{
	_cleanup_free_ char **ids = NULL;
	_cleanup_free_ struct pf_pod_proc *procs = NULL;
	uint64_t gen;
	int r;
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
	procs = calloc(p->n_containers + 1, sizeof(*procs));
	if (!procs)
		return pf_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_containers; i++) {
		const struct pf_container *c = p->containers[i];

		ids[i] = c->id;
		/* Only a pid we watch: the restarted engine watches it again. */
		if (c->pidfd >= 0)
			procs[i] = (struct pf_pod_proc){c->pid, c->start_time, c->caps & 3};
		else
			procs[i].caps = c->caps & 3;
	}
	rec.containers = ids;
	rec.procs = procs;
	p->row_seq = ++reg->row_seq;
	/* Once the loop runs, the store worker writes it (ahead of any rebuild asked for
	 * after this call, retrying until it goes in), so a busy database never holds up a
	 * verdict. At start-up it is written at once, and the build that follows has it. */
	/* A pod still to be activated (a registration): the worker lists its policies as soon
	 * as the row is in, so it need not wait for the build that has it. */
	r = pf_reload_put_pod(reg->reload, &rec, p->row_seq, !p->active && !p->adopted, &gen, err);
	if (r < 0)
		return r;
	if (gen) {
		p->row_done = p->row_seq;
		p->row_gen = gen;
	}
	return 0;
}

int pf_pods_store_delete(struct pf_pods *reg, const struct pf_netns_id *id, struct pf_error *err)
{
	return pf_reload_delete_pod(reg->reload, id, ++reg->row_seq, err);
}

void pf_pods_row_committed(struct pf_pods *reg, const struct pf_row_done *d)
{
	struct pf_pod *p = find_pod(reg, &d->id);

	/* A delete, or a write for an earlier pod of the same netns (numbers only grow, so
	 * a newer pod's own write has a larger one). */
	if (!p || d->delete || d->seq > p->row_seq || d->seq <= p->row_done)
		return;
	p->row_done = d->seq;
	p->row_gen = d->gen;
}

/* Re-adoption at start (no store worker yet) writes nothing: the row is in the store (we
 * read it there), and a locked database must not make us leave a pod unjudged. The update
 * (containers, addresses) goes to the worker once it runs (pf_pods_sync_rows). */
static int put_row(struct pf_pods *reg, struct pf_pod *p, const struct pf_register_req *req,
		   struct pf_error *err)
{
	if (req->adopting && !pf_reloader_running(reg->reload)) {
		p->row_unsynced = true;
		return 0;
	}
	return pf_pods_store_put(reg, p, err);
}

void pf_pods_sync_rows(struct pf_pods *reg)
{
	for (struct pf_pod *p = reg->pods; p; p = p->next) {
		struct pf_error err = {};

		if (p->dead || !p->row_unsynced)
			continue;
		p->row_unsynced = false;
		if (pf_pods_store_put(reg, p, &err) < 0)
			log_error("Pod %s/%s: updating the store: %s", p->namespace, p->name,
				  err.msg);
	}
}

/* Its row is committed (the newest write asked for) and in the cache in place. */
static bool row_in_cache(struct pf_pods *reg, const struct pf_pod *p)
{
	return p->row_done == p->row_seq && p->row_gen <= pf_reload_generation(reg->reload);
}

/* ---- privileged containers ------------------------------------------------------------ */

static const char *caps_string(unsigned caps)
{
	if (!(caps & (PF_CAP_NET_ADMIN | PF_CAP_NET_RAW)))
		return "capabilities the hook could not read (no config.json)";
	if ((caps & PF_CAP_NET_ADMIN) && (caps & PF_CAP_NET_RAW))
		return "CAP_NET_ADMIN and CAP_NET_RAW";
	return caps & PF_CAP_NET_ADMIN ? "CAP_NET_ADMIN" : "CAP_NET_RAW";
}

/* privileged_pods = refuse: such a container is never registered (its hook fails). */
static int check_privileged(struct pf_pods *reg, const struct pf_register_req *req,
			    struct pf_error *err)
{
	/* A running container we enforced before a restart stays enforced: refusing it now
	 * would only take its fence away. */
	if (!req->caps || !reg->cfg.refuse_privileged || req->adopting)
		return 0;
	reg->stats->privileged_refused++;
	log_warning("Refused container %s (%s/%s): its capabilities include %s", req->container,
		    req->namespace, req->name, caps_string(req->caps));
	if (!(req->caps & (PF_CAP_NET_ADMIN | PF_CAP_NET_RAW)))
		return pf_error_set(err, EPERM,
				    "container %s (%s/%s): its capabilities could not be read "
				    "(no config.json); refused because privileged_pods is refuse",
				    req->container, req->namespace, req->name);
	return pf_error_set(err, EPERM,
			    "container %s (%s/%s) has %s in its capabilities (config.json "
			    "process.capabilities), with which it can change or get around its "
			    "fence; refused because privileged_pods is refuse",
			    req->container, req->namespace, req->name, caps_string(req->caps));
}

/* privileged_pods = warn: enforce it as well as we can, and say so. */
static void note_privileged(struct pf_pods *reg, struct pf_pod *p,
			    const struct pf_register_req *req)
{
	if (!(req->caps & (PF_CAP_NET_ADMIN | PF_CAP_NET_RAW)))
		return;
	reg->stats->privileged_containers++;
	log_warning("Container %s of pod %s/%s has %s: %s", req->container, p->namespace, p->name,
		    caps_string(req->caps),
		    req->caps & PF_CAP_NET_RAW
			? "it can send raw packets that netfilter never sees (not enforced)"
			: "it can change its ruleset (podfenced restores it)");
	/* Re-adoption: told when it registered (the log line above says it again). */
	if (!req->adopting)
		pf_events_note(reg->events, p, "privileged", NULL, NULL, 0, PF_ACTION_ALERT,
			       pf_now_ms());
}

/* ---- the ruleset watch ------------------------------------------------------------------ */

#define RESTORE_EVENT_MS 10000 /* at most one event per pod and kind in this window */
#define NFT_READS_PER_ROUND 64 /* datagrams read per pod and loop round */

/* A batch of ours applied in the pod's netns: its NEWGEN is still to come. */
static void own_portid(struct pf_pod *p, uint32_t portid)
{
	if (p->n_own == PF_ARRAY_SIZE(p->own_portids)) {
		memmove(&p->own_portids[0], &p->own_portids[1],
			(p->n_own - 1) * sizeof(p->own_portids[0]));
		p->n_own--;
	}
	p->own_portids[p->n_own++] = portid;
}

static bool take_own(struct pf_pod *p, uint32_t portid)
{
	for (size_t i = 0; i < p->n_own; i++) {
		if (p->own_portids[i] != portid)
			continue;
		/* In order: those before it were lost (ENOBUFS) and will not come. */
		memmove(&p->own_portids[0], &p->own_portids[i + 1],
			(p->n_own - i - 1) * sizeof(p->own_portids[0]));
		p->n_own -= i + 1;
		return true;
	}
	return false;
}

static bool rate_ok(int64_t *last, int64_t now)
{
	if (*last && now - *last < RESTORE_EVENT_MS)
		return false;
	*last = now;
	return true;
}

static void gen_done(void *data, uint32_t portid, const struct pf_nft_gen *g)
{
	struct pf_pod *p = data;
	struct pf_pods *reg = p->reg;
	int64_t now;

	/* A port id is unique in the netns while its socket lives, and ours lived until the
	 * kernel had queued this; one the pod binds later is not on the list any more. */
	if (take_own(p, portid))
		return;
	/* Our own reuse batches (elements added and emptied), not a change to restore. */
	if (p->reuse_fd >= 0 && portid == p->reuse_portid)
		return;
	if (g->touched) {
		p->nft_dirty = true;
		for (size_t i = 0; i < g->n_chains; i++) {
			if (p->n_nft_extra == PF_NFT_MAX_EXTRA_CHAINS) {
				p->nft_overflow = true;
				break;
			}
			p->nft_extra[p->n_nft_extra++] = g->chains[i];
		}
		p->nft_overflow |= g->chains_overflow;
	}
	if (g->foreign_table) {
		reg->stats->ruleset_foreign++;
		now = pf_now_ms();
		if (rate_ok(&p->foreign_event_ms, now)) {
			log_warning("Pod %s/%s: a table '%s' (family %d) was added in its netns by "
				    "someone else (port id %" PRIu32 "); it may see packets before "
				    "podfence does",
				    p->namespace, p->name, g->foreign_name, g->foreign_family,
				    portid);
			pf_events_note(reg->events, p, "ruleset-foreign", NULL, NULL, 0,
				       PF_ACTION_ALERT, now);
		}
	}
}

/* The ruleset of pod p: the engine's, with its own resolvers as the only DNS answers read. */
static struct pf_nft_config pod_nft(const struct pf_pods *reg, const struct pf_pod *p)
{
	struct pf_nft_config c = *reg->cfg.nft;

	c.dns_from = p->names.resolvers;
	c.n_dns_from = p->names.n_resolvers;
	return c;
}

static void restore(struct pf_pods *reg, struct pf_pod *p)
{
	const struct pf_nft_config cfg = pod_nft(reg, p);
	struct pf_error err = {};
	uint32_t portid = 0;
	int saved = -1, r;
	int64_t now = pf_now_ms();

	r = pf_netns_enter(p->netns_fd, &saved);
	if (r < 0) {
		pf_error_set(&err, -r, "cannot enter the netns: %s", strerror(-r));
	} else {
		/* More chains added to our table than we can name: replace the table whole (its
		 * base chain too, so what the pod had queued is dropped; its own doing). */
		if (p->nft_overflow)
			r = pf_nft_replace(p->reuse_fd, &cfg, &portid, &err);
		else
			r = pf_nft_restore(p->reuse_fd, &cfg, p->nft_extra, p->n_nft_extra, &portid,
					   &err);
		pf_netns_leave(&saved);
	}
	if (r < 0) {
		/* Stays dirty: retried every tick. */
		reg->stats->ruleset_restore_failures++;
		if (rate_ok(&p->restore_fail_event_ms, now)) {
			log_error("Pod %s/%s: its ruleset was changed and cannot be restored: %s",
				  p->namespace, p->name, err.msg);
			pf_events_note(reg->events, p, "ruleset-restore-failed", NULL, NULL, 0,
				       PF_ACTION_ALERT, now);
		}
		return;
	}
	own_portid(p, portid);
	p->nft_dirty = false;
	p->nft_overflow = false;
	/* The restore emptied the reuse sets too. */
	p->reuse_stale = false;
	p->n_reuse = 0;
	p->n_nft_extra = 0;
	reg->stats->ruleset_restored++;
	/* Restored every time; told once per window (a pod flipping rules in a loop must not
	 * flood the log and the event table). */
	if (rate_ok(&p->restore_event_ms, now)) {
		log_warning("Pod %s/%s: its ruleset was changed by someone else; restored",
			    p->namespace, p->name);
		pf_events_note(reg->events, p, "ruleset-restored", NULL, NULL, 0, PF_ACTION_ALERT,
			       now);
	}
}

static void nft_event(struct pf_pods *reg, struct pf_pod *p)
{
	int r;

	if (p->dead || !p->active || p->nft_fd < 0)
		return;
	/* Bounded per round: a pod committing in a loop gets one restore per round, not the
	 * loop; what is left is read next round (the fd stays readable). */
	r = pf_nft_monitor_read(p->nft_fd, reg->cfg.nft, &p->nft_gen, NFT_READS_PER_ROUND, gen_done,
				p);
	if (r == -ENOBUFS) {
		/* Lost notifications: we cannot tell what changed, so put it all back. */
		memset(&p->nft_gen, 0, sizeof(p->nft_gen));
		p->n_own = 0;
		p->nft_dirty = true;
		/* Chains added meanwhile went unseen: only a whole table removes them. */
		p->nft_overflow = true;
	} else if (r < 0 && r != -EAGAIN) {
		log_debug_errno(r, "Pod %s/%s: nftables notifications: %m", p->namespace, p->name);
	}
	if (p->nft_dirty)
		restore(reg, p);
}

void pf_pods_nft_retry(struct pf_pods *reg)
{
	for (struct pf_pod *p = reg->pods; p; p = p->next)
		if (!p->dead && p->active && p->nft_dirty)
			restore(reg, p);
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
	if (p->nft_fd >= 0)
		close(p->nft_fd);
	if (p->reuse_fd >= 0)
		close(p->reuse_fd);
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	free(p->netns_path);
	free(p->namespace);
	free(p->name);
	free(p->uid);
	free(p->kind);
	free(p->ips);
	pf_pod_names_free(&p->names);
	free(p->cut);
	pf_cache_free(p->own_cache);
	free(p);
}

/*
 * The resolvers whose answers count for the pod's names: its resolv.conf, seen through a
 * container process (/proc/PID/root), or for a netns `ip netns` made, the file `ip netns
 * exec` gives the processes in it. None known: no answer counts.
 */
static void load_resolvers(struct pf_pod *p, pid_t pid)
{
	const char *named = "/run/netns/";
	char path[PATH_MAX];
	int r = -ENOENT;

	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/root/etc/resolv.conf", (int)pid);
		r = pf_pod_names_read_resolvers(&p->names, path);
	}
	if (r < 0 && p->netns_path && !strncmp(p->netns_path, named, strlen(named)) &&
	    !strchr(p->netns_path + strlen(named), '/')) {
		snprintf(path, sizeof(path), "/etc/netns/%s/resolv.conf",
			 p->netns_path + strlen(named));
		r = pf_pod_names_read_resolvers(&p->names, path);
	}
	if (r < 0)
		log_debug("Pod %s/%s: no resolv.conf (%s): no DNS answer counts for fqdn rules",
			  p->namespace, p->name, strerror(-r));
}

void pf_pods_names_expire(struct pf_pods *reg, int64_t now_ms)
{
	for (struct pf_pod *p = reg->pods; p; p = p->next) {
		struct pf_dns_name_row *rows;
		size_t n;

		if (p->dead)
			continue;
		pf_pod_names_expire(&p->names, now_ms);
		if (!p->names.dirty)
			continue;
		/* the store's dns_names view follows, at most once a call per pod */
		p->names.dirty = false;
		rows = pf_pod_names_rows(&p->names, &n);
		pf_reload_push_names(reg->reload, &p->id, rows, n);
	}
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

static int epoll_add_pod(struct pf_pods *reg, struct pf_pod *p)
{
	int r;

	/* The queue's callback runs before the others of a round. */
	pf_watch_set(&p->nfq_watch, pf_nfq_fd(p->nfq), on_nfq, p, true);
	r = pf_loop_add(reg->loop, &p->nfq_watch, EPOLLIN);
	if (r < 0)
		return r;
	pf_watch_set(&p->rtnl_watch, p->rtnl_fd, on_rtnl, p, false);
	r = pf_loop_add(reg->loop, &p->rtnl_watch, EPOLLIN);
	if (r < 0)
		return r;
	pf_watch_set(&p->nft_watch, p->nft_fd, on_nft, p, false);
	r = pf_loop_add(reg->loop, &p->nft_watch, EPOLLIN);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_containers; i++) {
		struct pf_container *c = p->containers[i];

		if (c->pidfd >= 0) {
			pf_watch_set(&c->pid_watch, c->pidfd, on_pid_exit, c, false);
			r = pf_loop_add(reg->loop, &c->pid_watch, EPOLLIN);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void epoll_del_pod(struct pf_pods *reg, struct pf_pod *p)
{
	if (p->nfq)
		loop_del(reg, &p->nfq_watch, pf_nfq_fd(p->nfq));
	loop_del(reg, &p->rtnl_watch, p->rtnl_fd);
	loop_del(reg, &p->nft_watch, p->nft_fd);
	for (size_t i = 0; i < p->n_containers; i++)
		loop_del(reg, &p->containers[i]->pid_watch, p->containers[i]->pidfd);
}

static void unlink_pod(struct pf_pods *reg, struct pf_pod *p)
{
	for (struct pf_pod **pp = &reg->pods; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			reg->n_pods--;
			return;
		}
}

/*
 * containerd runs a pod's sandbox (pause) container without the base spec's hooks, so it never
 * registers, and a pod that lived only as long as its app containers would be released while
 * its netns lives on (and its next app container, or an exec into the sandbox, would find it
 * unenforced until then). Its app containers name the pause process (req->sandbox, ->sandbox_pid);
 * watched as one more container of the pod, it keeps the pod registered while the sandbox lives
 * and releases it when the sandbox stops. Its store row makes a restarted engine re-adopt it
 * like any container. Only a process inside the pod's own netns qualifies (the watch checks),
 * and an id another pod already has is not taken over. Returns whether it was added.
 */
static bool add_sandbox(struct pf_pods *reg, struct pf_pod *p, const struct pf_register_req *req)
{
	struct pf_container *c;
	struct pf_pod *other;

	if (!req->sandbox || req->sandbox_pid <= 0 || container_find(p, req->sandbox) ||
	    pf_streq(req->sandbox, req->container))
		return false;
	other = pf_pods_find_container(reg, req->sandbox, NULL);
	if (other && other != p) {
		log_warning("Pod %s/%s names sandbox %s, a container of pod %s/%s; not watching it",
			    p->namespace, p->name, req->sandbox, other->namespace, other->name);
		return false;
	}
	if (p->n_containers >= PF_MAX_CONTAINERS_PER_POD)
		return false;
	c = container_add(p, req->sandbox);
	if (!c) {
		log_error("Pod %s/%s: out of memory for its sandbox", p->namespace, p->name);
		return false;
	}
	if (!container_watch_pid(reg, p, c, req->sandbox_pid, 0)) {
		log_warning("Pod %s/%s: sandbox %s (pid %d) is not a process in its netns; the pod "
			    "is released with its last container",
			    p->namespace, p->name, req->sandbox, (int)req->sandbox_pid);
		container_remove(reg, c);
		return false;
	}
	log_info("Pod %s/%s: sandbox %s (pid %d) holds its netns; the pod stays while it lives",
		 p->namespace, p->name, req->sandbox, (int)req->sandbox_pid);
	return true;
}

static int add_container_to(struct pf_pods *reg, struct pf_pod *p,
			    const struct pf_register_req *req, pid_t pid, struct pf_error *err)
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
		c->caps = req->caps;
		container_watch_pid(reg, p, c, pid, req->start_time);
		add_sandbox(reg, p, req);
		r = put_row(reg, p, req, err);
		if (r < 0)
			return r;
		log_info("Container %s joins pod %s/%s (%zu containers)", req->container,
			 p->namespace, p->name, p->n_containers);
	} else {
		c->caps |= req->caps;
		container_watch_pid(reg, p, c, pid, req->start_time);
		if (add_sandbox(reg, p, req))
			return put_row(reg, p, req, err);
	}
	return 0;
}

struct pf_pod *pf_pods_find(struct pf_pods *reg, const struct pf_netns_id *id)
{
	return find_pod(reg, id);
}

/* Install the ruleset (replacing whatever a previous engine left) and start judging. */
static int activate(struct pf_pods *reg, struct pf_pod *p, struct pf_error *err)
{
	struct pf_reload_state rs;
	char ipbuf[512];
	uint32_t portid = 0;
	int saved = -1, r;

	r = pf_netns_enter(p->netns_fd, &saved);
	if (r < 0)
		return pf_error_set(err, -r, "cannot enter netns %s: %s", p->netns_path,
				    strerror(-r));
	/* The watch first, so no change after our install goes unseen. */
	if (p->nft_fd < 0) {
		r = pf_nft_monitor_open(&p->nft_fd);
		if (r < 0) {
			pf_netns_leave(&saved);
			return pf_error_set(err, -r, "netns %s: nftables notifications: %s",
					    p->netns_path, strerror(-r));
		}
	}
	if (p->reuse_fd < 0) {
		r = pf_nft_reuse_open(&p->reuse_fd, &p->reuse_portid);
		if (r < 0) {
			pf_netns_leave(&saved);
			return pf_error_set(err, -r, "netns %s: nftables socket: %s", p->netns_path,
					    strerror(-r));
		}
	}
	/* The install empties the reuse sets: nothing a previous engine allowed is kept. */
	{
		const struct pf_nft_config cfg = pod_nft(reg, p);

		r = pf_nft_install_as(p->reuse_fd, &cfg, &portid, err);
	}
	pf_netns_leave(&saved);
	if (r < 0)
		return pf_error_prefix(err, "netns %s: installing the ruleset", p->netns_path);
	p->reuse_stale = false;
	p->n_reuse = 0;
	/* Emptied by the install; flushed once more at the next forget all the same, since an
	 * adopted table may be kept as it is. */
	p->reuse_dirty = true;
	own_portid(p, portid);
	r = epoll_add_pod(reg, p);
	if (r < 0) {
		epoll_del_pod(reg, p);
		if (pf_netns_enter(p->netns_fd, &saved) == 0) {
			pf_nft_remove(reg->cfg.nft, NULL);
			pf_netns_leave(&saved);
		}
		return pf_error_set(err, -r, "epoll: %s", strerror(-r));
	}
	p->active = true;
	p->pending_gen = 0;
	/* Builds are failing: the cache in place predates this pod (its addresses may even be
	 * a released pod's) and its policies are unknown. Waving it through would let a
	 * tenant who breaks the builds open the fence for every new pod, so its connections
	 * are refused until a build succeeds (verdict.c). */
	pf_reload_get_state(reg->reload, &rs);
	p->unresolved = rs.stale && !p->adopted;
	if (p->unresolved)
		log_warning("Pod %s/%s: the verdict cache cannot be rebuilt (%s); refusing its "
			    "connections until a build succeeds",
			    p->namespace, p->name, rs.last_error);
	pf_pods_find_group(reg, p, false);
	log_info("Enforcing pod %s/%s netns %s [%" PRIu64 ":%" PRIu64
		 "], %zu container(s), addresses %s",
		 p->namespace, p->name, p->netns_path, p->id.dev, p->id.ino, p->n_containers,
		 addrs_string(p->ips, p->n_ips, ipbuf, sizeof(ipbuf)));
	return 0;
}

int pf_pods_register(struct pf_pods *reg, const struct pf_register_req *req, struct pf_pod **out,
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
	if (id_eq(&id, &reg->cfg.host_id) || id_eq(&id, &reg->cfg.self_id))
		return pf_error_set(err, EPERM,
				    "%s is the host's network namespace; it is never enforced",
				    req->netns_path);
	/* Re-adoption names each container's own pid (or none): the path it opens may be any
	 * process's in the netns, which is no container's. */
	pid = req->pid || req->adopting ? req->pid : pf_pid_from_netns_path(req->netns_path);
	r = check_privileged(reg, req, err);
	if (r < 0)
		return r;

	p = find_pod(reg, &id);
	if (p) {
		r = add_container_to(reg, p, req, pid, err);
		if (r < 0)
			return r;
		if (!p->names.n_resolvers)
			load_resolvers(p, pid);
		note_privileged(reg, p, req);
		/* A pod still waiting for its cache: this container waits with it. */
		*wait_gen = p->active ? 0 : p->pending_gen;
		*out = p;
		return 0;
	}
	if (reg->n_pods >= PF_MAX_PODS)
		return pf_error_set(err, ENOSPC, "already enforcing %d network namespaces",
				    PF_MAX_PODS);

	p = calloc(1, sizeof(*p));
	if (!p)
		return pf_error_set(err, ENOMEM, "out of memory");
	p->reg = reg;
	p->verdict = reg->cfg.verdict;
	pf_pod_names_init(&p->names, &reg->stats->dns_evicted);
	p->id = id;
	p->netns_fd = PF_TAKE_FD(fd);
	p->rtnl_fd = -1;
	p->nft_fd = -1;
	p->reuse_fd = -1;
	p->registered_at_ms = pf_now_ms();
	p->adopted = req->adopting;
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
	p->containers[0]->caps = req->caps;
	container_watch_pid(reg, p, p->containers[0], pid, req->start_time);
	load_resolvers(p, pid);
	add_sandbox(reg, p, req);

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
	r = pf_nfq_open(reg->cfg.queue_num, reg->cfg.queue_maxlen, pf_verdict_cb, p, &p->nfq, err);
	pf_netns_leave(&saved);
	if (r < 0) {
		pf_error_prefix(err, "netns %s: queue %u", req->netns_path, reg->cfg.queue_num);
		goto fail;
	}
	if (p->n_ips > 1)
		qsort(p->ips, p->n_ips, sizeof(*p->ips), addr_order);

	/* The store resolves Pod and Namespace refs through its pods table: write the pod, then
	 * have the cache rebuilt so its addresses are level-1 keys before its first packet is
	 * queued. Re-adoption at start installs at once: the loop does not run yet, and one
	 * rebuild follows for all pods. */
	r = put_row(reg, p, req, err);
	if (r < 0)
		goto fail;
	p->next = reg->pods;
	reg->pods = p;
	reg->n_pods++;
	*out = p;
	note_privileged(reg, p, req);
	gen = req->adopting ? 0 : pf_reload_request(reg->reload, "register");
	/* Re-adoption installs at once: its row is in the store already (we read it there). */
	if (gen > pf_reload_generation(reg->reload) || (!req->adopting && !row_in_cache(reg, p))) {
		p->pending_gen = MAX(gen, 1);
		*wait_gen = p->pending_gen;
		return 0;
	}
	r = activate(reg, p, err);
	if (r < 0) {
		pf_pods_release(reg, p, err->msg);
		return r;
	}
	return 0;

fail:
	epoll_del_pod(reg, p);
	pod_free(p);
	return r;
}

/* Whoever waits for p (a registration's answer) learns why it failed. */
static void pod_failed(struct pf_pods *reg, struct pf_pod *p, const char *msg)
{
	if (reg->ops.failed)
		reg->ops.failed(reg->ops.data, &p->id, msg);
}

void pf_pods_find_group(struct pf_pods *reg, struct pf_pod *p, bool keep)
{
	uint32_t g = PF_CACHE_NO_GROUP;

	/* Not in the cache in place: nothing in it speaks for this pod (its addresses may be
	 * a released pod's), so no group; verdict.c refuses its connections. */
	if (p->unresolved) {
		p->cache_group = PF_CACHE_NO_GROUP;
		return;
	}
	/* addresses are sorted: the first one the cache knows decides, as for a spoofed SYN */
	for (size_t i = 0; i < p->n_ips && g == PF_CACHE_NO_GROUP; i++)
		g = pf_cache_source_group(pf_pod_cache(p, pf_reload_cache(reg->reload)),
					  &p->ips[i]);
	if (g != PF_CACHE_NO_GROUP || !keep)
		p->cache_group = g;
}

/* Forget every Allow p's kernel remembers, before any SYN is judged again: what it was
 * allowed under the previous cache or addresses may be refused now. A flush that fails
 * leaves the pod's ruleset to be restored (which empties the sets too) and adds nothing more
 * meanwhile; what is in the sets until then is at most what a tampering pod can reach. */
static void reuse_forget(struct pf_pods *reg, struct pf_pod *p)
{
	struct pf_error err = {};

	p->n_reuse = 0;
	if (!reg->cfg.nft->reuse_timeout_ms || p->reuse_fd < 0 || !p->active || p->dead)
		return;
	/* Nothing added since they were last emptied: nothing to forget (a batch per pod on
	 * every swap, at a thousand pods, holds the loop for milliseconds). */
	if (!p->reuse_dirty)
		return;
	if (pf_nft_reuse_flush(p->reuse_fd, reg->cfg.nft, &err) == 0) {
		p->reuse_dirty = false;
		return;
	}
	log_warning("Pod %s/%s: %s; restoring its ruleset", p->namespace, p->name, err.msg);
	p->reuse_stale = true;
	p->nft_dirty = true;
	restore(reg, p);
}

/* The Allows verdict.c noted while p's queue was read, into its kernel in one batch. */
static void reuse_send(struct pf_pods *reg, struct pf_pod *p)
{
	int r;

	if (!p->n_reuse)
		return;
	p->reuse_dirty = true; /* before the add: a failed one may have added some */
	r = pf_nft_reuse_add(p->reuse_fd, reg->cfg.nft, p->reuse, p->n_reuse);
	p->n_reuse = 0;
	/* Not remembered: the next SYN is judged again, which is always right. */
	if (r < 0)
		log_debug_errno(r, "Pod %s/%s: verdict reuse add: %m", p->namespace, p->name);
}

void pf_pods_regroup(struct pf_pods *reg)
{
	/* Group numbers belong to one cache. Every active pod's row was written before this
	 * build was asked for, so every pod is in it. */
	for (struct pf_pod *p = reg->pods; p; p = p->next) {
		/* A pod judged by its own cache until this one has its row: that may be a build
		 * begun before the row went in. Its own cache did not change, nor did its sets. */
		if (p->own_cache && !row_in_cache(reg, p))
			continue;
		p->own_cache = pf_cache_free(p->own_cache);
		p->unresolved = false;
		/* a cache without its newest row (an address change not written yet) keeps the
		 * group its addresses had, rather than none */
		pf_pods_find_group(reg, p, !row_in_cache(reg, p));
		reuse_forget(reg, p);
	}
}

bool pf_pods_row_policies(struct pf_pods *reg, const struct pf_row_policies *rp)
{
	const struct pf_ruleset *rs = pf_reload_ruleset(reg->reload);
	const struct pf_cache *in_place = pf_reload_cache(reg->reload);
	struct pf_pod *p = find_pod(reg, &rp->id);
	struct pf_ruleset *mine = NULL;
	struct pf_error err = {};
	int r;

	/* Only the pod's newest row, while it waits; a store that could not say, another pod
	 * holding one of its addresses (a full build merges their policies), a build failing
	 * (rs NULL: the ruleset in place is not the store's): it waits for the build. */
	if (!p || p->dead || p->active || !p->pending_gen || rp->seq != p->row_seq || rp->err < 0 ||
	    rp->shared || !rs || !in_place)
		return false;
	r = pf_ruleset_for_source(rs, p->ips, p->n_ips, rp->sp, rp->n_sp, &mine);
	if (r < 0) {
		/* -ENOENT: a policy the store lists is newer than the ruleset in place */
		log_debug_errno(r, "Pod %s/%s: no cache of its own (%m); waiting for the build",
				p->namespace, p->name);
		return false;
	}
	r = pf_cache_build(mine, pf_cache_default_action(in_place), &p->own_cache);
	pf_ruleset_free(mine);
	if (r < 0) {
		log_debug_errno(r, "Pod %s/%s: compiling its own cache: %m; waiting for the build",
				p->namespace, p->name);
		return false;
	}
	if (activate(reg, p, &err) < 0) {
		log_error("Pod %s/%s: %s", p->namespace, p->name, err.msg);
		pod_failed(reg, p, err.msg);
		pf_pods_release(reg, p, "its ruleset could not be installed");
		return true;
	}
	reg->stats->pods_own_cache++;
	return true;
}

void pf_pods_cache_ready(struct pf_pods *reg)
{
	uint64_t in_place = pf_reload_generation(reg->reload);
	uint64_t failed = pf_reload_failed_generation(reg->reload);

	for (struct pf_pod *p = reg->pods, *next; p; p = next) {
		struct pf_error err = {};

		next = p->next;
		if (p->dead || p->active || !p->pending_gen)
			continue;
		if (p->pending_gen > in_place && p->pending_gen > failed)
			continue;
		/* In place: never without its row (a retry of the write is under way). Failed:
		 * its row is written; never block the container start for the build, enforce
		 * with the cache in place (activate says how). */
		if (p->pending_gen <= in_place && !row_in_cache(reg, p))
			continue;
		if (activate(reg, p, &err) < 0) {
			log_error("Pod %s/%s: %s", p->namespace, p->name, err.msg);
			pod_failed(reg, p, err.msg);
			pf_pods_release(reg, p, "its ruleset could not be installed");
			continue;
		}
		reg->stats->pods_after_build++;
	}
}

void pf_pods_release(struct pf_pods *reg, struct pf_pod *p, const char *why)
{
	struct pf_error err = {};
	int saved = -1, r;

	if (p->dead)
		return;
	p->dead = true;
	epoll_del_pod(reg, p);
	/* The netns still exists (our fd pins it); take the table out so nothing is left queued:
	 * on the pod's own netlink socket, which is in its netns. */
	if (p->reuse_fd >= 0) {
		r = pf_nft_remove_on(p->reuse_fd, &err);
	} else {
		r = pf_netns_enter(p->netns_fd, &saved);
		if (r == 0) {
			r = pf_nft_remove(reg->cfg.nft, &err);
			pf_netns_leave(&saved);
		} else {
			pf_error_set(&err, -r, "entering its netns: %s", strerror(-r));
		}
	}
	if (r < 0)
		log_warning("Pod %s/%s: removing the ruleset: %s", p->namespace, p->name, err.msg);
	/* Unbinding the queue and closing the netns fd lets the kernel free the namespace. Its
	 * counts stay in the engine's totals, which metrics expose as counters that never go
	 * back. The netfilter sockets are closed by the reloader's close threads: the last close
	 * of each waits for an RCU grace period (~15 ms), every pod's verdicts with it if the
	 * loop did it (a pod churning containers would stall them all). */
	if (p->nfq)
		pf_nfq_add_stats(&reg->stats->nfq_released, p->nfq);
	pf_reload_close_later(reg->reload, pf_nfq_close_later(PF_TAKE_PTR(p->nfq)));
	if (p->rtnl_fd >= 0)
		close(p->rtnl_fd);
	p->rtnl_fd = -1;
	pf_reload_close_later(reg->reload, p->nft_fd);
	p->nft_fd = -1;
	pf_reload_close_later(reg->reload, p->reuse_fd);
	p->reuse_fd = -1;
	p->n_reuse = 0;
	close(p->netns_fd);
	p->netns_fd = -1;
	while (p->n_containers)
		container_remove(reg, p->containers[p->n_containers - 1]);
	pf_error_clear(&err);
	if (pf_pods_store_delete(reg, &p->id, &err) < 0)
		log_error("Pod %s/%s: removing it from the store: %s", p->namespace, p->name,
			  err.msg);
	unlink_pod(reg, p);
	p->next = reg->dead_pods;
	reg->dead_pods = p;
	log_info("Released pod %s/%s netns %s: %s", p->namespace, p->name, p->netns_path, why);
	pf_reload_request(reg->reload, "release");
}

int pf_pods_unregister(struct pf_pods *reg, const char *container, const char *netns_path,
		       bool *found, bool *released, struct pf_error *err)
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
	for (struct pf_pod *q = reg->pods; q && !p; q = q->next) {
		if (have_id && !id_eq(&q->id, &id))
			continue;
		c = container_find(q, container);
		if (c)
			p = q;
	}
	if (!p && have_id)
		p = pf_pods_find_container(reg, container, &c);
	if (!p)
		return 0;
	*found = true;
	container_remove(reg, c);
	if (p->n_containers == 0) {
		pf_pods_release(reg, p, "its last container left");
		*released = true;
		return 0;
	}
	log_info("Container %s left pod %s/%s (%zu remain)", container, p->namespace, p->name,
		 p->n_containers);
	return pf_pods_store_put(reg, p, err);
}

static void rtnl_event(struct pf_pods *reg, struct pf_pod *p)
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
	/* A new address is judged by the pod's policies at once, not by the default action
	 * until the rebuild below puts it in the cache. */
	pf_pods_find_group(reg, p, true);
	reuse_forget(reg, p);
	log_info("Pod %s/%s addresses now %s", p->namespace, p->name,
		 addrs_string(ips, n, ipbuf, sizeof(ipbuf)));
	if (pf_pods_store_put(reg, p, &err) < 0) {
		log_error("Pod %s/%s: updating the store: %s", p->namespace, p->name, err.msg);
		return;
	}
	pf_reload_request(reg->reload, "address change");
}

static void pid_exit(struct pf_pods *reg, struct pf_container *c)
{
	struct pf_pod *p = c->pod;
	struct pf_error err = {};

	if (c->dead || p->dead)
		return;
	log_info("Container %s of pod %s/%s exited (pid %d)", c->id, p->namespace, p->name,
		 (int)c->pid);
	container_remove(reg, c);
	if (p->n_containers == 0) {
		pf_pods_release(reg, p, "its last container exited");
		return;
	}
	if (pf_pods_store_put(reg, p, &err) < 0)
		log_error("Pod %s/%s: updating the store: %s", p->namespace, p->name, err.msg);
}

/*
 * Our queue socket and netns fd pin the namespace, so it never disappears by itself while we
 * enforce it. Each container with a known pid is alive while that process lives (its pidfd
 * says when it exits; pid_exit). A pod is alive while one of its containers' processes
 * lives. A container registered by a netns path alone has no process of its own: it lives
 * while that path still names the netns (a bind mount such as /run/netns/X), or failing that
 * while some process is inside it (/proc scan, every round: such a process is no container's
 * and is never watched in one's place, so its exit cannot end a container that runs on, nor
 * its life keep one whose own process exited).
 */
void pf_pods_check_liveness(struct pf_pods *reg)
{
	for (struct pf_pod *p = reg->pods, *next; p; p = next) {
		bool watched = false, pidless = false;

		next = p->next;
		if (p->dead)
			continue;
		/* A pod still waiting (for its row, its cache) has its pidfds out of epoll. */
		for (size_t i = p->n_containers; !p->active && i-- > 0;) {
			struct pf_container *c = p->containers[i];

			if (c->pidfd >= 0 && pidfd_exited(c->pidfd))
				pid_exit(reg, c);
			if (p->dead)
				break;
		}
		if (p->dead)
			continue;
		for (size_t i = 0; i < p->n_containers; i++) {
			if (p->containers[i]->pidfd >= 0)
				watched = true;
			else
				pidless = true;
		}
		if (watched)
			continue;
		if (pidless && (path_is_netns(p->netns_path, &p->id) ||
				pf_pods_find_netns(&p->id, NULL, NULL) == 0))
			continue;
		pf_pods_release(reg, p,
				pidless ? "its network namespace is gone"
					: "its containers' processes are gone");
	}
}

void pf_pods_reap(struct pf_pods *reg)
{
	while (reg->dead_pods) {
		struct pf_pod *p = reg->dead_pods;

		reg->dead_pods = p->next;
		pod_free(p);
	}
	while (reg->dead_containers) {
		struct pf_container *c = reg->dead_containers;

		reg->dead_containers = c->next_dead;
		free(c->id);
		free(c);
	}
}

void pf_pods_shutdown(struct pf_pods *reg)
{
	while (reg->pods) {
		struct pf_pod *p = reg->pods;
		struct pf_error err = {};

		/* Rules stay; what the engine allowed does not: with the engine stopped only the
		 * fail mode decides (fail mode closed: no new connection at all). */
		if (reg->cfg.nft->reuse_timeout_ms && p->reuse_fd >= 0 && p->active &&
		    pf_nft_reuse_flush(p->reuse_fd, reg->cfg.nft, &err) < 0)
			log_warning("Pod %s/%s: %s", p->namespace, p->name, err.msg);
		reg->pods = p->next;
		epoll_del_pod(reg, p);
		pod_free(p);
	}
	reg->n_pods = 0;
}

/* ---- the loop's callbacks ------------------------------------------------------------ */

static void on_nfq(struct pf_watch *w, uint32_t events)
{
	struct pf_pod *p = w->data;
	struct pf_pods *reg = p->reg;
	int r;

	(void)events;
	uint64_t t0;

	if (p->dead)
		return;
	t0 = pf_mono_ns();
	r = pf_nfq_dispatch(p->nfq);
	reuse_send(reg, p);
	if (r > 0) {
		/* From the read to the verdicts sent: every verdict of this dispatch counts
		 * with its whole duration (an upper bound for each). */
		pf_counters_observe_latency(reg->stats, pf_mono_ns() - t0, (uint64_t)r);
		p->tick_verdicts += (uint32_t)r;
		/* Its share for this tick is used: the rest waits in (or overflows) its own queue,
		 * and the engine's time goes to the other pods. */
		if (p->tick_verdicts >= PF_POD_VERDICTS_PER_TICK &&
		    pf_loop_mod(reg->loop, &p->nfq_watch, 0) == 0)
			p->nfq_paused = true;
	}
	if (r < 0 && r != -EAGAIN && r != -ENOBUFS) {
		/* Unknown trouble on one queue must not spin the loop: log once per kind. */
		if (reg->stats->nfq_errors++ < 10)
			log_warning_errno(r, "Queue of pod %s/%s: %m", p->namespace, p->name);
	}
}

void pf_pods_queue_tick(struct pf_pods *reg)
{
	/* Verdicts that could not be sent are owed as a batch drop; retry here too, since a
	 * queue whose slots they hold may have nothing more to read. */
	for (struct pf_pod *p = reg->pods; p; p = p->next) {
		if (p->dead || !p->nfq)
			continue;
		pf_nfq_tick(p->nfq);
		p->tick_verdicts = 0;
		if (p->nfq_paused && p->active &&
		    pf_loop_mod(reg->loop, &p->nfq_watch, EPOLLIN) == 0)
			p->nfq_paused = false;
	}
}

static void on_rtnl(struct pf_watch *w, uint32_t events)
{
	struct pf_pod *p = w->data;

	(void)events;
	if (!p->dead)
		rtnl_event(p->reg, p);
}

static void on_nft(struct pf_watch *w, uint32_t events)
{
	struct pf_pod *p = w->data;

	(void)events;
	if (!p->dead)
		nft_event(p->reg, p);
}

static void on_pid_exit(struct pf_watch *w, uint32_t events)
{
	struct pf_container *c = w->data;

	(void)events;
	pid_exit(c->pod->reg, c);
}
