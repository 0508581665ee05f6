/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl: global options and configuration, then one subcommand from the table below. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

/* Add a subcommand: one row here, its cmd_*() in its own file, declared in cli.h. */
static const struct pf_cli_command commands[] = {
    {"status", cmd_status, "", "the engine's state, counters and the store's summary"},
    {"pods", cmd_pods, "", "registered pods (network namespaces) and their addresses"},
    {"policies", cmd_policies, "", "policies in the store: valid, in force, errors"},
    {"events", cmd_events, "[--follow] [--since T] [--limit N]",
     "recorded verdict events, oldest first (T: 2026-11-26T10:00:00Z or 30s, 5m, 2h, 1d ago)"},
    {"explain", cmd_explain,
     "--from NAMESPACE/POD|IP|CONTAINER --to IP --port N [--default-action A]",
     "the verdict a connection gets and the rule that decides it (the running engine's, else "
     "the store's)"},
    {"check", cmd_check, "[-o table|json] FILE|DIR...",
     "validate policy files or directories (YAML or JSON; '-' is stdin); no daemon needed"},
    {"reload", cmd_reload, "", "make the engine reload the store now"},
    {"trace", cmd_trace, "[--pod NAMESPACE/NAME] [--action A]",
     "verdicts as the running engine gives them, one line each, until interrupted"},
    {"graph", cmd_graph, "[-n NAMESPACE] [-o dot|json]",
     "who may reach whom: workloads and destinations, rules as edges (DOT for `dot -Tsvg`)"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: podfencectl [OPTIONS] COMMAND [ARGS...]\n"
		"\n"
		"Inspect and control podfence, the container egress fence.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     configuration file (default %s)\n"
		"      --db FILE         policy store (default %s)\n"
		"      --socket PATH     engine control socket (default %s)\n"
		"      --state-dir DIR   state directory (default %s)\n"
		"  -o, --output FORMAT   table (default) or json; dot for graph\n"
		"      --no-headers      tables without their header line\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n"
		"\n"
		"Options may stand before or after the command.\n"
		"Exit status: 0 ok, 1 runtime failure, 2 usage or invalid input.\n"
		"\n"
		"Commands:\n",
		PF_DEFAULT_CONFIG, PF_DEFAULT_DB, PF_DEFAULT_SOCKET, PF_DEFAULT_STATE_DIR);
	for (size_t i = 0; i < PF_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
}

/* The global options, for moving those given after the subcommand in front of it. */
static bool global_option(const char *a, bool *takes_value)
{
	static const char *const with_value[] = {"-c",		"--config", "--db",    "--socket",
						 "--state-dir", "-o",	    "--output"};
	static const char *const flags[] = {"--no-headers", "-h", "--help", "-V", "--version"};

	*takes_value = false;
	for (size_t i = 0; i < PF_ARRAY_SIZE(with_value); i++) {
		size_t n = strlen(with_value[i]);

		if (!strcmp(a, with_value[i])) {
			*takes_value = true;
			return true;
		}
		/* --db=FILE, -oJSON */
		if (!strncmp(a, with_value[i], n) &&
		    (a[n] == '=' || (with_value[i][1] != '-' && a[n])))
			return true;
	}
	for (size_t i = 0; i < PF_ARRAY_SIZE(flags); i++)
		if (!strcmp(a, flags[i]))
			return true;
	return false;
}

/*
 * `podfencectl pods -o json` as `podfencectl -o json pods`: global options after the
 * subcommand move in front of it (up to a `--`), so getopt sees them first. argv itself is
 * reordered; nothing is added or lost.
 */
static void hoist_global_options(int argc, char **argv)
{
	int cmd = 1;
	bool v;

	while (cmd < argc && argv[cmd][0] == '-' && strcmp(argv[cmd], "--")) {
		if (global_option(argv[cmd], &v) && v)
			cmd++;
		cmd++;
	}
	if (cmd >= argc || !strcmp(argv[cmd], "--"))
		return;
	for (int i = cmd + 1; i < argc && strcmp(argv[i], "--"); i++) {
		int n;

		if (!global_option(argv[i], &v))
			continue;
		n = v && i + 1 < argc ? 2 : 1;
		/* rotate argv[cmd..i+n-1] so the option lands just before the subcommand */
		for (int k = 0; k < n; k++) {
			char *opt = argv[i + k];

			memmove(&argv[cmd + 1], &argv[cmd], (size_t)(i + k - cmd) * sizeof(*argv));
			argv[cmd++] = opt;
		}
		i += n - 1;
	}
}

static const struct pf_cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < PF_ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* One value from the file or a flag (lib/conf.h). */
static int merge_option(void *ctx, int val, const char *v, const char *what, bool file)
{
	struct pf_cli *cli = ctx;

	(void)file;
	switch (val) {
	case 'D':
		cli->db = v;
		return 0;
	case 'S':
		cli->socket = v;
		return 0;
	case 'T':
		cli->state_dir = v;
		return 0;
	case 'o':
		if (pf_cli_parse_output(v, &cli->output) < 0) {
			fprintf(stderr, "podfencectl: %s must be table, json or dot, not '%s'\n",
				what, v);
			return -EINVAL;
		}
		cli->output_set = true;
		return 0;
	case 'H': {
		bool b;

		if (pf_parse_bool(v, &b) < 0) {
			fprintf(stderr, "podfencectl: %s: expected true or false, got '%s'\n", what,
				v);
			return -EINVAL;
		}
		cli->no_headers = b;
		return 0;
	}
	case 'h':
		usage(stdout);
		return 1;
	case 'V':
		printf("podfencectl %s\n", PACKAGE_VERSION);
		return 1;
	default:
		usage(stderr);
		return -EINVAL;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'D'},
	    {"socket", required_argument, NULL, 'S'},
	    {"state-dir", required_argument, NULL, 'T'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"no-headers", no_argument, NULL, 'H'},
	    {},
	};
	struct pf_config cfg = {0};
	struct pf_error err = {0};
	struct pf_cli cli = {
	    .db = PF_DEFAULT_DB,
	    .socket = PF_DEFAULT_SOCKET,
	    .state_dir = PF_DEFAULT_STATE_DIR,
	    .config = &cfg,
	};
	const struct pf_cli_command *cmd;
	int r;

	hoist_global_options(argc, argv);
	/* '+': stop at the subcommand; its options are its own. */
	r = pf_conf_merge(
	    &(struct pf_conf_program){
		.options = opts, .shortopts = "+c:o:hV", .set = merge_option, .ctx = &cli},
	    argc, argv, &cfg, &err);
	if (r < 0 && err.msg[0])
		fprintf(stderr, "podfencectl: %s\n", err.msg);
	if (r != 0) {
		pf_config_free(&cfg);
		return r < 0 ? 2 : 0;
	}
	if (optind >= argc) {
		usage(stderr);
		pf_config_free(&cfg);
		return 2;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "podfencectl: unknown command '%s' (see --help)\n", argv[optind]);
		pf_config_free(&cfg);
		return 2;
	}
	if (cli.output == PF_OUTPUT_DOT && cmd->run != cmd_graph) {
		fprintf(stderr, "podfencectl %s: -o must be table or json (dot is for graph)\n",
			cmd->name);
		pf_config_free(&cfg);
		return 2;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* full getopt reset (glibc) for the subcommand */
	r = cmd->run(&cli, argc, argv);
	pf_config_free(&cfg);
	return r;
}
