/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hostile pod of bench/bench-events-flood.sh: from inside its netns, knowing the netns'
 * dev and inode, it computes N destinations that the old, unkeyed event-table bucket function
 * puts in one bucket (tests/unit/events-collide.h) and sends SYNs to them, round after round,
 * for S seconds (non-blocking connect, closed at once: each SYN is queued and judged).
 *
 *   events-flood DEV INO PORT N SECONDS     prints "sent=K keys=N"
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "../engine/events.h"
#include "../engine/pods.h"
#include "../tests/unit/events-collide.h"
#include "util.h"

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	uint64_t dev, ino, secs, end, sent = 0;
	uint32_t port, n;
	struct pf_addr *dst;
	size_t found;

	if (argc != 6 || pf_parse_u64(argv[1], UINT64_MAX, &dev) < 0 ||
	    pf_parse_u64(argv[2], UINT64_MAX, &ino) < 0 ||
	    pf_parse_u32(argv[3], 65535, &port) < 0 ||
	    pf_parse_u32(argv[4], PF_EVENTS_MAX_KEYS, &n) < 0 || n == 0 ||
	    pf_parse_u64(argv[5], 3600, &secs) < 0) {
		fprintf(stderr, "usage: %s DEV INO PORT N SECONDS\n", argv[0]);
		return 2;
	}
	dst = calloc(n, sizeof(*dst));
	if (!dst)
		return 1;
	found = old_events_colliding(dev, ino, (uint16_t)port, PF_EVENTS_MAX_KEYS / 4, 7, dst, n);
	end = pf_mono_ns() + secs * 1000000000ull;
	while (pf_mono_ns() < end)
		for (size_t i = 0; i < found; i++) {
			struct sockaddr_in sa = {.sin_family = AF_INET,
						 .sin_port = htons((uint16_t)port)};
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

			if (fd < 0)
				continue;
			memcpy(&sa.sin_addr, dst[i].b + 12, 4);
			(void)!connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
			sent++;
		}
	printf("sent=%llu keys=%zu\n", (unsigned long long)sent, found);
	free(dst);
	return 0;
}
