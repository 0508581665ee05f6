/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket server: root peers only, bounded messages and time; the requests it
 * carries are requests.c's. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "ctl.h"
#include "log.h"
#include "loop.h"
#include "requests.h"
#include "trace.h"

struct pf_client {
	struct pf_client *next;
	struct pf_control *ctl;
	bool dead;
	int fd;
	uint64_t deadline_ns;
	struct pf_watch watch;
	struct pf_wait wait;
	bool refused_uid;	    /* not root: answered with an error, then hung up on */
	struct pf_trace_sub *trace; /* a `trace` connection: verdicts stream to it */
	uid_t uid;
};

/* The server's own state: the listening socket and its clients. */
struct pf_control {
	struct pf_loop *loop;
	struct pf_requests *req;
	char *path; /* unlinked at close */
	int listen_fd;
	struct pf_watch listen_watch;
	bool listen_paused; /* out of the loop while every client slot is taken */
	struct pf_client *clients;
	size_t n_clients;
};

static void on_listen(struct pf_watch *w, uint32_t events);

/* ---- the socket -------------------------------------------------------------------- */

int pf_control_listen(const char *path, struct pf_loop *loop, struct pf_requests *req,
		      struct pf_control **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;
	struct pf_control *ctl;
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
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		return log_error_errno(-ENOMEM, "Out of memory");
	}
	ctl->loop = loop;
	ctl->req = req;
	pf_watch_set(&ctl->listen_watch, fd, on_listen, ctl, false);
	r = pf_loop_add(ctl->loop, &ctl->listen_watch, EPOLLIN);
	if (r < 0) {
		free(ctl->path);
		free(ctl);
		return log_error_errno(r, "epoll add control socket: %m");
	}
	ctl->listen_fd = PF_TAKE_FD(fd);
	*out = ctl;
	return 0;
}

static void client_free(struct pf_control *ctl, struct pf_client *c)
{
	pf_loop_del(ctl->loop, &c->watch);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void client_drop(struct pf_control *ctl, struct pf_client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->trace) {
		pf_trace_unsubscribe(ctl->req->trace, c->trace);
		c->trace = NULL;
	}
	/* Out of epoll now, so no new events; the struct waits for pf_control_reap, as events
	 * already fetched in this round may still point at it. */
	pf_loop_del(ctl->loop, &c->watch);
	close(c->fd);
	c->fd = c->watch.fd = -1;
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
static void answer_late(struct pf_control *ctl, struct pf_client *c)
{
	_cleanup_free_ char *reply =
	    pf_requests_late(ctl->req, &c->wait, wait_budget_ms(c->wait.timeout_ms));

	send_reply(c, reply);
	c->wait = (struct pf_wait){};
}

static void on_client(struct pf_watch *w, uint32_t events);

/* The listening socket is out of the loop (listen_paused) while every client slot is taken. */
static void on_listen(struct pf_watch *w, uint32_t events)
{
	struct pf_control *ctl = w->data;

	if (!ctl)
		return;

	(void)events;
	for (;;) {
		struct ucred cred = {};
		socklen_t cl = sizeof(cred);
		struct pf_client *c;
		int fd, r;

		if (ctl->n_clients >= PF_MAX_CLIENTS) {
			/* Full: the rest wait in the listen queue (each within its own timeout)
			 * until pf_control_reap makes room. Answering "busy" and hanging up would
			 * reach a peer that has sent as a connection reset, and refuse a hook for
			 * no fault of its container. */
			if (pf_loop_mod(ctl->loop, &ctl->listen_watch, 0) == 0)
				ctl->listen_paused = true;
			return;
		}
		fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
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
			for (struct pf_client *k = ctl->clients; k; k = k->next)
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
		c->ctl = ctl;
		pf_watch_set(&c->watch, fd, on_client, c, false);
		r = pf_loop_add(ctl->loop, &c->watch, EPOLLIN | EPOLLRDHUP);
		if (r < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->n_clients++;
	}
}

static void on_client(struct pf_watch *w, uint32_t events)
{
	static char buf[PF_CTL_MAX_MSG + 1];
	struct pf_client *c = w->data;
	struct pf_control *ctl = c->ctl;
	_cleanup_free_ char *reply = NULL;
	ssize_t n;

	if (c->dead)
		return;
	if (c->trace || c->wait.kind != PF_WAIT_NONE) {
		if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
			client_drop(ctl,
				    c); /* the work goes on; only the answer has nowhere to go */
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
			client_drop(ctl, c);
			return;
		}
		break;
	}
	if (c->refused_uid) {
		char msg[96];

		snprintf(msg, sizeof(msg), "permission denied: uid %u is not root",
			 (unsigned)c->uid);
		reply = pf_requests_error(msg);
		send_reply(c, reply);
		client_drop(ctl, c);
		return;
	}
	if ((size_t)n > PF_CTL_MAX_MSG) {
		char msg[96];

		snprintf(msg, sizeof(msg), "request larger than %d bytes", PF_CTL_MAX_MSG);
		reply = pf_requests_error(msg);
		send_reply(c, reply);
		client_drop(ctl, c);
		return;
	}
	if (n == 0)
		reply = pf_requests_error("invalid request: empty message");
	else
		pf_requests_handle(ctl->req, buf, (size_t)n, &reply, &c->wait);
	if (c->wait.kind == PF_WAIT_TRACE) {
		/* From now on the connection carries verdicts, sent on the tick; it reads no more
		 * requests and has no deadline: it lasts until the reader hangs up. */
		c->trace = c->wait.trace;
		c->wait = (struct pf_wait){};
		send_reply(c, reply);
		pf_loop_mod(ctl->loop, &c->watch, EPOLLRDHUP);
		c->deadline_ns = UINT64_MAX;
		return;
	}
	if (c->wait.kind != PF_WAIT_NONE) {
		/* Read nothing more until this one is answered; a hang-up still shows. */
		pf_loop_mod(ctl->loop, &c->watch, EPOLLRDHUP);
		c->deadline_ns = pf_mono_ns() + wait_budget_ms(c->wait.timeout_ms) * 1000000ull;
		return;
	}
	send_reply(c, reply);
	/* Each request buys the connection a fresh time budget. */
	c->deadline_ns = pf_mono_ns() + PF_CLIENT_TIMEOUT_MS * 1000000ull;
}

void pf_control_fail_waiters(struct pf_control *ctl, const struct pf_netns_id *id, const char *msg)
{

	if (!ctl)
		return;
	for (struct pf_client *c = ctl->clients; c; c = c->next)
		if (!c->dead && c->wait.kind == PF_WAIT_REGISTER && pf_netns_id_eq(&c->wait.id, id))
			snprintf(c->wait.error, sizeof(c->wait.error), "%s", msg);
}

void pf_control_cache_ready(struct pf_control *ctl)
{

	if (!ctl)
		return;
	for (struct pf_client *c = ctl->clients; c; c = c->next) {
		_cleanup_free_ char *reply = NULL;

		if (c->dead || c->wait.kind == PF_WAIT_NONE)
			continue;
		if (!pf_requests_answer(ctl->req, &c->wait, &reply))
			continue;
		send_reply(c, reply);
		c->wait = (struct pf_wait){};
		c->deadline_ns = pf_mono_ns() + PF_CLIENT_TIMEOUT_MS * 1000000ull;
		pf_loop_mod(ctl->loop, &c->watch, EPOLLIN | EPOLLRDHUP);
	}
}

void pf_control_expire(struct pf_control *ctl, bool all)
{
	uint64_t now = pf_mono_ns();

	if (!ctl)
		return;
	for (struct pf_client *c = ctl->clients; c; c = c->next) {
		if (!c->dead && c->trace && !all && pf_trace_flush(c->trace, c->fd) < 0)
			client_drop(ctl, c);
		if (c->dead || (!all && now < c->deadline_ns))
			continue;
		if (c->wait.kind != PF_WAIT_NONE && !all)
			answer_late(ctl, c);
		client_drop(ctl, c);
	}
}

void pf_control_reap(struct pf_control *ctl)
{

	if (!ctl)
		return;
	for (struct pf_client **pp = &ctl->clients; *pp;) {
		struct pf_client *c = *pp;

		if (c->dead) {
			*pp = c->next;
			ctl->n_clients--;
			client_free(ctl, c);
			continue;
		}
		pp = &c->next;
	}
	if (ctl->listen_paused && ctl->n_clients < PF_MAX_CLIENTS && ctl->listen_fd >= 0 &&
	    pf_loop_mod(ctl->loop, &ctl->listen_watch, EPOLLIN) == 0)
		ctl->listen_paused = false;
}

void pf_control_close(struct pf_control *ctl)
{

	if (!ctl)
		return;
	pf_control_expire(ctl, true);
	pf_control_reap(ctl);
	if (ctl->listen_fd >= 0) {
		pf_loop_del(ctl->loop, &ctl->listen_watch);
		close(ctl->listen_fd);
		ctl->listen_fd = -1;
		unlink(ctl->path);
	}
	free(ctl->path);
	free(ctl);
}
