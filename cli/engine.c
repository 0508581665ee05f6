/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl status and reload: ask the running engine over its control socket. */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"
#include "doc.h"
#include "query.h"

static int call(const struct pf_cli *cli, int (*build)(char **), struct pf_node **out, char **raw)
{
	struct pf_error err = {0};
	_cleanup_free_ char *req = NULL, *reply = NULL;
	struct pf_node *n = NULL;
	const struct pf_node *ok;
	bool reached;

	if (build(&req) < 0) {
		fprintf(stderr, "podfencectl: out of memory\n");
		return -ENOMEM;
	}
	/* The engine is told how long we wait, so a slow reload is answered, not cut off. */
	if (pf_ctl_request(cli->socket, req, PF_CTL_DEFAULT_TIMEOUT_MS, PF_CTL_SEND_DEADLINE,
			   &reply, &reached, &err) < 0) {
		fprintf(stderr, "podfencectl: %s (is podfenced running?)\n", err.msg);
		return -EIO;
	}
	if (pf_json_parse(reply, strlen(reply), NULL, &n, &err) < 0) {
		fprintf(stderr, "podfencectl: malformed reply from the engine: %s\n", err.msg);
		return -EIO;
	}
	ok = pf_node_get(n, "ok");
	if (!ok || ok->type != PF_NODE_BOOL || !ok->b) {
		const char *e = pf_node_str(n, "error");

		fprintf(stderr, "podfencectl: the engine refused: %s\n",
			e ? e : "(no reason given)");
		pf_node_free(n);
		return -EIO;
	}
	*out = n;
	if (raw)
		*raw = PF_TAKE_PTR(reply);
	return 0;
}

/* Print a reply as indented "key: value" lines; lists of objects as one line each. */
static void print_node(const struct pf_node *n, int depth)
{
	for (size_t i = 0; i < n->n; i++) {
		const struct pf_node *v = n->items[i];
		const char *k = n->type == PF_NODE_MAP ? n->keys[i] : NULL;

		if (k && !strcmp(k, "ok"))
			continue;
		printf("%*s", depth * 2, "");
		if (k)
			printf("%s:", k);
		switch (v->type) {
		case PF_NODE_MAP:
		case PF_NODE_SEQ:
			if (v->type == PF_NODE_SEQ && v->n == 0) {
				printf(" -\n");
				break;
			}
			printf("%s", k ? "\n" : "-\n");
			print_node(v, depth + 1);
			break;
		case PF_NODE_NULL:
			printf(" -\n");
			break;
		default:
			printf(" %s\n",
			       v->str ? v->str
				      : (v->type == PF_NODE_BOOL ? (v->b ? "true" : "false") : ""));
		}
	}
}

int cmd_status(const struct pf_cli *cli, int argc, char **argv)
{
	_cleanup_free_ char *raw = NULL;
	struct pf_node *n = NULL;
	struct pf_store *s;

	if (argc > 1) {
		fprintf(stderr, "podfencectl status: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	if (call(cli, pf_ctl_msg_status, &n, &raw) < 0)
		return 1;
	if (cli->output == PF_OUTPUT_JSON) {
		printf("%s\n", raw);
		pf_node_free(n);
		return 0;
	}
	printf("engine: running (socket %s)\n", cli->socket);
	{
		const struct pf_node *c = pf_node_get(n, "cache");
		bool stale = false;

		/* the one thing an operator must not miss */
		if (c && pf_node_bool(c, "stale", &stale) == 0 && stale)
			printf("WARNING: verdict cache stale (%s): the last build failed: %s\n",
			       pf_strna(pf_node_str(c, "source")),
			       pf_strna(pf_node_str(c, "last_build_error")));
	}
	print_node(n, 1);
	pf_node_free(n);
	/* What the store says, next to what the engine says. */
	s = pf_cli_open_store(cli);
	if (!s)
		return 1;
	printf("store: %s (schema %d)\n", cli->db, pf_store_schema_version(s));
	pf_cli_print_query(
	    cli, pf_store_db(s),
	    "SELECT (SELECT count(*) FROM policies WHERE in_force = 1) AS policies_in_force, "
	    "(SELECT count(*) FROM policies WHERE valid = 0) AS invalid, "
	    "(SELECT count(*) FROM pods) AS pods, "
	    "(SELECT count(*) FROM applied_policies) AS applied_rules, "
	    "(SELECT count(*) FROM recent_events) AS events",
	    NULL, 0, NULL, true);
	pf_store_close(s);
	return 0;
}

int cmd_reload(const struct pf_cli *cli, int argc, char **argv)
{
	_cleanup_free_ char *raw = NULL;
	struct pf_node *n = NULL;

	if (argc > 1) {
		fprintf(stderr, "podfencectl reload: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	if (call(cli, pf_ctl_msg_reload, &n, &raw) < 0)
		return 1;
	if (cli->output == PF_OUTPUT_JSON)
		printf("%s\n", raw);
	else
		printf("reloaded\n");
	pf_node_free(n);
	return 0;
}
