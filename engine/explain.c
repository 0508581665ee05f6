/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The explain request: a connection judged by the cache in place and the pods registered now,
 * exactly as the next SYN would be (engine/verdict.c), with the Audit policies' opinion. */
#include <stdio.h>

#include "cache.h"
#include "explain.h"
#include "json-gen.h"
#include "pods.h"
#include "reload.h"

/* A pod's answers, as verdict.c judges a SYN from src: its own address by its own entry,
 * anything else by the pod's group; refused while it is unresolved. */
static void judge(const struct pf_cache *cache, const struct pf_pod *p, const struct pf_addr *src,
		  const struct pf_addr *dst, uint16_t port, struct pf_verdict *v,
		  struct pf_verdict *av)
{
	uint32_t g = PF_CACHE_NO_GROUP;
	bool own = false;

	cache = pf_pod_cache(p, cache);
	for (size_t i = 0; p && i < p->n_ips; i++)
		own = own || pf_addr_eq(&p->ips[i], src);
	if (!p || (own && !p->unresolved))
		g = pf_cache_source_group(cache, src);
	if (p && g == PF_CACHE_NO_GROUP)
		g = p->cache_group;
	pf_cache_lookup_group(cache, g, dst, port, v);
	if (p && p->unresolved && (v->action == PF_ACTION_ALLOW || v->action == PF_ACTION_ALERT))
		v->action = PF_ACTION_DENY;
	memset(av, 0, sizeof(*av));
	if (pf_cache_audit(cache))
		pf_cache_lookup(pf_cache_audit(cache), src, dst, port, av);
}

static void verdict_json(struct pf_jgen *j, const struct pf_pod *p, const struct pf_addr *src,
			 const struct pf_addr *dst, uint16_t port, const struct pf_verdict *v,
			 const struct pf_verdict *av)
{
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];

	pf_jgen_map_open(j);
	pf_jgen_kv_str(j, "pod_namespace", p ? p->namespace : NULL);
	pf_jgen_kv_str(j, "pod_name", p ? p->name : NULL);
	pf_jgen_kv_str(j, "src", pf_addr_fmt(src, s));
	pf_jgen_kv_str(j, "dst", pf_addr_fmt(dst, d));
	pf_jgen_kv_uint(j, "dport", port);
	pf_jgen_kv_str(j, "action", pf_action_to_string(v->action));
	pf_jgen_kv_bool(j, "matched", v->matched);
	pf_jgen_kv_str(j, "kind", v->matched ? pf_policy_kind_string(v->cluster) : NULL);
	pf_jgen_kv_str(j, "policy_namespace",
		       v->matched && !v->cluster ? v->policy_namespace : NULL);
	pf_jgen_kv_str(j, "policy_name", v->matched ? v->policy_name : NULL);
	pf_jgen_key(j, "rule_index");
	if (v->matched)
		pf_jgen_int(j, v->rule_index);
	else
		pf_jgen_null(j);
	pf_jgen_kv_str(j, "passed_by", v->pass_name);
	pf_jgen_kv_int(j, "pass_rule_index", v->pass_rule_index);
	pf_jgen_kv_bool(j, "unresolved", p && p->unresolved);
	pf_jgen_key(j, "audit");
	if (pf_audit_disagrees(v, av)) {
		pf_jgen_map_open(j);
		pf_jgen_kv_str(j, "action", pf_action_to_string(av->action));
		pf_jgen_kv_str(j, "kind", pf_policy_kind_string(av->cluster));
		pf_jgen_kv_str(j, "policy_namespace", av->cluster ? NULL : av->policy_namespace);
		pf_jgen_kv_str(j, "policy_name", av->policy_name);
		pf_jgen_kv_int(j, "rule_index", av->rule_index);
		pf_jgen_map_close(j);
	} else {
		pf_jgen_null(j);
	}
	pf_jgen_map_close(j);
}

/* from: "NAMESPACE/NAME", "NAME" (namespace default), a container id, or an address. */
static bool pod_matches(const struct pf_pod *p, const char *from, const struct pf_addr *ip,
			bool is_ip)
{
	const char *slash = strchr(from, '/');

	if (is_ip) {
		for (size_t i = 0; i < p->n_ips; i++)
			if (pf_addr_eq(&p->ips[i], ip))
				return true;
		return false;
	}
	if (slash)
		return strlen(p->namespace) == (size_t)(slash - from) &&
		       !strncmp(p->namespace, from, (size_t)(slash - from)) &&
		       !strcmp(p->name, slash + 1);
	if (!strcmp(p->namespace, "default") && !strcmp(p->name, from))
		return true;
	for (size_t i = 0; i < p->n_containers; i++)
		if (!p->containers[i]->dead && pf_streq(p->containers[i]->id, from))
			return true;
	return false;
}

int pf_explain_json(struct pf_pods *pods, struct pf_reload *reload, const char *from,
		    const struct pf_addr *dst, uint16_t port, char **out, struct pf_error *err)
{
	const struct pf_cache *cache = pf_reload_cache(reload);
	_cleanup_jgen_ struct pf_jgen j = {0};
	struct pf_verdict v, av;
	struct pf_addr ip;
	bool is_ip = pf_addr_parse(from, &ip) == 0;
	size_t n = 0;

	if (!cache)
		return pf_error_set(err, EAGAIN, "no verdict cache in place yet");
	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_bool(&j, "ok", true);
	pf_jgen_kv_str(&j, "source", "engine");
	pf_jgen_kv_uint(&j, "generation", pf_reload_generation(reload));
	pf_jgen_key(&j, "results");
	pf_jgen_array_open(&j);
	for (struct pf_pod *p = pf_pods_list(pods); p && n < PF_EXPLAIN_MAX_RESULTS; p = p->next) {
		if (p->dead || !pod_matches(p, from, &ip, is_ip))
			continue;
		if (is_ip) {
			judge(cache, p, &ip, dst, port, &v, &av);
			verdict_json(&j, p, &ip, dst, port, &v, &av);
			n++;
			continue;
		}
		for (size_t i = 0; i < p->n_ips && n < PF_EXPLAIN_MAX_RESULTS; i++, n++) {
			judge(cache, p, &p->ips[i], dst, port, &v, &av);
			verdict_json(&j, p, &p->ips[i], dst, port, &v, &av);
		}
	}
	/* An address no pod owns: judged by the cache as such (what a spoofed source of no
	 * registered pod would meet, were it queued). */
	if (n == 0 && is_ip) {
		judge(cache, NULL, &ip, dst, port, &v, &av);
		verdict_json(&j, NULL, &ip, dst, port, &v, &av);
		n++;
	}
	pf_jgen_array_close(&j);
	pf_jgen_map_close(&j);
	if (n == 0)
		return pf_error_set(err, ENOENT, "no registered pod '%.200s' with an address",
				    from);
	return pf_jgen_take(&j, out) < 0 ? pf_error_set(err, ENOMEM, "out of memory") : 0;
}
