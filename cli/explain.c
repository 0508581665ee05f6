/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl explain: which verdict a connection gets, and which policy rule decides it. */
#include <getopt.h>
#include <stdio.h>

#include "cache.h"
#include "ctl.h"
#include "doc.h"
#include "json-gen.h"
#include "query.h"

/* The running engine's default action, when it answers within a moment: that is what the
 * connection really gets, whatever the configuration file says. */
static int engine_default_action(const struct pf_cli *cli)
{
	_cleanup_free_ char *req = NULL, *reply = NULL;
	struct pf_node *n = NULL;
	const char *a;
	int r = -ENOENT;

	if (pf_ctl_msg_status(&req) < 0 || pf_ctl_call(cli->socket, req, 500, &reply, NULL) < 0)
		return -ENOENT;
	if (pf_json_parse(reply, strlen(reply), NULL, &n, NULL) == 0 &&
	    (a = pf_node_str(n, "default_action")))
		r = pf_action_from_string(a);
	if (r == PF_ACTION_PASS)
		r = -EINVAL;
	pf_node_free(n);
	return r;
}

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
	if (!v->matched ||
	    pf_store_rule_text(s, v->policy_namespace, v->policy_name, v->rule_index, &d, &p) < 0)
		return;
	snprintf(dst, dlen, "%s", d);
	snprintf(ports, plen, "%s", p);
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
			"Usage: podfencectl explain --from NAMESPACE/POD|IP --to IP --port N\n");
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
		fprintf(stderr,
			"podfencectl explain: default action must be Allow, Deny, Reject or Alert, "
			"not '%s'\n",
			def);
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
	} else {
		free(PF_TAKE_PTR(src));
		if (find_pod_ips(s, from, &src, &n_src) < 0) {
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
	if (json) {
		if (pf_jgen_init(&j, PF_JGEN_PRETTY) < 0)
			goto out;
		pf_jgen_array_open(&j);
	}
	rc = 0;
	for (size_t i = 0; i < n_src; i++) {
		struct pf_verdict v, ref;
		char sbuf[PF_ADDR_STRLEN], dbuf[PF_ADDR_STRLEN], dtext[512], ptext[256];

		pf_cache_lookup(cache, &src[i], &dst, (uint16_t)port, &v);
		/* The cache must agree with the plain walk over the rules; say so if it does not.
		 */
		pf_ruleset_eval(rs, (enum pf_action)action, &src[i], &dst, (uint16_t)port, &ref);
		if (v.action != ref.action || v.rule_index != ref.rule_index ||
		    !pf_streq(v.policy_name, ref.policy_name) || v.cluster != ref.cluster ||
		    !pf_streq(v.pass_name, ref.pass_name) ||
		    v.pass_rule_index != ref.pass_rule_index) {
			fprintf(stderr,
				"podfencectl explain: internal error: cache and rules disagree for "
				"%s\n",
				pf_addr_fmt(&src[i], sbuf));
			rc = 1;
		}
		struct pf_verdict av;

		/* Audit policies: what the first one with a matching rule would decide */
		pf_ruleset_eval_audit(rs, &src[i], &dst, (uint16_t)port, &av);
		rule_text(s, &v, dtext, sizeof(dtext), ptext, sizeof(ptext));
		pf_addr_fmt(&src[i], sbuf);
		pf_addr_fmt(&dst, dbuf);
		if (json) {
			pf_jgen_map_open(&j);
			pf_jgen_kv_str(&j, "from", from);
			pf_jgen_kv_str(&j, "src", sbuf);
			pf_jgen_kv_str(&j, "dst", dbuf);
			pf_jgen_kv_uint(&j, "dport", port);
			pf_jgen_kv_str(&j, "action", pf_action_to_string(v.action));
			pf_jgen_kv_bool(&j, "matched", v.matched);
			pf_jgen_kv_str(&j, "policy_namespace",
				       v.matched && !v.cluster ? v.policy_namespace : NULL);
			pf_jgen_kv_str(&j, "policy_name", v.matched ? v.policy_name : NULL);
			pf_jgen_key(&j, "rule_index");
			if (v.matched)
				pf_jgen_int(&j, v.rule_index);
			else
				pf_jgen_null(&j);
			pf_jgen_kv_str(&j, "destination", v.matched ? dtext : NULL);
			pf_jgen_kv_str(&j, "ports", v.matched ? ptext : NULL);
			pf_jgen_kv_str(&j, "kind",
				       v.matched ? pf_policy_kind_string(v.cluster) : NULL);
			/* the cluster policy whose Pass handed the connection to the namespaced
			 * tier */
			pf_jgen_key(&j, "passed_by");
			if (v.pass_name) {
				pf_jgen_map_open(&j);
				pf_jgen_kv_str(&j, "kind", PF_POLICY_KIND_CLUSTER);
				pf_jgen_kv_str(&j, "policy_name", v.pass_name);
				pf_jgen_kv_int(&j, "rule_index", v.pass_rule_index);
				pf_jgen_map_close(&j);
			} else {
				pf_jgen_null(&j);
			}
			/* an Audit policy that would decide otherwise (never the verdict) */
			pf_jgen_key(&j, "audit");
			if (pf_audit_disagrees(&v, &av)) {
				pf_jgen_map_open(&j);
				pf_jgen_kv_str(&j, "action", pf_action_to_string(av.action));
				pf_jgen_kv_str(&j, "kind", pf_policy_kind_string(av.cluster));
				pf_jgen_kv_str(&j, "policy_namespace",
					       av.cluster ? NULL : av.policy_namespace);
				pf_jgen_kv_str(&j, "policy_name", av.policy_name);
				pf_jgen_kv_int(&j, "rule_index", av.rule_index);
				pf_jgen_map_close(&j);
			} else {
				pf_jgen_null(&j);
			}
			pf_jgen_kv_str(&j, "source", "store");
			pf_jgen_map_close(&j);
		} else {
			printf("%s -> %s:%u: %s\n", sbuf, dbuf, port,
			       pf_action_to_string(v.action));
			if (v.pass_name)
				printf(
				    "  passed down by ClusterFencePolicy %s (rule %d: Pass): the "
				    "namespaced policies decide\n",
				    v.pass_name, v.pass_rule_index);
			if (v.matched && v.cluster)
				printf("  decided by ClusterFencePolicy %s (rule %d: %s to %s, "
				       "ports %s)\n",
				       v.policy_name, v.rule_index, pf_action_to_string(v.action),
				       dtext, ptext);
			else if (v.matched)
				printf("  decided by policy %s/%s (rule %d: %s to %s, ports %s)\n",
				       v.policy_namespace, v.policy_name, v.rule_index,
				       pf_action_to_string(v.action), dtext, ptext);
			else
				printf("  no policy rule matches: the engine's default action "
				       "decides\n");
			if (pf_audit_disagrees(&v, &av))
				printf("  an Audit policy would %s this: %s %s%s%s (rule %d); "
				       "recorded, not enforced\n",
				       pf_action_to_string(av.action),
				       pf_policy_kind_string(av.cluster),
				       av.cluster ? "" : av.policy_namespace, av.cluster ? "" : "/",
				       av.policy_name, av.rule_index);
		}
	}
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
