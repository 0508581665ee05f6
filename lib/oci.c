/* SPDX-License-Identifier: GPL-2.0-or-later */
/* OCI state and config.json: the netns and identity podfence-hook registers (see oci.h). */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "oci.h"

#define MAX_NAME 253
#define MAX_UID 128

static const struct pf_doc_limits state_limits = {
    .max_bytes = PF_OCI_MAX_STATE,
    .max_depth = 16,
    .max_nodes = 400000,
    .max_string = PF_OCI_MAX_STATE,
    .max_docs = 1,
};

static const struct pf_doc_limits config_limits = {
    .max_bytes = PF_OCI_MAX_CONFIG,
    .max_depth = 64,
    .max_nodes = 400000,
    .max_string = PF_OCI_MAX_CONFIG, /* annotations: one value may be 256 KiB */
    .max_docs = 1,
};

bool pf_oci_valid_id(const char *id)
{
	size_t n;

	if (!id || !*id || id[0] == '.')
		return false;
	n = strlen(id);
	if (n > PF_OCI_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!(isalnum(c) || c == '_' || c == '.' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

void pf_oci_state_done(struct pf_oci_state *st)
{
	if (!st)
		return;
	pf_node_free(st->doc);
	memset(st, 0, sizeof(*st));
}

int pf_oci_state_parse(const char *buf, size_t len, struct pf_oci_state *st, struct pf_error *err)
{
	const struct pf_node *n;
	int64_t pid;
	int r;

	memset(st, 0, sizeof(*st));
	if (len == 0)
		return pf_error_set(err, EINVAL, "empty container state on stdin");
	r = pf_json_parse(buf, len, &state_limits, &st->doc, err);
	if (r < 0)
		return pf_error_prefix(err, "container state");
	if (st->doc->type != PF_NODE_MAP) {
		r = pf_error_set(err, EINVAL, "container state: not a JSON object");
		goto fail;
	}
	st->id = pf_node_str(st->doc, "id");
	if (!st->id) {
		r = pf_error_set(err, EINVAL, "container state: no string field 'id'");
		goto fail;
	}
	if (!pf_oci_valid_id(st->id)) {
		r = pf_error_set(err, EINVAL,
				 "container state: 'id' is not a valid container id (1..%d of "
				 "[A-Za-z0-9_.+-])",
				 PF_OCI_MAX_ID);
		goto fail;
	}
	n = pf_node_get(st->doc, "status");
	if (n && n->type != PF_NODE_STRING) {
		r = pf_error_set(err, EINVAL, "container state: 'status' is not a string");
		goto fail;
	}
	st->status = n ? n->str : NULL;
	r = pf_node_int(st->doc, "pid", &pid);
	if (r == -EINVAL || (r == 0 && (pid < 0 || pid > INT32_MAX))) {
		r = pf_error_set(err, EINVAL, "container state: 'pid' is not a process id");
		goto fail;
	}
	st->pid = r == 0 ? (int)pid : 0;
	n = pf_node_get(st->doc, "bundle");
	if (n && n->type != PF_NODE_STRING) {
		r = pf_error_set(err, EINVAL, "container state: 'bundle' is not a string");
		goto fail;
	}
	st->bundle = n ? n->str : NULL;
	if (st->bundle && (st->bundle[0] != '/' || strlen(st->bundle) > PF_OCI_MAX_PATH)) {
		r = pf_error_set(err, EINVAL, "container state: 'bundle' is not an absolute path");
		goto fail;
	}
	n = pf_node_get(st->doc, "annotations");
	if (n && n->type != PF_NODE_MAP && n->type != PF_NODE_NULL) {
		r = pf_error_set(err, EINVAL, "container state: 'annotations' is not an object");
		goto fail;
	}
	st->annotations = n && n->type == PF_NODE_MAP ? n : NULL;
	return 0;
fail:
	pf_oci_state_done(st);
	return r;
}

void pf_oci_config_done(struct pf_oci_config *cfg)
{
	if (!cfg)
		return;
	pf_node_free(cfg->doc);
	memset(cfg, 0, sizeof(*cfg));
}

int pf_oci_config_parse(const char *buf, size_t len, struct pf_oci_config *cfg,
			struct pf_error *err)
{
	const struct pf_node *ns, *n;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = pf_json_parse(buf, len, &config_limits, &cfg->doc, err);
	if (r < 0)
		return pf_error_prefix(err, "config.json");
	if (cfg->doc->type != PF_NODE_MAP) {
		r = pf_error_set(err, EINVAL, "config.json: not a JSON object");
		goto fail;
	}
	n = pf_node_get(cfg->doc, "annotations");
	cfg->annotations = n && n->type == PF_NODE_MAP ? n : NULL;
	n = pf_node_get(cfg->doc, "hostname");
	cfg->hostname = n && n->type == PF_NODE_STRING ? n->str : NULL;

	ns = pf_node_path(cfg->doc, "linux.namespaces");
	if (ns && ns->type != PF_NODE_SEQ) {
		r = pf_error_set(err, EINVAL, "config.json: 'linux.namespaces' is not an array");
		goto fail;
	}
	for (size_t i = 0; ns && i < ns->n; i++) {
		const struct pf_node *e = ns->items[i];
		const char *type = pf_node_str(e, "type");

		if (!type || strcmp(type, "network"))
			continue;
		cfg->has_netns = true;
		n = pf_node_get(e, "path");
		if (n && n->type != PF_NODE_STRING) {
			r = pf_error_set(err, EINVAL,
					 "config.json: linux.namespaces[%zu].path is not a string",
					 i);
			goto fail;
		}
		cfg->netns_path = n && n->str[0] ? n->str : NULL;
		if (cfg->netns_path &&
		    (cfg->netns_path[0] != '/' || strlen(cfg->netns_path) > PF_OCI_MAX_PATH)) {
			r = pf_error_set(
			    err, EINVAL,
			    "config.json: linux.namespaces[%zu].path is not an absolute "
			    "path",
			    i);
			goto fail;
		}
	}
	return 0;
fail:
	pf_oci_config_done(cfg);
	return r;
}

int pf_oci_config_load(const char *bundle, struct pf_oci_config *cfg, struct pf_error *err)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return pf_error_set(err, ENOMEM, "out of memory");
	r = pf_read_file(path, PF_OCI_MAX_CONFIG, &buf, &len);
	if (r == -EFBIG)
		return pf_error_set(err, EFBIG, "%s: larger than %d bytes", path,
				    PF_OCI_MAX_CONFIG);
	if (r < 0)
		return pf_error_set(err, -r, "%s: %s", path, strerror(-r));
	r = pf_oci_config_parse(buf, len, cfg, err);
	if (r < 0)
		return pf_error_prefix(err, "%s", bundle);
	return 0;
}

const char *pf_oci_annotation(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			      const char *key)
{
	const char *v = NULL;

	if (st && st->annotations)
		v = pf_node_str(st->annotations, key);
	if (!v && cfg && cfg->annotations)
		v = pf_node_str(cfg->annotations, key);
	return v;
}

void pf_oci_identity_done(struct pf_oci_identity *id)
{
	if (!id)
		return;
	free(id->namespace);
	free(id->name);
	free(id->uid);
	memset(id, 0, sizeof(*id));
}

const char *pf_oci_id_source_name(enum pf_oci_id_source s)
{
	switch (s) {
	case PF_OCI_ID_CRIO:
		return "io.kubernetes.pod annotations";
	case PF_OCI_ID_CONTAINERD:
		return "io.kubernetes.cri annotations";
	case PF_OCI_ID_PODFENCE:
		return "podfence.io annotations";
	case PF_OCI_ID_CONTAINER:
		return "container id";
	}
	return "?";
}

static bool valid_uid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_UID)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

static int set_identity(struct pf_oci_identity *id, enum pf_oci_id_source src, const char *ns_key,
			const char *ns, const char *name_key, const char *name, const char *uid_key,
			const char *uid, const char *kind, struct pf_error *err)
{
	if (!pf_dns1123_label(ns))
		return pf_error_set(
		    err, EINVAL,
		    "annotation %s: '%.64s' is not a valid namespace name (DNS-1123 "
		    "label)",
		    ns_key, ns);
	if (strlen(name) > MAX_NAME || !pf_dns1123_subdomain(name))
		return pf_error_set(
		    err, EINVAL, "annotation %s: '%.64s' is not a valid name (DNS-1123 subdomain)",
		    name_key, name);
	if (uid && !valid_uid(uid))
		return pf_error_set(err, EINVAL, "annotation %s: '%.64s' is not a valid uid",
				    uid_key, uid);
	id->source = src;
	id->kind = kind;
	id->namespace = strdup(ns);
	id->name = strdup(name);
	id->uid = uid ? strdup(uid) : NULL;
	if (!id->namespace || !id->name || (uid && !id->uid)) {
		pf_oci_identity_done(id);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* A Kubernetes source counts as present when it names the pod; then it must be whole. */
static int try_kube(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
		    enum pf_oci_id_source src, const char *ns_key, const char *name_key,
		    const char *uid_key, struct pf_oci_identity *id, struct pf_error *err)
{
	const char *ns = pf_oci_annotation(st, cfg, ns_key);
	const char *name = pf_oci_annotation(st, cfg, name_key);
	const char *uid = pf_oci_annotation(st, cfg, uid_key);
	int r;

	if (!name)
		return 0;
	if (!ns)
		return pf_error_set(err, EINVAL, "annotation %s is set but %s is missing", name_key,
				    ns_key);
	if (uid && !*uid)
		uid = NULL;
	r = set_identity(id, src, ns_key, ns, name_key, name, uid_key, uid, "Pod", err);
	return r < 0 ? r : 1;
}

static void add_note(struct pf_oci_identity *id, const char *fmt, ...) _printf_(2, 3);
static void add_note(struct pf_oci_identity *id, const char *fmt, ...)
{
	size_t n = strlen(id->note);
	va_list ap;

	if (n && n + 2 < sizeof(id->note)) {
		memcpy(id->note + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(id->note + n, sizeof(id->note) - n, fmt, ap);
	va_end(ap);
}

static bool ann_is(const struct pf_oci_state *st, const struct pf_oci_config *cfg, const char *key,
		   const char *want)
{
	return want && pf_streq(pf_oci_annotation(st, cfg, key), want);
}

static bool ann_has(const struct pf_oci_state *st, const struct pf_oci_config *cfg, const char *key)
{
	return pf_oci_annotation(st, cfg, key) != NULL;
}

/*
 * Which runtime ran the container, from keys a pod cannot forge. Each runtime writes its own
 * keys over whatever it copied from the pod, but a pod may carry the other runtime's keys.
 * CRI-O vouches for a container by naming it: io.kubernetes.cri-o.ContainerID (or, for the
 * sandbox, io.kubernetes.cri-o.SandboxID) is the container's own id, which no pod knows when
 * its annotations are written. containerd writes io.kubernetes.cri.container-type and
 * io.kubernetes.cri.sandbox-id on every container it runs; on a CRI-O container they can only
 * be forged, and CRI-O's proof is looked at first.
 */
enum runtime { RT_NONE, RT_CRIO, RT_CONTAINERD };

static int which_runtime(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			 enum runtime *rt, struct pf_error *err)
{
	const char *cid = st ? st->id : NULL;
	bool crio, containerd, containerd_proof;

	crio = ann_has(st, cfg, "io.kubernetes.cri-o.ContainerType") &&
	       (ann_is(st, cfg, "io.kubernetes.cri-o.ContainerID", cid) ||
		(ann_is(st, cfg, "io.kubernetes.cri-o.ContainerType", "sandbox") &&
		 ann_is(st, cfg, "io.kubernetes.cri-o.SandboxID", cid)));
	containerd = ann_has(st, cfg, "io.kubernetes.cri.container-type") ||
		     ann_has(st, cfg, "io.kubernetes.cri.sandbox-id");
	containerd_proof = ann_is(st, cfg, "io.kubernetes.cri.container-type", "sandbox") &&
			   ann_is(st, cfg, "io.kubernetes.cri.sandbox-id", cid);
	if (crio && containerd_proof)
		return pf_error_set(err, EINVAL,
				    "both CRI-O's and containerd's annotations name this container "
				    "as their own: cannot tell which runtime ran it");
	*rt = crio ? RT_CRIO : containerd ? RT_CONTAINERD : RT_NONE;
	return 0;
}

/* What CRI-O itself wrote beats the io.kubernetes.pod.* keys, which a pod annotation could
 * shadow: the sandbox's namespace and the kubelet's labels (io.kubernetes.cri-o.Labels, JSON
 * that CRI-O writes; the kubelet sets its io.kubernetes.pod.* labels over the pod's own). */
static int crio_own_keys(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			 struct pf_oci_identity *id, struct pf_error *err)
{
	static const struct pf_doc_limits lim = {
	    .max_bytes = PF_OCI_MAX_STATE,
	    .max_depth = 4,
	    .max_nodes = 400000,
	    .max_string = PF_OCI_MAX_STATE,
	    .max_docs = 1,
	};
	const char *labels = pf_oci_annotation(st, cfg, "io.kubernetes.cri-o.Labels");
	const char *ns = pf_oci_annotation(st, cfg, "io.kubernetes.cri-o.Namespace");
	const char *want_ns, *want_name = NULL, *want_uid = NULL, *ns_key;
	struct pf_oci_identity fixed = {0};
	struct pf_node *doc = NULL;
	int r = 0;

	if (labels) {
		r = pf_json_parse(labels, strlen(labels), &lim, &doc, NULL);
		if (r < 0 || doc->type != PF_NODE_MAP) {
			r = pf_error_set(
			    err, EINVAL,
			    "annotation io.kubernetes.cri-o.Labels is not a JSON object");
			goto out;
		}
		want_name = pf_node_str(doc, "io.kubernetes.pod.name");
		want_uid = pf_node_str(doc, "io.kubernetes.pod.uid");
	}
	ns_key = "io.kubernetes.cri-o.Namespace";
	want_ns = ns && *ns ? ns : NULL;
	if (!want_ns && doc) {
		ns_key = "io.kubernetes.cri-o.Labels";
		want_ns = pf_node_str(doc, "io.kubernetes.pod.namespace");
	}
	if (want_name && !*want_name)
		want_name = NULL;
	if (want_uid && !*want_uid)
		want_uid = NULL;
	if (want_ns && !*want_ns)
		want_ns = NULL;
	if ((!want_ns || pf_streq(want_ns, id->namespace)) &&
	    (!want_name || pf_streq(want_name, id->name)) &&
	    (!want_uid || pf_streq(want_uid, id->uid)))
		goto out;
	r = set_identity(&fixed, PF_OCI_ID_CRIO, ns_key, want_ns ? want_ns : id->namespace,
			 "io.kubernetes.cri-o.Labels", want_name ? want_name : id->name,
			 "io.kubernetes.cri-o.Labels", want_uid ? want_uid : id->uid, "Pod", err);
	if (r < 0)
		goto out;
	snprintf(fixed.note, sizeof(fixed.note),
		 "io.kubernetes.pod.* annotations say %.64s/%.64s, CRI-O's own keys %.64s/%.64s: "
		 "taking CRI-O's",
		 id->namespace, id->name, fixed.namespace, fixed.name);
	pf_oci_identity_done(id);
	*id = fixed;
out:
	pf_node_free(doc);
	return r;
}

/* Keys of the other runtime or of podfence.io that disagree are named in the note. */
static void note_ignored(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			 struct pf_oci_identity *id, const char *ns_key, const char *name_key,
			 const char *why)
{
	const char *ns = pf_oci_annotation(st, cfg, ns_key);
	const char *name = pf_oci_annotation(st, cfg, name_key);

	if ((ns && !pf_streq(ns, id->namespace)) || (name && !pf_streq(name, id->name)))
		add_note(id, "ignored %s=%.64s %s=%.64s (%s)", ns_key, ns ? ns : "-", name_key,
			 name ? name : "-", why);
}

int pf_oci_identity_derive(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			   struct pf_oci_identity *id, struct pf_error *err)
{
	struct pf_error local;
	const char *ns, *name, *cid;
	enum runtime rt = RT_NONE;
	int r;

	if (!err)
		err = &local;
	memset(id, 0, sizeof(*id));
	r = which_runtime(st, cfg, &rt, err);
	if (r < 0)
		return r;
	if (rt == RT_CRIO) {
		r = try_kube(st, cfg, PF_OCI_ID_CRIO, "io.kubernetes.pod.namespace",
			     "io.kubernetes.pod.name", "io.kubernetes.pod.uid", id, err);
		if (r > 0)
			r = crio_own_keys(st, cfg, id, err);
		if (r < 0) {
			pf_oci_identity_done(id);
			return r;
		}
		if (id->name) {
			note_ignored(st, cfg, id, "io.kubernetes.cri.sandbox-namespace",
				     "io.kubernetes.cri.sandbox-name", "not written by CRI-O");
			note_ignored(st, cfg, id, "podfence.io/namespace", "podfence.io/name",
				     "a Kubernetes runtime ran this container");
			return 0;
		}
	} else if (rt == RT_CONTAINERD) {
		r = try_kube(st, cfg, PF_OCI_ID_CONTAINERD, "io.kubernetes.cri.sandbox-namespace",
			     "io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.sandbox-uid", id,
			     err);
		if (r < 0)
			return r;
		if (r > 0) {
			note_ignored(st, cfg, id, "io.kubernetes.pod.namespace",
				     "io.kubernetes.pod.name", "not written by containerd");
			note_ignored(st, cfg, id, "podfence.io/namespace", "podfence.io/name",
				     "a Kubernetes runtime ran this container");
			return 0;
		}
	} else {
		/* No Kubernetes runtime (Podman, runc): whoever ran it chose its annotations. */
		r = try_kube(st, cfg, PF_OCI_ID_CRIO, "io.kubernetes.pod.namespace",
			     "io.kubernetes.pod.name", "io.kubernetes.pod.uid", id, err);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	/* A runtime's markers without its names (Podman's pods carry CRI-O-style markers):
	 * not a Kubernetes pod, as below. */

	cid = st ? st->id : NULL;
	if (!cid)
		return pf_error_set(err, EINVAL, "no container id");
	ns = pf_oci_annotation(st, cfg, "podfence.io/namespace");
	name = pf_oci_annotation(st, cfg, "podfence.io/name");
	if (ns && !*ns)
		ns = NULL;
	if (name && !*name)
		name = NULL;
	if (ns || name)
		return set_identity(id, PF_OCI_ID_PODFENCE, "podfence.io/namespace",
				    ns ? ns : "default", "podfence.io/name", name ? name : cid,
				    NULL, NULL, name ? "Pod" : "Container", err);

	/* The container id may not be a DNS name (runc allows '_' and '.'); it is only ever
	 * matched by the engine as given. */
	id->source = PF_OCI_ID_CONTAINER;
	id->kind = "Container";
	id->namespace = strdup("default");
	id->name = strdup(cid);
	if (!id->namespace || !id->name) {
		pf_oci_identity_done(id);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int pf_oci_netns_path(const struct pf_oci_state *st, const struct pf_oci_config *cfg, char **path,
		      bool *host_network, struct pf_error *err)
{
	*path = NULL;
	*host_network = false;
	/* Without config.json we cannot tell host networking from a private netns by the
	 * documents alone; the caller compares the netns identity with the host's. */
	if (cfg && cfg->doc && !cfg->has_netns) {
		*host_network = true;
		return 0;
	}
	if (st && st->pid > 0) {
		if (asprintf(path, "/proc/%d/ns/net", st->pid) < 0)
			return pf_error_set(err, ENOMEM, "out of memory");
		return 0;
	}
	if (cfg && cfg->netns_path) {
		*path = strdup(cfg->netns_path);
		if (!*path)
			return pf_error_set(err, ENOMEM, "out of memory");
		return 0;
	}
	return pf_error_set(err, ENOENT,
			    "neither a pid in the state nor a network namespace path in "
			    "config.json");
}

/* ---- capabilities ------------------------------------------------------------------------ */

int pf_oci_config_caps(const struct pf_oci_config *cfg, unsigned *caps, struct pf_error *err)
{
	static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable",
					   "ambient"};
	const struct pf_node *c;

	*caps = 0;
	if (!cfg || !cfg->doc)
		return 0;
	c = pf_node_path(cfg->doc, "process.capabilities");
	if (!c || c->type == PF_NODE_NULL)
		return 0;
	if (c->type != PF_NODE_MAP)
		return pf_error_set(err, EINVAL,
				    "config.json: 'process.capabilities' is not an object");
	for (size_t i = 0; i < PF_ARRAY_SIZE(sets); i++) {
		const struct pf_node *set = pf_node_get(c, sets[i]);

		if (!set || set->type == PF_NODE_NULL)
			continue;
		if (set->type != PF_NODE_SEQ)
			return pf_error_set(
			    err, EINVAL, "config.json: 'process.capabilities.%s' is not an array",
			    sets[i]);
		for (size_t j = 0; j < set->n; j++) {
			const struct pf_node *n = set->items[j];

			if (n->type != PF_NODE_STRING || !n->str)
				return pf_error_set(err, EINVAL,
						    "config.json: process.capabilities.%s[%zu] is "
						    "not a string",
						    sets[i], j);
			if (!strcmp(n->str, "CAP_NET_ADMIN"))
				*caps |= PF_CTL_CAP_NET_ADMIN;
			else if (!strcmp(n->str, "CAP_NET_RAW"))
				*caps |= PF_CTL_CAP_NET_RAW;
		}
	}
	return 0;
}

/* ---- the sandbox that holds the netns -------------------------------------------------- */

int pf_oci_sandbox_holder(const struct pf_oci_state *st, const struct pf_oci_config *cfg,
			  const char **sandbox, int *pid)
{
	const char *path = cfg ? cfg->netns_path : NULL;
	const char *type, *id;
	uint32_t n;
	char num[16];
	size_t len;

	*sandbox = NULL;
	*pid = 0;
	/* Only "/proc/<digits>/ns/net": anything else (a bind-mounted netns, CRI-O's) is held by
	 * its mount, and its sandbox registers itself. */
	if (!path || strncmp(path, "/proc/", 6))
		return 0;
	len = strcspn(path + 6, "/");
	if (!len || len >= sizeof(num) || strcmp(path + 6 + len, "/ns/net"))
		return 0;
	memcpy(num, path + 6, len);
	num[len] = '\0';
	if (pf_parse_u32(num, INT32_MAX, &n) < 0 || n <= 1 || (st && (int)n == st->pid))
		return 0;
	type = pf_oci_annotation(st, cfg, "io.kubernetes.cri.container-type");
	id = pf_oci_annotation(st, cfg, "io.kubernetes.cri.sandbox-id");
	if (!type || strcmp(type, "container") || !id || !pf_oci_valid_id(id) ||
	    (st && pf_streq(id, st->id)))
		return 0;
	*sandbox = id;
	*pid = (int)n;
	return 0;
}
