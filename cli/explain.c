/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl explain: which verdict a connection gets, and which policy rule decides it. */
#include <getopt.h>
#include <stdio.h>

#include "cache.h"
#include "ctl.h"
#include "doc.h"
#include "json-gen.h"
#include "query.h"

/* NAMESPACE/POD, or POD in "default". */
static int find_pod_ips(struct pf_store *s, const char *pod, struct pf_addr **ips, size_t *n)
{
	_cleanup_free_ char *ns = NULL;
	const char *slash = strchr(pod, '/'), *name = slash ? slash + 1 : pod;

	ns = slash ? pf_strndup0(pod, (size_t)(slash - pod)) : strdup("default");
	if (!ns)
		return -ENOMEM;
	return pf_store_pod_ips(s, ns, name, ips, n);
}

/* The rule's destination and ports as the store shows them, "-" when unknown. */
static void rule_text(struct pf_store *s, const struct pf_verdict *v, char *dst, size_t dlen,
		      char *ports, size_t plen)
{
	_cleanup_free_ char *d = NULL, *p = NULL;

	snprintf(dst, dlen, "-");
	snprintf(ports, plen, "-");
	if (!s || !v->matched ||
	    pf_store_rule_text(s, v->policy_namespace, v->policy_name, v->rule_index, &d, &p) < 0)
		return;
	snprintf(dst, dlen, "%s", d);
	snprintf(ports, plen, "%s", p);
}

/* One answer, from the engine or the store, printed one way. */
struct answer {
	const char *pod_ns, *pod_name; /* NULL when not known */
	const char *src, *dst;
	uint32_t port;
	struct pf_verdict v, av; /* av: the Audit policies' answer */
};

/* Every policy that applies to the pod, in evaluation order (the store's applied_policies). */
static void considered(struct pf_store *s, const struct answer *a, struct pf_jgen *j)
{
	static const char sql[] =
	    "SELECT kind, policy_namespace, policy_name, priority, mode "
	    "FROM applied_policies WHERE pod_namespace = ?1 AND pod_name = ?2";
	_cleanup_free_ char *last = NULL;
	sqlite3_stmt *st = NULL;
	unsigned n = 0;

	if (j) {
		pf_jgen_key(j, "considered");
		pf_jgen_array_open(j);
	}
	if (s && a->pod_ns && a->pod_name &&
	    sqlite3_prepare_v2(pf_store_db(s), sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, a->pod_ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->pod_name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *kind = (const char *)sqlite3_column_text(st, 0),
				   *ns = (const char *)sqlite3_column_text(st, 1),
				   *name = (const char *)sqlite3_column_text(st, 2),
				   *mode = (const char *)sqlite3_column_text(st, 4);
			_cleanup_free_ char *key = NULL;

			/* a policy's rules are consecutive rows: one line per policy */
			if (asprintf(&key, "%s/%s/%s", pf_strna(kind), pf_strna(ns),
				     pf_strna(name)) < 0)
				break;
			if (pf_streq(key, last))
				continue;
			free(last);
			last = PF_TAKE_PTR(key);
			n++;
			if (j) {
				pf_jgen_map_open(j);
				pf_jgen_kv_str(j, "kind", kind);
				pf_jgen_kv_str(j, "namespace", ns);
				pf_jgen_kv_str(j, "name", name);
				pf_jgen_kv_int(j, "priority", sqlite3_column_int(st, 3));
				pf_jgen_kv_str(j, "mode", mode);
				pf_jgen_map_close(j);
			} else {
				if (n == 1)
					printf("  policies considered, in order:\n");
				printf("    %u. %s %s%s%s (priority %d%s)\n", n, pf_strna(kind),
				       ns ? ns : "", ns ? "/" : "", pf_strna(name),
				       sqlite3_column_int(st, 3),
				       pf_streq(mode, "Audit") ? ", Audit: not enforced" : "");
			}
		}
		sqlite3_finalize(st);
	}
	if (j)
		pf_jgen_array_close(j);
	else if (n == 0 && a->pod_name)
		printf("  no policy applies to %s/%s\n", a->pod_ns, a->pod_name);
}

static void print_answer(struct pf_store *s, const char *from, const struct answer *a,
			 const char *source, struct pf_jgen *j)
{
	const struct pf_verdict *v = &a->v, *av = &a->av;
	char dtext[512], ptext[256];

	rule_text(s, v, dtext, sizeof(dtext), ptext, sizeof(ptext));
	if (j) {
		pf_jgen_map_open(j);
		pf_jgen_kv_str(j, "from", from);
		pf_jgen_kv_str(j, "src", a->src);
		pf_jgen_kv_str(j, "dst", a->dst);
		pf_jgen_kv_uint(j, "dport", a->port);
		pf_jgen_kv_str(j, "action", pf_action_to_string(v->action));
		pf_jgen_kv_bool(j, "matched", v->matched);
		pf_jgen_kv_str(j, "policy_namespace",
			       v->matched && !v->cluster ? v->policy_namespace : NULL);
		pf_jgen_kv_str(j, "policy_name", v->matched ? v->policy_name : NULL);
		pf_jgen_key(j, "rule_index");
		if (v->matched)
			pf_jgen_int(j, v->rule_index);
		else
			pf_jgen_null(j);
		pf_jgen_kv_str(j, "destination", v->matched ? dtext : NULL);
		pf_jgen_kv_str(j, "ports", v->matched ? ptext : NULL);
		pf_jgen_kv_str(j, "kind", v->matched ? pf_policy_kind_string(v->cluster) : NULL);
		/* the cluster policy whose Pass handed the connection to the namespaced tier */
		pf_jgen_key(j, "passed_by");
		if (v->pass_name) {
			pf_jgen_map_open(j);
			pf_jgen_kv_str(j, "kind", PF_POLICY_KIND_CLUSTER);
			pf_jgen_kv_str(j, "policy_name", v->pass_name);
			pf_jgen_kv_int(j, "rule_index", v->pass_rule_index);
			pf_jgen_map_close(j);
		} else {
			pf_jgen_null(j);
		}
		/* an Audit policy that would decide otherwise (never the verdict) */
		pf_jgen_key(j, "audit");
		if (pf_audit_disagrees(v, av)) {
			pf_jgen_map_open(j);
			pf_jgen_kv_str(j, "action", pf_action_to_string(av->action));
			pf_jgen_kv_str(j, "kind", pf_policy_kind_string(av->cluster));
			pf_jgen_kv_str(j, "policy_namespace",
				       av->cluster ? NULL : av->policy_namespace);
			pf_jgen_kv_str(j, "policy_name", av->policy_name);
			pf_jgen_kv_int(j, "rule_index", av->rule_index);
			pf_jgen_map_close(j);
		} else {
			pf_jgen_null(j);
		}
		pf_jgen_kv_str(j, "source", source);
		considered(s, a, j);
		pf_jgen_map_close(j);
		return;
	}
	printf("%s -> %s:%u: %s\n", a->src, a->dst, a->port, pf_action_to_string(v->action));
	if (v->pass_name)
		printf("  passed down by ClusterFencePolicy %s (rule %d: Pass): the "
		       "namespaced policies decide\n",
		       v->pass_name, v->pass_rule_index);
	if (v->matched && v->cluster)
		printf("  decided by ClusterFencePolicy %s (rule %d: %s to %s, ports %s)\n",
		       v->policy_name, v->rule_index, pf_action_to_string(v->action), dtext, ptext);
	else if (v->matched)
		printf("  decided by policy %s/%s (rule %d: %s to %s, ports %s)\n",
		       v->policy_namespace, v->policy_name, v->rule_index,
		       pf_action_to_string(v->action), dtext, ptext);
	else
		printf("  no policy rule matches: the engine's default action decides\n");
	if (pf_audit_disagrees(v, av))
		printf("  an Audit policy would %s this: %s %s%s%s (rule %d); recorded, not "
		       "enforced\n",
		       pf_action_to_string(av->action), pf_policy_kind_string(av->cluster),
		       av->cluster ? "" : av->policy_namespace, av->cluster ? "" : "/",
		       av->policy_name, av->rule_index);
	considered(s, a, NULL);
}

/* A verdict as the engine's explain answer writes it (engine/explain.c). */
static int verdict_from_node(const struct pf_node *r, struct pf_verdict *v, struct pf_verdict *av)
{
	const struct pf_node *au = pf_node_get(r, "audit");
	int64_t i = -1;
	int a;
	bool b = false;

	memset(v, 0, sizeof(*v));
	memset(av, 0, sizeof(*av));
	a = pf_action_from_string(pf_node_str(r, "action"));
	if (a < 0)
		return -EINVAL;
	v->action = (enum pf_action)a;
	pf_node_bool(r, "matched", &b);
	v->matched = b;
	v->cluster = pf_streq(pf_node_str(r, "kind"), PF_POLICY_KIND_CLUSTER);
	v->policy_namespace = v->cluster ? "" : pf_node_str(r, "policy_namespace");
	v->policy_name = pf_node_str(r, "policy_name");
	v->rule_index = pf_node_int(r, "rule_index", &i) == 0 ? (int32_t)i : -1;
	v->pass_name = pf_node_str(r, "passed_by");
	v->pass_rule_index = pf_node_int(r, "pass_rule_index", &i) == 0 ? (int32_t)i : -1;
	if (au && au->type == PF_NODE_MAP) {
		a = pf_action_from_string(pf_node_str(au, "action"));
		if (a < 0)
			return -EINVAL;
		av->action = (enum pf_action)a;
		av->matched = true;
		av->cluster = pf_streq(pf_node_str(au, "kind"), PF_POLICY_KIND_CLUSTER);
		av->policy_namespace = pf_node_str(au, "policy_namespace");
		av->policy_name = pf_node_str(au, "policy_name");
		av->rule_index = pf_node_int(au, "rule_index", &i) == 0 ? (int32_t)i : -1;
	}
	if (!av->matched)
		av->action = v->action; /* nothing to say */
	return 0;
}

/*
 * Ask the running engine: its live cache and pods answer what the next SYN gets. 1 when it
 * answered (printed), 0 when no engine answers (the store decides), negative (reported) when
 * the engine refused the question (exit 2).
 */
static int explain_engine(const struct pf_cli *cli, const char *from, const char *to, uint32_t port,
			  struct pf_jgen *j)
{
	_cleanup_free_ char *req = NULL, *reply = NULL;
	_cleanup_jgen_ struct pf_jgen q = {0};
	struct pf_node *n = NULL;
	const struct pf_node *res;
	struct pf_store *s;
	bool ok = false;
	int64_t gen = 0;

	pf_jgen_init(&q, 0);
	pf_jgen_map_open(&q);
	pf_jgen_kv_str(&q, "op", "explain");
	pf_jgen_kv_str(&q, "from", from);
	pf_jgen_kv_str(&q, "to", to);
	pf_jgen_kv_uint(&q, "port", port);
	pf_jgen_map_close(&q);
	if (pf_jgen_take(&q, &req) < 0 || pf_ctl_call(cli->socket, req, 1000, &reply, NULL) < 0 ||
	    pf_json_parse(reply, strlen(reply), NULL, &n, NULL) < 0)
		return 0;
	pf_node_bool(n, "ok", &ok);
	if (!ok) {
		const char *e = pf_node_str(n, "error");

		/* an engine from before explain existed: the store answers */
		if (e && strstr(e, "unknown op")) {
			pf_node_free(n);
			return 0;
		}
		fprintf(stderr, "podfencectl explain: the engine says: %s\n", pf_strna(e));
		pf_node_free(n);
		return -EINVAL;
	}
	pf_node_int(n, "generation", &gen);
	res = pf_node_get(n, "results");
	s = pf_cli_open_store(cli); /* for rule texts and the policies considered; may be NULL */
	if (!j)
		printf("(from the running engine: cache generation %lld)\n", (long long)gen);
	for (size_t i = 0; res && res->type == PF_NODE_SEQ && i < res->n; i++) {
		const struct pf_node *r = res->items[i];
		struct answer a = {
		    .pod_ns = pf_node_str(r, "pod_namespace"),
		    .pod_name = pf_node_str(r, "pod_name"),
		    .src = pf_node_str(r, "src"),
		    .dst = pf_node_str(r, "dst"),
		    .port = port,
		};

		if (!a.src || !a.dst || verdict_from_node(r, &a.v, &a.av) < 0)
			continue;
		print_answer(s, from, &a, "engine", j);
	}
	pf_store_close(s);
	pf_node_free(n);
	return 1;
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
	_cleanup_free_ char *pod_ns = NULL;
	const char *pod_name = NULL;
	struct pf_ruleset *rs = NULL;
	struct pf_cache *cache = NULL;
	struct pf_error err = {0};
	struct pf_store *s = NULL;
	struct pf_addr dst;
	size_t n_src = 0;
	uint32_t port = 0;
	int c, action, rc = 1, r;
	_cleanup_jgen_ struct pf_jgen j = {0};
	bool json = cli->output == PF_OUTPUT_JSON;

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
				fprintf(stderr,
					"podfencectl explain: --port must be 1..65535, not '%s'\n",
					optarg);
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
		fprintf(stderr,
			"Usage: podfencectl explain --from NAMESPACE/POD|IP|CONTAINER --to IP "
			"--port N\n");
		return 2;
	}
	if (pf_addr_parse(to, &dst) < 0) {
		fprintf(stderr, "podfencectl explain: --to '%s' is not an IP address\n", to);
		return 2;
	}
	if (json) {
		if (pf_jgen_init(&j, PF_JGEN_PRETTY) < 0)
			return 1;
		pf_jgen_array_open(&j);
	}
	/* The running engine answers what the next SYN gets, unless a default action to try
	 * was given (a what-if the engine's own cache cannot answer). */
	if (!def) {
		r = explain_engine(cli, from, to, port, json ? &j : NULL);
		if (r < 0)
			return 2;
		if (r > 0) {
			rc = 0;
			goto flush;
		}
	}
	/* --default-action, else the configuration's, else Allow. */
	if (!def)
		def = pf_config_get(cli->config, "default_action");
	action = def ? pf_action_from_string(def) : PF_ACTION_ALLOW;
	if (action < 0 || action == PF_ACTION_PASS) {
		fprintf(stderr,
			"podfencectl explain: default action must be Allow, Deny, Reject or Alert, "
			"not '%s'\n",
			def);
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
	} else {
		const char *slash = strchr(from, '/');

		free(PF_TAKE_PTR(src));
		pod_ns = slash ? pf_strndup0(from, (size_t)(slash - from)) : strdup("default");
		pod_name = slash ? slash + 1 : from;
		if (!pod_ns || find_pod_ips(s, from, &src, &n_src) < 0) {
			fprintf(stderr, "podfencectl explain: cannot read pods from %s\n", cli->db);
			goto out;
		}
		if (n_src == 0) {
			fprintf(stderr,
				"podfencectl explain: no pod '%s' with an IP address is known (see "
				"podfencectl pods)\n",
				from);
			rc = 2;
			goto out;
		}
	}
	if (pf_store_load_ruleset(s, &rs, &err) < 0) {
		fprintf(stderr, "podfencectl explain: %s\n", err.msg);
		goto out;
	}
	if (pf_cache_build(rs, (enum pf_action)action, &cache) < 0) {
		fprintf(stderr, "podfencectl explain: cannot build the verdict cache\n");
		goto out;
	}
	if (!json)
		printf("(from the store: no engine answered on %s; default action %s)\n",
		       cli->socket, pf_action_to_string((enum pf_action)action));
	rc = 0;
	for (size_t i = 0; i < n_src; i++) {
		struct pf_verdict ref;
		char sbuf[PF_ADDR_STRLEN], dbuf[PF_ADDR_STRLEN];
		struct answer a = {.pod_ns = pod_ns, .pod_name = pod_name, .port = port};

		pf_cache_lookup(cache, &src[i], &dst, (uint16_t)port, &a.v);
		/* The cache must agree with the plain walk over the rules; say so if it does not.
		 */
		pf_ruleset_eval(rs, (enum pf_action)action, &src[i], &dst, (uint16_t)port, &ref);
		if (a.v.action != ref.action || a.v.rule_index != ref.rule_index ||
		    !pf_streq(a.v.policy_name, ref.policy_name) || a.v.cluster != ref.cluster ||
		    !pf_streq(a.v.pass_name, ref.pass_name) ||
		    a.v.pass_rule_index != ref.pass_rule_index) {
			fprintf(stderr,
				"podfencectl explain: internal error: cache and rules disagree for "
				"%s\n",
				pf_addr_fmt(&src[i], sbuf));
			rc = 1;
		}
		/* Audit policies: what the first one with a matching rule would decide */
		pf_ruleset_eval_audit(rs, &src[i], &dst, (uint16_t)port, &a.av);
		a.src = pf_addr_fmt(&src[i], sbuf);
		a.dst = pf_addr_fmt(&dst, dbuf);
		print_answer(s, from, &a, "store", json ? &j : NULL);
	}
flush:
	if (json) {
		pf_jgen_array_close(&j);
		if (pf_jgen_flush(&j, stdout) < 0) {
			fprintf(stderr, "podfencectl explain: cannot write the JSON output\n");
			rc = 1;
		}
	}
out:
	pf_cache_free(cache);
	pf_ruleset_free(rs);
	pf_store_close(s);
	return rc;
}
