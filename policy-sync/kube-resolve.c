/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Kubernetes object cache of podfence-sync and name-to-address resolution. */
#include <inttypes.h>
#include <stdio.h>

#include "kube-map.h"
#include "kube-resolve.h"
#include "log.h"

#define OWNER_DEPTH 4 /* Pod -> ReplicaSet -> Deployment is the longest chain we follow */
/* Kubernetes names are at most 253 bytes (namespaces 63): longer ones are not objects we keep,
 * which bounds every key built from them. */
#define MAX_NAME 253
#define KEY_MAX 640
/* Labels of a pod / the selector of a Service, as "\nkey=value\nkey=value\n": bounded, since
 * an outsider writes them. */
#define LABELS_MAX 4096

/* "a<sep>b" or "a<sep>b<sep>c" into buf (KEY_MAX): no allocation on the resolver's hot path. */
static const char *join(char *buf, const char *a, char sep, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;

	if (la + lb + lc + 3 > KEY_MAX)
		return NULL;
	memcpy(buf, a, la);
	buf[la] = sep;
	memcpy(buf + la + 1, b, lb + 1);
	if (c) {
		buf[la + 1 + lb] = sep;
		memcpy(buf + la + 2 + lb, c, lc + 1);
	}
	return buf;
}

/* What a policy object says of its own spec version and of the status last written on it. */
struct policy_seen {
	int64_t generation;	    /* metadata.generation, 0 when absent */
	int64_t observed;	    /* status.observedGeneration, -1 when absent */
	char *valid, *reason, *msg; /* the Valid condition's, NULL when absent */
	char *transition;	    /* its lastTransitionTime */
};

static void seen_free(struct policy_seen *s)
{
	if (!s)
		return;
	free(s->valid);
	free(s->reason);
	free(s->msg);
	free(s->transition);
	free(s);
}

static int seen_new(const struct pf_node *obj, struct policy_seen **out)
{
	const struct pf_node *st = pf_node_get(obj, "status"), *conds, *c;
	struct policy_seen *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->observed = -1;
	if (pf_node_int(pf_node_get(obj, "metadata"), "generation", &s->generation) < 0)
		s->generation = 0;
	if (pf_node_int(st, "observedGeneration", &s->observed) < 0)
		s->observed = -1;
	conds = pf_node_get(st, "conditions");
	for (size_t i = 0; conds && conds->type == PF_NODE_SEQ && i < conds->n; i++) {
		const char *v;

		c = conds->items[i];
		if (!pf_streq(pf_node_str(c, "type"), "Valid"))
			continue;
#define SEEN_DUP(field, key)                                                                       \
	if ((v = pf_node_str(c, key)) && !(s->field = strdup(v)))                                  \
		goto oom;
		SEEN_DUP(valid, "status");
		SEEN_DUP(reason, "reason");
		SEEN_DUP(msg, "message");
		SEEN_DUP(transition, "lastTransitionTime");
#undef SEEN_DUP
		break;
	}
	*out = s;
	return 0;
oom:
	seen_free(s);
	return -ENOMEM;
}

/* One object: the fields resolution needs, in one allocation. */
struct kobj {
	enum pf_kube_res res;
	int owner_res; /* controller owner's resource, -1 when none we follow */
	const char *ns;
	const char *name;
	const char *uid;
	const char *rv;
	const char *owner_name;
	const char *owner_uid;
	const char *service;	   /* EndpointSlice: kubernetes.io/service-name */
	const char *labels;	   /* Pod: its labels; Service: its selector (see label_text) */
	struct pf_policy_doc *doc; /* FencePolicy */
	struct policy_seen *seen;  /* FencePolicy: its generation and the status it carries */
	bool finished;		   /* Pod: Succeeded or Failed */
	uint32_t n_ips;
	struct pf_addr *ips;
	char strings[];
};

struct pf_kube_cache {
	struct pf_kmap objs[_PF_KUBE_RES_MAX];	  /* "ns/name" -> kobj */
	struct pf_kmap staging[_PF_KUBE_RES_MAX]; /* a LIST in progress */
	uint64_t generation;
	uint64_t workload_generation; /* changes of what workloads resolve from */
};

static void kobj_free(struct kobj *o)
{
	if (!o)
		return;
	if (o->doc) {
		pf_policy_doc_clear(o->doc);
		free(o->doc);
	}
	seen_free(o->seen);
	free(o);
}

static void map_free_objs(struct pf_kmap *m)
{
	size_t i;

	for (struct pf_kmap_entry *e = pf_kmap_first(m, &i); e; e = pf_kmap_next(m, e, &i))
		kobj_free(e->value);
	pf_kmap_clear(m);
}

int pf_kube_cache_new(struct pf_kube_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void pf_kube_cache_free(struct pf_kube_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < _PF_KUBE_RES_MAX; i++) {
		map_free_objs(&c->objs[i]);
		map_free_objs(&c->staging[i]);
	}
	free(c);
}

uint64_t pf_kube_cache_generation(const struct pf_kube_cache *c)
{
	return c->generation;
}

uint64_t pf_kube_cache_workload_generation(const struct pf_kube_cache *c)
{
	return c->workload_generation;
}

size_t pf_kube_cache_count(const struct pf_kube_cache *c, enum pf_kube_res r)
{
	return pf_kmap_size(&c->objs[r]);
}

static int owner_res_of(const char *kind)
{
	static const enum pf_kube_res owners[] = {
	    PF_KUBE_REPLICASET, PF_KUBE_DEPLOYMENT, PF_KUBE_STATEFULSET,
	    PF_KUBE_DAEMONSET,	PF_KUBE_JOB,	    PF_KUBE_CRONJOB,
	};

	for (size_t i = 0; kind && i < PF_ARRAY_SIZE(owners); i++)
		if (strcmp(kind, pf_kube_resources[owners[i]].kind) == 0)
			return (int)owners[i];
	return -1;
}

/* The controller ownerReference (the one that makes an object part of a workload). */
static const struct pf_node *controller_ref(const struct pf_node *md)
{
	const struct pf_node *refs = pf_node_get(md, "ownerReferences");

	for (size_t i = 0; refs && refs->type == PF_NODE_SEQ && i < refs->n; i++) {
		const struct pf_node *c = pf_node_get(refs->items[i], "controller");

		if (c && c->type == PF_NODE_BOOL && c->b)
			return refs->items[i];
	}
	return NULL;
}

static void add_ip(struct pf_addr *ips, uint32_t *n, uint32_t max, const char *s)
{
	if (s && *n < max && pf_addr_parse(s, &ips[*n]) == 0)
		(*n)++;
}

/* Addresses an object stands for: a running pod's, a Service's cluster IPs, a slice's endpoints. */
static uint32_t collect_ips(enum pf_kube_res res, const struct pf_node *obj, struct pf_addr *ips,
			    uint32_t max)
{
	const struct pf_node *st = pf_node_get(obj, "status"), *spec = pf_node_get(obj, "spec"), *l;
	uint32_t n = 0;

	switch (res) {
	case PF_KUBE_POD: {
		const char *phase = pf_node_str(st, "phase");

		/* A finished pod's address is free for another pod to take. */
		if (pf_streq(phase, "Succeeded") || pf_streq(phase, "Failed"))
			return 0;
		l = pf_node_get(st, "podIPs");
		for (size_t i = 0; l && l->type == PF_NODE_SEQ && i < l->n; i++)
			add_ip(ips, &n, max, pf_node_str(l->items[i], "ip"));
		if (n == 0)
			add_ip(ips, &n, max, pf_node_str(st, "podIP"));
		return n;
	}
	case PF_KUBE_SERVICE:
		l = pf_node_get(spec, "clusterIPs");
		for (size_t i = 0; l && l->type == PF_NODE_SEQ && i < l->n; i++)
			if (l->items[i]->type == PF_NODE_STRING)
				add_ip(ips, &n, max, l->items[i]->str);
		if (n == 0)
			add_ip(ips, &n, max, pf_node_str(spec, "clusterIP"));
		return n; /* "None" (headless) does not parse: no cluster IP */
	case PF_KUBE_ENDPOINTSLICE:
		l = pf_node_get(obj, "endpoints");
		if (pf_streq(pf_node_str(obj, "addressType"), "FQDN"))
			return 0;
		for (size_t i = 0; l && l->type == PF_NODE_SEQ && i < l->n; i++) {
			const struct pf_node *a = pf_node_get(l->items[i], "addresses");

			for (size_t j = 0; a && a->type == PF_NODE_SEQ && j < a->n; j++)
				if (a->items[j]->type == PF_NODE_STRING)
					add_ip(ips, &n, max, a->items[j]->str);
		}
		return n;
	default:
		return 0;
	}
}

/* Validate a FencePolicy or ClusterFencePolicy object. The API adds status and server metadata
 * that a policy file would not have, so the validator sees apiVersion, kind, metadata.{name,
 * namespace}, spec. The kind is the resource's, whatever the body says: the tier a policy is in
 * follows from who may write that resource (RBAC), never from a field its author chose. */
static int policy_doc(enum pf_kube_res res, const struct pf_node *obj, struct pf_policy_doc **out)
{
	static const char *const top_keys[] = {"apiVersion", "kind", "metadata", "spec"};
	static const char *const md_keys[] = {"name", "namespace"};
	const struct pf_node *md = pf_node_get(obj, "metadata");
	char *tk[4], *mk[2];
	unsigned tl[4] = {0}, ml[2] = {0};
	struct pf_node *ti[4], *mi[2];
	struct pf_node top = {.type = PF_NODE_MAP, .keys = tk, .key_lines = tl, .items = ti};
	struct pf_node meta = {.type = PF_NODE_MAP, .keys = mk, .key_lines = ml, .items = mi};
	struct pf_node kind = {.type = PF_NODE_STRING, .str = (char *)pf_kube_resources[res].kind};
	struct pf_policy_doc *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < PF_ARRAY_SIZE(md_keys); i++) {
		const struct pf_node *v = pf_node_get(md, md_keys[i]);

		if (v) {
			mk[meta.n] = (char *)md_keys[i];
			mi[meta.n++] = (struct pf_node *)v;
		}
	}
	if (md)
		meta.line = md->line, meta.col = md->col;
	for (size_t i = 0; i < PF_ARRAY_SIZE(top_keys); i++) {
		const struct pf_node *v = i == 1   ? &kind
					  : i == 2 ? (md ? &meta : NULL)
						   : pf_node_get(obj, top_keys[i]);

		if (v) {
			tk[top.n] = (char *)top_keys[i];
			ti[top.n++] = (struct pf_node *)v;
		}
	}
	r = pf_policy_from_node(&top, &d->policy, d);
	if (r == -ENOMEM) {
		pf_policy_doc_clear(d);
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

/* A label map as "\nk=v\nk=v\n" (label keys and values hold neither '\n' nor '='; a pair that
 * does is one no valid selector names). *whole is false when a pair was left out. NULL: no
 * pairs (or out of memory, which only costs matching by selector). */
static char *label_text(const struct pf_node *m, bool *whole)
{
	char *t;
	size_t len = 1;

	*whole = true;
	if (!m || m->type != PF_NODE_MAP || m->n == 0)
		return NULL;
	t = malloc(LABELS_MAX);
	if (!t)
		return NULL;
	t[0] = '\n';
	for (size_t i = 0; i < m->n; i++) {
		const char *k = m->keys[i], *v = m->items[i]->str;
		size_t lk, lv;

		if (m->items[i]->type != PF_NODE_STRING || !v || !*k || strpbrk(k, "\n=") ||
		    strchr(v, '\n')) {
			*whole = false;
			continue;
		}
		lk = strlen(k), lv = strlen(v);
		if (len + lk + lv + 3 > LABELS_MAX) {
			*whole = false;
			continue;
		}
		memcpy(t + len, k, lk);
		t[len + lk] = '=';
		memcpy(t + len + lk + 1, v, lv);
		t[len + lk + 1 + lv] = '\n';
		len += lk + lv + 2;
	}
	t[len] = '\0';
	if (len == 1) {
		free(t);
		return NULL;
	}
	return t;
}

/* Does a pod with labels select (a Service's selector text) match? Every pair must be there. */
static bool labels_match(const char *labels, const char *sel)
{
	size_t ll = strlen(labels);

	/* sel is "\nA\nB\n": each "\nA\n" is a contiguous piece of it, found as is in labels. */
	for (const char *p = sel; p[1];) {
		const char *e = strchr(p + 1, '\n');

		if (!e || !memmem(labels, ll, p, (size_t)(e - p) + 1))
			return false;
		p = e;
	}
	return true;
}

/* The resources that hold policies rather than workloads. */
static bool is_policy_res(enum pf_kube_res r)
{
	return r == PF_KUBE_FENCEPOLICY || r == PF_KUBE_CLUSTERFENCEPOLICY;
}

/* Cluster-scoped resources: no namespace (their key is "/name"). */
static bool is_cluster_res(enum pf_kube_res r)
{
	return r == PF_KUBE_NAMESPACE || r == PF_KUBE_CLUSTERFENCEPOLICY;
}

static int kobj_new(enum pf_kube_res res, const struct pf_node *obj, struct kobj **out)
{
	const struct pf_node *md = pf_node_get(obj, "metadata"), *own = controller_ref(md);
	bool whole = true;
	_cleanup_free_ char *labels =
	    res == PF_KUBE_POD
		? label_text(pf_node_get(pf_node_get(obj, "metadata"), "labels"), &whole)
	    : res == PF_KUBE_SERVICE
		? label_text(pf_node_get(pf_node_get(obj, "spec"), "selector"), &whole)
		: NULL;
	const char *s[8] = {
	    is_cluster_res(res) ? "" : pf_node_str(md, "namespace"),
	    pf_node_str(md, "name"),
	    pf_node_str(md, "uid"),
	    pf_node_str(md, "resourceVersion"),
	    own ? pf_node_str(own, "name") : NULL,
	    own ? pf_node_str(own, "uid") : NULL,
	    res == PF_KUBE_ENDPOINTSLICE
		? pf_node_str(pf_node_get(md, "labels"), "kubernetes.io/service-name")
		: NULL,
	    /* A selector with a pair we cannot keep would select too much: no selector then. */
	    res == PF_KUBE_SERVICE && !whole ? NULL : labels,
	};
	const char **dst[8];
	struct pf_addr ips[PF_KUBE_MAX_SLICE_IPS];
	uint32_t max = res == PF_KUBE_POD	? PF_KUBE_MAX_POD_IPS
		       : res == PF_KUBE_SERVICE ? PF_KUBE_MAX_SERVICE_IPS
						: PF_KUBE_MAX_SLICE_IPS;
	uint32_t n_ips;
	size_t len = 0, off = 0, ip_off;
	struct kobj *o;
	int r;

	if (!s[0] || !s[1] || !*s[1] || strlen(s[0]) > MAX_NAME || strlen(s[1]) > MAX_NAME)
		return -EINVAL; /* no identity: nothing can refer to it */
	if (s[4] && strlen(s[4]) > MAX_NAME)
		s[4] = NULL;
	if (s[6] && strlen(s[6]) > MAX_NAME)
		s[6] = NULL;
	n_ips = collect_ips(res, obj, ips, max);
	for (size_t i = 0; i < PF_ARRAY_SIZE(s); i++)
		len += s[i] ? strlen(s[i]) + 1 : 0;
	ip_off = (sizeof(*o) + len + _Alignof(struct pf_addr) - 1) / _Alignof(struct pf_addr) *
		 _Alignof(struct pf_addr);
	o = calloc(1, ip_off + n_ips * sizeof(struct pf_addr));
	if (!o)
		return -ENOMEM;
	o->res = res;
	o->owner_res = own ? owner_res_of(pf_node_str(own, "kind")) : -1;
	dst[0] = &o->ns, dst[1] = &o->name, dst[2] = &o->uid, dst[3] = &o->rv;
	dst[4] = &o->owner_name, dst[5] = &o->owner_uid, dst[6] = &o->service;
	dst[7] = &o->labels;
	for (size_t i = 0; i < PF_ARRAY_SIZE(s); i++) {
		if (!s[i])
			continue;
		*dst[i] = memcpy(o->strings + off, s[i], strlen(s[i]) + 1);
		off += strlen(s[i]) + 1;
	}
	if (!o->owner_name)
		o->owner_res = -1;
	if (res == PF_KUBE_POD) {
		const char *phase = pf_node_str(pf_node_get(obj, "status"), "phase");

		o->finished = pf_streq(phase, "Succeeded") || pf_streq(phase, "Failed");
	}
	o->n_ips = n_ips;
	o->ips = n_ips ? (struct pf_addr *)((char *)o + ip_off) : NULL;
	if (n_ips)
		memcpy(o->ips, ips, n_ips * sizeof(*ips));
	if (is_policy_res(res)) {
		r = policy_doc(res, obj, &o->doc);
		if (r >= 0 && (r = seen_new(obj, &o->seen)) < 0) {
			pf_policy_doc_clear(o->doc);
			free(o->doc);
		}
		if (r < 0) {
			free(o);
			return r;
		}
	}
	*out = o;
	return 0;
}

static int obj_key(const struct kobj *o, char **key)
{
	return asprintf(key, "%s/%s", o->ns, o->name) < 0 ? -ENOMEM : 0;
}

/* The same spec version: the same generation of the same object (a status write changes the
 * resourceVersion, never the generation), or without generations the same resourceVersion. */
static bool same_version(const struct kobj *a, const struct kobj *b)
{
	if (a->seen && b->seen && a->seen->generation && b->seen->generation)
		return a->seen->generation == b->seen->generation && pf_streq(a->uid, b->uid);
	return pf_streq(a->rv, b->rv);
}

/* Invalid policies are logged once per version, naming the object and the field. */
static void log_policy(const struct kobj *o, const struct kobj *old)
{
	if (!o->doc || o->doc->policy || (old && same_version(old, o)))
		return;
	log_warning("%s %s%s%s (resourceVersion %s) is invalid, its last valid version stays in "
		    "force: %s",
		    pf_kube_resources[o->res].kind, o->ns, *o->ns ? "/" : "", o->name,
		    pf_strna(o->rv), o->doc->error);
}

static int put(struct pf_kube_cache *c, struct pf_kmap *m, enum pf_kube_res r,
	       const struct pf_node *obj)
{
	_cleanup_free_ char *key = NULL;
	struct kobj *o, *old = NULL;
	int ret;

	ret = kobj_new(r, obj, &o);
	if (ret == -EINVAL) {
		log_debug("Kubernetes %s object without name ignored", pf_kube_resources[r].plural);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (obj_key(o, &key) < 0) {
		kobj_free(o);
		return -ENOMEM;
	}
	if (is_policy_res(r))
		log_policy(o, pf_kmap_get(&c->objs[r], key));
	ret = pf_kmap_put(m, key, o, (void **)&old);
	if (ret < 0) {
		kobj_free(o);
		return ret;
	}
	kobj_free(old);
	return 0;
}

static void h_list_begin(void *u, enum pf_kube_res r)
{
	struct pf_kube_cache *c = u;

	map_free_objs(&c->staging[r]);
}

static int h_list_item(void *u, enum pf_kube_res r, const struct pf_node *obj)
{
	struct pf_kube_cache *c = u;

	return put(c, &c->staging[r], r, obj);
}

static void h_list_end(void *u, enum pf_kube_res r, bool complete)
{
	struct pf_kube_cache *c = u;

	if (!complete) {
		map_free_objs(&c->staging[r]);
		return;
	}
	/* A relist replaces the whole set: what it lacks was deleted while we were not watching. */
	map_free_objs(&c->objs[r]);
	c->objs[r] = c->staging[r];
	memset(&c->staging[r], 0, sizeof(c->staging[r]));
	c->generation++;
	if (!is_policy_res(r))
		c->workload_generation++;
}

static int h_event(void *u, enum pf_kube_res r, enum pf_kube_event type, const struct pf_node *obj)
{
	struct pf_kube_cache *c = u;
	const struct pf_node *md = pf_node_get(obj, "metadata");
	const char *ns = is_cluster_res(r) ? "" : pf_node_str(md, "namespace");
	const char *name = pf_node_str(md, "name");
	_cleanup_free_ char *key = NULL;

	c->generation++;
	if (!is_policy_res(r))
		c->workload_generation++;
	if (type != PF_KUBE_DELETED)
		return put(c, &c->objs[r], r, obj);
	if (!ns || !name)
		return 0;
	if (asprintf(&key, "%s/%s", ns, name) < 0) {
		key = NULL;
		return -ENOMEM;
	}
	kobj_free(pf_kmap_remove(&c->objs[r], key));
	return 0;
}

void pf_kube_cache_handler(struct pf_kube_cache *c, struct pf_kube_handler *h)
{
	h->userdata = c;
	h->list_begin = h_list_begin;
	h->list_item = h_list_item;
	h->list_end = h_list_end;
	h->event = h_event;
}

/* ---- resolution ------------------------------------------------------------------------- */

struct wl {
	enum pf_kind kind;
	const char *ns, *name;
	struct pf_addr *ips;
	size_t n, cap;
	const char **pods; /* names of its pods, in ns */
	size_t n_pods, cap_pods;
};

struct resolver {
	const struct pf_kube_cache *c;
	struct pf_kmap map; /* key -> struct wl */
};

static struct wl *wl_get(struct resolver *rs, enum pf_kind kind, const char *ns, const char *name,
			 bool create)
{
	char buf[KEY_MAX];
	const char *key = join(buf, pf_kind_to_string(kind), '\x1f', ns, name);
	struct wl *w;

	if (!key)
		return NULL;
	w = pf_kmap_get(&rs->map, key);
	if (w || !create)
		return w;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->kind = kind, w->ns = ns, w->name = name;
	if (pf_kmap_put(&rs->map, key, w, NULL) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

static int wl_add(struct wl *w, const struct pf_addr *ips, size_t n)
{
	if (!w || n == 0)
		return 0;
	if (w->n + n > w->cap) {
		size_t cap = MAX(w->cap * 2, w->n + n);
		struct pf_addr *a = realloc(w->ips, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		w->ips = a;
		w->cap = cap;
	}
	memcpy(w->ips + w->n, ips, n * sizeof(*ips));
	w->n += n;
	return 0;
}

static int wl_add_pod(struct wl *w, const char *pod)
{
	if (!w)
		return 0;
	if (pf_grow((void **)&w->pods, &w->cap_pods, w->n_pods, sizeof(*w->pods)) < 0)
		return -ENOMEM;
	w->pods[w->n_pods++] = pod;
	return 0;
}

static enum pf_kind kind_of(enum pf_kube_res r)
{
	switch (r) {
	case PF_KUBE_POD:
		return PF_KIND_POD;
	case PF_KUBE_REPLICASET:
		return PF_KIND_REPLICASET;
	case PF_KUBE_DEPLOYMENT:
		return PF_KIND_DEPLOYMENT;
	case PF_KUBE_STATEFULSET:
		return PF_KIND_STATEFULSET;
	case PF_KUBE_DAEMONSET:
		return PF_KIND_DAEMONSET;
	case PF_KUBE_JOB:
		return PF_KIND_JOB;
	case PF_KUBE_CRONJOB:
		return PF_KIND_CRONJOB;
	case PF_KUBE_NAMESPACE:
		return PF_KIND_NAMESPACE;
	case PF_KUBE_SERVICE:
		return PF_KIND_SERVICE;
	default:
		return _PF_KIND_MAX;
	}
}

static int cmp_addr(const void *a, const void *b)
{
	return pf_addr_cmp(a, b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A pod's addresses and its name count for each controller up its chain of ownerReferences, as
 * long as the owner we hold is the one referenced (same uid: a recreated namesake is not the
 * owner). The name counts before the pod has an address: the pod object is in the API before
 * its sandbox starts, so the store can match the pod by name from its first packet. Pod and
 * Namespace refs match registered pods by name in the store already: no names for those. */
static int resolve_pod(struct resolver *rs, const struct kobj *pod)
{
	const struct kobj *o = pod;
	int r;

	r = wl_add(wl_get(rs, PF_KIND_NAMESPACE, pod->ns, pod->ns, false), pod->ips, pod->n_ips);
	for (int depth = 0; r >= 0 && depth < OWNER_DEPTH && o->owner_res >= 0; depth++) {
		char buf[KEY_MAX];
		const char *key = join(buf, o->ns, '/', o->owner_name, NULL);
		const struct kobj *owner;
		struct wl *w;

		if (!key)
			break;
		owner = pf_kmap_get(&rs->c->objs[o->owner_res], key);
		if (!owner || (o->owner_uid && owner->uid && strcmp(o->owner_uid, owner->uid) != 0))
			break;
		w = wl_get(rs, kind_of(owner->res), owner->ns, owner->name, false);
		r = wl_add(w, pod->ips, pod->n_ips);
		if (r >= 0)
			r = wl_add_pod(w, pod->name);
		o = owner;
	}
	return r;
}

/* The Services of one namespace that select pods by label. */
struct ns_services {
	const struct kobj **v;
	size_t n, cap;
};

static void ns_services_free(struct pf_kmap *m)
{
	size_t i;

	for (struct pf_kmap_entry *e = pf_kmap_first(m, &i); e; e = pf_kmap_next(m, e, &i)) {
		struct ns_services *v = e->value;

		free(v->v);
		free(v);
	}
	pf_kmap_clear(m);
}

/* The pods behind a Service by name: those its selector picks, as the endpoints controller does.
 * A pod gets into an EndpointSlice only with an address; by its labels it is behind the Service
 * before it has one. Finished pods do not count (the endpoints controller drops them too). */
static int resolve_selectors(struct resolver *rs)
{
	const struct pf_kube_cache *c = rs->c;
	struct pf_kmap by_ns = {0};
	struct pf_kmap_entry *e;
	size_t i;
	int r = 0;

	for (e = pf_kmap_first(&c->objs[PF_KUBE_SERVICE], &i); r >= 0 && e;
	     e = pf_kmap_next(&c->objs[PF_KUBE_SERVICE], e, &i)) {
		const struct kobj *svc = e->value;
		struct ns_services *v;

		if (!svc->labels)
			continue;
		v = pf_kmap_get(&by_ns, svc->ns);
		if (!v) {
			v = calloc(1, sizeof(*v));
			if (!v || pf_kmap_put(&by_ns, svc->ns, v, NULL) < 0) {
				free(v);
				r = -ENOMEM;
				break;
			}
		}
		r = pf_grow((void **)&v->v, &v->cap, v->n, sizeof(*v->v));
		if (r >= 0)
			v->v[v->n++] = svc;
	}
	for (e = pf_kmap_first(&c->objs[PF_KUBE_POD], &i); r >= 0 && pf_kmap_size(&by_ns) && e;
	     e = pf_kmap_next(&c->objs[PF_KUBE_POD], e, &i)) {
		const struct kobj *pod = e->value;
		const struct ns_services *v;

		if (pod->finished || !pod->labels || !(v = pf_kmap_get(&by_ns, pod->ns)))
			continue;
		for (size_t k = 0; r >= 0 && k < v->n; k++)
			if (labels_match(pod->labels, v->v[k]->labels))
				r = wl_add_pod(
				    wl_get(rs, PF_KIND_SERVICE, pod->ns, v->v[k]->name, false),
				    pod->name);
	}
	ns_services_free(&by_ns);
	return r;
}

int pf_kube_resolve(const struct pf_kube_cache *c, struct pf_kube_workloads *out)
{
	struct resolver rs = {.c = c};
	struct pf_kmap_entry *e;
	size_t i, k = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (int res = 0; res < _PF_KUBE_RES_MAX; res++)
		k += pf_kmap_size(&c->objs[res]);
	r = pf_kmap_reserve(&rs.map, k);
	k = 0;
	/* Every object that can be named gets a workload, resolving to nothing until it has pods.
	 */
	for (int res = 0; r >= 0 && res < _PF_KUBE_RES_MAX; res++) {
		enum pf_kind kind = kind_of((enum pf_kube_res)res);

		if (kind == _PF_KIND_MAX)
			continue;
		for (e = pf_kmap_first(&c->objs[res], &i); r >= 0 && e;
		     e = pf_kmap_next(&c->objs[res], e, &i)) {
			const struct kobj *o = e->value;
			struct wl *w = wl_get(
			    &rs, kind, kind == PF_KIND_NAMESPACE ? o->name : o->ns, o->name, true);

			r = w ? 0 : -ENOMEM;
			if (r >= 0 && (res == PF_KUBE_POD || res == PF_KUBE_SERVICE))
				r = wl_add(w, o->ips, o->n_ips);
		}
	}
	for (e = pf_kmap_first(&c->objs[PF_KUBE_POD], &i); r >= 0 && e;
	     e = pf_kmap_next(&c->objs[PF_KUBE_POD], e, &i))
		if (!((const struct kobj *)e->value)->finished)
			r = resolve_pod(&rs, e->value);
	if (r >= 0)
		r = resolve_selectors(&rs);
	/* Services: the endpoints behind them, headless ones included. */
	for (e = pf_kmap_first(&c->objs[PF_KUBE_ENDPOINTSLICE], &i); r >= 0 && e;
	     e = pf_kmap_next(&c->objs[PF_KUBE_ENDPOINTSLICE], e, &i)) {
		const struct kobj *s = e->value;

		if (s->service && s->n_ips)
			r = wl_add(wl_get(&rs, PF_KIND_SERVICE, s->ns, s->service, false), s->ips,
				   s->n_ips);
	}
	if (r >= 0 && pf_kmap_size(&rs.map) > 0) {
		out->w = calloc(pf_kmap_size(&rs.map), sizeof(*out->w));
		if (!out->w)
			r = -ENOMEM;
	}
	for (e = pf_kmap_first(&rs.map, &i); e; e = pf_kmap_next(&rs.map, e, &i)) {
		struct wl *w = e->value;

		if (r >= 0) {
			struct pf_kube_workload *o = &out->w[k];
			size_t n = 0;

			if (w->n)
				qsort(w->ips, w->n, sizeof(*w->ips), cmp_addr);
			for (size_t j = 0; j < w->n; j++)
				if (n == 0 || !pf_addr_eq(&w->ips[n - 1], &w->ips[j]))
					w->ips[n++] = w->ips[j];
			o->kind = w->kind, o->namespace = w->ns, o->name = w->name;
			o->ips = PF_TAKE_PTR(w->ips);
			o->n_ips = n;
			o->digest = pf_kmap_hash(o->ips, n * sizeof(*o->ips), 0);
			if (w->n_pods)
				qsort(w->pods, w->n_pods, sizeof(*w->pods), cmp_str);
			n = 0;
			for (size_t j = 0; j < w->n_pods; j++) {
				if (n > 0 && strcmp(w->pods[n - 1], w->pods[j]) == 0)
					continue;
				w->pods[n++] = w->pods[j];
				o->digest =
				    pf_kmap_hash(w->pods[j], strlen(w->pods[j]) + 1, o->digest);
			}
			o->digest |= 1;
			o->pod_names = PF_TAKE_PTR(w->pods);
			o->n_pods = n;
			o->key = strdup(e->key);
			k++;
			out->n = k;
			if (!o->key)
				r = -ENOMEM;
		}
		free(w->ips);
		free(w->pods);
		free(w);
	}
	pf_kmap_clear(&rs.map);
	if (r < 0)
		pf_kube_workloads_done(out);
	return r;
}

void pf_kube_workloads_done(struct pf_kube_workloads *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->w[i].ips);
		free(w->w[i].pod_names);
		free(w->w[i].key);
	}
	free(w->w);
	w->w = NULL;
	w->n = 0;
}

int pf_kube_cache_policies(const struct pf_kube_cache *c, struct pf_kube_policy **out, size_t *n)
{
	static const enum pf_kube_res res[] = {PF_KUBE_CLUSTERFENCEPOLICY, PF_KUBE_FENCEPOLICY};
	struct pf_kube_policy *p =
	    calloc(pf_kmap_size(&c->objs[res[0]]) + pf_kmap_size(&c->objs[res[1]]) + 1, sizeof(*p));
	struct pf_kmap_entry *e;
	size_t i, k = 0;

	if (!p)
		return -ENOMEM;
	/* keys stay distinct: "ns/name" for a FencePolicy, "/name" for a ClusterFencePolicy */
	for (size_t t = 0; t < PF_ARRAY_SIZE(res); t++) {
		const struct pf_kmap *m = &c->objs[res[t]];

		for (e = pf_kmap_first(m, &i); e; e = pf_kmap_next(m, e, &i)) {
			const struct kobj *o = e->value;

			p[k].namespace = o->ns;
			p[k].name = o->name;
			p[k].resource_version = o->rv ? o->rv : "";
			p[k].doc = o->doc;
			p[k].cluster = res[t] == PF_KUBE_CLUSTERFENCEPOLICY;
			p[k].key = strdup(e->key);
			if (o->seen) {
				p[k].generation = o->seen->generation;
				p[k].status_observed = o->seen->observed;
				p[k].status_valid = o->seen->valid;
				p[k].status_reason = o->seen->reason;
				p[k].status_message = o->seen->msg;
				p[k].status_transition = o->seen->transition;
			} else
				p[k].status_observed = -1;
			/* what the store mirror compares: a new spec, never a status write */
			if (p[k].key && p[k].generation &&
			    asprintf(&p[k].version, "%s/%" PRId64, pf_strna(o->uid),
				     p[k].generation) < 0)
				p[k].version = NULL, free(p[k].key), p[k].key = NULL;
			else if (p[k].key && !p[k].generation &&
				 !(p[k].version = strdup(p[k].resource_version)))
				free(p[k].key), p[k].key = NULL;
			if (!p[k++].key) {
				pf_kube_policies_free(p, k);
				return -ENOMEM;
			}
		}
	}
	*out = p;
	*n = k;
	return 0;
}

void pf_kube_policies_free(struct pf_kube_policy *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		free(p[i].key);
		free(p[i].version);
	}
	free(p);
}
