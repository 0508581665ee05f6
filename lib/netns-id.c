/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which network namespace a file or fd is: its device and inode (no netlink, so the hook can
 * use it without linking libmnl). */
#include <sys/stat.h>

#include "netns.h"

int pf_netns_id_of_fd(int fd, struct pf_netns_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	return 0;
}

int pf_netns_id_of_path(const char *path, struct pf_netns_id *id)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	return 0;
}

int pf_netns_host_id(struct pf_netns_id *id)
{
	int r = pf_netns_id_of_path("/proc/1/ns/net", id);

	/* PID 1 can be out of reach (a sandbox, hidepid, ptrace rules): the daemon runs in the
	 * host's netns, so its own is the next best answer. */
	if (r == -EACCES || r == -EPERM)
		r = pf_netns_id_of_path("/proc/self/ns/net", id);
	return r;
}

int pf_netns_current_id(struct pf_netns_id *id)
{
	return pf_netns_id_of_path("/proc/thread-self/ns/net", id);
}

bool pf_netns_is_host(const struct pf_netns_id *id)
{
	static const char *const refs[] = {"/proc/1/ns/net", "/proc/self/ns/net"};

	for (size_t i = 0; i < PF_ARRAY_SIZE(refs); i++) {
		struct pf_netns_id ref;

		if (pf_netns_id_of_path(refs[i], &ref) == 0 && pf_netns_id_eq(&ref, id))
			return true;
	}
	return false;
}
