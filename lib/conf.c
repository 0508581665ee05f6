/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared configuration file: `key = value`, `#` comments. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>

#include "conf.h"

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

void pf_config_free(struct pf_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

int pf_config_load(const char *path, bool must_exist, struct pf_config *cfg, struct pf_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0, len;
	unsigned line = 0;
	char *p, *next;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = strdup(path);
	if (!cfg->path)
		return pf_error_set(err, ENOMEM, "out of memory");
	r = pf_read_file(path, PF_CONFIG_MAX_SIZE, &buf, &len);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r == -EFBIG)
		return pf_error_set(err, EFBIG, "%s: larger than %d bytes", path,
				    PF_CONFIG_MAX_SIZE);
	if (r < 0)
		return pf_error_set(err, -r, "%s: %s", path, strerror(-r));
	if (strlen(buf) != len)
		return pf_error_set(err, EINVAL, "%s: contains a NUL byte", path);

	for (p = buf; p; p = next) {
		char *eq, *key, *val;

		line++;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		if (strchr(p, '#'))
			*strchr(p, '#') = '\0';
		p = strip(p);
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (!eq)
			return pf_error_set(err, EINVAL, "%s:%u: expected 'key = value'", path,
					    line);
		*eq = '\0';
		key = strip(p);
		val = strip(eq + 1);
		if (!*key)
			return pf_error_set(err, EINVAL, "%s:%u: empty key", path, line);
		for (char *k = key; *k; k++) {
			if (*k == '-')
				*k = '_';
			if (!(isalnum((unsigned char)*k) || *k == '_'))
				return pf_error_set(err, EINVAL, "%s:%u: invalid key '%s'", path,
						    line, key);
		}
		if (cfg->n >= PF_CONFIG_MAX_ENTRIES)
			return pf_error_set(err, E2BIG, "%s:%u: more than %d entries", path, line,
					    PF_CONFIG_MAX_ENTRIES);
		if (pf_grow((void **)&cfg->entries, &cap, cfg->n, sizeof(*cfg->entries)) < 0)
			return pf_error_set(err, ENOMEM, "out of memory");
		cfg->entries[cfg->n].key = strdup(key);
		cfg->entries[cfg->n].value = strdup(val);
		cfg->entries[cfg->n].line = line;
		if (!cfg->entries[cfg->n].key || !cfg->entries[cfg->n].value) {
			cfg->n++;
			return pf_error_set(err, ENOMEM, "out of memory");
		}
		cfg->n++;
	}
	return 0;
}

const char *pf_config_get(const struct pf_config *cfg, const char *key)
{
	const char *v = NULL;

	for (size_t i = 0; cfg && i < cfg->n; i++)
		if (!strcmp(cfg->entries[i].key, key))
			v = cfg->entries[i].value;
	return v;
}

const char *pf_config_path_from_argv(int argc, char *const *argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

/* The option a file key names: its long name with '_' for '-'. */
static const struct option *option_of_key(const struct option *options, const char *key)
{
	for (const struct option *o = options; o->name; o++) {
		size_t k;

		for (k = 0; o->name[k] && key[k]; k++)
			if ((o->name[k] == '-' ? '_' : o->name[k]) != key[k])
				break;
		if (!o->name[k] && !key[k])
			return o;
	}
	return NULL;
}

static bool never_in_file(const char *name)
{
	return !strcmp(name, "config") || !strcmp(name, "help") || !strcmp(name, "version");
}

int pf_conf_merge(const struct pf_conf_program *p, int argc, char **argv, struct pf_config *file,
		  struct pf_error *err)
{
	const char *path = pf_config_path_from_argv(argc, argv);
	int c, config_val = 0, r;

	r = pf_config_load(path ? path : PF_DEFAULT_CONFIG, path != NULL, file, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < file->n; i++) {
		const struct pf_config_entry *en = &file->entries[i];
		const struct option *o = option_of_key(p->options, en->key);
		char what[PATH_MAX + 128];

		if (!o || never_in_file(o->name))
			continue;
		snprintf(what, sizeof(what), "%s:%u: %s", file->path, en->line, en->key);
		r = p->set(p->ctx, o->val, en->value, what, true);
		if (r != 0)
			return r;
	}
	for (const struct option *o = p->options; o->name; o++)
		if (!strcmp(o->name, "config"))
			config_val = o->val;
	optind = 1;
	while ((c = getopt_long(argc, argv, p->shortopts, p->options, NULL)) != -1) {
		char what[64] = "";

		if (config_val && c == config_val)
			continue; /* read above */
		for (const struct option *o = p->options; o->name; o++)
			if (o->val == c) {
				snprintf(what, sizeof(what), "--%s", o->name);
				break;
			}
		r = p->set(p->ctx, c, c == '?' ? NULL : optarg ? optarg : "true", what, false);
		if (r != 0)
			return r;
	}
	return 0;
}
