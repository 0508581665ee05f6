/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The metrics endpoint without a kernel queue: address parsing, the exposition text, and the
 * server driven by hand on loopback, down to an answer larger than the socket takes at once. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "../../engine/counters.h"
#include "../../engine/loop.h"
#include "../../engine/metrics.h"
#include "tap.h"

int main(void);

static void test_parse(void)
{
	static const char *good[] = {"127.0.0.1:9464", "[::1]:9464", "0.0.0.0:1",
				     "unix:/run/podfence/metrics.sock"};
	static const char *bad[] = {
	    "localhost:9464", "127.0.0.1",	  "127.0.0.1:0", "127.0.0.1:65536",
	    "127.0.0.1:94x",  "[::1]9464",	  "[::1:9464",	 "::1:9464",
	    ":9464",	      "unix:relative",	  "unix:",	 "[127.0.0.1]:80",
	    "1.2.3:80",	      "[fe80::1%lo]:9464"};
	struct pf_metrics_addr a;
	struct pf_error err = {};

	for (size_t i = 0; i < PF_ARRAY_SIZE(good); i++)
		ok(pf_metrics_parse_addr(good[i], &a, &err) == 0, "'%s' accepted (%s)", good[i],
		   err.msg);
	pf_metrics_parse_addr("[::1]:9464", &a, &err);
	ok(a.sa.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&a.sa)->sin6_port) == 9464 &&
	       !a.unix_path,
	   "[::1]:9464 is IPv6 port 9464");
	pf_metrics_parse_addr("unix:/run/m.sock", &a, &err);
	ok(a.sa.ss_family == AF_UNIX && a.unix_path && !strcmp(a.unix_path, "/run/m.sock"),
	   "unix:/run/m.sock is a unix path");
	for (size_t i = 0; i < PF_ARRAY_SIZE(bad); i++) {
		pf_error_clear(&err);
		ok(pf_metrics_parse_addr(bad[i], &a, &err) < 0 && strstr(err.msg, bad[i]),
		   "'%s' refused, named in: %s", bad[i], err.msg);
	}
}

/* The server alone: its own loop, and the numbers a running engine would hand it. */
struct server {
	struct pf_loop loop;
	struct pf_metrics *m;
};

static void reap(void *data, uint64_t ticks)
{
	struct server *sv = data;

	(void)ticks;
	pf_metrics_reap(sv->m);
}

static void read_counters(void *data, struct pf_engine_counters *out)
{
	(void)data;
	*out = (struct pf_engine_counters){
	    .stats = {.rejected = 7},
	    .reload = {.last_reload_us = 1234567, .source = "store", .last_error = ""},
	    .n_pods = 3,
	};
}

static void pump(struct server *e, int timeout_ms)
{
	pf_loop_round(&e->loop, timeout_ms);
}

/* The server's end of the client's connection: the socket whose peer is the client. */
static int server_end(int client)
{
	struct sockaddr_in me, peer;
	socklen_t l = sizeof(me);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;

	getsockname(client, (struct sockaddr *)&me, &l);
	while (d && (de = readdir(d))) {
		int fd = (int)strtol(de->d_name, NULL, 10);

		l = sizeof(peer);
		if (fd > 2 && fd != client && getpeername(fd, (struct sockaddr *)&peer, &l) == 0 &&
		    peer.sin_family == AF_INET && peer.sin_port == me.sin_port)
			found = fd;
	}
	if (d)
		closedir(d);
	return found;
}

static int connect_to(const struct sockaddr_in *sa, bool small_rcvbuf)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (small_rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_server(void)
{
	const struct pf_metrics_ops ops = {.read = read_counters};
	struct server e = {.loop = PF_LOOP_INIT};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char addr[64], resp[65536];
	int probe, c, s, one = 1, idle[PF_METRICS_MAX_CONNS];
	size_t got = 0, filler = 0;
	const char *body, *cl;
	ssize_t n;

	/* A free loopback port, let go just before the server takes it. */
	probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(probe, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(probe, (struct sockaddr *)&sa, &sl);
	close(probe);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));

	pf_loop_init(&e.loop);
	pf_loop_on_round(&e.loop, reap, &e);
	if (!ok(pf_metrics_listen(addr, &e.loop, 1700000000123, &ops, &e.m) == 0 && e.m,
		"listening on %s", addr))
		return;

	/* A client that reads slowly, behind a socket already full: the answer must wait for
	 * room (EPOLLOUT) and go out in pieces. The test fills the server's end itself, so the
	 * first bytes the client reads are that filler. */
	c = connect_to(&sa, true);
	pump(&e, 100);
	s = server_end(c);
	ok(s >= 0, "server end of the connection found");
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	memset(resp, 'f', sizeof(resp));
	while ((n = send(s, resp, 512, MSG_DONTWAIT)) > 0)
		filler += (size_t)n;
	ok(filler > 0 && n < 0 && errno == EAGAIN, "socket full after %zu bytes", filler);
	send(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35, 0);
	pump(&e, 100);
	n = recv(c, resp, filler, MSG_DONTWAIT | MSG_PEEK);
	ok(n > 0 && (size_t)n <= filler, "only filler readable before the client reads");
	for (int round = 0; round < 400; round++) {
		n = recv(c, resp + got, MIN(sizeof(resp) - 1 - got, 512), MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		pump(&e, 5);
	}
	resp[got] = '\0';
	ok(got > filler + 2304, "answer arrived after the filler (%zu bytes)", got - filler);
	memmove(resp, resp + filler, got - filler + 1);
	got -= filler;
	ok(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), "200 OK");
	body = strstr(resp, "\r\n\r\n");
	cl = strstr(resp, "Content-Length: ");
	ok(body && cl && strtoul(cl + 16, NULL, 10) == strlen(body + 4),
	   "whole body arrived, as long as Content-Length says");
	ok(strstr(resp, "\npodfence_verdicts_total{action=\"reject\"} 7\n") != NULL,
	   "reject counter");
	ok(strstr(resp, "\npodfence_pods 3\n") != NULL, "pods gauge");
	ok(strstr(resp, "\npodfence_cache_build_seconds 1.234567\n") != NULL, "build seconds");
	ok(strstr(resp, "\npodfence_engine_start_time_seconds 1700000000.123\n") != NULL,
	   "start time");
	ok(strstr(resp, "# TYPE podfence_build_info gauge\npodfence_build_info{version=\"") != NULL,
	   "build_info");
	ok(got && resp[got - 1] == '\n', "text ends with a newline");
	close(c);
	pump(&e, 50);

	/* Full: the connection that waited longest for its request makes room for a new one. */
	for (int i = 0; i < PF_METRICS_MAX_CONNS; i++) {
		idle[i] = connect_to(&sa, false);
		pump(&e, 20);
	}
	c = connect_to(&sa, false);
	pump(&e, 50);
	send(c, "GET /metrics HTTP/1.0\r\n\r\n", 25, 0);
	got = 0;
	for (int round = 0; round < 100; round++) {
		pump(&e, 10);
		n = recv(c, resp + got, sizeof(resp) - 1 - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	resp[got] = '\0';
	ok(!strncmp(resp, "HTTP/1.1 200 ", 13), "answered with %d idle connections open",
	   PF_METRICS_MAX_CONNS);
	n = recv(idle[0], resp, 1, MSG_DONTWAIT);
	ok(n == 0, "the oldest idle connection was closed");
	n = recv(idle[PF_METRICS_MAX_CONNS - 1], resp, 1, MSG_DONTWAIT);
	ok(n < 0 && errno == EAGAIN, "the newest idle connection is still open");
	for (int i = 0; i < PF_METRICS_MAX_CONNS; i++)
		close(idle[i]);
	close(c);

	pf_metrics_close(e.m);
	e.m = NULL;
	ok(connect_to(&sa, false) < 0 && errno == ECONNREFUSED, "closed: nothing listens");
	pf_loop_done(&e.loop);
}

int main(void)
{
	test_parse();
	test_server();
	return tap_done();
}
