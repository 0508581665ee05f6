/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network namespaces: identity, setns on the calling thread, and their addresses over
 * rtnetlink (a dump now, a multicast subscription to follow changes). */
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/vfs.h>

#include <libmnl/libmnl.h>

#include "netns.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int pf_netns_open(const char *path, int *fd, struct pf_netns_id *id, struct pf_error *err)
{
	_cleanup_close_ int f = -1, o = -1;
	struct statfs sfs;
	char self[64];
	int r;

	if (!path || !*path)
		return pf_error_set(err, EINVAL, "empty netns path");
	/* O_PATH first: a real open of whatever the path names (a FIFO with no writer, a
	 * device) could block the engine's loop or have side effects. */
	o = open(path, O_PATH | O_CLOEXEC);
	if (o < 0)
		return pf_error_set(err, errno, "open netns `%s`: %s", path, strerror(errno));
	if (fstatfs(o, &sfs) < 0)
		return pf_error_set(err, errno, "statfs `%s`: %s", path, strerror(errno));
	/* A bind mount of /proc/PID/ns/net (ip netns) is nsfs too. */
	if ((unsigned long)sfs.f_type != (unsigned long)NSFS_MAGIC)
		return pf_error_set(err, EINVAL, "`%s` is not a namespace file", path);
	/* The same file, now known to be nsfs, opened for real (setns and ioctl refuse O_PATH). */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", o);
	f = open(self, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return pf_error_set(err, errno, "open netns `%s`: %s", path, strerror(errno));
	/* nsfs also holds mnt, pid, ... namespaces: only a network one will do. */
	r = ioctl(f, NS_GET_NSTYPE);
	if (r < 0)
		return pf_error_set(err, errno, "`%s`: namespace type: %s", path, strerror(errno));
	if (r != CLONE_NEWNET)
		return pf_error_set(err, EINVAL, "`%s` is not a network namespace", path);
	r = pf_netns_id_of_fd(f, id);
	if (r < 0)
		return pf_error_set(err, -r, "stat `%s`: %s", path, strerror(-r));
	*fd = PF_TAKE_FD(f);
	return 0;
}

int pf_netns_enter(int fd, int *saved_fd)
{
	int saved;

	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0) {
		int r = -errno;

		close(saved);
		return r;
	}
	*saved_fd = saved;
	return 0;
}

void pf_netns_leave(int *saved_fd)
{
	if (!saved_fd || *saved_fd < 0)
		return;
	if (setns(*saved_fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "podfence: cannot return to the original network namespace: %s\n",
			strerror(errno));
		abort();
	}
	close(*saved_fd);
	*saved_fd = -1;
}

static void mnl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

struct addr_list {
	struct pf_addr *a;
	size_t n, cap;
	int err;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int addr_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_list *l = data;
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	const struct ifaddrmsg *ifa;
	const struct nlattr *at;
	struct pf_addr a;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) < 0)
		return MNL_CB_OK;
	/* IPv4 point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours. */
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at)
		return MNL_CB_OK;
	if (ifa->ifa_family == AF_INET && mnl_attr_get_payload_len(at) == 4)
		pf_addr_from_v4(&a, mnl_attr_get_payload(at));
	else if (ifa->ifa_family == AF_INET6 && mnl_attr_get_payload_len(at) == 16)
		pf_addr_from_v6(&a, mnl_attr_get_payload(at));
	else
		return MNL_CB_OK;
	for (size_t i = 0; i < l->n; i++)
		if (pf_addr_eq(&l->a[i], &a))
			return MNL_CB_OK;
	if (l->n >= PF_NETNS_MAX_ADDRS) {
		l->err = -ENOSPC;
		return MNL_CB_OK;
	}
	if (pf_grow((void **)&l->a, &l->cap, l->n, sizeof(*l->a)) < 0) {
		l->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	l->a[l->n++] = a;
	return MNL_CB_OK;
}

int pf_netns_list_addrs(struct pf_addr **out, size_t *n)
{
	_cleanup_(mnl_closep) struct mnl_socket *nl = NULL;
	_cleanup_free_ char *buf = NULL;
	struct addr_list l = {0};
	struct nlmsghdr *nlh;
	struct rtgenmsg *rt;
	uint32_t seq, portid;
	size_t bufsz = MNL_SOCKET_BUFFER_SIZE;
	int r = 0;

	*out = NULL;
	*n = 0;
	buf = malloc(bufsz);
	if (!buf)
		return -ENOMEM;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	portid = mnl_socket_get_portid(nl);
	seq = (uint32_t)pf_mono_ns();

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, bufsz);

		if (len < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t)len, seq, portid, addr_msg_cb, &l);
		if (r <= MNL_CB_STOP) {
			r = r < 0 ? (l.err == -ENOMEM ? -ENOMEM : -errno) : 0;
			break;
		}
	}
	if (r == 0 && l.err == -ENOMEM)
		r = -ENOMEM;
	if (r < 0) {
		free(l.a);
		return r;
	}
	/* More than PF_NETNS_MAX_ADDRS (l.err == -ENOSPC): the first ones, by design. */
	*out = l.a;
	*n = l.n;
	return 0;
}

int pf_netns_list_addrs_at(int netns_fd, struct pf_addr **out, size_t *n)
{
	int saved = -1, r;

	r = pf_netns_enter(netns_fd, &saved);
	if (r < 0)
		return r;
	r = pf_netns_list_addrs(out, n);
	pf_netns_leave(&saved);
	return r;
}

int pf_addrmon_open(void)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_nl sa = {
	    .nl_family = AF_NETLINK,
	    .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	int rcvbuf = 1 << 20;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* Address churn is rare; a modest buffer keeps overruns rarer still, and an overrun
	 * is reported as "changed" anyway. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return PF_TAKE_FD(fd);
}

/* Only addresses pf_netns_list_addrs reports count: link-local ones come and go (IPv6 DAD
 * finishing sends RTM_NEWADDR again) without changing the pod's IPs. */
static bool addr_event_counts(const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return false;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return true; /* cannot tell: let the caller re-read */
	ifa = mnl_nlmsg_get_payload(nlh);
	return ifa->ifa_scope == RT_SCOPE_UNIVERSE;
}

int pf_addrmon_drain(int fd)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	int changed = 0;

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh;
		int rem;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return changed;
			if (errno == ENOBUFS) { /* lost events: the caller must re-read */
				changed = 1;
				continue;
			}
			return -errno;
		}
		if (len == 0)
			return changed;
		rem = (int)len;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, rem);
		     nlh = mnl_nlmsg_next(nlh, &rem))
			if (addr_event_counts(nlh))
				changed = 1;
	}
}
