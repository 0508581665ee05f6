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
    {"explain", cmd_explain, "--from NAMESPACE/POD|IP --to IP --port N [--default-action A]",
     "the verdict a connection gets and the policy rule that decides it"},
    {"check", cmd_check, "[-o table|json] FILE|DIR...",
     "validate policy files or directories (YAML or JSON; '-' is stdin); no daemon needed"},
    {"reload", cmd_reload, "", "make the engine reload the store now"},
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
		"  -o, --output FORMAT   table (default) or json\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n"
		"\n"
		"Commands:\n",
		PF_DEFAULT_CONFIG, PF_DEFAULT_DB, PF_DEFAULT_SOCKET, PF_DEFAULT_STATE_DIR);
	for (size_t i = 0; i < PF_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
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
			fprintf(stderr, "podfencectl: %s must be table or json, not '%s'\n", what,
				v);
			return -EINVAL;
		}
		return 0;
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
	    {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'D'},
	    {"socket", required_argument, NULL, 'S'}, {"state-dir", required_argument, NULL, 'T'},
	    {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {},
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
	argc -= optind;
	argv += optind;
	optind = 0; /* full getopt reset (glibc) for the subcommand */
	r = cmd->run(&cli, argc, argv);
	pf_config_free(&cfg);
	return r;
}
