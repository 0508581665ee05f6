/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared configuration file (`key = value` lines, `#` comments) and merging it with flags. */
#ifndef PF_CONF_H
#define PF_CONF_H

#include <getopt.h>

#include "error.h"

#define PF_CONFIG_MAX_SIZE (256 * 1024)
#define PF_CONFIG_MAX_ENTRIES 256

struct pf_config_entry {
	char *key;
	char *value;
	unsigned line;
};

struct pf_config {
	char *path;
	struct pf_config_entry *entries;
	size_t n;
};

/* Default paths, from configure's directory variables. */
#define PF_DEFAULT_CONFIG PF_SYSCONFDIR "/podfence/podfence.conf"
#define PF_DEFAULT_DB PF_LOCALSTATEDIR "/lib/podfence/podfence.db"
#define PF_DEFAULT_SOCKET PF_RUNSTATEDIR "/podfence/podfenced.sock"
#define PF_DEFAULT_STATE_DIR PF_RUNSTATEDIR "/podfence"

/* Load path. A missing file is fine (empty config) unless must_exist. Errors name file and line. */
int pf_config_load(const char *path, bool must_exist, struct pf_config *cfg, struct pf_error *err);
void pf_config_free(struct pf_config *cfg);
/* Last value for key (keys use '_' where flags use '-'), or NULL. */
const char *pf_config_get(const struct pf_config *cfg, const char *key);

/*
 * Find --config FILE / --config=FILE in argv without disturbing getopt, so a
 * program can load the file first and let flags override it.
 */
const char *pf_config_path_from_argv(int argc, char *const *argv);

/*
 * How every program merges its configuration: its defaults (set by the caller before), then
 * the file, then the flags. The file is --config's (pf_config_path_from_argv), else
 * PF_DEFAULT_CONFIG, which may be missing; each of its keys that is the long name of one of
 * options (with '_' for '-') is given to set(), in file order; other keys belong to the other
 * programs sharing the file, and config, help and version are never read from it. Then
 * getopt_long(shortopts, options) from optind 1: each flag but --config goes to set(), a flag
 * without an argument with the value "true", getopt's '?' as val '?' with value NULL.
 * optind is then the first operand.
 */
struct pf_conf_program {
	const struct option *options;
	const char *shortopts; /* "" for long options only; a leading '+' stops at an operand */
	/*
	 * One value: what says where it came from ("FILE:LINE: key" or "--name"), file whether
	 * from the file. 0 goes on; a negative errno (the error already reported) or a positive
	 * value (done: --help) stops the merge, which returns it.
	 */
	int (*set)(void *ctx, int val, const char *value, const char *what, bool file);
	void *ctx;
};
/* The file's errors (it cannot be read, a bad line) in err, with -errno. file holds what was
 * read (values set() keeps point into it): pf_config_free() it in any case. */
int pf_conf_merge(const struct pf_conf_program *p, int argc, char **argv, struct pf_config *file,
		  struct pf_error *err);

#endif
