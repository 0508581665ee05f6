/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Client side of the engine's control protocol (see ctl.h). */
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl.h"
#include "json-gen.h"

/* ---- requests ---- */

static int msg_op(const char *op, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "op", op);
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

int pf_ctl_msg_reload(char **out)
{
	return msg_op("reload", out);
}

int pf_ctl_msg_status(char **out)
{
	return msg_op("status", out);
}

/* A string field, left out when NULL. */
static void opt_str(struct pf_jgen *j, const char *key, const char *v)
{
	if (v)
		pf_jgen_kv_str(j, key, v);
}

int pf_ctl_msg_register(const struct pf_ctl_register *m, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "op", "register");
	opt_str(&j, "netns", m->netns);
	if (m->pid > 0)
		pf_jgen_kv_uint(&j, "pid", (uint64_t)m->pid);
	if (m->netns_dev || m->netns_ino) {
		pf_jgen_kv_uint(&j, "netns_dev", m->netns_dev);
		pf_jgen_kv_uint(&j, "netns_ino", m->netns_ino);
	}
	opt_str(&j, "namespace", m->namespace);
	opt_str(&j, "name", m->name);
	opt_str(&j, "uid", m->uid);
	opt_str(&j, "container", m->container);
	opt_str(&j, "kind", m->kind);
	if (m->caps) {
		pf_jgen_key(&j, "caps");
		pf_jgen_array_open(&j);
		if (m->caps & PF_CTL_CAP_NET_ADMIN)
			pf_jgen_str(&j, "CAP_NET_ADMIN");
		if (m->caps & PF_CTL_CAP_NET_RAW)
			pf_jgen_str(&j, "CAP_NET_RAW");
		pf_jgen_array_close(&j);
		if (m->caps & PF_CTL_CAP_UNKNOWN)
			pf_jgen_kv_bool(&j, "caps_unknown", true);
	}
	if (m->sandbox && m->sandbox_pid > 0) {
		pf_jgen_kv_str(&j, "sandbox", m->sandbox);
		pf_jgen_kv_uint(&j, "sandbox_pid", (uint64_t)m->sandbox_pid);
	}
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

int pf_ctl_msg_unregister(const char *container, const char *netns, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "op", "unregister");
	opt_str(&j, "container", container);
	opt_str(&j, "netns", netns);
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

/* ---- the client ---- */

static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = pf_mono_ns();
		struct pollfd p = {.fd = fd, .events = events};
		int r;

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline_ns - now) / 1000000 + 1));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 0;
	}
}

/* Connect within the deadline. *reached is set once the engine's socket took the connection. */
static int ctl_connect(const char *socket_path, uint64_t deadline, int timeout_ms, int *out,
		       struct pf_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pf_error_set(err, errno, "socket: %s", strerror(errno));
	/* A unix socket's EAGAIN means the engine's listen queue is full (a burst of hooks):
	 * nothing is in progress and poll() would not wait for room, so try again. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return pf_error_set(err, -r, "cannot reach the engine at %s: %s",
						    socket_path, strerror(-r));
			break;
		}
		if (errno != EAGAIN)
			return pf_error_set(err, errno, "cannot reach the engine at %s: %s",
					    socket_path, strerror(errno));
		if (pf_mono_ns() + 10000000ull >= deadline)
			return pf_error_set(
			    err, ETIMEDOUT,
			    "cannot reach the engine at %s: its listen queue stayed "
			    "full for %d ms",
			    socket_path, timeout_ms);
		usleep(10000);
	}
	*out = PF_TAKE_FD(fd);
	return 0;
}

/* The request with "timeout_ms": what is left of the deadline, so that the engine answers
 * (an error, if it must) before this caller gives up. */
static int with_deadline(const char *request, uint64_t deadline, char **out)
{
	uint64_t now = pf_mono_ns(), left_ms = now < deadline ? (deadline - now) / 1000000 : 0;
	const char *p = request;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '{')
		return -EINVAL;
	p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (asprintf(out, "{\"timeout_ms\":%llu%s%s", (unsigned long long)MAX(left_ms, 1),
		     *p == '}' ? "" : ",", p) < 0)
		return -ENOMEM;
	return 0;
}

static int ctl_exchange(int fd, const char *socket_path, const char *request, uint64_t deadline,
			int timeout_ms, unsigned flags, char **reply, struct pf_error *err)
{
	_cleanup_free_ char *buf = NULL, *req = NULL;
	size_t len;
	ssize_t n;
	int r;

	r = wait_fd(fd, POLLOUT, deadline);
	if (r < 0)
		return pf_error_set(err, -r, "engine at %s: %s", socket_path, strerror(-r));
	if (flags & PF_CTL_SEND_DEADLINE) {
		r = with_deadline(request, deadline, &req);
		if (r < 0)
			return pf_error_set(err, -r, "request: %s", strerror(-r));
		request = req;
	}
	len = strlen(request);
	if (len > PF_CTL_MAX_MSG)
		return pf_error_set(err, EMSGSIZE, "request larger than %d bytes", PF_CTL_MAX_MSG);
	n = send(fd, request, len, MSG_NOSIGNAL);
	if (n < 0)
		return pf_error_set(err, errno, "send to engine at %s: %s", socket_path,
				    strerror(errno));
	buf = malloc(PF_CTL_MAX_MSG + 1);
	if (!buf)
		return pf_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return pf_error_set(err, -r, "no reply from the engine at %s within %d ms",
					    socket_path, timeout_ms);
		n = recv(fd, buf, PF_CTL_MAX_MSG + 1, MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return pf_error_set(err, errno, "receive from engine at %s: %s",
					    socket_path, strerror(errno));
		if (n == 0)
			return pf_error_set(err, ECONNRESET, "engine at %s closed the connection",
					    socket_path);
		if (n > PF_CTL_MAX_MSG)
			return pf_error_set(err, EMSGSIZE, "reply larger than %d bytes",
					    PF_CTL_MAX_MSG);
		break;
	}
	buf[n] = '\0';
	*reply = PF_TAKE_PTR(buf);
	return 0;
}

static bool hung_up(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN;
}

int pf_ctl_request(const char *socket_path, const char *request, int timeout_ms, unsigned flags,
		   char **reply, bool *reached, struct pf_error *err)
{
	uint64_t deadline = pf_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct pf_error local = {0};
	bool retried = false;
	int r;

	if (!err)
		err = &local;
	*reached = false;
	if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return pf_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", socket_path);
	if (strlen(request) > PF_CTL_MAX_MSG)
		return pf_error_set(err, EMSGSIZE, "request larger than %d bytes", PF_CTL_MAX_MSG);
	for (;;) {
		_cleanup_close_ int fd = -1;

		r = ctl_connect(socket_path, deadline, timeout_ms, &fd, err);
		if (r < 0) {
			/* Gone after it took the first try: it went away (a crash, a restart)
			 * and whatever it had of the request went with it. */
			if (retried && (r == -ENOENT || r == -ECONNREFUSED))
				*reached = false;
			return r;
		}
		*reached = true;
		r = ctl_exchange(fd, socket_path, request, deadline, timeout_ms, flags, reply, err);
		/* A listener that closes drops what waits in its queue with a reset: ask again
		 * once, so that an engine restarting is told apart from one that is busy. */
		if (r < 0 && hung_up(r) && !retried && (flags & PF_CTL_RETRY_HANGUP)) {
			retried = true;
			pf_error_clear(err);
			continue;
		}
		return r;
	}
}

int pf_ctl_call(const char *socket_path, const char *request, int timeout_ms, char **reply,
		struct pf_error *err)
{
	bool reached;

	return pf_ctl_request(socket_path, request, timeout_ms, 0, reply, &reached, err);
}
