/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The bare accept-all nfqueue loop: the reference the connection benchmark compares podfenced
 * with. Enters the netns at --netns, installs the same ruleset as podfenced (pf_nft_install),
 * binds the queue and accepts every packet as fast as it can, with no lookup at all. Prints
 * "ready" on stdout once bound; on SIGTERM/SIGINT removes the ruleset, prints its counters on
 * stderr and exits 0.
 *
 * usage: nfq-accept-all --netns PATH [--queue N] [--no-bypass] [--backend auto|native|compat]
 *                       [--chains output|flows|all] [--reuse MS]
 * --chains: the output chain alone, with podfenced's flows chain (whose `ct state` turns
 * conntrack on in the netns), or with its input chain too (all, the default: what podfenced
 * installs). --reuse: verdict reuse on, as podfenced does it: every accepted TCP SYN is added
 * to the reuse set (MS its timeout), so the next SYN of the same (source, destination, port)
 * is accepted by the kernel without being queued.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "netns.h"
#include "nfq.h"
#include "nft.h"

int main(int argc, char **argv);

struct reuse {
	int fd; /* -1: verdict reuse off */
	const struct pf_nft_config *cfg;
};

static uint32_t accept_all(void *userdata, uint32_t id, const struct pf_tuple *t, uint32_t *mark)
{
	const struct reuse *ru = userdata;

	(void)id;
	(void)mark;
	if (ru->fd >= 0 && t->proto == IPPROTO_TCP && !t->inbound) {
		struct pf_nft_reuse_elem e = {
		    .src = t->src, .dst = t->dst, .dport = t->dport, .v6 = t->v6};

		(void)pf_nft_reuse_add(ru->fd, ru->cfg, &e, 1);
	}
	return NF_ACCEPT;
}

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: nfq-accept-all --netns PATH [--queue N] [--no-bypass] "
		   "[--backend auto|native|compat]\n"
		   "                      [--chains output|flows|all] [--reuse MS]\n");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"netns", required_argument, NULL, 'n'},  {"queue", required_argument, NULL, 'q'},
	    {"no-bypass", no_argument, NULL, 'B'},    {"backend", required_argument, NULL, 'b'},
	    {"chains", required_argument, NULL, 'c'}, {"reuse", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},	      {0},
	};
	struct reuse ru = {.fd = -1};
	uint32_t portid;
	const char *netns = NULL, *backend = "auto";
	struct pf_nft_config cfg;
	struct pf_error err = {0};
	struct pf_netns_id id;
	struct pf_nfq *q = NULL;
	struct pf_nfq_stats st;
	struct epoll_event ev;
	_cleanup_close_ int nsfd = -1, sfd = -1, ep = -1;
	int saved = -1, c, rc = 1;
	sigset_t mask;
	uint32_t v;

	pf_nft_config_init(&cfg);
	/* the chains podfenced installs by default (engine.c): the flows chain (whose `ct state`
	 * turns conntrack on in the pod's netns) and the input chain */
	cfg.flows = true;
	cfg.dns = true;
	cfg.flow_priority = PF_NFT_FLOW_PRIORITY;
	while ((c = getopt_long(argc, argv, "n:q:Bb:c:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			netns = optarg;
			break;
		case 'q':
			if (pf_parse_u32(optarg, 65535, &v) < 0)
				return usage(stderr, 2);
			cfg.queue_num = (uint16_t)v;
			break;
		case 'B':
			cfg.bypass = false;
			break;
		case 'b':
			backend = optarg;
			break;
		case 'c':
			if (!strcmp(optarg, "output")) {
				cfg.flows = cfg.dns = false;
			} else if (!strcmp(optarg, "flows")) {
				cfg.dns = false;
			} else if (strcmp(optarg, "all")) {
				fprintf(stderr, "nfq-accept-all: --chains output|flows|all\n");
				return 2;
			}
			break;
		case 'r':
			if (pf_parse_u32(optarg, PF_NFT_REUSE_TIMEOUT_MAX_MS, &v) < 0 || !v)
				return usage(stderr, 2);
			cfg.reuse_timeout_ms = v;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (!netns || optind != argc)
		return usage(stderr, 2);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0) {
		perror("nfq-accept-all: signalfd/epoll");
		return 1;
	}
	if (pf_netns_open(netns, &nsfd, &id, &err) < 0 || pf_netns_enter(nsfd, &saved) < 0) {
		fprintf(stderr, "nfq-accept-all: %s\n", err.code ? err.msg : "setns failed");
		return 1;
	}
	if (!strcmp(backend, "native")) {
		cfg.backend = PF_QUEUE_NATIVE;
	} else if (!strcmp(backend, "compat")) {
		cfg.backend = PF_QUEUE_COMPAT;
	} else if (pf_nft_probe_backend(&cfg.backend, &err) < 0) {
		fprintf(stderr, "nfq-accept-all: %s\n", err.msg);
		goto out;
	}
	ru.cfg = &cfg;
	if (cfg.reuse_timeout_ms && (c = pf_nft_reuse_open(&ru.fd, &portid)) < 0) {
		fprintf(stderr, "nfq-accept-all: opening a netfilter socket: %s\n", strerror(-c));
		goto out;
	}
	if (pf_nfq_open(cfg.queue_num, 0, accept_all, &ru, &q, &err) < 0 ||
	    pf_nft_install(&cfg, &err) < 0) {
		fprintf(stderr, "nfq-accept-all: %s\n", err.msg);
		goto out;
	}
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = pf_nfq_fd(q)};
	epoll_ctl(ep, EPOLL_CTL_ADD, pf_nfq_fd(q), &ev);
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = sfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("ready %s queue %u\n", pf_nft_backend_name(cfg.backend), (unsigned)cfg.queue_num);
	fflush(stdout);

	for (;;) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, -1);
		bool done = false;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("nfq-accept-all: epoll_wait");
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd)
				done = true;
			else if (pf_nfq_dispatch(q) < 0)
				fprintf(stderr, "nfq-accept-all: dispatch: %s\n", strerror(errno));
		}
		if (done)
			break;
	}
	rc = 0;
out:
	if (q) {
		pf_nfq_get_stats(q, &st);
		fprintf(stderr, "nfq-accept-all: packets=%llu enobufs=%llu recv_calls=%llu\n",
			(unsigned long long)st.packets, (unsigned long long)st.enobufs,
			(unsigned long long)st.recv_calls);
	}
	if (pf_nft_remove(&cfg, &err) < 0) {
		fprintf(stderr, "nfq-accept-all: %s\n", err.msg);
		rc = 1;
	}
	pf_nfq_close(q);
	if (ru.fd >= 0)
		close(ru.fd);
	pf_netns_leave(&saved);
	return rc;
}
