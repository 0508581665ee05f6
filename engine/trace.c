/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live verdicts for `podfencectl trace`: per-subscriber rings filled by the verdict path. */
#include <stdio.h>
#include <sys/socket.h>

#include "json-gen.h"
#include "pods.h"
#include "trace.h"

/* A line as the verdict path leaves it: copies only (the pod and the cache may be gone by
 * the time it is sent). Names longer than the fields are cut. */
struct trace_line {
	int64_t at_ms;
	struct pf_addr src, dst;
	uint16_t dport;
	uint8_t action, audit_action;
	bool matched, cluster, audit;
	int32_t rule_index, audit_rule;
	char pod_ns[64], pod_name[254], pol_ns[64], pol_name[254], audit_ns[64], audit_name[254];
};

struct pf_trace_sub {
	char pod_ns[64], pod_name[254]; /* filter; pod_name "" = every pod */
	int action;			/* filter; -1 = every action */
	struct trace_line ring[PF_TRACE_RING];
	size_t head, n; /* lines waiting: ring[head .. head + n) */
	uint64_t lost;	/* lines dropped because the ring was full */
};

int pf_trace_subscribe(struct pf_trace *t, const char *pod, int action, struct pf_trace_sub **out)
{
	struct pf_trace_sub *s;
	const char *slash = pod ? strchr(pod, '/') : NULL;

	if (t->n_subs >= PF_TRACE_MAX_SUBS)
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->action = action;
	if (pod) {
		snprintf(s->pod_ns, sizeof(s->pod_ns), "%.*s", slash ? (int)(slash - pod) : 7,
			 slash ? pod : "default");
		snprintf(s->pod_name, sizeof(s->pod_name), "%s", slash ? slash + 1 : pod);
	}
	t->subs[t->n_subs++] = s;
	*out = s;
	return 0;
}

void pf_trace_unsubscribe(struct pf_trace *t, struct pf_trace_sub *s)
{
	for (unsigned i = 0; s && i < t->n_subs; i++)
		if (t->subs[i] == s) {
			t->subs[i] = t->subs[--t->n_subs];
			t->subs[t->n_subs] = NULL;
			break;
		}
	free(s);
}

static void copy(char *dst, size_t n, const char *s)
{
	size_t l = s ? strnlen(s, n - 1) : 0;

	memcpy(dst, s ? s : "", l);
	dst[l] = '\0';
}

void pf_trace_verdict_slow(struct pf_trace *t, const struct pf_pod *p, const struct pf_tuple *tp,
			   const struct pf_verdict *v, const struct pf_verdict *av, int64_t now_ms)
{
	for (unsigned i = 0; i < t->n_subs; i++) {
		struct pf_trace_sub *s = t->subs[i];
		struct trace_line *l;

		if (s->action >= 0 && (int)v->action != s->action)
			continue;
		if (s->pod_name[0] &&
		    (strcmp(s->pod_name, p->name) || strcmp(s->pod_ns, p->namespace)))
			continue;
		if (s->n == PF_TRACE_RING) {
			s->lost++;
			continue;
		}
		l = &s->ring[(s->head + s->n++) % PF_TRACE_RING];
		l->at_ms = now_ms;
		l->src = tp->src;
		l->dst = tp->dst;
		l->dport = tp->dport;
		l->action = (uint8_t)v->action;
		l->matched = v->matched;
		l->cluster = v->cluster;
		l->rule_index = v->matched ? v->rule_index : -1;
		copy(l->pod_ns, sizeof(l->pod_ns), p->namespace);
		copy(l->pod_name, sizeof(l->pod_name), p->name);
		copy(l->pol_ns, sizeof(l->pol_ns), v->matched ? v->policy_namespace : NULL);
		copy(l->pol_name, sizeof(l->pol_name), v->matched ? v->policy_name : NULL);
		l->audit = av && pf_audit_disagrees(v, av);
		if (l->audit) {
			l->audit_action = (uint8_t)av->action;
			l->audit_rule = av->rule_index;
			copy(l->audit_ns, sizeof(l->audit_ns),
			     av->cluster ? NULL : av->policy_namespace);
			copy(l->audit_name, sizeof(l->audit_name), av->policy_name);
		}
	}
}

static int line_json(const struct trace_line *l, uint64_t lost, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};
	char s[PF_ADDR_STRLEN], d[PF_ADDR_STRLEN];

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_int(&j, "at_ms", l->at_ms);
	pf_jgen_kv_str(&j, "pod_namespace", l->pod_ns);
	pf_jgen_kv_str(&j, "pod_name", l->pod_name);
	pf_jgen_kv_str(&j, "src", pf_addr_fmt(&l->src, s));
	pf_jgen_kv_str(&j, "dst", pf_addr_fmt(&l->dst, d));
	pf_jgen_kv_uint(&j, "dport", l->dport);
	pf_jgen_kv_str(&j, "protocol", "TCP");
	pf_jgen_kv_str(&j, "action", pf_action_to_string((enum pf_action)l->action));
	pf_jgen_kv_str(&j, "kind", l->matched ? pf_policy_kind_string(l->cluster) : NULL);
	pf_jgen_kv_str(&j, "policy_namespace", l->matched && !l->cluster ? l->pol_ns : NULL);
	pf_jgen_kv_str(&j, "policy_name", l->matched ? l->pol_name : NULL);
	pf_jgen_key(&j, "rule_index");
	if (l->matched)
		pf_jgen_int(&j, l->rule_index);
	else
		pf_jgen_null(&j);
	/* a SYN the engine saw was judged here; one answered in the kernel never reaches us */
	pf_jgen_kv_str(&j, "path", "judged");
	pf_jgen_key(&j, "audit");
	if (l->audit) {
		pf_jgen_map_open(&j);
		pf_jgen_kv_str(&j, "action", pf_action_to_string((enum pf_action)l->audit_action));
		pf_jgen_kv_str(&j, "policy_namespace", l->audit_ns[0] ? l->audit_ns : NULL);
		pf_jgen_kv_str(&j, "policy_name", l->audit_name);
		pf_jgen_kv_int(&j, "rule_index", l->audit_rule);
		pf_jgen_map_close(&j);
	} else {
		pf_jgen_null(&j);
	}
	pf_jgen_kv_uint(&j, "lost", lost);
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

int pf_trace_flush(struct pf_trace_sub *s, int fd)
{
	while (s->n) {
		_cleanup_free_ char *msg = NULL;

		if (line_json(&s->ring[s->head], s->lost, &msg) < 0)
			return 0; /* out of memory: try again next tick */
		if (send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				return 0;
			return -EPIPE;
		}
		s->head = (s->head + 1) % PF_TRACE_RING;
		s->n--;
	}
	return 0;
}
