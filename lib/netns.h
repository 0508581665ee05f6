/* Network namespaces: open, identify (device + inode), enter and leave. */
#ifndef PF_NETNS_H
#define PF_NETNS_H

#include <sys/types.h>

#include "addr.h"
#include "error.h"

struct pf_netns_id {
	uint64_t dev;
	uint64_t ino;
};

/* Open path (O_RDONLY|O_CLOEXEC), check it is a netns, return fd and identity. */
int pf_netns_open(const char *path, int *fd, struct pf_netns_id *id, struct pf_error *err);
int pf_netns_id_of_fd(int fd, struct pf_netns_id *id);
/* The host's (PID 1's) netns identity. */
int pf_netns_host_id(struct pf_netns_id *id);
/* setns into fd on the calling thread, remembering the current netns in *saved_fd. */
int pf_netns_enter(int fd, int *saved_fd);
/* Return to saved_fd and close it. Aborts the process if that fails (a thread stuck in
 * another netns would do harm silently). */
void pf_netns_leave(int *saved_fd);
/* Global (non-loopback, non-link-local) addresses of the current netns, via rtnetlink. */
int pf_netns_list_addrs(struct pf_addr **out, size_t *n);

#endif
