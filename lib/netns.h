/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network namespaces: open, identify (device + inode), enter and leave, read and follow the
 * addresses inside (rtnetlink). */
#ifndef PF_NETNS_H
#define PF_NETNS_H

#include <sys/types.h>

#include "addr.h"
#include "error.h"

/* Upper bound on addresses read from one netns (an outsider controls how many there are). */
#define PF_NETNS_MAX_ADDRS 256

struct pf_netns_id {
	uint64_t dev;
	uint64_t ino;
};

static inline bool pf_netns_id_eq(const struct pf_netns_id *a, const struct pf_netns_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Open path (O_RDONLY|O_CLOEXEC), check it is a netns (-EINVAL otherwise), return fd and
 * identity. */
int pf_netns_open(const char *path, int *fd, struct pf_netns_id *id, struct pf_error *err);
int pf_netns_id_of_fd(int fd, struct pf_netns_id *id);
/* stat() path: -errno, or the identity of the namespace it names (or of whatever it is). */
int pf_netns_id_of_path(const char *path, struct pf_netns_id *id);
/* True when id is the netns of PID 1 or of the calling process (a runtime's, a hook's). */
bool pf_netns_is_host(const struct pf_netns_id *id);
/* The host's (PID 1's) netns identity; the process's own when PID 1 is out of reach. */
int pf_netns_host_id(struct pf_netns_id *id);
/* The calling thread's current netns identity. */
int pf_netns_current_id(struct pf_netns_id *id);
/* setns into fd on the calling thread, remembering the current netns in *saved_fd. */
int pf_netns_enter(int fd, int *saved_fd);
/* Return to saved_fd and close it (sets it to -1; -1 is a no-op). Aborts the process if that
 * fails (a thread stuck in another netns would do harm silently). */
void pf_netns_leave(int *saved_fd);

/*
 * Global addresses of the current netns, via an rtnetlink dump: scope universe only (so no
 * loopback, no link-local), IPv4 and IPv6, duplicates removed, at most PF_NETNS_MAX_ADDRS
 * (the rest are ignored).
 * *out is malloc'ed (NULL when *n == 0); the caller frees it.
 */
int pf_netns_list_addrs(struct pf_addr **out, size_t *n);
/* The same for the netns behind netns_fd (enters and leaves it on the calling thread). */
int pf_netns_list_addrs_at(int netns_fd, struct pf_addr **out, size_t *n);

/*
 * Follow address changes: an rtnetlink socket of the current netns (it stays bound to it),
 * subscribed to RTMGRP_IPV4_IFADDR|RTMGRP_IPV6_IFADDR, non-blocking, close-on-exec.
 * Returns the fd or -errno. Put it in epoll; when readable, call pf_addrmon_drain and on a
 * change re-read with pf_netns_list_addrs_at (events only say "something changed").
 */
int pf_addrmon_open(void);
/* Read everything pending: 1 when a global address (one pf_netns_list_addrs would report)
 * was added, changed or removed, or events were lost to an overrun (so the caller must
 * re-read); 0 when not; -errno on a socket error. */
int pf_addrmon_drain(int fd);

#endif
