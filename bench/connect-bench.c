/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Connection benchmark client and server. The client measures what an application sees: the
 * time connect() takes for N sequential connections (each closed with an RST, so no
 * TIME_WAIT piles up), and the connection rate over the whole run.
 *
 *   connect-bench serve PORT              accept and close, forever; prints "ready"
 *   connect-bench run HOST PORT N [WARMUP]  prints "rate=C/s p50=US p99=US max=US n=N"
 *   connect-bench flood SRC DST PORT MAX SECONDS
 *                      raw IPv4 SYNs from SRC to DST:PORT (source ports cycling, 64 sockets,
 *                      never blocking) until MAX are sent or SECONDS pass, or SIGTERM;
 *                      prints "sent=N pps=R" (N counts attempts, dropped ones too)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

int main(int argc, char **argv);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int serve(const char *port_s)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	int one = 1, zero = 0, fd;
	uint32_t port;

	if (pf_parse_u32(port_s, 65535, &port) < 0 || port == 0)
		return 2;
	sa.sin6_port = htons((uint16_t)port);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		perror("serve");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
	}
}

static int run(const char *host, const char *port_s, const char *n_s, const char *warm_s)
{
	struct sockaddr_storage ss = {};
	socklen_t sl;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	uint32_t port, n, warm = 200;
	_cleanup_free_ uint64_t *lat = NULL;
	uint64_t t0, total;

	if (pf_parse_u32(port_s, 65535, &port) < 0 || pf_parse_u32(n_s, 10000000, &n) < 0 ||
	    n == 0 || (warm_s && pf_parse_u32(warm_s, 10000000, &warm) < 0))
		return 2;
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return 2;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return 2;
		sl = sizeof(*s4);
	}
	lat = calloc(n, sizeof(*lat));
	if (!lat)
		return 1;
	t0 = 0;
	for (uint32_t i = 0; i < warm + n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		uint64_t a, b;

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		if (i == warm)
			t0 = now_ns();
		a = now_ns();
		if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
			perror("connect");
			return 1;
		}
		b = now_ns();
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		if (i >= warm)
			lat[i - warm] = b - a;
	}
	total = now_ns() - t0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("rate=%.0f p50=%.1f p99=%.1f max=%.1f n=%u\n", (double)n * 1e9 / (double)total,
	       (double)lat[n / 2] / 1e3, (double)lat[(size_t)n * 99 / 100] / 1e3,
	       (double)lat[n - 1] / 1e3, n);
	return 0;
}

static volatile sig_atomic_t flood_stop;

static void on_term(int sig)
{
	(void)sig;
	flood_stop = 1;
}

static uint32_t sum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#define FLOOD_BATCH 64
#define FLOOD_SOCKETS 64

static int flood(const char *src_s, const char *dst_s, const char *port_s, const char *max_s,
		 const char *secs_s)
{
	static uint8_t pkts[FLOOD_BATCH][40];
	struct mmsghdr msgs[FLOOD_BATCH] = {};
	struct iovec iov[FLOOD_BATCH];
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct in_addr src;
	uint32_t port, max, secs;
	uint64_t sent = 0, t0, end;
	int fds[FLOOD_SOCKETS];

	if (inet_pton(AF_INET, src_s, &src) != 1 || inet_pton(AF_INET, dst_s, &dst.sin_addr) != 1 ||
	    pf_parse_u32(port_s, 65535, &port) < 0 || pf_parse_u32(max_s, 100000000, &max) < 0 ||
	    pf_parse_u32(secs_s, 600, &secs) < 0 || port == 0 || max == 0 || secs == 0)
		return 2;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	/* Packets held in a queue count against their socket's send buffer: with one socket a
	 * held-up queue would block the sender. Many sockets keep it sending flat out. */
	for (int i = 0; i < FLOOD_SOCKETS; i++) {
		fds[i] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
		if (fds[i] < 0) {
			perror("flood: raw socket");
			return 1;
		}
	}
	for (int i = 0; i < FLOOD_BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = pkts[i], .iov_len = 40};
		msgs[i].msg_hdr = (struct msghdr){.msg_name = &dst,
						  .msg_namelen = sizeof(dst),
						  .msg_iov = &iov[i],
						  .msg_iovlen = 1};
	}
	t0 = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ull;
	while (!flood_stop && sent < max && now_ns() < end) {
		int n = (int)MIN((uint64_t)FLOOD_BATCH, max - sent);

		for (int i = 0; i < n; i++) {
			uint8_t *ip = pkts[i], *t = pkts[i] + 20, ph[12];
			uint64_t k = sent + (uint64_t)i;
			uint16_t sp = (uint16_t)(10000 + k % 50000), c;

			memset(ip, 0, 40);
			ip[0] = 0x45;
			ip[3] = 40;
			ip[4] = (uint8_t)(k >> 8);
			ip[5] = (uint8_t)k;
			ip[8] = 64;
			ip[9] = IPPROTO_TCP;
			memcpy(ip + 12, &src, 4);
			memcpy(ip + 16, &dst.sin_addr, 4);
			t[0] = (uint8_t)(sp >> 8);
			t[1] = (uint8_t)sp;
			t[2] = (uint8_t)(port >> 8);
			t[3] = (uint8_t)port;
			t[4] = (uint8_t)(k >> 24);
			t[5] = (uint8_t)(k >> 16);
			t[12] = 5 << 4;
			t[13] = 0x02; /* SYN */
			t[14] = 0xff;
			t[15] = 0xff;
			memcpy(ph, ip + 12, 8);
			ph[8] = 0;
			ph[9] = IPPROTO_TCP;
			ph[10] = 0;
			ph[11] = 20;
			c = fold(sum16(ph, 12) + sum16(t, 20));
			t[16] = (uint8_t)(c >> 8);
			t[17] = (uint8_t)c;
		}
		/* One send per packet, so a packet dropped in our own send (EPERM: a full queue)
		 * costs the same as one that is queued, whatever the engine does. */
		for (int i = 0; i < n; i++) {
			int fd = fds[(sent + (uint64_t)i) % FLOOD_SOCKETS];

			if (sendmsg(fd, &msgs[i].msg_hdr, 0) < 0 && errno != EPERM &&
			    errno != ENOBUFS && errno != EINTR && errno != EAGAIN) {
				perror("flood: sendmsg");
				return 1;
			}
		}
		sent += (uint64_t)n;
	}
	printf("sent=%llu pps=%.0f\n", (unsigned long long)sent,
	       (double)sent * 1e9 / (double)(now_ns() - t0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "flood"))
		return flood(argv[2], argv[3], argv[4], argv[5], argv[6]);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "run"))
		return run(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
	fprintf(
	    stderr,
	    "usage: %s serve PORT | run HOST PORT N [WARMUP] | flood SRC DST PORT MAX SECONDS\n",
	    argv[0]);
	return 2;
}
