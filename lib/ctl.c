/* Client side of the engine's control protocol (see ctl.h). */
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl.h"

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

int pf_ctl_call(const char *socket_path, const char *request, int timeout_ms, char **reply,
		struct pf_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = pf_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = strlen(request);
	ssize_t n;
	int r;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return pf_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", socket_path);
	if (len > PF_CTL_MAX_MSG)
		return pf_error_set(err, EMSGSIZE, "request larger than %d bytes", PF_CTL_MAX_MSG);
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
			return pf_error_set(err, ETIMEDOUT,
					    "cannot reach the engine at %s: its listen queue stayed "
					    "full for %d ms",
					    socket_path, timeout_ms);
		usleep(10000);
	}
	r = wait_fd(fd, POLLOUT, deadline);
	if (r < 0)
		return pf_error_set(err, -r, "engine at %s: %s", socket_path, strerror(-r));
	n = send(fd, request, len, MSG_NOSIGNAL);
	if (n < 0)
		return pf_error_set(err, errno, "send to engine at %s: %s", socket_path, strerror(errno));
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
			return pf_error_set(err, errno, "receive from engine at %s: %s", socket_path,
					    strerror(errno));
		if (n == 0)
			return pf_error_set(err, ECONNRESET, "engine at %s closed the connection",
					    socket_path);
		if (n > PF_CTL_MAX_MSG)
			return pf_error_set(err, EMSGSIZE, "reply larger than %d bytes", PF_CTL_MAX_MSG);
		break;
	}
	buf[n] = '\0';
	*reply = PF_TAKE_PTR(buf);
	return 0;
}
