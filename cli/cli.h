/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl: shared context and the subcommands, one file each. */
#ifndef PF_CLI_H
#define PF_CLI_H

#include "conf.h"

enum pf_output { PF_OUTPUT_TABLE, PF_OUTPUT_JSON, PF_OUTPUT_DOT /* graph only */ };

struct pf_cli {
	const char *db;
	const char *socket;
	const char *state_dir;
	enum pf_output output;
	bool output_set; /* -o given (or output = in the file) */
	bool no_headers; /* tables without their header line */
	const struct pf_config *config;
};

/* Each returns an exit code: 0 ok, 1 runtime failure, 2 usage or invalid input. argv[0] is the
 * subcommand name; getopt state is reset before the call. */
int cmd_status(const struct pf_cli *cli, int argc, char **argv);
int cmd_pods(const struct pf_cli *cli, int argc, char **argv);
int cmd_policies(const struct pf_cli *cli, int argc, char **argv);
int cmd_events(const struct pf_cli *cli, int argc, char **argv);
int cmd_explain(const struct pf_cli *cli, int argc, char **argv);
int cmd_check(const struct pf_cli *cli, int argc, char **argv);
int cmd_reload(const struct pf_cli *cli, int argc, char **argv);
int cmd_graph(const struct pf_cli *cli, int argc, char **argv);
int cmd_trace(const struct pf_cli *cli, int argc, char **argv);

/* One row of podfencectl's dispatch table (cli/podfencectl.c). */
struct pf_cli_command {
	const char *name;
	int (*run)(const struct pf_cli *cli, int argc, char **argv);
	const char *args;    /* for --help, e.g. "FILE..." */
	const char *summary; /* for --help */
};

/* Parse a -o/--output value; 0 or -EINVAL. */
int pf_cli_parse_output(const char *s, enum pf_output *out);

#endif
