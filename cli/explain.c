/* podfencectl explain: which verdict a connection gets, and which policy rule decides it. */
#include <getopt.h>
#include <stdio.h>
#include <yajl/yajl_gen.h>

#include "cache.h"
#include "ctl.h"
#include "doc.h"
#include "query.h"

/* The running engine's default action, when it answers within a moment: that is what the
 * connection really gets, whatever the configuration file says. */
static int engine_default_action(const struct pf_cli *cli)
{
	_cleanup_free_ char *reply = NULL;
	struct pf_node *n = NULL;
	const char *a;
	int r = -ENOENT;

	if (pf_ctl_call(cli->socket, "{\"op\":\"status\"}", 500, &reply, NULL) < 0)
		return -ENOENT;
	if (pf_json_parse(reply, strlen(reply), NULL, &n, NULL) == 0 &&
	    (a = pf_node_str(n, "default_action")))
		r = pf_action_from_string(a);
	if (r == PF_ACTION_PASS)
		r = -EINVAL;
	pf_node_free(n);
	return r;
}

static int find_pod_ips(sqlite3 *db, const char *pod, struct pf_addr **ips, size_t *n)
{
	static const char sql[] =
		"SELECT pi.ip FROM pod_ip pi JOIN pod p ON p.id = pi.pod_id "
		"WHERE p.namespace = ?1 AND p.name = ?2 "
		"UNION SELECT wi.ip FROM workload_ip wi JOIN workload w ON w.id = wi.workload_id "
		"WHERE w.kind = 'Pod' AND w.namespace = ?1 AND w.name = ?2 ORDER BY 1";
	_cleanup_free_ char *ns = NULL;
	const char *slash = strchr(pod, '/'), *name = slash ? slash + 1 : pod;
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;

	ns = slash ? pf_strndup0(pod, (size_t)(slash - pod)) : strdup("default");
	if (!ns)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct pf_addr a;

		if (pf_addr_parse((const char *)sqlite3_column_text(st, 0), &a) < 0)
			continue;
		if (pf_grow((void **)ips, &cap, *n, sizeof(**ips)) < 0) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		(*ips)[(*n)++] = a;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -EIO;
}

/* The rule's destination and ports as the store shows them. */
static void rule_text(sqlite3 *db, const struct pf_verdict *v, char *dst, size_t dlen, char *ports, size_t plen)
{
	static const char sql[] = "SELECT r.destination, r.ports FROM policy_rule r JOIN policy p ON "
				  "p.id = r.policy_id WHERE p.namespace = ?1 AND p.name = ?2 AND "
				  "r.rule_index = ?3";
	sqlite3_stmt *st;

	snprintf(dst, dlen, "-");
	snprintf(ports, plen, "-");
	if (!v->matched || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, v->policy_namespace, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v->policy_name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, v->rule_index);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(dst, dlen, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(ports, plen, "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
}

static void gen_str(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	if (v)
		yajl_gen_string(g, (const unsigned char *)v, strlen(v));
	else
		yajl_gen_null(g);
}

int cmd_explain(const struct pf_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"port", required_argument, NULL, 'p'},
		{"default-action", required_argument, NULL, 'd'},
		{},
	};
	const char *from = NULL, *to = NULL, *def = NULL;
	_cleanup_free_ struct pf_addr *src = NULL;
	struct pf_ruleset *rs = NULL;
	struct pf_cache *cache = NULL;
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_addr dst;
	size_t n_src = 0;
	uint32_t port = 0;
	int c, action, rc = 1;
	yajl_gen g = NULL;

	while ((c = getopt_long(argc, argv, "f:t:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'p':
			if (pf_parse_u32(optarg, 65535, &port) < 0 || port == 0) {
				fprintf(stderr, "podfencectl explain: --port must be 1..65535, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			def = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!from || !to || !port || optind < argc) {
		fprintf(stderr, "Usage: podfencectl explain --from NAMESPACE/POD|IP --to IP --port N\n");
		return 2;
	}
	/* --default-action, else the running engine's, else the configuration's, else Allow. */
	if (def)
		action = pf_action_from_string(def);
	else if ((action = engine_default_action(cli)) < 0) {
		def = pf_config_get(cli->config, "default_action");
		action = def ? pf_action_from_string(def) : PF_ACTION_ALLOW;
	}
	if (action < 0 || action == PF_ACTION_PASS) {
		fprintf(stderr, "podfencectl explain: default action must be Allow, Deny, Reject or Alert, not '%s'\n", def);
		return 2;
	}
	if (pf_addr_parse(to, &dst) < 0) {
		fprintf(stderr, "podfencectl explain: --to '%s' is not an IP address\n", to);
		return 2;
	}
	s = pf_cli_open_store(cli);
	if (!s)
		return 1;
	src = malloc(sizeof(*src));
	if (!src)
		goto out;
	if (pf_addr_parse(from, src) == 0) {
		n_src = 1;
	} else if (find_pod_ips(pf_store_db(s), from, &src, &n_src) < 0) {
		fprintf(stderr, "podfencectl explain: cannot read pods from %s\n", cli->db);
		goto out;
	} else if (n_src == 0) {
		fprintf(stderr, "podfencectl explain: no pod '%s' with an IP address is known (see podfencectl pods)\n",
			from);
		rc = 2;
		goto out;
	}
	if (pf_store_load_ruleset(s, &rs, &err) < 0) {
		fprintf(stderr, "podfencectl explain: %s\n", err.msg);
		goto out;
	}
	if (pf_cache_build(rs, (enum pf_action)action, &cache) < 0) {
		fprintf(stderr, "podfencectl explain: cannot build the verdict cache\n");
		goto out;
	}
	if (cli->output == PF_OUTPUT_JSON) {
		g = yajl_gen_alloc(NULL);
		if (!g)
			goto out;
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_array_open(g);
	}
	rc = 0;
	for (size_t i = 0; i < n_src; i++) {
		struct pf_verdict v, ref;
		char sbuf[PF_ADDR_STRLEN], dbuf[PF_ADDR_STRLEN], dtext[512], ptext[256];

		pf_cache_lookup(cache, &src[i], &dst, (uint16_t)port, &v);
		/* The cache must agree with the plain walk over the rules; say so if it does not. */
		pf_ruleset_eval(rs, (enum pf_action)action, &src[i], &dst, (uint16_t)port, &ref);
		if (v.action != ref.action || v.rule_index != ref.rule_index ||
		    !pf_streq(v.policy_name, ref.policy_name) || v.cluster != ref.cluster ||
		    !pf_streq(v.pass_name, ref.pass_name) || v.pass_rule_index != ref.pass_rule_index) {
			fprintf(stderr, "podfencectl explain: internal error: cache and rules disagree for %s\n",
				pf_addr_fmt(&src[i], sbuf));
			rc = 1;
		}
		rule_text(pf_store_db(s), &v, dtext, sizeof(dtext), ptext, sizeof(ptext));
		pf_addr_fmt(&src[i], sbuf);
		pf_addr_fmt(&dst, dbuf);
		if (g) {
			yajl_gen_map_open(g);
			gen_str(g, "from", from);
			gen_str(g, "src", sbuf);
			gen_str(g, "dst", dbuf);
			yajl_gen_string(g, (const unsigned char *)"dport", 5);
			yajl_gen_integer(g, port);
			gen_str(g, "action", pf_action_to_string(v.action));
			yajl_gen_string(g, (const unsigned char *)"matched", 7);
			yajl_gen_bool(g, v.matched);
			gen_str(g, "policy_namespace", v.matched && !v.cluster ? v.policy_namespace : NULL);
			gen_str(g, "policy_name", v.matched ? v.policy_name : NULL);
			yajl_gen_string(g, (const unsigned char *)"rule_index", 10);
			if (v.matched)
				yajl_gen_integer(g, v.rule_index);
			else
				yajl_gen_null(g);
			gen_str(g, "destination", v.matched ? dtext : NULL);
			gen_str(g, "ports", v.matched ? ptext : NULL);
			gen_str(g, "kind", v.matched ? pf_policy_kind_string(v.cluster) : NULL);
			/* the cluster policy whose Pass handed the connection to the namespaced tier */
			yajl_gen_string(g, (const unsigned char *)"passed_by", 9);
			if (v.pass_name) {
				yajl_gen_map_open(g);
				gen_str(g, "kind", PF_POLICY_KIND_CLUSTER);
				gen_str(g, "policy_name", v.pass_name);
				yajl_gen_string(g, (const unsigned char *)"rule_index", 10);
				yajl_gen_integer(g, v.pass_rule_index);
				yajl_gen_map_close(g);
			} else {
				yajl_gen_null(g);
			}
			yajl_gen_map_close(g);
		} else {
			printf("%s -> %s:%u: %s\n", sbuf, dbuf, port, pf_action_to_string(v.action));
			if (v.pass_name)
				printf("  passed down by ClusterFencePolicy %s (rule %d: Pass): the "
				       "namespaced policies decide\n",
				       v.pass_name, v.pass_rule_index);
			if (v.matched && v.cluster)
				printf("  decided by ClusterFencePolicy %s (rule %d: %s to %s, ports %s)\n",
				       v.policy_name, v.rule_index, pf_action_to_string(v.action),
				       dtext, ptext);
			else if (v.matched)
				printf("  decided by policy %s/%s (rule %d: %s to %s, ports %s)\n",
				       v.policy_namespace, v.policy_name, v.rule_index,
				       pf_action_to_string(v.action), dtext, ptext);
			else
				printf("  no policy rule matches: the engine's default action decides\n");
		}
	}
	if (g) {
		const unsigned char *buf;
		size_t len;

		yajl_gen_array_close(g);
		yajl_gen_get_buf(g, &buf, &len);
		fwrite(buf, 1, len, stdout);
		if (!len || buf[len - 1] != '\n')
			fputc('\n', stdout);
	}
out:
	if (g)
		yajl_gen_free(g);
	pf_cache_free(cache);
	pf_ruleset_free(rs);
	pf_store_close(s);
	return rc;
}
