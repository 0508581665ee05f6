/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfence-sync: options and configuration, then the directory or the Kubernetes mirror. */
#include <getopt.h>
#include <stdio.h>

#include "conf.h"
#include "kube-status.h"
#include "log.h"
#include "sync.h"

#define DEFAULT_RESYNC_MIN_S 1
#define DEFAULT_RESYNC_MAX_S 300
#define MAX_RESYNC_S (7 * 24 * 3600)

enum {
	OPT_DB = 0x100,
	OPT_SOCKET,
	OPT_STATE_DIR,
	OPT_POLICY_DIR,
	OPT_KUBE,
	OPT_KUBECONFIG,
	OPT_NODE_NAME,
	OPT_RESYNC_MIN,
	OPT_RESYNC_MAX,
	OPT_ONCE,
	OPT_FOREGROUND,
	OPT_LEASE_NAMESPACE,
	OPT_LEASE_DURATION,
};

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"config", required_argument, NULL, 'c'},
    {"verbose", no_argument, NULL, 'v'},
    {"db", required_argument, NULL, OPT_DB},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"policy-dir", required_argument, NULL, OPT_POLICY_DIR},
    {"kube", no_argument, NULL, OPT_KUBE},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"node-name", required_argument, NULL, OPT_NODE_NAME},
    {"resync-min", required_argument, NULL, OPT_RESYNC_MIN},
    {"resync-max", required_argument, NULL, OPT_RESYNC_MAX},
    {"once", no_argument, NULL, OPT_ONCE},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"lease-namespace", required_argument, NULL, OPT_LEASE_NAMESPACE},
    {"lease-duration", required_argument, NULL, OPT_LEASE_DURATION},
    {},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: podfence-sync --policy-dir DIR [OPTION]...\n"
		"       podfence-sync --kube [--kubeconfig FILE] [OPTION]...\n"
		"Mirror FencePolicy documents (from a directory, or from the Kubernetes API\n"
		"with the IPs of the workloads they name) into the podfence store.\n"
		"\n"
		"  --policy-dir DIR   load every *.yaml, *.yml, *.json in DIR and watch it\n"
		"  --kube             mirror FencePolicy objects and workloads from Kubernetes\n"
		"  --kubeconfig FILE  with --kube: use FILE (default: in-cluster account)\n"
		"  --node-name NAME   with --kube: only this node's pods (default: all)\n"
		"  --resync-min S     with --kube: store updates at most every S s (%d)\n"
		"  --resync-max S     full reconcile every S s (%d)\n"
		"  --lease-namespace NS  with --kube: namespace of the Lease podfence-sync that\n"
		"                     picks the one instance writing policy status (default:\n"
		"                     the service account's, the context's, or %s)\n"
		"  --lease-duration S with --kube: the Lease's duration (%d); a holder silent\n"
		"                     that long is taken over\n"
		"  --once             sync once and exit (2 if some policy was invalid;\n"
		"                     writes no status)\n"
		"  --db FILE          store (%s)\n"
		"  --socket PATH      engine control socket, told to reload (%s)\n"
		"  --state-dir DIR    runtime state (%s)\n"
		"  --config FILE      configuration file (%s);\n"
		"                     keys are the long options with '_' for '-';\n"
		"                     options beat the file\n"
		"  --foreground       accepted for symmetry with podfenced: podfence-sync\n"
		"                     never detaches (run it under systemd)\n"
		"  -v, --verbose      debug logging\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n"
		"\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage or invalid input.\n",
		DEFAULT_RESYNC_MIN_S, DEFAULT_RESYNC_MAX_S, PF_KUBE_LEASE_DEFAULT_NS,
		PF_KUBE_LEASE_DEFAULT_S, PF_DEFAULT_DB, PF_DEFAULT_SOCKET, PF_DEFAULT_STATE_DIR,
		PF_DEFAULT_CONFIG);
}

enum mode {
	MODE_NONE,
	MODE_DIR,
	MODE_KUBE,
};

struct settings {
	struct pf_sync_options o;
	enum mode mode;
	bool verbose;
};

static int parse_seconds(const char *what, const char *v, unsigned *out)
{
	uint32_t n;

	if (pf_parse_u32(v, MAX_RESYNC_S, &n) < 0) {
		fprintf(stderr, "podfence-sync: %s: expected seconds (0..%d), got '%s'\n", what,
			MAX_RESYNC_S, v);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int parse_flag(const char *what, const char *v, bool *out)
{
	if (pf_parse_bool(v, out) < 0) {
		fprintf(stderr, "podfence-sync: %s: expected true or false, got '%s'\n", what, v);
		return -EINVAL;
	}
	return 0;
}

struct merge {
	struct settings *s;
	enum mode flag_mode; /* chosen on the command line: beats the file's */
	bool file_dir, file_kube;
};

/* One value from the file or a flag (lib/conf.h). */
static int merge_option(void *ctx, int val, const char *v, const char *what, bool file)
{
	struct merge *m = ctx;
	struct settings *s = m->s;
	bool b;

	switch (val) {
	case 'h':
		usage(stdout);
		return 1;
	case 'V':
		printf("podfence-sync %s\n", PACKAGE_VERSION);
		return 1;
	case 'v':
		return parse_flag(what, v, &s->verbose);
	case OPT_DB:
		s->o.db = v;
		return 0;
	case OPT_SOCKET:
		s->o.socket = v;
		return 0;
	case OPT_STATE_DIR:
		s->o.state_dir = v;
		return 0;
	case OPT_KUBECONFIG:
		s->o.kubeconfig = v;
		return 0;
	case OPT_NODE_NAME:
		s->o.node_name = v;
		return 0;
	case OPT_POLICY_DIR:
		if (file) {
			if (!*v)
				return 0;
			m->file_dir = true;
			if (m->file_kube)
				goto file_exclusive;
			s->o.policy_dir = v;
			s->mode = MODE_DIR;
			return 0;
		}
		if (m->flag_mode == MODE_KUBE)
			goto exclusive;
		m->flag_mode = MODE_DIR;
		s->o.policy_dir = v;
		return 0;
	case OPT_KUBE:
		if (parse_flag(what, v, &b) < 0)
			return -EINVAL;
		if (file) {
			if (!b)
				return 0;
			m->file_kube = true;
			if (m->file_dir)
				goto file_exclusive;
			s->mode = MODE_KUBE;
			return 0;
		}
		if (m->flag_mode == MODE_DIR)
			goto exclusive;
		m->flag_mode = MODE_KUBE;
		return 0;
	case OPT_RESYNC_MIN:
		return parse_seconds(what, v, &s->o.resync_min_s);
	case OPT_RESYNC_MAX:
		return parse_seconds(what, v, &s->o.resync_max_s);
	case OPT_ONCE:
		return parse_flag(what, v, &s->o.once);
	case OPT_LEASE_NAMESPACE:
		s->o.lease_namespace = v;
		return 0;
	case OPT_LEASE_DURATION: {
		uint32_t n;

		if (pf_parse_u32(v, PF_KUBE_LEASE_MAX_S, &n) < 0 || n < 2) {
			fprintf(stderr, "podfence-sync: %s: expected seconds (2..%d), got '%s'\n",
				what, PF_KUBE_LEASE_MAX_S, v);
			return -EINVAL;
		}
		s->o.lease_duration_s = n;
		return 0;
	}
	case OPT_FOREGROUND: /* accepted, never detaches */
		return parse_flag(what, v, &b);
	default:
		fprintf(stderr, "Try 'podfence-sync --help'.\n");
		return -EINVAL;
	}

file_exclusive:
	fprintf(stderr, "podfence-sync: %s: policy_dir and kube = true exclude each other\n", what);
	return -EINVAL;
exclusive:
	fprintf(stderr, "podfence-sync: --policy-dir and --kube exclude each other\n");
	return -EINVAL;
}

/* After the merge: a mode, and settings that agree. 0 or -EINVAL (reported). */
static int check_settings(int argc, char **argv, struct merge *m)
{
	struct settings *s = m->s;

	if (optind < argc) {
		fprintf(stderr,
			"podfence-sync: unexpected argument '%s'\nTry 'podfence-sync --help'.\n",
			argv[optind]);
		return -EINVAL;
	}
	if (m->flag_mode != MODE_NONE)
		s->mode = m->flag_mode;
	if (s->mode == MODE_NONE) {
		fprintf(stderr, "podfence-sync: choose --policy-dir DIR or --kube\nTry "
				"'podfence-sync --help'.\n");
		return -EINVAL;
	}
	if (s->mode == MODE_DIR && (!s->o.policy_dir || !*s->o.policy_dir)) {
		fprintf(stderr, "podfence-sync: --policy-dir needs a directory\n");
		return -EINVAL;
	}
	s->o.kube = s->mode == MODE_KUBE;
	if (s->o.kube)
		s->o.policy_dir = NULL;
	if (s->o.resync_max_s && s->o.resync_min_s > s->o.resync_max_s) {
		fprintf(stderr,
			"podfence-sync: --resync-min (%u) must not exceed --resync-max (%u)\n",
			s->o.resync_min_s, s->o.resync_max_s);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct settings s = {
	    .o =
		{
		    .db = PF_DEFAULT_DB,
		    .socket = PF_DEFAULT_SOCKET,
		    .state_dir = PF_DEFAULT_STATE_DIR,
		    .resync_min_s = DEFAULT_RESYNC_MIN_S,
		    .resync_max_s = DEFAULT_RESYNC_MAX_S,
		    .lease_duration_s = PF_KUBE_LEASE_DEFAULT_S,
		},
	};
	struct pf_config cfg = {0};
	struct pf_error err = {0};
	struct merge m = {.s = &s};
	int r;

	/* --help and --version work whatever the configuration file holds. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("podfence-sync %s\n", PACKAGE_VERSION);
			return 0;
		}
	}

	r = pf_conf_merge(
	    &(struct pf_conf_program){
		.options = long_options, .shortopts = "hVc:v", .set = merge_option, .ctx = &m},
	    argc, argv, &cfg, &err);
	if (r < 0 && err.msg[0])
		fprintf(stderr, "podfence-sync: %s\n", err.msg);
	if (r == 0)
		r = check_settings(argc, argv, &m);
	if (r != 0) {
		pf_config_free(&cfg);
		return r > 0 ? 0 : 2;
	}

	/* stderr for people and tests; syslog too, unless stderr already is the journal. */
	pf_log_open("podfence-sync", PF_LOG_STDERR | (getenv("JOURNAL_STREAM") ? 0 : PF_LOG_SYSLOG),
		    s.verbose ? LOG_DEBUG : LOG_INFO);
	r = s.o.kube ? pf_sync_kube_run(&s.o) : pf_sync_dir_run(&s.o);
	pf_config_free(&cfg);
	return r;
}
