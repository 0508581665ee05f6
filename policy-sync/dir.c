/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * podfence-sync --policy-dir: every *.yaml, *.yml, *.json file of one directory is a source of
 * policies; inotify tells us what changed, and each batch of changes is one store transaction.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "log.h"
#include "policy.h"
#include "store.h"
#include "sync.h"

/* A close, rename or delete is final: apply it after this quiet time, so a burst of events
 * (an editor's save, `mv`, `cp` of many files) becomes one transaction... */
#define DEBOUNCE_FINAL_NS (5ull * 1000000)
/* ...but a file still being written (a modify or create without its close yet) gets longer,
 * still within the 100 ms a change may take to reach the store. */
#define DEBOUNCE_WRITING_NS (40ull * 1000000)
#define RETRY_NS (1000ull * 1000000)
#define MAX_FILES 4096
#define MAX_MOVES 64

static const uint32_t dir_mask = IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM |
				 IN_MOVED_TO | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |
				 IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
static const uint32_t parent_mask =
    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;

struct dir_file {
	char *name;
	uint64_t hash; /* of the content last synced (valid when synced) */
	bool synced;
	bool had_errors; /* some doc rejected: retry when others change (a conflict may be gone) */
	bool touched;	 /* scratch: handled in this batch */
};

/* A rename inside the directory keeps the file's policies as they are (a file whose latest
 * version is invalid keeps its last valid one in force under the new name). */
struct dir_move {
	uint32_t cookie;
	char *from, *to;
};

struct dir_sync {
	const struct pf_sync_options *o;
	struct pf_store *store;
	char *dir;    /* absolute, no trailing slash */
	char *parent; /* its parent directory, NULL for "/" */
	const char *base;
	int ifd;
	int wd_dir, wd_parent;
	bool once;
	bool dir_missing_logged;

	struct dir_file *files;
	size_t n_files, cap_files;

	char **pending; /* names changed since the last batch */
	size_t n_pending, cap_pending;
	struct dir_move moves[MAX_MOVES]; /* IN_MOVED_FROM waiting for its IN_MOVED_TO */
	size_t n_moves;
	struct dir_move renames[MAX_MOVES]; /* from -> to within the directory, in order */
	size_t n_renames;
	bool full; /* rescan everything (start, overflow, directory replaced) */
	uint64_t deadline;
	uint64_t first_event; /* of the batch being collected, for the debug log */
	uint64_t next_full;

	unsigned n_errors; /* docs/files rejected in the last batch, for --once */

	/* The reload request to the engine in flight, never waited for: the loop keeps watching. */
	int notify_fd;
	uint64_t notify_deadline;
	bool notify_again; /* another commit since it was sent */
};

/* ---- names ----------------------------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Policy files: *.yaml, *.yml, *.json, not hidden (editor swap and lock files, Kubernetes'
 * ..data links) — editor backups (~), #autosave# and tmp files do not end in a policy suffix. */
static bool is_policy_name(const char *name)
{
	if (name[0] == '.' || name[0] == '#' || strchr(name, '/'))
		return false;
	return has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json");
}

static char *path_of(struct dir_sync *d, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", d->dir, name) < 0)
		return NULL;
	return p;
}

/* Change detection, not a table: the files are the administrator's, so it need not be keyed. */
static uint64_t fnv1a(const char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ull;
	}
	return h ^ len;
}

/* ---- the files we know ----------------------------------------------------------------------- */

static struct dir_file *file_find(struct dir_sync *d, const char *name)
{
	for (size_t i = 0; i < d->n_files; i++)
		if (!strcmp(d->files[i].name, name))
			return &d->files[i];
	return NULL;
}

static struct dir_file *file_add(struct dir_sync *d, const char *name)
{
	struct dir_file *f = file_find(d, name);

	if (f)
		return f;
	if (d->n_files >= MAX_FILES) {
		log_error("%s: more than %d policy files; ignoring %s", d->dir, MAX_FILES, name);
		return NULL;
	}
	if (pf_grow((void **)&d->files, &d->cap_files, d->n_files, sizeof(*d->files)) < 0)
		return NULL;
	f = &d->files[d->n_files];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	if (!f->name)
		return NULL;
	d->n_files++;
	return f;
}

static void file_remove(struct dir_sync *d, struct dir_file *f)
{
	size_t i = (size_t)(f - d->files);

	free(f->name);
	memmove(f, f + 1, (d->n_files - i - 1) * sizeof(*f));
	d->n_files--;
}

static void files_clear(struct dir_sync *d)
{
	for (size_t i = 0; i < d->n_files; i++)
		free(d->files[i].name);
	d->n_files = 0;
}

static void pending_clear(struct dir_sync *d)
{
	for (size_t i = 0; i < d->n_pending; i++)
		free(d->pending[i]);
	d->n_pending = 0;
}

static void moves_clear(struct dir_sync *d)
{
	for (size_t i = 0; i < d->n_moves; i++)
		free(d->moves[i].from);
	for (size_t i = 0; i < d->n_renames; i++) {
		free(d->renames[i].from);
		free(d->renames[i].to);
	}
	d->n_moves = d->n_renames = 0;
}

static void move_from(struct dir_sync *d, uint32_t cookie, const char *name)
{
	char *n;

	if (d->n_moves >= MAX_MOVES || !(n = strdup(name)))
		return; /* then it is a delete and a create: correct, only not as gentle */
	d->moves[d->n_moves++] = (struct dir_move){.cookie = cookie, .from = n};
}

static void move_to(struct dir_sync *d, uint32_t cookie, const char *name)
{
	for (size_t i = 0; i < d->n_moves; i++) {
		struct dir_move *m = &d->moves[i];
		char *to;

		if (m->cookie != cookie)
			continue;
		if (d->n_renames < MAX_MOVES && (to = strdup(name))) {
			d->renames[d->n_renames++] = (struct dir_move){.from = m->from, .to = to};
			m->from = NULL;
		}
		free(m->from);
		*m = d->moves[--d->n_moves];
		return;
	}
}

static void schedule(struct dir_sync *d, uint64_t delay_ns)
{
	uint64_t now = pf_mono_ns(), t = now + delay_ns;

	if (!d->first_event)
		d->first_event = now;
	if (!d->deadline || t < d->deadline)
		d->deadline = t;
}

static void pending_add(struct dir_sync *d, const char *name)
{
	char *n;

	for (size_t i = 0; i < d->n_pending; i++)
		if (!strcmp(d->pending[i], name))
			return;
	/* Too many to track one by one: look at everything. */
	if (d->n_pending >= MAX_FILES ||
	    pf_grow((void **)&d->pending, &d->cap_pending, d->n_pending, sizeof(*d->pending)) < 0 ||
	    !(n = strdup(name))) {
		d->full = true;
		return;
	}
	d->pending[d->n_pending++] = n;
}

/* ---- one file into the store --------------------------------------------------------------- */

/* Open without following FIFOs into a hang; only regular files are policy files. */
static int read_policy_file(const char *path, char **buf, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT; /* not a policy file: as if absent */
	return pf_read_fd(fd, PF_POLICY_MAX_FILE, buf, len);
}

static void log_doc_errors(const char *path, const struct pf_policy_file *pf)
{
	for (size_t i = 0; i < pf->n_docs; i++) {
		const struct pf_policy_doc *doc = &pf->docs[i];
		char msg[2048];

		if (doc->policy)
			continue;
		pf_policy_doc_format_error(path, doc, msg, sizeof(msg));
		if (doc->namespace && doc->name)
			log_error("%s; %s %s%s%s not updated: its last valid version, if any, "
				  "stays in force",
				  msg, pf_policy_kind_string(doc->cluster), doc->namespace,
				  *doc->namespace ? "/" : "", doc->name);
		else
			log_error("%s; document ignored", msg);
	}
}

/* Bring one name in line with the directory. Returns <0 only for store failures. */
static int sync_name(struct dir_sync *d, const char *name, bool force)
{
	_cleanup_free_ char *path = path_of(d, name), *buf = NULL;
	struct pf_policy_file pf = {0};
	struct pf_error err = {0};
	struct dir_file *f = file_find(d, name);
	size_t len = 0;
	bool quiet;
	uint64_t h;
	int r;

	if (!path)
		return -ENOMEM;
	if (f)
		f->touched = true;
	r = is_policy_name(name) ? read_policy_file(path, &buf, &len) : -ENOENT;
	if (r == -ENOENT || r == -ENOTDIR) {
		if (!f)
			return 0;
		r = pf_store_delete_source(d->store, path, &err);
		if (r < 0)
			return log_error_errno(r, "%s: %s", path, err.msg);
		log_info("%s: removed; its policies are deleted", path);
		file_remove(d, f);
		return 0;
	}

	if (!f) {
		f = file_add(d, name);
		if (!f)
			return 0;
		f->touched = true;
	}
	if (r < 0) {
		/* Unreadable (permissions, too large): whatever it enforced stays. */
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s: %s", path,
			 r == -EFBIG ? "larger than the policy file limit" : strerror(-r));
		log_error("%s; its policies, if any, stay in force", msg);
		f->synced = false;
		f->had_errors = true;
		d->n_errors++;
		r = pf_store_source_error(d->store, path, msg, &err);
		return r < 0 ? log_error_errno(r, "%s: %s", path, err.msg) : 0;
	}

	h = fnv1a(buf, len);
	if (f->synced && f->hash == h && !force)
		return 0;
	/* A retry of unchanged content: its errors were logged already. */
	quiet = f->synced && f->hash == h;

	r = pf_policy_parse_buffer(path, buf, len, &pf, &err);
	if (r < 0) {
		/* Not even split into documents: nothing in it applies, nothing it had is lost. */
		if (!quiet)
			log_error("%s; its policies, if any, stay in force", err.msg);
		d->n_errors++;
		f->had_errors = true;
		r = pf_store_source_error(d->store, path, err.msg, &err);
		if (r < 0)
			return log_error_errno(r, "%s: %s", path, err.msg);
	} else {
		size_t n_invalid = pf_policy_file_n_invalid(&pf);

		if (!quiet)
			log_doc_errors(path, &pf);
		r = pf_store_sync_source(d->store, path, pf.docs, pf.n_docs, &err);
		if (r < 0) {
			pf_policy_file_free(&pf);
			return log_error_errno(r, "%s: %s", path, err.msg);
		}
		if ((size_t)r > n_invalid && !quiet)
			log_error("%s: %zu document(s) name a policy that another file defines, or "
				  "that this file defines twice; see the policies view",
				  path, (size_t)r - n_invalid);
		else if (r == 0 && (!quiet || f->had_errors))
			log_info("%s: %zu %s in force", path, pf.n_docs,
				 pf.n_docs == 1 ? "policy" : "policies");
		d->n_errors += (unsigned)r;
		f->had_errors = r > 0;
		pf_policy_file_free(&pf);
	}
	f->hash = h;
	f->synced = true;
	return 0;
}

/* ---- telling the engine --------------------------------------------------------------------- */

#define NOTIFY_TIMEOUT_NS (2000ull * 1000000)

static void notify(struct dir_sync *d)
{
	int fd;

	if (d->once) {
		pf_sync_notify_engine(d->o);
		return;
	}
	if (d->notify_fd >= 0) {
		d->notify_again = true;
		return;
	}
	fd = pf_sync_notify_start(d->o);
	if (fd >= 0) {
		d->notify_fd = fd;
		d->notify_deadline = pf_mono_ns() + NOTIFY_TIMEOUT_NS;
	}
}

/* The reply came, or the engine took too long: done; ask again if more changed meanwhile. */
static void notify_done(struct dir_sync *d)
{
	pf_sync_notify_finish(d->notify_fd);
	d->notify_fd = -1;
	d->notify_deadline = 0;
	if (d->notify_again) {
		d->notify_again = false;
		notify(d);
	}
}

/* ---- batches ------------------------------------------------------------------------------ */

static int list_dir(struct dir_sync *d, char ***names, size_t *n)
{
	DIR *dh = opendir(d->dir);
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (!dh)
		return -errno;
	while ((de = readdir(dh))) {
		if (!is_policy_name(de->d_name))
			continue;
		if (*n >= MAX_FILES || pf_grow((void **)names, &cap, *n, sizeof(**names)) < 0)
			break;
		(*names)[*n] = strdup(de->d_name);
		if ((*names)[*n])
			(*n)++;
	}
	closedir(dh);
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Files of this directory the store holds from an earlier run: deleted meanwhile, they must go. */
static int adopt_store_sources(struct dir_sync *d)
{
	struct pf_error err = {0};
	char **sources = NULL;
	size_t n = 0, plen = strlen(d->dir);
	int r;

	r = pf_store_list_sources(d->store, &sources, &n, &err);
	if (r < 0)
		return log_error_errno(r, "%s", err.msg);
	for (size_t i = 0; i < n; i++) {
		const char *s = sources[i];

		if (!strncmp(s, d->dir, plen) && s[plen] == '/' && is_policy_name(s + plen + 1))
			file_add(d, s + plen + 1);
	}
	names_free(sources, n);
	return 0;
}

static int attach_dir(struct dir_sync *d)
{
	int wd = inotify_add_watch(d->ifd, d->dir, dir_mask);

	if (wd < 0) {
		int r = -errno;

		if (d->wd_dir >= 0)
			inotify_rm_watch(d->ifd, d->wd_dir);
		d->wd_dir = -1;
		return r;
	}
	if (d->wd_dir >= 0 && d->wd_dir != wd)
		inotify_rm_watch(d->ifd, d->wd_dir);
	d->wd_dir = wd;
	return 0;
}

static int run_batch(struct dir_sync *d)
{
	struct pf_error err = {0};
	uint64_t changes = pf_store_write_count(d->store), t0 = pf_mono_ns();
	bool full = d->full, dir_ok = true;
	char **listed = NULL;
	size_t n_listed = 0;
	int r;

	log_debug("batch: %zu changed names%s, %.1f ms after the first event", d->n_pending,
		  full ? ", full rescan" : "",
		  d->first_event ? (double)(t0 - d->first_event) / 1e6 : 0.0);
	d->deadline = 0;
	d->first_event = 0;
	d->n_errors = 0;
	if (full && d->wd_dir < 0 && d->ifd >= 0) {
		r = attach_dir(d);
		if (r < 0) {
			if (!d->dir_missing_logged)
				log_warning_errno(r,
						  "policy directory %s: %m; its policies stay in "
						  "force until it is back",
						  d->dir);
			d->dir_missing_logged = true;
			dir_ok = false;
		} else if (d->dir_missing_logged) {
			log_info("policy directory %s is back", d->dir);
			d->dir_missing_logged = false;
		}
	}
	if (full && dir_ok) {
		r = list_dir(d, &listed, &n_listed);
		if (r < 0) {
			log_warning_errno(r, "policy directory %s: %m; its policies stay in force",
					  d->dir);
			dir_ok = false;
		}
	}
	if (full && !dir_ok) {
		/* Cannot tell what was deleted: change nothing, look again later. */
		pending_clear(d);
		d->full = true;
		d->next_full = pf_mono_ns() + RETRY_NS;
		return 0;
	}

	r = pf_store_begin(d->store, &err);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < d->n_files; i++)
		d->files[i].touched = false;

	for (size_t i = 0; i < d->n_renames; i++) {
		const struct dir_move *m = &d->renames[i];
		struct dir_file *f = file_find(d, m->from), *old;
		_cleanup_free_ char *from = NULL, *to = NULL;
		char *name;

		if (!f || !is_policy_name(m->to))
			continue; /* not ours before, or renamed away: the names are pending as
				     usual */
		from = path_of(d, m->from);
		to = path_of(d, m->to);
		name = strdup(m->to);
		if (!from || !to || !name) {
			free(name);
			r = -ENOMEM;
			goto fail;
		}
		r = pf_store_rename_source(d->store, from, to, &err);
		if (r < 0) {
			free(name);
			goto fail;
		}
		log_info("%s: renamed to %s; its policies move with it", from, to);
		old = file_find(d, m->to);
		if (old) {
			file_remove(d, old);
			f = file_find(d, m->from);
		}
		free(f->name);
		f->name = name;
	}

	/* Deletions first, so a policy moved from one file to another changes owner cleanly. */
	if (full) {
		for (size_t i = d->n_files; i-- > 0;) {
			bool present = false;

			for (size_t j = 0; j < n_listed && !present; j++)
				present = !strcmp(listed[j], d->files[i].name);
			if (!present && (r = sync_name(d, d->files[i].name, false)) < 0)
				goto fail;
		}
		for (size_t j = 0; j < n_listed; j++)
			if ((r = sync_name(d, listed[j], false)) < 0)
				goto fail;
	}
	for (size_t i = 0; i < d->n_pending; i++) {
		struct dir_file *f = file_find(d, d->pending[i]);

		if (f && f->touched)
			continue;
		if ((r = sync_name(d, d->pending[i], false)) < 0)
			goto fail;
	}
	/* A file refused for a name another file held may be fine now. */
	if (pf_store_write_count(d->store) != changes) {
		for (size_t i = d->n_files; i-- > 0;) {
			if (d->files[i].touched || !d->files[i].had_errors)
				continue;
			if ((r = sync_name(d, d->files[i].name, true)) < 0)
				goto fail;
		}
	}
	r = pf_store_commit(d->store, &err);
	if (r < 0)
		goto fail;
	names_free(listed, n_listed);
	pending_clear(d);
	moves_clear(d);
	d->full = false;
	if (pf_store_write_count(d->store) != changes) {
		log_debug("store updated in %.1f ms", (double)(pf_mono_ns() - t0) / 1e6);
		notify(d);
	}
	return 0;

fail:
	if (err.msg[0])
		log_error("%s", err.msg);
	pf_store_rollback(d->store);
	names_free(listed, n_listed);
	pending_clear(d);
	moves_clear(d);
	/* What we believe was synced may not be: start over from the store, soon. */
	files_clear(d);
	r = adopt_store_sources(d);
	d->full = true;
	d->next_full = pf_mono_ns() + RETRY_NS;
	return r < 0 ? r : -EAGAIN;
}

/* ---- events -------------------------------------------------------------------------------- */

static void handle_event(struct dir_sync *d, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		d->full = true;
		schedule(d, DEBOUNCE_FINAL_NS);
		return;
	}
	if (ev->wd == d->wd_parent && d->wd_parent >= 0) {
		/* The directory itself was created, replaced or moved away. */
		if (ev->len && !strcmp(ev->name, d->base)) {
			if (d->wd_dir >= 0)
				inotify_rm_watch(d->ifd, d->wd_dir);
			d->wd_dir = -1;
			d->full = true;
			schedule(d, DEBOUNCE_FINAL_NS);
		}
		return;
	}
	if (ev->wd != d->wd_dir)
		return;
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		/* Gone or moved away: watch whatever the path names next. */
		if (ev->mask & IN_MOVE_SELF)
			inotify_rm_watch(d->ifd, d->wd_dir);
		d->wd_dir = -1;
		d->full = true;
		schedule(d, DEBOUNCE_FINAL_NS);
		return;
	}
	if (!ev->len)
		return;
	if (ev->mask & IN_MOVED_FROM)
		move_from(d, ev->cookie, ev->name);
	else if (ev->mask & IN_MOVED_TO)
		move_to(d, ev->cookie, ev->name);
	if (is_policy_name(ev->name)) {
		pending_add(d, ev->name);
		schedule(d, ev->mask & (IN_MODIFY | IN_CREATE) ? DEBOUNCE_WRITING_NS
							       : DEBOUNCE_FINAL_NS);
	} else if (!strncmp(ev->name, "..", 2) && (ev->mask & (IN_MOVED_TO | IN_CREATE))) {
		/* Kubernetes' atomic writer (ConfigMap volumes) swaps a ..data link: every file
		 * changes. */
		d->full = true;
		schedule(d, DEBOUNCE_FINAL_NS);
	}
}

static int read_events(struct dir_sync *d)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(d->ifd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			handle_event(d, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* ---- the loop ---------------------------------------------------------------------------- */

static int absolute_dir(const char *dir, char **out)
{
	_cleanup_free_ char *cwd = NULL;
	char *p;
	size_t len;

	if (dir[0] == '/') {
		p = strdup(dir);
	} else {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return -errno;
		if (asprintf(&p, "%s/%s", cwd, dir) < 0)
			p = NULL;
	}
	if (!p)
		return -ENOMEM;
	len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	*out = p;
	return 0;
}

static int timeout_ms(struct dir_sync *d)
{
	uint64_t now = pf_mono_ns(), next = d->next_full;

	if (d->deadline && d->deadline < next)
		next = d->deadline;
	if (d->notify_deadline && d->notify_deadline < next)
		next = d->notify_deadline;
	if (next <= now)
		return 0;
	/* round up: waking early would only loop */
	return (int)MIN((next - now + 999999) / 1000000, (uint64_t)INT_MAX);
}

int pf_sync_dir_run(const struct pf_sync_options *o)
{
	struct dir_sync d = {
	    .o = o, .ifd = -1, .wd_dir = -1, .wd_parent = -1, .notify_fd = -1, .once = o->once};
	struct pf_error err = {0};
	_cleanup_close_ int sfd = -1;
	uint64_t full_every = (uint64_t)(o->resync_max_s ? o->resync_max_s : 300) * 1000000000ull;
	sigset_t mask;
	struct stat st;
	int r, ret = 1;

	r = absolute_dir(o->policy_dir, &d.dir);
	if (r < 0) {
		log_error_errno(r, "policy directory %s: %m", o->policy_dir);
		return 1;
	}
	r = stat(d.dir, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (r < 0) {
		log_error_errno(r, "policy directory %s: %m", d.dir);
		goto out;
	}
	if (strcmp(d.dir, "/")) {
		char *slash = strrchr(d.dir, '/');

		d.parent =
		    slash == d.dir ? strdup("/") : pf_strndup0(d.dir, (size_t)(slash - d.dir));
		d.base = slash + 1;
		if (!d.parent) {
			log_error("out of memory");
			goto out;
		}
	}

	r = pf_store_open(o->db, 0, &d.store, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (!o->once) {
		if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
		    (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
			log_error_errno(errno, "signalfd: %m");
			goto out;
		}
		d.ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (d.ifd < 0) {
			log_error_errno(errno, "inotify: %m");
			goto out;
		}
		/* Watch before the first scan, so nothing written meanwhile is missed. */
		r = attach_dir(&d);
		if (r < 0) {
			log_error_errno(r, "watch %s: %m", d.dir);
			goto out;
		}
		if (d.parent) {
			d.wd_parent = inotify_add_watch(d.ifd, d.parent, parent_mask);
			if (d.wd_parent < 0)
				log_warning_errno(errno,
						  "watch %s: %m; a replaced policy directory will "
						  "not be noticed",
						  d.parent);
		}
	}

	if (adopt_store_sources(&d) < 0)
		goto out;
	d.full = true;
	r = run_batch(&d);
	if (o->once) {
		ret = r < 0 ? 1 : d.n_errors ? 2 : 0;
		goto out;
	}
	if (r < 0 && r != -EAGAIN)
		goto out;
	log_info("watching %s (%zu policy files), store %s", d.dir, d.n_files, o->db);
	d.next_full = pf_mono_ns() + full_every;

	for (;;) {
		struct pollfd pfd[] = {
		    {.fd = d.ifd, .events = POLLIN},
		    {.fd = sfd, .events = POLLIN},
		    {.fd = d.notify_fd, .events = POLLIN},
		};

		r = poll(pfd, PF_ARRAY_SIZE(pfd), timeout_ms(&d));
		if (r < 0 && errno != EINTR) {
			log_error_errno(errno, "poll: %m");
			goto out;
		}
		if (r > 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: rescanning %s", d.dir);
					d.full = true;
					schedule(&d, 0);
				} else {
					log_info("stopping on signal %u", si.ssi_signo);
					ret = 0;
					goto out;
				}
			}
		}
		if (d.notify_fd >= 0 &&
		    ((r > 0 && pfd[2].revents) || pf_mono_ns() >= d.notify_deadline))
			notify_done(&d);
		if (r > 0 && (pfd[0].revents & POLLIN)) {
			r = read_events(&d);
			if (r < 0) {
				log_error_errno(r, "inotify: %m");
				goto out;
			}
		}
		if (pf_mono_ns() >= d.next_full) {
			d.full = true;
			d.next_full = pf_mono_ns() + full_every;
			schedule(&d, 0);
		}
		if (d.deadline && pf_mono_ns() >= d.deadline) {
			r = run_batch(&d);
			if (r < 0 && r != -EAGAIN)
				goto out;
			if (!d.full)
				d.next_full = MIN(d.next_full, pf_mono_ns() + full_every);
		}
	}

out:
	if (d.notify_fd >= 0)
		close(d.notify_fd);
	pending_clear(&d);
	moves_clear(&d);
	free(d.pending);
	files_clear(&d);
	free(d.files);
	if (d.ifd >= 0)
		close(d.ifd);
	pf_store_close(d.store);
	free(d.parent);
	free(d.dir);
	return ret;
}
