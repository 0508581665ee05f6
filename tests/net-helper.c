/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test helper for the netlink building blocks (tests/shell/net-*.sh): each subcommand does
 * one thing in the current netns (run it under `ip netns exec`) and reports it on stdout.
 *
 *   probe                                   print native|compat
 *   install [--backend B] [--queue N] [--no-bypass] [--priority P] [--reuse MS]
 *   remove
 *   verdicts [--queue N] [--accept P] [--drop P] [--reject P] [--default accept|drop|reject]
 *            [--maxlen N] [--lose-sends N] [--rcvbuf BYTES] [--rx-slot BYTES]
 *                                           bind the queue (at most N packets held), answer by
 *                                           destination port, print one line per packet;
 *                                           --lose-sends: the first N verdict sends are lost
 *                                           (fault injection); SIGTERM ends it
 *   install ... [--flows] [--dns-from ADDR]...  also the flows chain (UDP, cut connections) and
 *                                           the input chain reading DNS answers from ADDR
 *            [--hold] [--reuse MS [--backend B]]
 *                                           --hold: read nothing until SIGUSR1 (packets
 *                                           wait in the kernel's queue); --reuse: add every
 *                                           accepted SYN to the reuse sets, as podfenced does
 *   connect ADDR PORT [TIMEOUT_MS]          exit 0 connected, 3 refused, 4 timeout, 1 other
 *   udp ADDR PORT [TIMEOUT_MS [COUNT]]      COUNT datagrams on one connected UDP socket, each
 *                                           waiting for its echo: exit 0 all answered, 3
 *                                           refused (ECONNREFUSED), 4 timeout, 1 other
 *   udpecho ADDR PORT...                    echo UDP datagrams (a port listed with a leading
 *                                           '-' only receives) until SIGTERM
 *   listen ADDR PORT...                     accept and close connections until SIGTERM
 *   sink ADDR PORT                          accept connections, print "rx MS N" (ms since the
 *                                           epoch) for every read, until SIGTERM
 *   stream ADDR PORT MS                     one connection sending a byte every 100 ms for MS
 *   ctcut PORT                              delete the conntrack entries of flows to PORT
 *   push ADDR PORT                          accept connections, send each a byte every 100 ms
 *   pull ADDR PORT MS                       connect, print "rx MS N" per read, for MS
 *   addrs                                   the netns's global addresses, one per line
 *   addrmon TIMEOUT_MS                      wait for an address change, then print addrs
 *   connrate ADDR PORT N                    N sequential connects: rate, p50/p99 latency
 *   udprate ADDR PORT N                     N sequential new UDP flows (send, await the echo)
 *   burst ADDR PORT N                       N connects at once; exit 0 when all connect
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"
#include "netns.h"
#include "nfq.h"
#include "nft.h"
#include "packet.h"

int main(int argc, char **argv);

#define MAX_PORTS 64

static volatile sig_atomic_t stop, released;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	released = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal}, su = {.sa_handler = on_usr1};

	sigaction(SIGUSR1, &su, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: net-helper probe|install|remove|verdicts|connect|listen|addrs|addrmon ...\n");
	return 2;
}

static int parse_port(const char *s, uint16_t *out)
{
	uint32_t v;

	if (pf_parse_u32(s, 65535, &v) < 0) {
		fprintf(stderr, "bad number '%s'\n", s);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

static int cmd_probe(void)
{
	struct pf_error err = {0};
	enum pf_queue_backend b;

	if (pf_nft_probe_backend(&b, &err) < 0) {
		fprintf(stderr, "probe: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", pf_nft_backend_name(b));
	return 0;
}

static int cmd_install(int argc, char **argv)
{
	struct pf_addr from[4];
	size_t n_from = 0;
	struct pf_nft_config cfg;
	struct pf_error err = {0};
	const char *backend = "auto";

	pf_nft_config_init(&cfg);
	for (int i = 0; i < argc; i++) {
		int64_t v;

		if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
			backend = argv[++i];
		} else if (!strcmp(argv[i], "--queue") && i + 1 < argc) {
			if (parse_port(argv[++i], &cfg.queue_num) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--no-bypass")) {
			cfg.bypass = false;
		} else if (!strcmp(argv[i], "--flows")) {
			cfg.flows = true;
		} else if (!strcmp(argv[i], "--dns")) {
			cfg.dns = true;
		} else if (!strcmp(argv[i], "--dns-from") && i + 1 < argc) {
			if (n_from >= PF_ARRAY_SIZE(from) ||
			    pf_addr_parse(argv[++i], &from[n_from]) < 0)
				return 2;
			n_from++;
			cfg.dns = true;
			cfg.dns_from = from;
			cfg.n_dns_from = n_from;
		} else if (!strcmp(argv[i], "--priority") && i + 1 < argc) {
			if (pf_parse_i64(argv[++i], INT32_MIN, INT32_MAX, &v) < 0)
				return 2;
			cfg.priority = (int32_t)v;
		} else if (!strcmp(argv[i], "--reuse") && i + 1 < argc) {
			if (pf_parse_u32(argv[++i], PF_NFT_REUSE_TIMEOUT_MAX_MS,
					 &cfg.reuse_timeout_ms) < 0)
				return 2;
		} else {
			return usage();
		}
	}
	if (!strcmp(backend, "native")) {
		cfg.backend = PF_QUEUE_NATIVE;
	} else if (!strcmp(backend, "compat")) {
		cfg.backend = PF_QUEUE_COMPAT;
	} else if (pf_nft_probe_backend(&cfg.backend, &err) < 0) {
		fprintf(stderr, "probe: %s\n", err.msg);
		return 1;
	}
	if (pf_nft_install(&cfg, &err) < 0) {
		fprintf(stderr, "install: %s\n", err.msg);
		return 1;
	}
	printf("installed %s\n", pf_nft_backend_name(cfg.backend));
	return 0;
}

static int cmd_remove(void)
{
	struct pf_error err = {0};

	if (pf_nft_remove(NULL, &err) < 0) {
		fprintf(stderr, "remove: %s\n", err.msg);
		return 1;
	}
	printf("removed\n");
	return 0;
}

struct judge {
	uint16_t accept[MAX_PORTS], drop[MAX_PORTS], reject[MAX_PORTS];
	size_t n_accept, n_drop, n_reject;
	uint32_t dflt;
	int reuse_fd; /* -1: no reuse */
	struct pf_nft_config cfg;
};

static bool in(const uint16_t *ports, size_t n, uint16_t p)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == p)
			return true;
	return false;
}

static uint32_t judge_cb(void *userdata, uint32_t id, const struct pf_tuple *t, uint32_t *mark)
{
	struct judge *j = userdata;
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];
	uint32_t v = j->dflt;
	const char *name;

	if (t) {
		if (in(j->accept, j->n_accept, t->dport))
			v = NF_ACCEPT;
		else if (in(j->drop, j->n_drop, t->dport))
			v = NF_DROP;
		else if (in(j->reject, j->n_reject, t->dport))
			v = NF_REPEAT;
	}
	if (v == NF_REPEAT)
		*mark = PF_REJECT_MARK;
	if (v == NF_ACCEPT && t && j->reuse_fd >= 0) {
		struct pf_nft_reuse_elem e = {
		    .src = t->src, .dst = t->dst, .dport = t->dport, .v6 = t->v6};

		if (pf_nft_reuse_add(j->reuse_fd, &j->cfg, &e, 1) < 0)
			fprintf(stderr, "reuse add: %s\n", strerror(errno));
	}
	name = v == NF_ACCEPT ? "accept" : v == NF_DROP ? "drop" : "reject";
	if (t)
		printf("packet %u %s %s %u %u flags=0x%02x %s %s%s\n", id, pf_addr_fmt(&t->src, s),
		       pf_addr_fmt(&t->dst, d), t->sport, t->dport, t->tcp_flags, name,
		       t->proto == IPPROTO_UDP ? "udp" : "tcp", t->inbound ? " in" : "");
	else
		printf("packet %u unparsed %s\n", id, name);
	fflush(stdout);
	return v;
}

static int add_port(uint16_t *ports, size_t *n, const char *s)
{
	if (*n >= MAX_PORTS)
		return -E2BIG;
	return parse_port(s, &ports[(*n)++]);
}

static int cmd_verdicts(int argc, char **argv)
{
	struct judge j = {.dflt = NF_ACCEPT, .reuse_fd = -1};
	struct pf_error err = {0};
	struct pf_nfq *q = NULL;
	struct pf_nfq_stats st;
	uint16_t queue = PF_NFT_DEFAULT_QUEUE;
	uint32_t maxlen = 0, lose = 0, rcvbuf = 0, slot = 0, portid;
	const char *backend = "auto";
	bool hold = false;
	int r;

	pf_nft_config_init(&j.cfg);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--hold")) {
			hold = true;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--queue"))
			r = parse_port(v, &queue);
		else if (!strcmp(a, "--maxlen"))
			r = pf_parse_u32(v, PF_NFQ_QUEUE_MAXLEN_MAX, &maxlen);
		else if (!strcmp(a, "--lose-sends"))
			r = pf_parse_u32(v, 1000000, &lose);
		else if (!strcmp(a, "--rx-slot"))
			r = pf_parse_u32(v, 65536, &slot);
		else if (!strcmp(a, "--rcvbuf"))
			r = pf_parse_u32(v, 1 << 30, &rcvbuf);
		else if (!strcmp(a, "--reuse"))
			r = pf_parse_u32(v, PF_NFT_REUSE_TIMEOUT_MAX_MS, &j.cfg.reuse_timeout_ms);
		else if (!strcmp(a, "--backend"))
			r = (backend = v, 0);
		else if (!strcmp(a, "--accept"))
			r = add_port(j.accept, &j.n_accept, v);
		else if (!strcmp(a, "--drop"))
			r = add_port(j.drop, &j.n_drop, v);
		else if (!strcmp(a, "--reject"))
			r = add_port(j.reject, &j.n_reject, v);
		else if (!strcmp(a, "--default"))
			r = !strcmp(v, "accept")   ? (j.dflt = NF_ACCEPT, 0)
			    : !strcmp(v, "drop")   ? (j.dflt = NF_DROP, 0)
			    : !strcmp(v, "reject") ? (j.dflt = NF_REPEAT, 0)
						   : -EINVAL;
		else
			return usage();
		if (r < 0)
			return 2;
	}
	setup_signals();
	if (j.cfg.reuse_timeout_ms) {
		if (!strcmp(backend, "native"))
			j.cfg.backend = PF_QUEUE_NATIVE;
		else if (!strcmp(backend, "compat"))
			j.cfg.backend = PF_QUEUE_COMPAT;
		else if (pf_nft_probe_backend(&j.cfg.backend, &err) < 0) {
			fprintf(stderr, "probe: %s\n", err.msg);
			return 1;
		}
		r = pf_nft_reuse_open(&j.reuse_fd, &portid);
		if (r < 0) {
			fprintf(stderr, "reuse socket: %s\n", strerror(-r));
			return 1;
		}
	}
	if (pf_nfq_open(queue, maxlen, judge_cb, &j, &q, &err) < 0) {
		fprintf(stderr, "verdicts: %s\n", err.msg);
		return 1;
	}
	pf_nfq_test_lose_sends(q, lose);
	if (slot)
		pf_nfq_test_rx_slot(q, slot); /* messages arrive cut: their packets must still go */
	/* A tiny receive buffer: the kernel cannot hand us a burst (ENOBUFS on our side). */
	if (rcvbuf &&
	    setsockopt(pf_nfq_fd(q), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) {
		perror("verdicts: SO_RCVBUF");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd p = {.fd = pf_nfq_fd(q), .events = POLLIN};

		if (hold && !released) {
			poll(NULL, 0, 20);
			continue;
		}
		r = poll(&p, 1, 200);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && pf_nfq_dispatch(q) < 0) {
			fprintf(stderr, "dispatch: %s\n", strerror(errno));
			break;
		}
		if (r == 0)
			pf_nfq_tick(q);
	}
	pf_nfq_get_stats(q, &st);
	printf("stats packets=%llu unparsed=%llu enobufs=%llu send_errors=%llu kernel_errors=%llu "
	       "verdicts_lost=%llu recoveries=%llu queue_dropped=%llu user_dropped=%llu "
	       "queue_total=%llu truncated=%llu\n",
	       (unsigned long long)st.packets, (unsigned long long)st.unparsed,
	       (unsigned long long)st.enobufs, (unsigned long long)st.send_errors,
	       (unsigned long long)st.kernel_errors, (unsigned long long)st.verdicts_lost,
	       (unsigned long long)st.recoveries, (unsigned long long)st.queue_dropped,
	       (unsigned long long)st.user_dropped, (unsigned long long)st.queue_total,
	       (unsigned long long)st.truncated);
	pf_nfq_close(q);
	return 0;
}

static int sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	fprintf(stderr, "bad address '%s'\n", addr);
	return -EINVAL;
}

static int cmd_connect(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	uint32_t timeout = 2000;
	int fd, r, soerr = 0;
	socklen_t el = sizeof(soerr);
	struct pollfd p;
	uint64_t t0 = pf_mono_ns();

	if (argc < 2 || parse_port(argv[1], &port) < 0 || sockaddr_of(argv[0], port, &ss, &sl) < 0)
		return usage();
	if (argc > 2 && pf_parse_u32(argv[2], 600000, &timeout) < 0)
		return usage();
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	r = connect(fd, (struct sockaddr *)&ss, sl);
	if (r < 0 && errno != EINPROGRESS) {
		soerr = errno;
	} else if (r < 0) {
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		r = poll(&p, 1, (int)timeout);
		if (r == 0) {
			printf("timeout after %llu ms\n",
			       (unsigned long long)((pf_mono_ns() - t0) / 1000000));
			close(fd);
			return 4;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0)
			soerr = errno;
	}
	close(fd);
	if (soerr == 0) {
		printf("connected in %llu ms\n",
		       (unsigned long long)((pf_mono_ns() - t0) / 1000000));
		return 0;
	}
	printf("%s after %llu ms\n", soerr == ECONNREFUSED ? "refused" : strerror(soerr),
	       (unsigned long long)((pf_mono_ns() - t0) / 1000000));
	return soerr == ECONNREFUSED ? 3 : 1;
}

static int cmd_udp(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	uint32_t timeout = 2000, count = 1;
	uint64_t t0 = pf_mono_ns();
	char buf[64];
	int fd;

	if (argc < 2 || parse_port(argv[1], &port) < 0 || sockaddr_of(argv[0], port, &ss, &sl) < 0)
		return usage();
	if ((argc > 2 && pf_parse_u32(argv[2], 600000, &timeout) < 0) ||
	    (argc > 3 && pf_parse_u32(argv[3], 100000, &count) < 0))
		return usage();
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return 1;
	for (uint32_t i = 0; i < count; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = snprintf(buf, sizeof(buf), "ping %u", i), r;

		if (send(fd, buf, (size_t)n, 0) < 0 && errno != ECONNREFUSED)
			return 1;
		r = poll(&p, 1, (int)timeout);
		if (r == 0) {
			printf("timeout after %llu ms (%u answered)\n",
			       (unsigned long long)((pf_mono_ns() - t0) / 1000000), i);
			return 4;
		}
		/* a port unreachable for a connected socket is ECONNREFUSED on the next call */
		if (recv(fd, buf, sizeof(buf), 0) < 0) {
			int e = errno;

			printf("%s after %llu ms\n", e == ECONNREFUSED ? "refused" : strerror(e),
			       (unsigned long long)((pf_mono_ns() - t0) / 1000000));
			return e == ECONNREFUSED ? 3 : 1;
		}
	}
	printf("answered %u in %llu ms\n", count,
	       (unsigned long long)((pf_mono_ns() - t0) / 1000000));
	close(fd);
	return 0;
}

static int cmd_udpecho(int argc, char **argv)
{
	struct pollfd p[MAX_PORTS];
	bool quiet[MAX_PORTS];
	int n = 0;

	if (argc < 2 || argc - 1 > MAX_PORTS)
		return usage();
	setup_signals();
	for (int i = 1; i < argc; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		uint16_t port;
		bool q = argv[i][0] == '-';
		int fd, one = 1;

		if (parse_port(argv[i] + q, &port) < 0 || sockaddr_of(argv[0], port, &ss, &sl) < 0)
			return 2;
		fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return 1;
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
			fprintf(stderr, "udpecho %s %u: %s\n", argv[0], port, strerror(errno));
			return 1;
		}
		quiet[n] = q;
		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int r = poll(p, (nfds_t)n, 200);

		if (r < 0 && errno != EINTR)
			return 1;
		for (int i = 0; r > 0 && i < n; i++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			char buf[2048];
			ssize_t len;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((len = recvfrom(p[i].fd, buf, sizeof(buf), 0,
					       (struct sockaddr *)&from, &fl)) >= 0) {
				printf("got %zd\n", len);
				if (!quiet[i])
					(void)sendto(p[i].fd, buf, (size_t)len, 0,
						     (struct sockaddr *)&from, fl);
				fl = sizeof(from);
			}
		}
	}
	return 0;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cmd_sink(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	struct pollfd p[16];
	int n = 1, one = 1;

	if (argc < 2 || parse_port(argv[1], &port) < 0 || sockaddr_of(argv[0], port, &ss, &sl) < 0)
		return usage();
	setup_signals();
	p[0].fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	p[0].events = POLLIN;
	setsockopt(p[0].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(p[0].fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (p[0].fd < 0 || bind(p[0].fd, (struct sockaddr *)&ss, sl) < 0 || listen(p[0].fd, 16) < 0)
		return 1;
	printf("ready\n");
	while (!stop) {
		int r = poll(p, (nfds_t)n, 200);

		if (r < 0 && errno != EINTR)
			return 1;
		if (r > 0 && (p[0].revents & POLLIN) && n < 16) {
			int c = accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0)
				p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
		}
		for (int i = 1; r > 0 && i < n; i++) {
			char buf[4096];
			ssize_t len;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			len = read(p[i].fd, buf, sizeof(buf));
			if (len > 0) {
				printf("rx %llu %zd\n", (unsigned long long)wall_ms(), len);
			} else if (len == 0 || errno != EAGAIN) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
	return 0;
}

static int cmd_stream(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	uint32_t ms;
	uint64_t end;
	int fd;

	if (argc < 3 || parse_port(argv[1], &port) < 0 ||
	    sockaddr_of(argv[0], port, &ss, &sl) < 0 || pf_parse_u32(argv[2], 600000, &ms) < 0)
		return usage();
	setup_signals();
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		perror("stream: connect");
		return 1;
	}
	printf("ready\n");
	end = wall_ms() + ms;
	while (!stop && wall_ms() < end) {
		/* the kernel buffers what it cannot deliver: the receiver's log says what got
		 * through */
		if (send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
			break;
		usleep(100 * 1000);
	}
	close(fd);
	return 0;
}

static int cmd_push(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	int lfd, one = 1, c[16], n = 0;

	if (argc < 2 || parse_port(argv[1], &port) < 0 || sockaddr_of(argv[0], port, &ss, &sl) < 0)
		return usage();
	setup_signals();
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 16) < 0)
		return 1;
	printf("ready\n");
	while (!stop) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0 && n < 16)
			c[n++] = fd;
		for (int i = 0; i < n; i++)
			(void)send(c[i], "y", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		usleep(100 * 1000);
	}
	return 0;
}

static int cmd_pull(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	uint32_t ms;
	uint64_t end;
	int fd;

	if (argc < 3 || parse_port(argv[1], &port) < 0 ||
	    sockaddr_of(argv[0], port, &ss, &sl) < 0 || pf_parse_u32(argv[2], 600000, &ms) < 0)
		return usage();
	setup_signals();
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		perror("pull: connect");
		return 1;
	}
	printf("ready\n");
	end = wall_ms() + ms;
	while (!stop && wall_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[256];
		ssize_t len;

		if (poll(&p, 1, 100) <= 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			break;
		printf("rx %llu %zd\n", (unsigned long long)wall_ms(), len);
	}
	close(fd);
	return 0;
}

static bool cut_port(void *data, const struct pf_ct_flow *f)
{
	return f->dport == *(const uint16_t *)data;
}

static int cmd_ctcut(int argc, char **argv)
{
	struct pf_error err = {0};
	size_t seen = 0, cut = 0;
	uint16_t port;

	if (argc < 1 || parse_port(argv[0], &port) < 0)
		return usage();
	if (pf_ct_cut(cut_port, &port, &seen, &cut, &err) < 0) {
		fprintf(stderr, "ctcut: %s\n", err.msg);
		return 1;
	}
	printf("seen %zu cut %zu\n", seen, cut);
	return 0;
}

static int cmd_listen(int argc, char **argv)
{
	struct pollfd p[MAX_PORTS];
	int n = 0;

	if (argc < 2 || argc - 1 > MAX_PORTS)
		return usage();
	setup_signals();
	for (int i = 1; i < argc; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		uint16_t port;
		int fd, one = 1;

		if (parse_port(argv[i], &port) < 0 || sockaddr_of(argv[0], port, &ss, &sl) < 0)
			return 2;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* IPv6 test addresses may still be tentative (DAD); bind regardless. */
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
			fprintf(stderr, "listen %s %u: %s\n", argv[0], port, strerror(errno));
			return 1;
		}
		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int r = poll(p, (nfds_t)n, 200);

		if (r < 0 && errno != EINTR)
			return 1;
		for (int i = 0; r > 0 && i < n; i++) {
			int c;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				close(c);
		}
	}
	return 0;
}

static int print_addrs(void)
{
	struct pf_addr *a = NULL;
	size_t n = 0;
	char buf[PF_ADDR_STRLEN];
	int r = pf_netns_list_addrs(&a, &n);

	if (r < 0) {
		fprintf(stderr, "addrs: %s\n", strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", pf_addr_fmt(&a[i], buf));
	free(a);
	fflush(stdout);
	return 0;
}

static int cmd_addrmon(int argc, char **argv)
{
	uint32_t timeout;
	int fd, r;
	struct pollfd p;

	if (argc < 1 || pf_parse_u32(argv[0], 600000, &timeout) < 0)
		return usage();
	fd = pf_addrmon_open();
	if (fd < 0) {
		fprintf(stderr, "addrmon: %s\n", strerror(-fd));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	for (;;) {
		r = poll(&p, 1, (int)timeout);
		if (r == 0) {
			printf("timeout\n");
			return 4;
		}
		if (r < 0)
			return 1;
		r = pf_addrmon_drain(fd);
		if (r < 0) {
			fprintf(stderr, "drain: %s\n", strerror(-r));
			return 1;
		}
		if (r == 1)
			break;
	}
	printf("changed\n");
	close(fd);
	return print_addrs();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_connrate(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	socklen_t sl;
	uint16_t port;
	uint32_t n;
	uint64_t *lat, t0, total;

	if (argc < 3 || parse_port(argv[1], &port) < 0 ||
	    sockaddr_of(argv[0], port, &ss, &sl) < 0 || pf_parse_u32(argv[2], 1000000, &n) < 0 ||
	    n == 0)
		return usage();
	lat = calloc(n, sizeof(*lat));
	if (!lat)
		return 1;
	t0 = pf_mono_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = pf_mono_ns();
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
			fprintf(stderr, "connect %u: %s\n", i, strerror(errno));
			return 1;
		}
		lat[i] = pf_mono_ns() - t;
		/* Reset instead of FIN: no TIME_WAIT, so the ports never run out. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	total = pf_mono_ns() - t0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("connections=%u rate=%.0f/s p50=%.1fus p99=%.1fus\n", n, n / (total / 1e9),
	       lat[n / 2] / 1e3, lat[(size_t)((n - 1) * 0.99)] / 1e3);
	free(lat);
	return 0;
}

/* N sequential UDP flows (a new socket, so a new conntrack entry, each): one datagram and
 * its echo; latency to the echo, the first packet's verdict included. */
static int cmd_udprate(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t port;
	uint32_t n;
	uint64_t *lat, t0, total;

	if (argc < 3 || parse_port(argv[1], &port) < 0 ||
	    sockaddr_of(argv[0], port, &ss, &sl) < 0 || pf_parse_u32(argv[2], 1000000, &n) < 0 ||
	    n == 0)
		return usage();
	lat = calloc(n, sizeof(*lat));
	if (!lat)
		return 1;
	t0 = pf_mono_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = pf_mono_ns();
		int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[16];

		struct sockaddr_storage src = {.ss_family = ss.ss_family};

		/* a source port of its own per flow: a reused one could find the conntrack entry
		 * of an earlier flow (same 5-tuple), which is not judged again */
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port =
			    htons((uint16_t)(10000 + i % 50000));
		else
			((struct sockaddr_in6 *)&src)->sin6_port =
			    htons((uint16_t)(10000 + i % 50000));
		if (fd < 0 || bind(fd, (struct sockaddr *)&src, sl) < 0 ||
		    connect(fd, (struct sockaddr *)&ss, sl) < 0 || send(fd, "x", 1, 0) < 0 ||
		    poll(&p, 1, 2000) != 1 || recv(fd, buf, sizeof(buf), 0) < 0) {
			fprintf(stderr, "udp flow %u: %s\n", i, strerror(errno));
			return 1;
		}
		lat[i] = pf_mono_ns() - t;
		close(fd);
	}
	total = pf_mono_ns() - t0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("flows=%u rate=%.0f/s p50=%.1fus p99=%.1fus\n", n, n / (total / 1e9),
	       lat[n / 2] / 1e3, lat[(size_t)((n - 1) * 0.99)] / 1e3);
	free(lat);
	return 0;
}

static int cmd_burst(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct pollfd *p;
	socklen_t sl;
	uint16_t port;
	uint32_t n, done = 0, okn = 0;
	uint64_t deadline;

	if (argc < 3 || parse_port(argv[1], &port) < 0 ||
	    sockaddr_of(argv[0], port, &ss, &sl) < 0 || pf_parse_u32(argv[2], 1000, &n) < 0 ||
	    n == 0)
		return usage();
	p = calloc(n, sizeof(*p));
	if (!p)
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS))
			return 1;
		p[i] = (struct pollfd){.fd = fd, .events = POLLOUT};
	}
	deadline = pf_mono_ns() + 5000000000ull;
	while (done < n && pf_mono_ns() < deadline) {
		if (poll(p, n, 100) < 0)
			return 1;
		for (uint32_t i = 0; i < n; i++) {
			int soerr = 0;
			socklen_t el = sizeof(soerr);

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
			okn += soerr == 0;
			done++;
			close(p[i].fd);
			p[i].fd = -1;
		}
	}
	printf("burst %u connected of %u\n", okn, n);
	free(p);
	return okn == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "probe"))
		return cmd_probe();
	if (!strcmp(cmd, "install"))
		return cmd_install(argc - 2, argv + 2);
	if (!strcmp(cmd, "remove"))
		return cmd_remove();
	if (!strcmp(cmd, "verdicts"))
		return cmd_verdicts(argc - 2, argv + 2);
	if (!strcmp(cmd, "connect"))
		return cmd_connect(argc - 2, argv + 2);
	if (!strcmp(cmd, "listen"))
		return cmd_listen(argc - 2, argv + 2);
	if (!strcmp(cmd, "sink"))
		return cmd_sink(argc - 2, argv + 2);
	if (!strcmp(cmd, "stream"))
		return cmd_stream(argc - 2, argv + 2);
	if (!strcmp(cmd, "push"))
		return cmd_push(argc - 2, argv + 2);
	if (!strcmp(cmd, "pull"))
		return cmd_pull(argc - 2, argv + 2);
	if (!strcmp(cmd, "ctcut"))
		return cmd_ctcut(argc - 2, argv + 2);
	if (!strcmp(cmd, "udp"))
		return cmd_udp(argc - 2, argv + 2);
	if (!strcmp(cmd, "udpecho"))
		return cmd_udpecho(argc - 2, argv + 2);
	if (!strcmp(cmd, "addrs"))
		return print_addrs();
	if (!strcmp(cmd, "burst"))
		return cmd_burst(argc - 2, argv + 2);
	if (!strcmp(cmd, "udprate"))
		return cmd_udprate(argc - 2, argv + 2);
	if (!strcmp(cmd, "connrate"))
		return cmd_connrate(argc - 2, argv + 2);
	if (!strcmp(cmd, "addrmon"))
		return cmd_addrmon(argc - 2, argv + 2);
	return usage();
}
