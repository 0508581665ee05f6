/* The shared configuration file: `key = value` lines, `#` comments (podfence.conf(5)). */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

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

#endif
