/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl trace: verdicts as the running engine gives them, one line each, until ^C. */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "ctl.h"
#include "doc.h"
#include "json-gen.h"
#include "query.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int trace_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* "2026-12-02T01:13:00.123Z shop/web 10.99.0.1:443 TCP Reject shop/base#0 judged" */
static void print_line(const struct pf_node *n)
{
	char when[32] = "?";
	int64_t at = 0, rule = -1;
	const struct pf_node *au = pf_node_get(n, "audit");
	const char *pns = pf_node_str(n, "policy_namespace"), *pol = pf_node_str(n, "policy_name");
	const char *dst = pf_node_str(n, "dst");
	time_t t;
	struct tm tm;

	if (pf_node_int(n, "at_ms", &at) == 0) {
		t = (time_t)(at / 1000);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ",
			 (int)(at % 1000));
	}
	pf_node_int(n, "rule_index", &rule);
	printf("%s %s/%s %s%s%s:%lld %s %-6s ", when, pf_strna(pf_node_str(n, "pod_namespace")),
	       pf_strna(pf_node_str(n, "pod_name")), dst && strchr(dst, ':') ? "[" : "",
	       pf_strna(dst), dst && strchr(dst, ':') ? "]" : "",
	       (long long)(pf_node_int(n, "dport", &at) == 0 ? at : 0),
	       pf_strna(pf_node_str(n, "protocol")), pf_strna(pf_node_str(n, "action")));
	if (pol)
		printf("%s%s%s#%lld", pns ? pns : "", pns ? "/" : "", pol, (long long)rule);
	else
		printf("default");
	printf(" %s", pf_strna(pf_node_str(n, "path")));
	if (au && au->type == PF_NODE_MAP) {
		const char *ans = pf_node_str(au, "policy_namespace");

		rule = -1;
		pf_node_int(au, "rule_index", &rule);
		printf(" (Audit would %s: %s%s%s#%lld)", pf_strna(pf_node_str(au, "action")),
		       ans ? ans : "", ans ? "/" : "", pf_strna(pf_node_str(au, "policy_name")),
		       (long long)rule);
	}
	printf("\n");
}

int cmd_trace(const struct pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pod", required_argument, NULL, 'p'},
	    {"action", required_argument, NULL, 'a'},
	    {},
	};
	static char buf[PF_CTL_MAX_MSG + 1];
	_cleanup_jgen_ struct pf_jgen q = {0};
	_cleanup_free_ char *req = NULL;
	const char *pod = NULL, *action = NULL;
	uint64_t lost = 0;
	bool ok = false;
	ssize_t n;
	int c, fd, rc = 1;
	struct pf_node *first = NULL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pod = optarg;
			break;
		case 'a':
			action = optarg;
			if (pf_action_from_string(action) < 0 ||
			    pf_action_from_string(action) == PF_ACTION_PASS) {
				fprintf(stderr,
					"podfencectl trace: --action must be Allow, Deny, "
					"Reject or Alert, not '%s'\n",
					action);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "podfencectl trace: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	pf_jgen_init(&q, 0);
	pf_jgen_map_open(&q);
	pf_jgen_kv_str(&q, "op", "trace");
	if (pod)
		pf_jgen_kv_str(&q, "pod", pod);
	if (action)
		pf_jgen_kv_str(&q, "action", action);
	pf_jgen_map_close(&q);
	if (pf_jgen_take(&q, &req) < 0)
		return 1;
	fd = trace_connect(cli->socket);
	if (fd < 0) {
		fprintf(stderr, "podfencectl trace: is podfenced running? %s: %s\n", cli->socket,
			strerror(-fd));
		return 1;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 ||
	    (n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0) {
		fprintf(stderr, "podfencectl trace: no answer from the engine\n");
		goto out;
	}
	buf[n] = '\0';
	if (pf_json_parse(buf, (size_t)n, NULL, &first, NULL) < 0 ||
	    pf_node_bool(first, "ok", &ok) < 0 || !ok) {
		fprintf(stderr, "podfencectl trace: the engine says: %s\n",
			pf_strna(pf_node_str(first, "error")));
		rc = pf_streq(pf_node_str(first, "error"), "unknown op 'trace'") ? 1 : 2;
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = 0;
	while (!stop) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct pf_node *line = NULL;
		int64_t l = 0;

		if (poll(&p, 1, 500) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0) {
			fprintf(stderr, "podfencectl trace: the engine hung up\n");
			rc = 1;
			break;
		}
		buf[n] = '\0';
		if (pf_json_parse(buf, (size_t)n, NULL, &line, NULL) < 0)
			continue;
		if (pf_node_int(line, "lost", &l) == 0 && (uint64_t)l > lost) {
			fprintf(stderr,
				"podfencectl trace: %llu lines lost (this reader was slow)\n",
				(unsigned long long)((uint64_t)l - lost));
			lost = (uint64_t)l;
		}
		if (cli->output == PF_OUTPUT_JSON)
			printf("%s\n", buf);
		else
			print_line(line);
		pf_node_free(line);
		if (fflush(stdout) != 0)
			break; /* the pipe closed (head, grep -m) */
	}
out:
	pf_node_free(first);
	close(fd);
	return rc;
}
