/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tell the engine to reload the store after a commit; an absent engine is fine (it also polls). */
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl.h"
#include "doc.h"
#include "log.h"
#include "sync.h"

/* Short: the sync loop must not stall behind a busy engine; the engine polls data_version
 * anyway, so a missed nudge only delays the reload. */
#define NOTIFY_TIMEOUT_MS 500

static bool reply_ok(const char *reply)
{
	struct pf_node *n = NULL;
	const struct pf_node *ok;
	bool r;

	if (pf_json_parse(reply, strlen(reply), NULL, &n, NULL) < 0)
		return false;
	ok = pf_node_get(n, "ok");
	r = ok && ok->type == PF_NODE_BOOL && ok->b;
	pf_node_free(n);
	return r;
}

void pf_sync_notify_engine(const struct pf_sync_options *o)
{
	struct pf_error err = {0};
	_cleanup_free_ char *req = NULL, *reply = NULL;
	int r;

	if (!o->socket || !*o->socket)
		return;
	r = pf_ctl_msg_reload(&req);
	if (r < 0) {
		log_warning_errno(r, "could not tell the engine to reload: %m");
		return;
	}
	r = pf_ctl_call(o->socket, req, NOTIFY_TIMEOUT_MS, &reply, &err);
	if (r == -ENOENT || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EAGAIN) {
		log_debug("engine not told to reload: %s", err.msg);
		return;
	}
	if (r < 0) {
		log_warning("could not tell the engine to reload: %s", err.msg);
		return;
	}
	if (!reply_ok(reply))
		log_warning("the engine did not reload: %s", reply);
	else
		log_debug("engine reloaded");
}

int pf_sync_notify_start(const struct pf_sync_options *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ char *req = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!o->socket || !*o->socket)
		return -ENOENT;
	r = pf_ctl_msg_reload(&req);
	if (r < 0)
		return r;
	if (strlen(o->socket) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, o->socket);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A unix socket connects at once or not at all (EAGAIN: backlog full, engine busy). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		log_debug_errno(errno, "engine not told to reload: %s: %m", o->socket);
		return -errno;
	}
	return PF_TAKE_FD(fd);
}

void pf_sync_notify_finish(int fd)
{
	_cleanup_free_ char *buf = malloc(PF_CTL_MAX_MSG + 1);
	ssize_t n;

	if (fd < 0)
		return;
	n = buf ? recv(fd, buf, PF_CTL_MAX_MSG, MSG_DONTWAIT) : -1;
	if (n > 0) {
		buf[n] = '\0';
		if (reply_ok(buf))
			log_debug("engine reloaded");
		else
			log_warning("the engine did not reload: %s", buf);
	} else {
		log_debug("no reply from the engine to reload");
	}
	close(fd);
}
