/* SPDX-License-Identifier: GPL-2.0-or-later */
/* FencePolicy documents parsed and validated into struct pf_policy, files split into documents. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "doc.h"
#include "policy.h"

#define PATH_SZ 256

/* ---- validation ---------------------------------------------------------------------------- */

struct vctx {
	struct pf_policy_doc *info;
	const char *ns; /* metadata.namespace, for refs that omit theirs; NULL: cluster-scoped */
};

static int verr(struct vctx *c, unsigned line, const char *path, const char *fmt, ...)
    _printf_(4, 5);
static int verr(struct vctx *c, unsigned line, const char *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->info->error, sizeof(c->info->error), "%s: %s", path, msg);
	c->info->error_line = line;
	return -EINVAL;
}

/* Field paths are for messages: a truncated one is still useful, so truncation is fine. */
static void pathf(char *buf, const char *fmt, ...) _printf_(2, 3);
static void pathf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_SZ, fmt, ap);
	va_end(ap);
}

static void join(char *buf, const char *path, const char *key)
{
	if (*path)
		pathf(buf, "%s.%.64s", path, key);
	else
		pathf(buf, "%.64s", key);
}

static const char *a_type(enum pf_node_type t)
{
	switch (t) {
	case PF_NODE_MAP:
		return "a mapping";
	case PF_NODE_SEQ:
		return "a list";
	case PF_NODE_STRING:
		return "a string";
	case PF_NODE_INT:
		return "an integer";
	case PF_NODE_BOOL:
		return "a boolean";
	case PF_NODE_FLOAT:
		return "a number";
	case PF_NODE_NULL:
		return "null";
	}
	return "?";
}

/* Every key of map must be in known or ignored; a typo must not silently drop a field. */
static int check_keys(struct vctx *c, const struct pf_node *map, const char *path,
		      const char *const *known, const char *const *ignored)
{
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i];
		bool ok = false;
		char p[PATH_SZ], hint[256] = "";
		size_t hl = 0;

		for (const char *const *w = known; *w && !ok; w++)
			ok = !strcmp(k, *w);
		for (const char *const *w = ignored; w && *w && !ok; w++)
			ok = !strcmp(k, *w);
		if (ok)
			continue;
		for (const char *const *w = known; *w; w++) {
			int n = snprintf(hint + hl, sizeof(hint) - hl, "%s%s", hl ? ", " : "", *w);

			if (n < 0 || (size_t)n >= sizeof(hint) - hl)
				break;
			hl += (size_t)n;
		}
		join(p, path, k);
		return verr(c, map->key_lines ? map->key_lines[i] : map->line, p,
			    "unknown field (expected %s)", hint);
	}
	return 0;
}

/* Look up key: 1 with *out set, 0 when absent or null (as Kubernetes treats null), or an error
 * when required and absent, or of the wrong type. */
static int field(struct vctx *c, const struct pf_node *map, const char *path, const char *key,
		 enum pf_node_type t, bool required, const struct pf_node **out)
{
	const struct pf_node *v = pf_node_get(map, key);
	char p[PATH_SZ];

	join(p, path, key);
	if (!v || v->type == PF_NODE_NULL) {
		if (required)
			return verr(c, map->line, p, "is required");
		return 0;
	}
	if (v->type != t)
		return verr(c, v->line, p, "must be %s, not %s", a_type(t), a_type(v->type));
	*out = v;
	return 1;
}

static int int_field(struct vctx *c, const struct pf_node *map, const char *path, const char *key,
		     bool required, int64_t min, int64_t max, int64_t *out)
{
	const struct pf_node *v;
	char p[PATH_SZ];
	int r = field(c, map, path, key, PF_NODE_INT, required, &v);

	if (r <= 0)
		return r;
	if (v->i < min || v->i > max) {
		join(p, path, key);
		return verr(c, v->line, p,
			    "must be between %" PRId64 " and %" PRId64 ", not %" PRId64, min, max,
			    v->i);
	}
	*out = v->i;
	return 1;
}

static int dup_str(char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int check_name(struct vctx *c, const struct pf_node *v, const char *path, bool label)
{
	if (label ? pf_dns1123_label(v->str) : pf_dns1123_subdomain(v->str))
		return 0;
	if (label)
		return verr(
		    c, v->line, path,
		    "\"%.64s\" is not a valid DNS-1123 label (at most 63 lowercase letters, "
		    "digits and '-', starting and ending with a letter or digit)",
		    v->str);
	return verr(c, v->line, path,
		    "\"%.64s\" is not a valid DNS-1123 subdomain (at most 253 lowercase letters, "
		    "digits, '-' and '.', each part starting and ending with a letter or digit)",
		    v->str);
}

static const char *kinds_list(bool with_service)
{
	return with_service ? "Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, "
			      "Namespace, Service"
			    : "Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, "
			      "Namespace";
}

/* A {kind, name, namespace} reference; map is already known to be a mapping. */
static int parse_ref(struct vctx *c, const struct pf_node *map, const char *path, bool in_to,
		     struct pf_ref *ref)
{
	static const char why[] = "a FencePolicy governs only its own namespace; a "
				  "ClusterFencePolicy may name workloads in any namespace";
	const struct pf_node *kind = NULL, *name = NULL, *ns = NULL;
	char p[PATH_SZ];
	int k, r;

	r = field(c, map, path, "kind", PF_NODE_STRING, true, &kind);
	if (r < 0)
		return r;
	k = pf_kind_from_string(kind->str);
	join(p, path, "kind");
	if (k < 0)
		return verr(c, kind->line, p, "unknown kind \"%.64s\" (expected one of %s)",
			    kind->str, kinds_list(in_to));
	if (k == PF_KIND_SERVICE && !in_to)
		return verr(c, kind->line, p,
			    "kind Service is not allowed in appliesTo (only in egress[].to; "
			    "expected one of %s)",
			    kinds_list(false));
	ref->kind = (enum pf_kind)k;

	r = field(c, map, path, "name", PF_NODE_STRING, true, &name);
	if (r < 0)
		return r;
	join(p, path, "name");
	r = check_name(c, name, p, k == PF_KIND_NAMESPACE);
	if (r < 0)
		return r;

	r = field(c, map, path, "namespace", PF_NODE_STRING, false, &ns);
	if (r < 0)
		return r;
	join(p, path, "namespace");
	if (ns) {
		r = check_name(c, ns, p, true);
		if (r < 0)
			return r;
		if (k == PF_KIND_NAMESPACE && strcmp(ns->str, name->str))
			return verr(
			    c, ns->line, p,
			    "must be omitted for kind Namespace (the name is the namespace)");
	}
	/* Namespace-scoped RBAC on FencePolicy must not buy control over another namespace's
	 * pods: what a FencePolicy applies to stays in its namespace. Destinations may be
	 * anywhere. */
	if (!in_to && c->ns && k == PF_KIND_NAMESPACE && strcmp(name->str, c->ns)) {
		join(p, path, "name");
		return verr(c, name->line, p,
			    "a Namespace ref in a FencePolicy must name the policy's own namespace "
			    "\"%s\", not \"%.64s\" (%s)",
			    c->ns, name->str, why);
	}
	if (!in_to && c->ns && ns && strcmp(ns->str, c->ns))
		return verr(c, ns->line, p,
			    "must be the policy's own namespace \"%s\", not \"%.64s\" (%s)", c->ns,
			    ns->str, why);
	/* A cluster-scoped policy has no namespace to default to. */
	if (!c->ns && !ns && k != PF_KIND_NAMESPACE)
		return verr(
		    c, map->line, p,
		    "is required in a ClusterFencePolicy for kind %s (it is cluster-scoped: "
		    "name the workload's namespace)",
		    pf_kind_to_string(k));
	if (dup_str(&ref->name, name->str) < 0)
		return -ENOMEM;
	if (dup_str(&ref->namespace, k == PF_KIND_NAMESPACE ? name->str : ns ? ns->str : c->ns) < 0)
		return -ENOMEM;
	return 0;
}

static int parse_applies_to(struct vctx *c, const struct pf_node *spec, struct pf_policy *pol)
{
	static const char *const keys[] = {"kind", "name", "namespace", NULL};
	const struct pf_node *seq = NULL;
	int r = field(c, spec, "spec", "appliesTo", PF_NODE_SEQ, true, &seq);

	if (r < 0)
		return r;
	if (seq->n == 0)
		return verr(c, seq->line, "spec.appliesTo", "must name at least one workload");
	if (seq->n > PF_POLICY_MAX_APPLIES_TO)
		return verr(c, seq->line, "spec.appliesTo", "must have at most %d entries, not %zu",
			    PF_POLICY_MAX_APPLIES_TO, seq->n);
	pol->applies_to = calloc(seq->n, sizeof(*pol->applies_to));
	if (!pol->applies_to)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		const struct pf_node *e = seq->items[i];
		char p[PATH_SZ];

		pathf(p, "spec.appliesTo[%zu]", i);
		if (e->type != PF_NODE_MAP)
			return verr(c, e->line, p, "must be a mapping, not %s", a_type(e->type));
		r = check_keys(c, e, p, keys, NULL);
		if (r < 0)
			return r;
		pol->n_applies_to++;
		r = parse_ref(c, e, p, false, &pol->applies_to[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_peer(struct vctx *c, const struct pf_node *e, const char *path,
		      struct pf_peer *peer)
{
	static const char *const keys[] = {"cidr", "fqdn", "kind", "name", "namespace", NULL};
	const struct pf_node *cidr = NULL, *fqdn = NULL;
	struct pf_error perr = {0};
	char p[PATH_SZ], msg[128];
	int r;

	if (e->type != PF_NODE_MAP)
		return verr(c, e->line, path, "must be a mapping, not %s", a_type(e->type));
	r = check_keys(c, e, path, keys, NULL);
	if (r < 0)
		return r;
	r = field(c, e, path, "fqdn", PF_NODE_STRING, false, &fqdn);
	if (r < 0)
		return r;
	if (fqdn) {
		if (pf_node_get(e, "cidr") || pf_node_get(e, "kind") || pf_node_get(e, "name") ||
		    pf_node_get(e, "namespace"))
			return verr(
			    c, e->line, path,
			    "fqdn cannot be combined with cidr, kind, name or namespace (use "
			    "two entries)");
		join(p, path, "fqdn");
		r = pf_fqdn_normalize(fqdn->str, &peer->fqdn, msg, sizeof(msg));
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return verr(c, fqdn->line, p, "\"%.64s\": %s", fqdn->str, msg);
		return 0;
	}
	r = field(c, e, path, "cidr", PF_NODE_STRING, false, &cidr);
	if (r < 0)
		return r;
	if (!cidr) {
		if (!pf_node_get(e, "kind") && !pf_node_get(e, "name"))
			return verr(c, e->line, path,
				    "must have either cidr, fqdn, or kind and name");
		return parse_ref(c, e, path, true, &peer->ref);
	}
	if (pf_node_get(e, "kind") || pf_node_get(e, "name") || pf_node_get(e, "namespace"))
		return verr(
		    c, e->line, path,
		    "cidr cannot be combined with kind, name or namespace (use two entries)");
	join(p, path, "cidr");
	if (pf_prefix_parse(cidr->str, &peer->cidr, &perr) < 0)
		return verr(c, cidr->line, p, "%s", perr.msg);
	peer->is_cidr = true;
	return 0;
}

static int parse_port(struct vctx *c, const struct pf_node *e, const char *path,
		      struct pf_port_range *pr)
{
	static const char *const keys[] = {"port", "endPort", "protocol", NULL};
	const struct pf_node *proto = NULL, *endn;
	int64_t port = 0, end = 0;
	char p[PATH_SZ];
	int r;

	if (e->type != PF_NODE_MAP)
		return verr(c, e->line, path, "must be a mapping, not %s", a_type(e->type));
	r = check_keys(c, e, path, keys, NULL);
	if (r < 0)
		return r;
	r = int_field(c, e, path, "port", true, 1, 65535, &port);
	if (r < 0)
		return r;
	r = int_field(c, e, path, "endPort", false, 1, 65535, &end);
	if (r < 0)
		return r;
	if (r == 0) {
		end = port;
	} else if (end < port) {
		endn = pf_node_get(e, "endPort");
		join(p, path, "endPort");
		return verr(c, endn->line, p, "must be >= port (%" PRId64 ")", port);
	}
	r = field(c, e, path, "protocol", PF_NODE_STRING, false, &proto);
	if (r < 0)
		return r;
	if (proto) {
		int pn = pf_protocol_from_string(proto->str);

		if (pn < 0) {
			join(p, path, "protocol");
			return verr(c, proto->line, p,
				    "unknown protocol \"%.32s\" (expected TCP or UDP)", proto->str);
		}
		pr->protocol = (uint8_t)pn;
	}
	pr->port = (uint16_t)port;
	pr->end_port = (uint16_t)end;
	return 0;
}

static int parse_peer_item(struct vctx *c, const struct pf_node *e, const char *path, void *out)
{
	return parse_peer(c, e, path, out);
}

static int parse_port_item(struct vctx *c, const struct pf_node *e, const char *path, void *out)
{
	return parse_port(c, e, path, out);
}

/*
 * The sequence seq (NULL: absent) of field key, at most max entries, each parsed by parse into
 * *arr (size bytes each, allocated here); *n counts the entries begun, so the policy's free
 * clears a half-parsed one too.
 */
static int parse_list(struct vctx *c, const struct pf_node *seq, const char *path, const char *key,
		      size_t max, size_t size, void **arr, size_t *n,
		      int (*parse)(struct vctx *c, const struct pf_node *e, const char *path,
				   void *out))
{
	char p[PATH_SZ], q[PATH_SZ];

	if (seq && seq->n > max) {
		join(p, path, key);
		return verr(c, seq->line, p, "must have at most %zu entries, not %zu", max, seq->n);
	}
	if (!seq || !seq->n)
		return 0;
	*arr = calloc(seq->n, size);
	if (!*arr)
		return -ENOMEM;
	join(q, path, key);
	for (size_t i = 0; i < seq->n; i++) {
		int r;

		pathf(p, "%s[%zu]", q, i);
		(*n)++;
		r = parse(c, seq->items[i], p, (char *)*arr + i * size);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_rule(struct vctx *c, const struct pf_node *e, const char *path,
		      struct pf_rule *rule)
{
	static const char *const keys[] = {"action", "to", "ports", "log", NULL};
	const struct pf_node *action = NULL, *to = NULL, *ports = NULL, *log = NULL;
	char p[PATH_SZ];
	int a, r;

	if (e->type != PF_NODE_MAP)
		return verr(c, e->line, path, "must be a mapping, not %s", a_type(e->type));
	r = check_keys(c, e, path, keys, NULL);
	if (r < 0)
		return r;
	r = field(c, e, path, "action", PF_NODE_STRING, true, &action);
	if (r < 0)
		return r;
	a = pf_action_from_string(action->str);
	if (a < 0) {
		join(p, path, "action");
		return verr(c, action->line, p, "unknown action \"%.32s\" (expected one of %s)",
			    action->str,
			    c->ns ? "Allow, Deny, Reject, Alert"
				  : "Allow, Deny, Reject, Alert, Pass");
	}
	if (a == PF_ACTION_PASS && c->ns) {
		join(p, path, "action");
		return verr(c, action->line, p,
			    "Pass is only allowed in a ClusterFencePolicy (expected one of Allow, "
			    "Deny, Reject, Alert)");
	}
	rule->action = (enum pf_action)a;

	r = field(c, e, path, "to", PF_NODE_SEQ, false, &to);
	if (r < 0)
		return r;
	r = parse_list(c, to, path, "to", PF_POLICY_MAX_TO, sizeof(*rule->to), (void **)&rule->to,
		       &rule->n_to, parse_peer_item);
	if (r < 0)
		return r;

	r = field(c, e, path, "ports", PF_NODE_SEQ, false, &ports);
	if (r < 0)
		return r;
	r = parse_list(c, ports, path, "ports", PF_POLICY_MAX_PORTS, sizeof(*rule->ports),
		       (void **)&rule->ports, &rule->n_ports, parse_port_item);
	if (r < 0)
		return r;

	r = field(c, e, path, "log", PF_NODE_BOOL, false, &log);
	if (r < 0)
		return r;
	rule->log = log && log->b;
	return 0;
}

/*
 * The cache compiles, for every destination a policy names, a port table from every rule
 * that covers it: its size and build time grow with rules x destinations x ports, which the
 * per-list limits alone let reach 16 million per policy. Measured (bench/bench-build) so that
 * many policies at this limit still build in reasonable time and memory.
 */
static int check_cost(struct vctx *c, const struct pf_node *seq, const struct pf_policy *pol)
{
	size_t cost = pf_policy_cost(pol->egress, pol->n_egress), worst = 0, wi = 0;
	char p[PATH_SZ];

	if (cost <= PF_POLICY_MAX_COST)
		return 0;
	for (size_t i = 0; i < pol->n_egress; i++) {
		size_t k = pf_policy_cost(&pol->egress[i], 1);

		if (k > worst) {
			worst = k;
			wi = i;
		}
	}
	pathf(p, "spec.egress[%zu]", wi);
	return verr(c, seq->line, "spec.egress",
		    "costs %zu destination-port pairs, more than the limit of %d per policy (the "
		    "sum over rules of max(1, to entries) x max(1, ports), plus the ports of rules "
		    "without to x all to entries; the largest rule, %s, costs %zu): split the "
		    "policy, or use CIDRs and port ranges (endPort)",
		    cost, PF_POLICY_MAX_COST, p, worst);
}

static int parse_egress(struct vctx *c, const struct pf_node *spec, struct pf_policy *pol)
{
	const struct pf_node *seq = NULL;
	int r = field(c, spec, "spec", "egress", PF_NODE_SEQ, false, &seq);

	if (r <= 0)
		return r;
	if (seq->n > PF_POLICY_MAX_RULES)
		return verr(c, seq->line, "spec.egress", "must have at most %d rules, not %zu",
			    PF_POLICY_MAX_RULES, seq->n);
	if (seq->n == 0)
		return 0;
	pol->egress = calloc(seq->n, sizeof(*pol->egress));
	if (!pol->egress)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		char p[PATH_SZ];

		pathf(p, "spec.egress[%zu]", i);
		pol->n_egress++;
		r = parse_rule(c, seq->items[i], p, &pol->egress[i]);
		if (r < 0)
			return r;
	}
	return check_cost(c, seq, pol);
}

/* Fields Kubernetes puts in every object's metadata; meaningless here, so accepted and ignored. */
static const char *const metadata_ignored[] = {
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "finalizers",
    "ownerReferences",
    "generateName",
    "selfLink",
    NULL,
};

/* Identity as far as it can be read, without reporting anything: the store keeps the last valid
 * version of a named policy in force when a new version of it is broken. */
static int read_identity(const struct pf_node *doc, struct pf_policy_doc *info)
{
	const char *name = pf_node_str(pf_node_get(doc, "metadata"), "name");
	const struct pf_node *nsn = pf_node_get(pf_node_get(doc, "metadata"), "namespace");
	const char *ns = "default", *kind = pf_node_str(doc, "kind");
	bool cluster = pf_streq(kind, PF_POLICY_KIND_CLUSTER);

	if (!pf_streq(pf_node_str(doc, "apiVersion"), PF_POLICY_API_VERSION) ||
	    (!cluster && !pf_streq(kind, PF_POLICY_KIND)))
		return 0;
	if (cluster) {
		/* whatever its metadata.namespace says: the error is about that field, and the
		 * policy it was meant to be is the cluster one of that name */
		if (!name || !pf_dns1123_subdomain(name))
			return 0;
		info->cluster = true;
		info->name = strdup(name);
		info->namespace = strdup("");
		goto out;
	}
	if (nsn && nsn->type != PF_NODE_NULL)
		ns = nsn->type == PF_NODE_STRING ? nsn->str : NULL;
	if (!name || !pf_dns1123_subdomain(name) || !ns || !pf_dns1123_label(ns))
		return 0;
	info->name = strdup(name);
	info->namespace = strdup(ns);
out:
	if (!info->name || !info->namespace) {
		free(info->name);
		free(info->namespace);
		info->name = info->namespace = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int validate(struct vctx *c, const struct pf_node *doc, struct pf_policy *pol)
{
	static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", NULL};
	static const char *const top_ignored[] = {"status", NULL};
	static const char *const meta_keys[] = {"name", "namespace", NULL};
	static const char *const spec_keys[] = {"priority", "appliesTo", "egress", "mode", NULL};
	const struct pf_node *v = NULL, *meta = NULL, *spec = NULL, *ns = NULL;
	int64_t prio = PF_POLICY_DEFAULT_PRIORITY;
	int r;

	if (doc->type != PF_NODE_MAP)
		return verr(c, doc->line, "document", "must be a mapping, not %s",
			    a_type(doc->type));
	r = field(c, doc, "", "apiVersion", PF_NODE_STRING, true, &v);
	if (r < 0)
		return r;
	if (strcmp(v->str, PF_POLICY_API_VERSION))
		return verr(c, v->line, "apiVersion", "must be \"%s\", not \"%.64s\"",
			    PF_POLICY_API_VERSION, v->str);
	r = field(c, doc, "", "kind", PF_NODE_STRING, true, &v);
	if (r < 0)
		return r;
	if (!strcmp(v->str, PF_POLICY_KIND_CLUSTER))
		pol->cluster = true;
	else if (strcmp(v->str, PF_POLICY_KIND))
		return verr(c, v->line, "kind", "must be \"%s\" or \"%s\", not \"%.64s\"",
			    PF_POLICY_KIND, PF_POLICY_KIND_CLUSTER, v->str);
	r = check_keys(c, doc, "", top, top_ignored);
	if (r < 0)
		return r;

	r = field(c, doc, "", "metadata", PF_NODE_MAP, true, &meta);
	if (r < 0)
		return r;
	r = check_keys(c, meta, "metadata", meta_keys, metadata_ignored);
	if (r < 0)
		return r;
	r = field(c, meta, "metadata", "name", PF_NODE_STRING, true, &v);
	if (r < 0)
		return r;
	r = check_name(c, v, "metadata.name", false);
	if (r < 0)
		return r;
	if (dup_str(&pol->name, v->str) < 0)
		return -ENOMEM;
	r = field(c, meta, "metadata", "namespace", PF_NODE_STRING, false, &ns);
	if (r < 0)
		return r;
	if (ns && pol->cluster)
		return verr(c, ns->line, "metadata.namespace",
			    "must be omitted: a ClusterFencePolicy is cluster-scoped (it has no "
			    "namespace; its appliesTo refs name theirs)");
	if (ns) {
		r = check_name(c, ns, "metadata.namespace", true);
		if (r < 0)
			return r;
	}
	if (dup_str(&pol->namespace, pol->cluster ? "" : ns ? ns->str : "default") < 0)
		return -ENOMEM;
	c->ns = pol->cluster ? NULL : pol->namespace;

	r = field(c, doc, "", "spec", PF_NODE_MAP, true, &spec);
	if (r < 0)
		return r;
	r = check_keys(c, spec, "spec", spec_keys, NULL);
	if (r < 0)
		return r;
	r = int_field(c, spec, "spec", "priority", false, 0, PF_POLICY_MAX_PRIORITY, &prio);
	if (r < 0)
		return r;
	pol->priority = (uint32_t)prio;
	v = NULL;
	r = field(c, spec, "spec", "mode", PF_NODE_STRING, false, &v);
	if (r < 0)
		return r;
	if (v) {
		int m = pf_mode_from_string(v->str);

		if (m < 0)
			return verr(c, v->line, "spec.mode",
				    "must be Enforce or Audit, not \"%.64s\"", v->str);
		pol->mode = (enum pf_mode)m;
	}
	r = parse_applies_to(c, spec, pol);
	if (r < 0)
		return r;
	return parse_egress(c, spec, pol);
}

int pf_policy_from_node(const struct pf_node *doc, struct pf_policy **out,
			struct pf_policy_doc *info)
{
	struct pf_policy_doc local = {0};
	struct vctx c = {.info = info ? info : &local};
	struct pf_policy *pol;
	int r;

	*out = NULL;
	c.info->error[0] = '\0';
	c.info->error_line = 0;
	if (!doc) {
		snprintf(c.info->error, sizeof(c.info->error), "document: is empty");
		return -EINVAL;
	}
	if (info && !info->name) {
		r = read_identity(doc, info);
		if (r < 0)
			return r;
	}
	pol = calloc(1, sizeof(*pol));
	if (!pol)
		return -ENOMEM;
	r = validate(&c, doc, pol);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(c.info->error, sizeof(c.info->error), "out of memory");
		pf_policy_free(pol);
		return r;
	}
	*out = pol;
	return 0;
}

/* ---- files --------------------------------------------------------------------------------- */

static const struct pf_doc_limits policy_limits = {
    .max_bytes = PF_POLICY_MAX_FILE,
    .max_depth = 32, /* a policy is 7 levels deep; anything deeper is not one */
    .max_nodes = 1000000,
    .max_string = 64 * 1024,
    .max_docs = PF_POLICY_MAX_DOCS,
};

static bool looks_like_json(const char *buf, size_t len)
{
	size_t i = 0;

	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i < len && (buf[i] == '{' || buf[i] == '[');
}

int pf_policy_parse_buffer(const char *name, const char *buf, size_t len,
			   struct pf_policy_file *out, struct pf_error *err)
{
	struct pf_node **docs = NULL;
	size_t n_docs = 0, k = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (!name)
		name = "(input)";
	if (len > PF_POLICY_MAX_FILE)
		return pf_error_set(err, EFBIG, "%s: larger than %d bytes", name,
				    PF_POLICY_MAX_FILE);
	if (looks_like_json(buf, len))
		r = pf_json_parse_stream(buf, len, &policy_limits, &docs, &n_docs, err);
	else
		r = pf_yaml_parse(buf, len, &policy_limits, &docs, &n_docs, err);
	if (r < 0)
		return pf_error_prefix(err, "%s", name);
	if (n_docs) {
		out->docs = calloc(n_docs, sizeof(*out->docs));
		if (!out->docs) {
			pf_docs_free(docs, n_docs);
			return pf_error_set(err, ENOMEM, "%s: out of memory", name);
		}
	}
	for (size_t i = 0; i < n_docs; i++) {
		struct pf_policy_doc *d;

		/* `---` followed by nothing, or a document that is only a comment */
		if (docs[i]->type == PF_NODE_NULL)
			continue;
		d = &out->docs[k++];
		out->n_docs = k;
		d->index = (unsigned)i;
		d->line = docs[i]->line;
		r = pf_policy_from_node(docs[i], &d->policy, d);
		if (r == -ENOMEM) {
			pf_docs_free(docs, n_docs);
			pf_policy_file_free(out);
			return pf_error_set(err, ENOMEM, "%s: out of memory", name);
		}
	}
	pf_docs_free(docs, n_docs);
	return 0;
}

int pf_policy_parse_file(const char *path, struct pf_policy_file *out, struct pf_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = pf_read_file(path, PF_POLICY_MAX_FILE, &buf, &len);
	if (r == -EFBIG)
		return pf_error_set(err, EFBIG, "%s: larger than %d bytes", path,
				    PF_POLICY_MAX_FILE);
	if (r < 0)
		return pf_error_set(err, -r, "%s: %s", path, strerror(-r));
	return pf_policy_parse_buffer(path, buf, len, out, err);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a > b && !strcmp(s + a - b, suffix);
}

bool pf_policy_is_file_name(const char *name)
{
	if (!name || name[0] == '.' || name[0] == '#' || strchr(name, '/'))
		return false;
	return has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json");
}
