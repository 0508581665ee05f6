/*
 * Start-up re-adoption: every pod the store says we enforced whose netns still exists, and
 * every record the hook left in <state-dir>/pending/ while the engine was unreachable.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ctl.h"
#include "engine.h"
#include "log.h"

/* Find a path that opens the recorded netns: the recorded one if it still names it, else any
 * process inside it (the registering pid may be gone while its pod lives on). */
static int locate_netns(const struct pf_pod_record *rec, char *path, size_t size)
{
	struct pf_netns_id want = {rec->netns_dev, rec->netns_ino}, got;
	_cleanup_close_ int fd = -1;
	pid_t pid = 0;

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

void pf_adopt_store(struct engine *e)
{
	struct pf_pod_record *recs = NULL;
	struct pf_error err = {};
	size_t n = 0, adopted = 0, gone = 0, failed = 0;

	if (pf_store_list_pods(e->store, &recs, &n, &err) < 0) {
		log_error("Cannot list registered pods from the store: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pf_pod_record *rec = &recs[i];
		char path[PATH_MAX];
		bool ok = true;

		if (locate_netns(rec, path, sizeof(path)) < 0) {
			log_info("Pod %s/%s: netns %s [%" PRIu64 ":%" PRIu64
				 "] is gone; forgetting it",
				 rec->namespace, rec->name, pf_strna(rec->netns_path),
				 rec->netns_dev, rec->netns_ino);
			pf_error_clear(&err);
			if (pf_store_delete_pod(e->store, rec->netns_dev, rec->netns_ino, &err) < 0)
				log_error("Pod %s/%s: %s", rec->namespace, rec->name, err.msg);
			gone++;
			continue;
		}
		/* Each container joins the pod the first one re-creates: same counting as before.
		 */
		for (size_t c = 0; c < MAX(rec->n_containers, (size_t)1) && ok; c++) {
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
			};
			struct pf_pod *p;
			uint64_t gen;

			pf_error_clear(&err);
			if (pf_pods_register(e, &req, &p, &gen, &err) < 0) {
				log_error("Pod %s/%s: re-adoption failed: %s", rec->namespace,
					  rec->name, err.msg);
				ok = false;
			}
		}
		if (ok)
			adopted++;
		else
			failed++;
	}
	pf_pod_records_free(recs, n);
	if (n)
		log_info("Re-adopted %zu pod(s); %zu gone, %zu failed", adopted, gone, failed);
	/* One rebuild for all of them: addresses may have changed while we were away. */
	pf_error_clear(&err);
	if (pf_reload(e, "adoption", &err) < 0)
		log_error("Reload after adoption failed: %s", err.msg);
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

static void adopt_one(struct engine *e, int dfd, const char *dir, const char *name)
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
	r = pf_control_dispatch(e, req, "register", &reply, &wait);
	/* No one to answer: a registration that waits for its cache completes on its own. */
	if (r < 0)
		log_warning("Pending record %s: %s", path, pf_strna(reply));
	else
		log_info("Adopted pending record %s", path);
out:
	pf_node_free(req);
	/* Consumed either way: a record that cannot be applied now never will be. */
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		log_warning_errno(-errno, "Cannot remove pending record %s: %m", path);
}

void pf_adopt_pending(struct engine *e)
{
	_cleanup_free_ char *dir = NULL;
	struct pending_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (asprintf(&dir, "%s/pending", e->cfg.state_dir) < 0) {
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
		if (!e->pending_dir_warned) {
			e->pending_dir_warned = true;
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
		if (r < 0 && !e->pending_dir_warned) {
			e->pending_dir_warned = true;
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
		adopt_one(e, dirfd(d), dir, files[i].name);
		free(files[i].name);
	}
	free(files);
	closedir(d);
}
