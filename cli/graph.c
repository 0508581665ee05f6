/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl graph: who may reach whom, from the policies in force, as DOT or JSON. */
#include <getopt.h>
#include <stdio.h>

#include "json-gen.h"
#include "query.h"

/* Every (target, destination) of every rule in force, in evaluation order. */
static const char graph_sql[] =
    "SELECT t.kind, t.namespace, t.name, "
    "CASE WHEN pe.kind IS NOT NULL THEN pe.kind WHEN pe.cidr IS NOT NULL THEN 'CIDR' "
    "ELSE 'Any' END, coalesce(pe.namespace, ''), coalesce(pe.name, pe.cidr, '*'), "
    "r.action, r.ports, pol.namespace, pol.name, r.rule_index, pol.mode, pol.kind "
    "FROM policy pol JOIN policy_target t ON t.policy_id = pol.id "
    "JOIN policy_rule r ON r.policy_id = pol.id "
    "LEFT JOIN rule_peer pe ON pe.policy_id = r.policy_id AND pe.rule_index = r.rule_index "
    "WHERE pol.in_force = 1 AND (?1 = '' OR t.namespace = ?1) "
    "ORDER BY pol.kind = 'FencePolicy', pol.priority, pol.namespace, pol.name, r.rule_index, "
    "t.idx, pe.idx";

/* Colours by action, the same in every graph (a legend in podfencectl(8)). */
static const char *action_colour(const char *a)
{
	if (pf_streq(a, "Allow"))
		return "#2e7d32";
	if (pf_streq(a, "Deny"))
		return "#c62828";
	if (pf_streq(a, "Reject"))
		return "#ef6c00";
	if (pf_streq(a, "Alert"))
		return "#1565c0";
	return "#757575"; /* Pass */
}

/* A node's id: "Kind namespace/name", "CIDR 10.0.0.0/8" or "any destination". */
static int node_id(const char *kind, const char *ns, const char *name, char **out)
{
	if (pf_streq(kind, "Any"))
		return (*out = strdup("any destination")) ? 0 : -ENOMEM;
	if (pf_streq(kind, "CIDR") || pf_streq(kind, "Namespace"))
		return asprintf(out, "%s %s", kind, name) < 0 ? -ENOMEM : 0;
	return asprintf(out, "%s %s/%s", kind, ns, name) < 0 ? -ENOMEM : 0;
}

/* A DOT string: quotes and backslashes escaped, a newline as DOT's \n (a label's line
 * break), other control characters dropped. */
static void dot_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '\n')
			fputs("\\n", f);
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

struct nodes {
	char **id;
	const char **kind; /* static strings */
	size_t n, cap;
};

static const char *node_kind(const char *kind)
{
	return pf_streq(kind, "Any") ? "Any" : pf_streq(kind, "CIDR") ? "CIDR" : "Workload";
}

static int node_add(struct nodes *ns, const char *id, const char *kind)
{
	int r;

	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->id[i], id))
			return 0;
	r = pf_grow((void **)&ns->id, &ns->cap, ns->n, sizeof(*ns->id));
	if (r < 0)
		return r;
	/* kind has the same capacity as id: grow it alike */
	{
		const char **k = realloc(ns->kind, ns->cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		ns->kind = k;
	}
	ns->id[ns->n] = strdup(id);
	if (!ns->id[ns->n])
		return -ENOMEM;
	ns->kind[ns->n++] = node_kind(kind);
	return 0;
}

static void nodes_done(struct nodes *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->id[i]);
	free(ns->id);
	free(ns->kind);
}

int cmd_graph(const struct pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"namespace", required_argument, NULL, 'n'},
	    {},
	};
	const char *ns_filter = "";
	_cleanup_jgen_ struct pf_jgen j = {0};
	struct nodes nodes = {0};
	sqlite3_stmt *st = NULL;
	struct pf_store *s;
	bool json = cli->output == PF_OUTPUT_JSON;
	size_t n_edges = 0;
	int c, rc = 1, r;

	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns_filter = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "podfencectl graph: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli->output == PF_OUTPUT_TABLE && cli->output_set) {
		fprintf(stderr, "podfencectl graph: -o must be dot or json\n");
		return 2;
	}
	s = pf_cli_open_store(cli);
	if (!s)
		return 1;
	if (sqlite3_prepare_v2(pf_store_db(s), graph_sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "podfencectl graph: query failed: %s\n",
			sqlite3_errmsg(pf_store_db(s)));
		goto out;
	}
	sqlite3_bind_text(st, 1, ns_filter, -1, SQLITE_STATIC);
	if (json) {
		pf_jgen_init(&j, PF_JGEN_PRETTY);
		pf_jgen_map_open(&j);
		pf_jgen_key(&j, "edges");
		pf_jgen_array_open(&j);
	} else {
		printf("digraph podfence {\n"
		       "\trankdir=LR;\n"
		       "\tnode [fontname=\"sans-serif\", fontsize=10];\n"
		       "\tedge [fontname=\"sans-serif\", fontsize=9];\n");
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t[13];
		_cleanup_free_ char *from = NULL, *to = NULL, *label = NULL;
		char policy[600];
		bool audit, cluster;

		for (int i = 0; i < 13; i++)
			t[i] = (const char *)sqlite3_column_text(st, i);
		if (node_id(t[0], t[1], t[2], &from) < 0 || node_id(t[3], t[4], t[5], &to) < 0 ||
		    node_add(&nodes, from, t[0]) < 0 || node_add(&nodes, to, t[3]) < 0)
			goto oom;
		audit = pf_streq(t[11], "Audit");
		cluster = pf_streq(t[12], PF_POLICY_KIND_CLUSTER);
		snprintf(policy, sizeof(policy), "%s%s%s#%s", cluster ? "" : pf_strna(t[8]),
			 cluster ? "" : "/", pf_strna(t[9]), pf_strna(t[10]));
		n_edges++;
		if (json) {
			pf_jgen_map_open(&j);
			pf_jgen_kv_str(&j, "from", from);
			pf_jgen_kv_str(&j, "to", to);
			pf_jgen_kv_str(&j, "action", t[6]);
			pf_jgen_kv_str(&j, "ports", t[7]);
			pf_jgen_kv_str(&j, "policy_kind", t[12]);
			pf_jgen_kv_str(&j, "policy_namespace", cluster ? NULL : t[8]);
			pf_jgen_kv_str(&j, "policy_name", t[9]);
			pf_jgen_kv_int(&j, "rule_index", sqlite3_column_int(st, 10));
			pf_jgen_kv_str(&j, "mode", t[11]);
			pf_jgen_map_close(&j);
			continue;
		}
		if (asprintf(&label, "%s%s %s\n%s", audit ? "Audit " : "", pf_strna(t[6]),
			     pf_strna(t[7]), policy) < 0) {
			label = NULL;
			goto oom;
		}
		printf("\t");
		dot_str(stdout, from);
		printf(" -> ");
		dot_str(stdout, to);
		printf(" [label=");
		dot_str(stdout, label);
		printf(", color=\"%s\", fontcolor=\"%s\"%s];\n", action_colour(t[6]),
		       action_colour(t[6]), audit ? ", style=dashed" : "");
	}
	if (r != SQLITE_DONE) {
		fprintf(stderr, "podfencectl graph: query failed: %s\n",
			sqlite3_errmsg(pf_store_db(s)));
		goto out;
	}
	if (json) {
		pf_jgen_array_close(&j);
		pf_jgen_key(&j, "nodes");
		pf_jgen_array_open(&j);
		for (size_t i = 0; i < nodes.n; i++) {
			pf_jgen_map_open(&j);
			pf_jgen_kv_str(&j, "id", nodes.id[i]);
			pf_jgen_kv_str(&j, "kind", nodes.kind[i]);
			pf_jgen_map_close(&j);
		}
		pf_jgen_array_close(&j);
		pf_jgen_map_close(&j);
		if (pf_jgen_flush(&j, stdout) < 0) {
			fprintf(stderr, "podfencectl graph: cannot write the JSON output\n");
			goto out;
		}
	} else {
		for (size_t i = 0; i < nodes.n; i++) {
			printf("\t");
			dot_str(stdout, nodes.id[i]);
			printf(" [shape=%s];\n", !strcmp(nodes.kind[i], "Workload") ? "box"
						 : !strcmp(nodes.kind[i], "CIDR")   ? "ellipse"
										    : "octagon");
		}
		if (n_edges == 0) {
			char empty[300];

			snprintf(empty, sizeof(empty), "no policy in force%s%.200s",
				 *ns_filter ? " in " : "", ns_filter);
			printf("\t");
			dot_str(stdout, empty);
			printf(" [shape=plaintext];\n");
		}
		printf("}\n");
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
	goto out;
oom:
	fprintf(stderr, "podfencectl graph: out of memory\n");
out:
	sqlite3_finalize(st);
	nodes_done(&nodes);
	pf_store_close(s);
	return rc;
}
