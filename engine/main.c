/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfenced: options and configuration, daemonizing; the engine itself is engine.c. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conf.h"
#include "engine.h"
#include "eventlog.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "nfq.h"
#include "nft.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: podfenced [OPTION]...\n"
	    "Enforce podfence egress policies in every registered pod network namespace.\n"
	    "\n"
	    "  --foreground              stay in the foreground, log to stderr as well as syslog\n"
	    "  --config FILE             configuration file (default %s)\n"
	    "  --db FILE                 store (default %s)\n"
	    "  --socket PATH             control socket (default %s)\n"
	    "  --state-dir DIR           state directory; pending/ holds records the hook left\n"
	    "                            while the engine was down (default %s)\n"
	    "  --fail-mode open|closed   open (default): the queue rule bypasses a missing "
	    "engine;\n"
	    "                            closed: no engine, no new connections\n"
	    "  --default-action ACTION   Allow (default), Deny, Reject or Alert when no rule "
	    "matches\n"
	    "  --queue-num N             nfqueue number inside each pod netns (default 1)\n"
	    "  --queue-maxlen N          packets each pod's queue holds for a verdict; past it\n"
	    "                            new SYNs are dropped (default %d, at most %d)\n"
	    "  --priority N              priority of the output chain (default %d, raw - 1)\n"
	    "  --verdict-reuse MS        remember an Allow in the pod's kernel for MS (0: off;\n"
	    "                            default %u); a policy change forgets them all\n"
	    "  --event-window MS         fold repeated events of one (pod, destination, port)\n"
	    "                            into one summary per MS (default %d)\n"
	    "  --event-log MODE          each event also as one JSON line to: auto (default:\n"
	    "                            the journal if it runs, else syslog), journal, syslog,\n"
	    "                            none\n"
	    "  --event-max-rows N        events the store keeps, the oldest go (default %d)\n"
	    "  --event-max-age S         events older than S seconds go; 0 keeps them\n"
	    "                            (default %d)\n"
	    "  --metrics ADDR            serve Prometheus metrics on GET /metrics at ADDR:\n"
	    "                            IPV4:PORT, [IPV6]:PORT or unix:/PATH (default: off)\n"
	    "  --privileged-pods warn|refuse  containers whose config grants CAP_NET_ADMIN or\n"
	    "                            CAP_NET_RAW: warn (default: event, metric, log) or\n"
	    "                            refuse their registration\n"
	    "  --enforce-established true|false  a policy change also cuts the established\n"
	    "                            connections and UDP flows it now denies (default false)\n"
	    "  --verbose                 log debug messages\n"
	    "  --help                    show this help\n"
	    "  --version                 show the version\n"
	    "\n"
	    "Each long option has a configuration key of the same name with '-' written '_';\n"
	    "an option on the command line beats the file.\n",
	    PF_DEFAULT_CONFIG, PF_DEFAULT_DB, PF_DEFAULT_SOCKET, PF_DEFAULT_STATE_DIR,
	    PF_NFQ_QUEUE_MAXLEN, PF_NFQ_QUEUE_MAXLEN_MAX, PF_NFT_DEFAULT_PRIORITY,
	    PF_VERDICT_REUSE_DEFAULT_MS, PF_EVENTS_WINDOW_MS, PF_EVENTS_MAX_ROWS,
	    PF_EVENTS_MAX_AGE_S);
}

enum {
	OPT_FOREGROUND = 0x100,
	OPT_CONFIG,
	OPT_DB,
	OPT_SOCKET,
	OPT_STATE_DIR,
	OPT_FAIL_MODE,
	OPT_DEFAULT_ACTION,
	OPT_QUEUE_NUM,
	OPT_QUEUE_MAXLEN,
	OPT_PRIORITY,
	OPT_EVENT_WINDOW,
	OPT_VERDICT_REUSE,
	OPT_METRICS,
	OPT_PRIVILEGED_PODS,
	OPT_ENFORCE_ESTABLISHED,
	OPT_EVENT_LOG,
	OPT_EVENT_MAX_ROWS,
	OPT_EVENT_MAX_AGE,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"db", required_argument, NULL, OPT_DB},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"fail-mode", required_argument, NULL, OPT_FAIL_MODE},
    {"default-action", required_argument, NULL, OPT_DEFAULT_ACTION},
    {"queue-num", required_argument, NULL, OPT_QUEUE_NUM},
    {"queue-maxlen", required_argument, NULL, OPT_QUEUE_MAXLEN},
    {"priority", required_argument, NULL, OPT_PRIORITY},
    {"event-window", required_argument, NULL, OPT_EVENT_WINDOW},
    {"verdict-reuse", required_argument, NULL, OPT_VERDICT_REUSE},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"privileged-pods", required_argument, NULL, OPT_PRIVILEGED_PODS},
    {"enforce-established", required_argument, NULL, OPT_ENFORCE_ESTABLISHED},
    {"event-log", required_argument, NULL, OPT_EVENT_LOG},
    {"event-max-rows", required_argument, NULL, OPT_EVENT_MAX_ROWS},
    {"event-max-age", required_argument, NULL, OPT_EVENT_MAX_AGE},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {},
};

/* One setting from either source; `what` names it in messages ("--db" or "file:line key"). */
static int set_option(struct pf_engine_config *c, int opt, const char *v, const char *what)
{
	char **slot = NULL;
	uint32_t u;
	int64_t i;
	bool b;

	switch (opt) {
	case OPT_FOREGROUND:
		if (v && pf_parse_bool(v, &b) < 0)
			goto bad;
		c->foreground = v ? b : true;
		return 0;
	case OPT_VERBOSE:
		if (v && pf_parse_bool(v, &b) < 0)
			goto bad;
		c->log_level = (v ? b : true) ? LOG_DEBUG : LOG_INFO;
		return 0;
	case OPT_DB:
		slot = &c->db_path;
		break;
	case OPT_SOCKET:
		slot = &c->socket_path;
		break;
	case OPT_STATE_DIR:
		slot = &c->state_dir;
		break;
	case OPT_METRICS: {
		struct pf_metrics_addr a;
		struct pf_error err = {};

		/* A typo is a configuration error (2), not a runtime failure found later. */
		if (pf_metrics_parse_addr(v, &a, &err) < 0) {
			fprintf(stderr, "podfenced: %s: %s\n", what, err.msg);
			return -EINVAL;
		}
		slot = &c->metrics;
		break;
	}
	case OPT_FAIL_MODE:
		if (!strcmp(v, "open"))
			c->fail_closed = false;
		else if (!strcmp(v, "closed"))
			c->fail_closed = true;
		else
			goto bad;
		return 0;
	case OPT_PRIVILEGED_PODS:
		if (!strcmp(v, "warn"))
			c->refuse_privileged = false;
		else if (!strcmp(v, "refuse"))
			c->refuse_privileged = true;
		else
			goto bad;
		return 0;
	case OPT_ENFORCE_ESTABLISHED:
		if (!strcmp(v, "true"))
			c->enforce_established = true;
		else if (!strcmp(v, "false"))
			c->enforce_established = false;
		else
			goto bad;
		return 0;
	case OPT_DEFAULT_ACTION: {
		int a = pf_action_from_string(v);

		if (a < 0 || a == PF_ACTION_PASS) /* Pass hands down; the default is the bottom */
			goto bad;
		c->default_action = (enum pf_action)a;
		return 0;
	}
	case OPT_QUEUE_NUM:
		if (pf_parse_u32(v, UINT16_MAX, &u) < 0)
			goto bad;
		c->queue_num = (uint16_t)u;
		return 0;
	case OPT_QUEUE_MAXLEN:
		if (pf_parse_u32(v, PF_NFQ_QUEUE_MAXLEN_MAX, &u) < 0 || u == 0)
			goto bad;
		c->queue_maxlen = u;
		return 0;
	case OPT_PRIORITY:
		if (pf_parse_i64(v, INT32_MIN, INT32_MAX, &i) < 0)
			goto bad;
		c->priority = (int32_t)i;
		return 0;
	case OPT_EVENT_LOG: {
		int m = pf_eventlog_mode_from_string(v);

		if (m < 0)
			goto bad;
		c->event_log = m;
		return 0;
	}
	case OPT_EVENT_MAX_ROWS:
		if (pf_parse_u32(v, PF_EVENTS_MAX_ROWS_LIMIT, &u) < 0 || u == 0)
			goto bad;
		c->event_max_rows = u;
		return 0;
	case OPT_EVENT_MAX_AGE:
		/* seconds; 0: no bound by age */
		if (pf_parse_u32(v, 10 * 365 * 86400, &u) < 0)
			goto bad;
		c->event_max_age_s = u;
		return 0;
	case OPT_EVENT_WINDOW:
		if (pf_parse_u32(v, PF_EVENTS_MAX_WINDOW_MS, &u) < 0 || u == 0)
			goto bad;
		c->event_window_ms = u;
		return 0;
	case OPT_VERDICT_REUSE:
		if (pf_parse_u32(v, PF_NFT_REUSE_TIMEOUT_MAX_MS, &u) < 0)
			goto bad;
		c->verdict_reuse_ms = u;
		return 0;
	default:
		return -EINVAL;
	}
	if (!*v) {
		fprintf(stderr, "podfenced: %s: empty value\n", what);
		return -EINVAL;
	}
	free(*slot);
	*slot = strdup(v);
	return *slot ? 0 : -ENOMEM;
bad:
	fprintf(stderr, "podfenced: %s: invalid value '%s'\n", what, v ? v : "");
	return -EINVAL;
}

static void config_free(struct pf_engine_config *c)
{
	free(c->config_path);
	free(c->db_path);
	free(c->socket_path);
	free(c->state_dir);
	free(c->metrics);
}

static int merge_option(void *ctx, int val, const char *v, const char *what, bool file)
{
	(void)file;
	if (val == '?') {
		usage(stderr);
		return 2;
	}
	return set_option(ctx, val, v, what);
}

/* The file first (defaults < file), then the command line (file < flags). Exit code or -1. */
static int parse_config(int argc, char **argv, struct pf_engine_config *c)
{
	const char *path = pf_config_path_from_argv(argc, argv);
	struct pf_config file = {};
	struct pf_error err = {};
	int r;

	*c = (struct pf_engine_config){
	    .default_action = PF_ACTION_ALLOW,
	    .queue_num = 1,
	    .priority = PF_NFT_DEFAULT_PRIORITY,
	    .event_window_ms = PF_EVENTS_WINDOW_MS,
	    .verdict_reuse_ms = PF_VERDICT_REUSE_DEFAULT_MS,
	    .event_max_rows = PF_EVENTS_MAX_ROWS,
	    .event_max_age_s = PF_EVENTS_MAX_AGE_S,
	    .log_level = LOG_INFO,
	};
	/* --help and --version work whatever the file says. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("podfenced %s\n", PACKAGE_VERSION);
			return 0;
		}
	}

	r = pf_conf_merge(
	    &(struct pf_conf_program){
		.options = options, .shortopts = "", .set = merge_option, .ctx = c},
	    argc, argv, &file, &err);
	pf_config_free(&file);
	if (r < 0 && err.msg[0])
		fprintf(stderr, "podfenced: %s\n", err.msg);
	if (r != 0)
		return r < 0 ? 2 : r;
	if (optind < argc) {
		fprintf(stderr, "podfenced: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if ((!c->db_path && !(c->db_path = strdup(PF_DEFAULT_DB))) ||
	    (!c->socket_path && !(c->socket_path = strdup(PF_DEFAULT_SOCKET))) ||
	    (!c->state_dir && !(c->state_dir = strdup(PF_DEFAULT_STATE_DIR)))) {
		fprintf(stderr, "podfenced: out of memory\n");
		return 1;
	}
	if (path && !(c->config_path = strdup(path)))
		return 1;
	return -1;
}

/*
 * Without --foreground: fork, and let the parent exit only once the child listens, so
 * `podfenced && podfence-hook ...` never races the socket. The pipe carries one byte on
 * success; EOF means the child failed (its reasons are in syslog).
 */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c;
		ssize_t n;

		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -errno;
	*ready_fd = p[1];
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * systemd readiness without libsystemd: one datagram to $NOTIFY_SOCKET (a path, or '@' for
 * the abstract namespace). Nothing happens when it is unset, so Type=exec units and plain
 * shells are unaffected; Type=notify units learn when the socket is really up.
 */
static void notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd;

	if (!path || !*path)
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_debug_errno(-errno, "sd_notify: %m");
	close(fd);
}

int main(int argc, char **argv)
{
	struct pf_engine_config cfg = {};
	struct engine *e = NULL;
	int ready_fd = -1, r;

	r = parse_config(argc, argv, &cfg);
	if (r >= 0) {
		config_free(&cfg);
		return r;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "podfenced: must run as root\n");
		config_free(&cfg);
		return 1;
	}
	if (!cfg.foreground) {
		r = daemonize(&ready_fd);
		if (r < 0) {
			fprintf(stderr, "podfenced: cannot daemonize: %s\n", strerror(-r));
			config_free(&cfg);
			return 1;
		}
	}
	/* Under systemd stderr already is the journal (JOURNAL_STREAM): syslog as well would
	 * put every line there twice. */
	if (cfg.foreground && getenv("JOURNAL_STREAM"))
		pf_log_open("podfenced", PF_LOG_STDERR, cfg.log_level);
	else
		pf_log_open("podfenced", PF_LOG_SYSLOG | (cfg.foreground ? PF_LOG_STDERR : 0),
			    cfg.log_level);
	if (!cfg.foreground)
		detach_stdio();
	signal(SIGPIPE, SIG_IGN);
	umask(0022);

	if (pf_engine_new(&cfg, &e) < 0) {
		log_error("Out of memory");
		config_free(&cfg);
		return 1;
	}
	r = pf_engine_start(e);
	if (r < 0) {
		pf_engine_stop(e);
		pf_engine_free(e);
		config_free(&cfg);
		return 1;
	}
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		close(ready_fd);
	}
	notify_systemd("READY=1");
	r = pf_engine_run(e);
	notify_systemd("STOPPING=1");
	log_info("Shutting down; rules stay in place (fail mode %s)",
		 cfg.fail_closed ? "closed" : "open");
	pf_engine_stop(e);
	pf_engine_free(e);
	config_free(&cfg);
	return r < 0 ? 1 : 0;
}
