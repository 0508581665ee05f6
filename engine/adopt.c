/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Start-up re-adoption: every pod the store says we enforced whose netns still exists, and
 * every record the hook left in <state-dir>/pending/ while the engine was unreachable.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "adopt.h"
#include "ctl.h"
#include "log.h"
#include "pods.h"
#include "reload.h"
#include "requests.h"

/* Re-adoptions that failed (a queue number taken, the netns not enterable, ...) are tried
 * again, later and later, until they succeed or the pod is gone. */
#define ADOPT_RETRY_FIRST_MS 500
#define ADOPT_RETRY_MAX_MS 30000

/* Bounds on what outsiders can make the engine hold. */
#define PF_MAX_PENDING_FILES 4096

/* Re-adoption's own state: records that failed, to try again; rows of gone pods to delete
 * once the store worker runs; the pods listing when it failed. */
struct pf_adopt {
	const char *state_dir;
	struct pf_store *store;
	const struct pf_nft_config *nft;
	struct pf_pods *pods;
	struct pf_reload *reload;
	struct pf_requests *requests;

	struct pf_adopt_retry *retry;
	size_t n_retry, cap_retry;
	struct pf_netns_id *gone;
	size_t n_gone, cap_gone;
	int64_t list_next_ms;
	unsigned list_backoff_ms;
	bool pending_dir_warned;
};

struct pf_adopt_retry {
	struct pf_pod_record rec; /* owned */
	int64_t next_ms;
	unsigned backoff_ms, failures;
};

/* Is container i's recorded process still that process, in the recorded netns? */
static bool proc_alive(const struct pf_pod_record *rec, size_t i)
{
	const struct pf_netns_id want = {rec->netns_dev, rec->netns_ino};
	const struct pf_pod_proc *pr = rec->procs ? &rec->procs[i] : NULL;
	struct pf_netns_id got;
	_cleanup_close_ int fd = -1;
	char path[64];
	uint64_t st;

	if (!pr || pr->pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pr->pid);
	if (pf_netns_open(path, &fd, &got, NULL) < 0 || !pf_netns_id_eq(&got, &want))
		return false;
	return pf_proc_start_time(pr->pid, &st) == 0 && (!pr->start_time || st == pr->start_time);
}

/*
 * Find a path that opens the recorded netns: a live container's own /proc path, the recorded
 * one if it still names it, else any process inside it. The last is only a way in (to
 * enforce containers registered by a path alone, or to remove our rules): it is never taken
 * for a container's process.
 */
static int locate_netns(const struct pf_pod_record *rec, char *path, size_t size)
{
	struct pf_netns_id want = {rec->netns_dev, rec->netns_ino}, got;
	_cleanup_close_ int fd = -1;
	pid_t pid = 0;

	for (size_t i = 0; i < rec->n_containers; i++)
		if (proc_alive(rec, i)) {
			snprintf(path, size, "/proc/%d/ns/net", (int)rec->procs[i].pid);
			return 0;
		}
	if (rec->netns_path && pf_netns_open(rec->netns_path, &fd, &got, NULL) == 0 &&
	    got.dev == want.dev && got.ino == want.ino) {
		snprintf(path, size, "%s", rec->netns_path);
		return 0;
	}
	if (pf_pods_find_netns(&want, NULL, &pid) < 0)
		return -ENOENT;
	snprintf(path, size, "/proc/%d/ns/net", (int)pid);
	return 0;
}

/* Forget a pod's row: through the store worker once it runs (retried until it goes), else
 * remembered until it does (pf_adopt_flush_gone). */
static void forget_row(struct pf_adopt *ad, const struct pf_pod_record *rec)
{
	struct pf_netns_id id = {rec->netns_dev, rec->netns_ino};
	struct pf_error err = {};

	if (!pf_reloader_running(ad->reload)) {
		if (pf_grow((void **)&ad->gone, &ad->cap_gone, ad->n_gone, sizeof(*ad->gone)) == 0)
			ad->gone[ad->n_gone++] = id;
		return;
	}
	if (pf_pods_store_delete(ad->pods, &id, &err) < 0)
		log_error("Pod %s/%s: %s", rec->namespace, rec->name, err.msg);
}

void pf_adopt_flush_gone(struct pf_adopt *ad)
{
	for (size_t i = 0; i < ad->n_gone; i++) {
		struct pf_error err = {};

		if (pf_pods_store_delete(ad->pods, &ad->gone[i], &err) < 0)
			log_error("Forgetting a pod: %s", err.msg);
	}
	free(ad->gone);
	ad->gone = NULL;
	ad->n_gone = ad->cap_gone = 0;
}

/* The pod's containers are all gone but its netns lives on (other processes): our rules
 * must not stay behind. */
static void remove_rules(struct pf_adopt *ad, const struct pf_pod_record *rec, const char *path)
{
	struct pf_netns_id id;
	struct pf_error err = {};
	_cleanup_close_ int fd = -1;
	int saved = -1;

	if (pf_netns_open(path, &fd, &id, NULL) < 0 || id.dev != rec->netns_dev ||
	    id.ino != rec->netns_ino || pf_netns_enter(fd, &saved) < 0)
		return;
	if (pf_nft_remove(ad->nft, &err) < 0)
		log_warning("Pod %s/%s: removing the ruleset: %s", rec->namespace, rec->name,
			    err.msg);
	pf_netns_leave(&saved);
}

/* 0: adopted, or gone (*gone); <0: failed, worth another try. */
static int adopt_record(struct pf_adopt *ad, const struct pf_pod_record *rec, bool *gone,
			struct pf_error *err)
{
	char path[PATH_MAX];
	size_t alive = 0;

	*gone = false;
	if (locate_netns(rec, path, sizeof(path)) < 0) {
		log_info("Pod %s/%s: netns %s [%" PRIu64 ":%" PRIu64 "] is gone; forgetting it",
			 rec->namespace, rec->name, pf_strna(rec->netns_path), rec->netns_dev,
			 rec->netns_ino);
		*gone = true;
		return 0;
	}
	/* A container whose own process exited (or whose pid another process has now) while
	 * we were away has left; one registered by a path alone has no process to go by. */
	for (size_t c = 0; c < rec->n_containers; c++) {
		if (!rec->procs || rec->procs[c].pid <= 0 || proc_alive(rec, c))
			alive++;
		else
			log_info(
			    "Pod %s/%s: container %s (pid %d) exited while the engine was away",
			    rec->namespace, rec->name, rec->containers[c], (int)rec->procs[c].pid);
	}
	if (rec->n_containers && !alive) {
		log_info("Pod %s/%s: no container left; forgetting it", rec->namespace, rec->name);
		remove_rules(ad, rec, path);
		*gone = true;
		return 0;
	}
	/* Each container joins the pod the first one re-creates: same counting as before. */
	for (size_t c = 0; c < MAX(rec->n_containers, (size_t)1); c++) {
		const struct pf_pod_proc *pr =
		    rec->procs && rec->n_containers ? &rec->procs[c] : NULL;
		struct pf_register_req req = {
		    .netns_path = path,
		    .have_id = true,
		    .id = {rec->netns_dev, rec->netns_ino},
		    .namespace = rec->namespace,
		    .name = rec->name,
		    .uid = rec->uid,
		    .container = rec->n_containers ? rec->containers[c] : rec->name,
		    .kind = rec->kind ? rec->kind : "Pod",
		    .adopting = true,
		    .pid = pr ? pr->pid : 0,
		    .start_time = pr ? pr->start_time : 0,
		    .caps = pr ? pr->caps : 0,
		};
		struct pf_pod *p;
		uint64_t gen;
		int r;

		if (rec->n_containers && pr && pr->pid > 0 && !proc_alive(rec, c))
			continue;
		r = pf_pods_register(ad->pods, &req, &p, &gen, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void retry_push(struct pf_adopt *ad, struct pf_pod_record *rec, const struct pf_error *err)
{
	struct pf_adopt_retry *a;

	if (pf_grow((void **)&ad->retry, &ad->cap_retry, ad->n_retry, sizeof(*ad->retry)) < 0) {
		log_error("Pod %s/%s: re-adoption failed and cannot be retried (out of memory): %s",
			  rec->namespace, rec->name, err->msg);
		return;
	}
	a = &ad->retry[ad->n_retry++];
	*a =
	    (struct pf_adopt_retry){.rec = *rec, .backoff_ms = ADOPT_RETRY_FIRST_MS, .failures = 1};
	a->next_ms = pf_now_ms() + a->backoff_ms;
	memset(rec, 0, sizeof(*rec)); /* moved */
	log_error("Pod %s/%s: re-adoption failed (retrying in %u ms): %s", a->rec.namespace,
		  a->rec.name, a->backoff_ms, err->msg);
}

void pf_adopt_store(struct pf_adopt *ad)
{
	struct pf_pod_record *recs = NULL;
	struct pf_error err = {};
	size_t n = 0, adopted = 0, gone = 0, failed = 0;

	if (pf_store_list_pods(ad->store, &recs, &n, &err) < 0) {
		/* Tried again from the loop (pf_adopt_retry_tick). */
		ad->list_backoff_ms = ad->list_backoff_ms
					  ? MIN(ad->list_backoff_ms * 2, ADOPT_RETRY_MAX_MS)
					  : ADOPT_RETRY_FIRST_MS;
		ad->list_next_ms = pf_now_ms() + ad->list_backoff_ms;
		log_error("Cannot list registered pods from the store (retrying in %u ms): %s",
			  ad->list_backoff_ms, err.msg);
		return;
	}
	ad->list_next_ms = 0;
	ad->list_backoff_ms = 0;
	for (size_t i = 0; i < n; i++) {
		struct pf_pod_record *rec = &recs[i];
		bool is_gone;

		/* Already retrying it (a second listing after a failed one). */
		for (size_t k = 0; k < ad->n_retry; k++)
			if (ad->retry[k].rec.netns_dev == rec->netns_dev &&
			    ad->retry[k].rec.netns_ino == rec->netns_ino)
				goto next;
		pf_error_clear(&err);
		if (adopt_record(ad, rec, &is_gone, &err) < 0) {
			retry_push(ad, rec, &err);
			failed++;
		} else if (is_gone) {
			forget_row(ad, rec);
			gone++;
		} else {
			adopted++;
		}
	next:;
	}
	pf_pod_records_free(recs, n);
	if (n)
		log_info("Re-adopted %zu pod(s); %zu gone, %zu failed", adopted, gone, failed);
	/* One rebuild for all of them: addresses may have changed while we were away. */
	if (!pf_reloader_running(ad->reload)) {
		pf_reload_request(ad->reload, "adoption");
	} else if (adopted) {
		pf_reload_request(ad->reload, "adoption");
	}
}

void pf_adopt_retry_tick(struct pf_adopt *ad)
{
	int64_t now = pf_now_ms();
	bool any = false;

	if (ad->list_next_ms && now >= ad->list_next_ms)
		pf_adopt_store(ad);
	for (size_t i = 0; i < ad->n_retry;) {
		struct pf_adopt_retry *a = &ad->retry[i];
		struct pf_error err = {};
		bool gone;

		if (now < a->next_ms) {
			i++;
			continue;
		}
		if (adopt_record(ad, &a->rec, &gone, &err) < 0) {
			a->failures++;
			a->backoff_ms = MIN(a->backoff_ms * 2, ADOPT_RETRY_MAX_MS);
			a->next_ms = now + a->backoff_ms;
			if (a->failures % 10 == 0)
				log_error("Pod %s/%s: re-adoption failed %u times (next try in %u "
					  "ms): %s",
					  a->rec.namespace, a->rec.name, a->failures, a->backoff_ms,
					  err.msg);
			i++;
			continue;
		}
		if (gone) {
			forget_row(ad, &a->rec);
		} else {
			log_info("Pod %s/%s: re-adopted after %u failure%s", a->rec.namespace,
				 a->rec.name, a->failures, a->failures == 1 ? "" : "s");
			any = true;
		}
		pf_pod_record_clear(&a->rec);
		ad->retry[i] = ad->retry[--ad->n_retry];
	}
	if (any)
		pf_reload_request(ad->reload, "re-adoption");
}

int pf_adopt_new(const char *state_dir, struct pf_store *store, const struct pf_nft_config *nft,
		 struct pf_pods *pods, struct pf_reload *reload, struct pf_requests *requests,
		 struct pf_adopt **out)
{
	struct pf_adopt *ad = calloc(1, sizeof(*ad));

	if (!ad)
		return -ENOMEM;
	*ad = (struct pf_adopt){
	    .state_dir = state_dir,
	    .store = store,
	    .nft = nft,
	    .pods = pods,
	    .reload = reload,
	    .requests = requests,
	};
	*out = ad;
	return 0;
}

void pf_adopt_free(struct pf_adopt *ad)
{
	if (!ad)
		return;
	for (size_t i = 0; i < ad->n_retry; i++)
		pf_pod_record_clear(&ad->retry[i].rec);
	free(ad->retry);
	free(ad->gone);
	free(ad);
}

struct pending_file {
	char *name;
	struct timespec mtime;
};

static int pending_order(const void *a, const void *b)
{
	const struct pending_file *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* How long a pending record whose registration fails for a passing reason (a queue number
 * held, the store busy, no memory) is tried again, counted from when the hook wrote it. */
#define PENDING_RETRY_MS (10 * 60 * 1000)

static bool transient(int r)
{
	switch (-r) {
	case EAGAIN:
	case EBUSY:
	case EIO:
	case ENOMEM:
	case ENOBUFS:
	case ENOSPC:
	case EMFILE:
	case ENFILE:
	case ETIMEDOUT:
	case EINTR:
		return true;
	default:
		return false;
	}
}

static void adopt_one(struct pf_adopt *ad, int dfd, const char *dir, const char *name,
		      int64_t mtime_ms)
{
	_cleanup_free_ char *buf = NULL, *reply = NULL;
	struct pf_node *req = NULL;
	struct pf_error err = {};
	struct pf_wait wait;
	char path[PATH_MAX];
	size_t len = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		log_warning_errno(-errno, "Pending record %s: %m", path);
		goto out;
	}
	r = pf_read_fd(fd, PF_CTL_MAX_MSG, &buf, &len);
	close(fd);
	if (r < 0) {
		log_warning_errno(r, "Pending record %s: %m", path);
		goto out;
	}
	r = pf_json_parse(buf, len, &pf_ctl_limits, &req, &err);
	if (r < 0) {
		log_warning("Pending record %s: %s", path, err.msg);
		goto out;
	}
	r = pf_requests_dispatch(ad->requests, req, "register", &reply, &wait);
	/* No one to answer: a registration that waits for its cache completes on its own. */
	if (r < 0 && transient(r) && pf_now_ms() - mtime_ms < PENDING_RETRY_MS) {
		/* Tried again at the next round (every few seconds) while it is young. */
		log_warning("Pending record %s: %s; trying again", path, pf_strna(reply));
		pf_node_free(req);
		return;
	}
	if (r < 0)
		log_warning("Pending record %s: %s", path, pf_strna(reply));
	else
		log_info("Adopted pending record %s", path);
out:
	pf_node_free(req);
	/* Consumed: a record that cannot be applied now (bad, its netns gone) never will be. */
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		log_warning_errno(-errno, "Cannot remove pending record %s: %m", path);
}

void pf_adopt_pending(struct pf_adopt *ad)
{
	_cleanup_free_ char *dir = NULL;
	struct pending_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (asprintf(&dir, "%s/pending", ad->state_dir) < 0) {
		dir = NULL;
		return;
	}
	/* Not through a symlink: every record read is deleted, so a pending/ pointing elsewhere
	 * would have us delete whatever *.json files live there. */
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		d = dfd >= 0 ? fdopendir(dfd) : NULL;
		if (dfd >= 0 && !d)
			close(dfd);
	}
	if (!d && (errno == ELOOP || errno == ENOTDIR)) {
		if (!ad->pending_dir_warned) {
			ad->pending_dir_warned = true;
			log_warning("%s is not a directory (a symlink?); pending records are not "
				    "read from it",
				    dir);
		}
		return;
	}
	if (!d && errno == ENOENT) {
		int r;

		/* The hook writes here while we are unreachable; make the place exist for it. */
		r = pf_mkdir_p(dir, 0700);
		if (r < 0 && !ad->pending_dir_warned) {
			ad->pending_dir_warned = true;
			log_warning_errno(r, "Cannot create %s: %m", dir);
		}
		return;
	}
	if (!d)
		return;
	while ((de = readdir(d)) && n < PF_MAX_PENDING_FILES) {
		size_t l = strlen(de->d_name);
		struct stat st;

		if (l < 6 || strcmp(de->d_name + l - 5, ".json") || de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (pf_grow((void **)&files, &cap, n, sizeof(*files)) < 0)
			break;
		files[n].name = strdup(de->d_name);
		if (!files[n].name)
			break;
		files[n].mtime = st.st_mtim;
		n++;
	}
	/* The order they were written in: a register before the unregister of the same container.
	 */
	if (n > 1)
		qsort(files, n, sizeof(*files), pending_order);
	for (size_t i = 0; i < n; i++) {
		adopt_one(ad, dirfd(d), dir, files[i].name,
			  (int64_t)files[i].mtime.tv_sec * 1000 + files[i].mtime.tv_nsec / 1000000);
		free(files[i].name);
	}
	free(files);
	closedir(d);
}
