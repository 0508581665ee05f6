/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl check FILE...: validate policy files offline, exactly as podfence-sync would. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "doc.h"
#include "json-gen.h"
#include "policy.h"

static void json_doc(struct pf_jgen *j, const struct pf_policy_doc *d)
{
	_cleanup_free_ char *pol = NULL;

	pf_jgen_map_open(j);
	pf_jgen_kv_uint(j, "document", d->index + 1);
	pf_jgen_kv_uint(j, "line", d->line);
	pf_jgen_kv_str(j, "namespace", d->cluster ? NULL : d->namespace);
	pf_jgen_kv_str(j, "name", d->name);
	pf_jgen_kv_str(j, "kind", d->name ? pf_policy_kind_string(d->cluster) : NULL);
	pf_jgen_kv_bool(j, "valid", d->policy);
	pf_jgen_kv_str(j, "error", d->policy ? NULL : d->error);
	pf_jgen_key(j, "errorLine");
	if (d->policy)
		pf_jgen_null(j);
	else
		pf_jgen_uint(j, d->error_line ? d->error_line : d->line);
	pf_jgen_key(j, "policy");
	if (d->policy && pf_policy_to_json(d->policy, &pol) >= 0)
		pf_jgen_raw(j, pol);
	else
		pf_jgen_null(j);
	pf_jgen_map_close(j);
}

static int read_input(const char *path, struct pf_policy_file *pf, struct pf_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (strcmp(path, "-"))
		return pf_policy_parse_file(path, pf, err);
	r = pf_read_fd(STDIN_FILENO, PF_POLICY_MAX_FILE, &buf, &len);
	if (r == -EFBIG)
		return pf_error_set(err, EFBIG, "<stdin>: larger than %d bytes",
				    PF_POLICY_MAX_FILE);
	if (r < 0)
		return pf_error_set(err, -r, "<stdin>: %s", strerror(-r));
	return pf_policy_parse_buffer("<stdin>", buf, len, pf, err);
}

/* Policies seen so far: a (namespace, name) defined twice, in one file or in two, is refused by
 * podfence-sync (the store keeps one owner per policy), so check refuses it too. */
struct seen {
	char *namespace, *name, *file;
	unsigned index;
};

struct check {
	enum pf_output output;
	struct seen *seen;
	size_t n_seen, cap_seen;
	struct pf_jgen j; /* -o json: the whole report, printed at the end */
	bool any_invalid;
};

/* "shop/web", or "ClusterFencePolicy web" (a cluster policy has no namespace). */
static const char *label(const char *ns, const char *name, char *buf, size_t size)
{
	if (*ns)
		snprintf(buf, size, "%s/%s", ns, name);
	else
		snprintf(buf, size, "%s %s", PF_POLICY_KIND_CLUSTER, name);
	return buf;
}

static int check_duplicate(struct check *st, const char *file, struct pf_policy_doc *d)
{
	struct seen *s;
	char lb[512];

	if (!d->namespace || !d->name)
		return 0;
	for (size_t i = 0; i < st->n_seen; i++) {
		s = &st->seen[i];
		if (strcmp(s->namespace, d->namespace) || strcmp(s->name, d->name))
			continue;
		pf_policy_free(d->policy);
		d->policy = NULL;
		if (!strcmp(s->file, file))
			snprintf(
			    d->error, sizeof(d->error),
			    "metadata.name: policy %.300s is already defined by document %u of "
			    "this file",
			    label(d->namespace, d->name, lb, sizeof(lb)), s->index + 1);
		else
			snprintf(d->error, sizeof(d->error),
				 "metadata.name: policy %.300s is already defined by document %u "
				 "of %.400s",
				 label(d->namespace, d->name, lb, sizeof(lb)), s->index + 1,
				 s->file);
		d->error_line = d->line;
		return 1;
	}
	if (pf_grow((void **)&st->seen, &st->cap_seen, st->n_seen, sizeof(*st->seen)) < 0)
		return -ENOMEM;
	s = &st->seen[st->n_seen];
	*s = (struct seen){strdup(d->namespace), strdup(d->name), strdup(file), d->index};
	if (!s->namespace || !s->name || !s->file) {
		free(s->namespace);
		free(s->name);
		free(s->file);
		return -ENOMEM;
	}
	st->n_seen++;
	return 0;
}

/*
 * A Deny or Reject by name only stops a pod that looks the name up: one that connects to the
 * address directly (or resolves it another way: DNS over HTTPS, a resolver of its own) is not
 * matched. Valid, but worth a warning on stderr; Allow by name is the intended use.
 */
static void warn_fqdn_deny(const char *file, const struct pf_policy_doc *d)
{
	for (size_t i = 0; i < d->policy->n_egress; i++) {
		const struct pf_rule *r = &d->policy->egress[i];

		if ((r->action == PF_ACTION_DENY || r->action == PF_ACTION_REJECT) &&
		    pf_rule_has_fqdn(r))
			fprintf(stderr,
				"%s: document %u (line %u): warning: spec.egress[%zu]: %s by fqdn "
				"is bypassable (a pod can connect by address, or resolve the name "
				"another way); Allow by name is the intended use\n",
				file, d->index + 1, d->line, i, pf_action_to_string(r->action));
	}
}

/* One file (or stdin): 0, or -ENOMEM. Invalid input only sets st->any_invalid. */
static int check_file(struct check *st, const char *path)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct pf_policy_file pf = {0};
	struct pf_error err = {0};
	int r = read_input(path, &pf, &err);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		st->any_invalid = true;
		fprintf(stderr, "%s\n", err.msg);
	}
	for (size_t k = 0; k < pf.n_docs; k++) {
		struct pf_policy_doc *d = &pf.docs[k];
		char line[2048], lb[512];

		if (check_duplicate(st, name, d) < 0) {
			pf_policy_file_free(&pf);
			return -ENOMEM;
		}
		if (!d->policy) {
			st->any_invalid = true;
			fprintf(stderr, "%s\n",
				pf_policy_doc_format_error(name, d, line, sizeof(line)));
		} else {
			warn_fqdn_deny(name, d);
		}
		if (d->policy && st->output == PF_OUTPUT_TABLE) {
			printf("%s: document %u (line %u): %s: OK (priority %u, %zu rule%s)\n",
			       name, d->index + 1, d->line,
			       label(d->policy->namespace, d->policy->name, lb, sizeof(lb)),
			       d->policy->priority, d->policy->n_egress,
			       d->policy->n_egress == 1 ? "" : "s");
		}
	}
	if (r >= 0 && pf.n_docs == 0 && st->output == PF_OUTPUT_TABLE)
		printf("%s: OK (no policies)\n", name);
	if (st->output == PF_OUTPUT_JSON) {
		pf_jgen_map_open(&st->j);
		pf_jgen_kv_str(&st->j, "file", name);
		pf_jgen_kv_bool(&st->j, "valid", r >= 0 && pf_policy_file_n_invalid(&pf) == 0);
		pf_jgen_kv_str(&st->j, "error", r < 0 ? err.msg : NULL);
		pf_jgen_key(&st->j, "documents");
		pf_jgen_array_open(&st->j);
		for (size_t k = 0; k < pf.n_docs; k++)
			json_doc(&st->j, &pf.docs[k]);
		pf_jgen_array_close(&st->j);
		pf_jgen_map_close(&st->j);
	}
	pf_policy_file_free(&pf);
	return 0;
}

static int only_policy_files(const struct dirent *e)
{
	return pf_policy_is_file_name(e->d_name);
}

/* A directory: its policy files in name order, as podfence-sync --policy-dir loads them. */
static int check_dir(struct check *st, const char *dir)
{
	struct dirent **ents = NULL;
	size_t dl = strlen(dir);
	int n, r = 0;

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	n = scandir(dir, &ents, only_policy_files, alphasort);
	if (n < 0) {
		st->any_invalid = true;
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 0;
	}
	if (n == 0 && st->output == PF_OUTPUT_TABLE)
		printf("%.*s: OK (no policy files)\n", (int)dl, dir);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;

		if (r >= 0 && asprintf(&path, "%.*s/%s", (int)dl, dir, ents[i]->d_name) < 0)
			r = -ENOMEM;
		if (r >= 0)
			r = check_file(st, path);
		free(ents[i]);
	}
	free(ents);
	return r;
}

static void check_usage(FILE *f)
{
	fprintf(f,
		"Usage: podfencectl check [-o table|json] FILE|DIR...\n"
		"\n"
		"Validate FencePolicy files (YAML or JSON, several documents per file; '-' reads\n"
		"stdin; a directory means its *.yaml, *.yml and *.json files, as podfence-sync\n"
		"--policy-dir loads them). Errors go to stderr as\n"
		"FILE: document N (line L): FIELD: message.\n"
		"Exit status: 0 all valid, 2 any invalid document or unreadable file.\n");
}

int cmd_check(const struct pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct check st = {.output = cli->output};
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (pf_cli_parse_output(optarg, &st.output) < 0) {
				fprintf(
				    stderr,
				    "podfencectl check: --output must be table or json, not '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			check_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "podfencectl check: no files given\n");
		check_usage(stderr);
		return 2;
	}

	if (st.output == PF_OUTPUT_JSON) {
		r = pf_jgen_init(&st.j, 0);
		pf_jgen_map_open(&st.j);
		pf_jgen_key(&st.j, "files");
		pf_jgen_array_open(&st.j);
	}
	for (int i = optind; i < argc && r >= 0; i++) {
		struct stat sb;

		if (strcmp(argv[i], "-") && stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			r = check_dir(&st, argv[i]);
		else
			r = check_file(&st, argv[i]);
	}
	if (r < 0) {
		fprintf(stderr, "podfencectl check: %s\n", strerror(-r));
		r = 1;
	} else {
		if (st.output == PF_OUTPUT_JSON) {
			pf_jgen_array_close(&st.j);
			pf_jgen_kv_bool(&st.j, "valid", !st.any_invalid);
			pf_jgen_map_close(&st.j);
			r = pf_jgen_flush(&st.j, stdout);
			if (r < 0) {
				fprintf(stderr, "podfencectl check: %s\n", strerror(-r));
				r = 1;
				goto out;
			}
			putchar('\n');
		}
		r = st.any_invalid ? 2 : 0;
		if (fflush(stdout) != 0) {
			fprintf(stderr, "podfencectl check: writing output: %s\n", strerror(errno));
			r = 1;
		}
	}
out:
	pf_jgen_done(&st.j);
	for (size_t i = 0; i < st.n_seen; i++) {
		free(st.seen[i].namespace);
		free(st.seen[i].name);
		free(st.seen[i].file);
	}
	free(st.seen);
	return r;
}
