/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/oci: state and config.json as CRI-O, containerd, Podman and runc write them. */
#include <stdio.h>

#include "doc.h"
#include "netns.h"
#include "oci.h"
#include "tap.h"

static char *slurp(const char *name, size_t *len)
{
	char path[4096];
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/oci/%s", PF_TEST_DATA, name);
	if (pf_read_file(path, PF_OCI_MAX_CONFIG, &buf, len) < 0) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	return buf;
}

struct want {
	const char *dir;
	const char *ns, *name, *uid, *kind;
	enum pf_oci_id_source source;
	int pid;
	bool host;
	const char *netns;	  /* from the pid */
	const char *config_netns; /* config.json's path */
	const char *note;	  /* in the identity's note ("" : the note is empty) */
};

static void check_case(const struct want *w)
{
	struct pf_oci_state st;
	struct pf_oci_config cfg;
	struct pf_oci_identity id;
	struct pf_error err = {0};
	char name[256], *sbuf, *cbuf, *netns = NULL;
	size_t slen, clen;
	bool host;
	int r;

	snprintf(name, sizeof(name), "%s/state.json", w->dir);
	sbuf = slurp(name, &slen);
	snprintf(name, sizeof(name), "%s/config.json", w->dir);
	cbuf = slurp(name, &clen);

	r = pf_oci_state_parse(sbuf, slen, &st, &err);
	if (!ok(r == 0, "%s: state parses", w->dir))
		tap_diag("%s", err.msg);
	r = pf_oci_config_parse(cbuf, clen, &cfg, &err);
	if (!ok(r == 0, "%s: config.json parses", w->dir))
		tap_diag("%s", err.msg);
	is_int(st.pid, w->pid, "%s: pid", w->dir);
	ok(st.bundle && st.bundle[0] == '/', "%s: bundle", w->dir);
	is_int(cfg.has_netns, !w->host, "%s: network namespace entry", w->dir);
	if (w->config_netns)
		is_str(cfg.netns_path, w->config_netns, "%s: config.json netns path", w->dir);

	r = pf_oci_netns_path(&st, &cfg, &netns, &host, &err);
	is_int(r, 0, "%s: netns path found", w->dir);
	is_int(host, w->host, "%s: host network", w->dir);
	if (!w->host)
		is_str(netns, w->netns, "%s: netns to register", w->dir);
	else
		ok(!netns, "%s: no netns for a host-network container", w->dir);
	free(netns);

	r = pf_oci_identity_derive(&st, &cfg, &id, &err);
	if (!ok(r == 0, "%s: identity", w->dir))
		tap_diag("%s", err.msg);
	is_str(id.namespace, w->ns, "%s: namespace", w->dir);
	is_str(id.name, w->name, "%s: name", w->dir);
	if (w->uid)
		is_str(id.uid, w->uid, "%s: uid", w->dir);
	else
		ok(!id.uid, "%s: no uid", w->dir);
	is_str(id.kind, w->kind, "%s: kind", w->dir);
	is_int(id.source, w->source, "%s: identity source", w->dir);
	if (w->note && !*w->note)
		is_str(id.note, "", "%s: nothing set aside", w->dir);
	else if (w->note)
		has_str(id.note, w->note, "%s: what was set aside is named", w->dir);

	/* Identity from config.json alone (Podman's poststop state may lack annotations). */
	{
		struct pf_oci_identity id2;
		const struct pf_node *saved = st.annotations;

		st.annotations = NULL;
		r = pf_oci_identity_derive(&st, &cfg, &id2, &err);
		ok(r == 0 && pf_streq(id2.name, w->name) && pf_streq(id2.namespace, w->ns),
		   "%s: same identity from config.json annotations", w->dir);
		pf_oci_identity_done(&id2);
		st.annotations = saved;
	}

	pf_oci_identity_done(&id);
	pf_oci_state_done(&st);
	pf_oci_config_done(&cfg);
	free(sbuf);
	free(cbuf);
}

static const struct want cases[] = {
    {"crio-sandbox", "shop", "web-7d4b9c8f6d-x2x7q", "0f5d8a3c-6e1b-4b7a-9c2d-1e3f5a7b9c0d", "Pod",
     PF_OCI_ID_CRIO, 31337, false, "/proc/31337/ns/net",
     "/var/run/netns/4a8f7b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b", ""},
    {"crio-app", "shop", "web-7d4b9c8f6d-x2x7q", "0f5d8a3c-6e1b-4b7a-9c2d-1e3f5a7b9c0d", "Pod",
     PF_OCI_ID_CRIO, 31400, false, "/proc/31400/ns/net",
     "/var/run/netns/4a8f7b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"},
    {"containerd-sandbox", "payments", "api-5f6d7c8b9-qwert",
     "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "Pod", PF_OCI_ID_CONTAINERD, 42000, false,
     "/proc/42000/ns/net", "/var/run/netns/cni-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
    {"containerd-app", "payments", "api-5f6d7c8b9-qwert", "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
     "Pod", PF_OCI_ID_CONTAINERD, 42123, false, "/proc/42123/ns/net", "/proc/42000/ns/net"},
    {"podman", "shop", "web", NULL, "Pod", PF_OCI_ID_PODFENCE, 5150, false, "/proc/5150/ns/net",
     "/run/netns/netns-8e3c1f2a-7b6d-4c5e-9f0a-1b2c3d4e5f6a"},
    {"host-network", "default", "hostnet", NULL, "Pod", PF_OCI_ID_PODFENCE, 6000, true, NULL, NULL},
    {"runc-plain", "default", "plain_1", NULL, "Container", PF_OCI_ID_CONTAINER, 7000, false,
     "/proc/7000/ns/net", NULL, ""},
    /* containerd passing pod annotations through: they pose as CRI-O and as bank/vault-0. */
    {"containerd-forged", "payments", "api-5f6d7c8b9-qwert", "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
     "Pod", PF_OCI_ID_CONTAINERD, 42123, false, "/proc/42123/ns/net", "/proc/42000/ns/net",
     "io.kubernetes.pod.name=vault-0"},
    /* CRI-O with containerd's keys and podfence.io's forged by the pod. */
    {"crio-forged", "shop", "web-7d4b9c8f6d-x2x7q", "0f5d8a3c-6e1b-4b7a-9c2d-1e3f5a7b9c0d", "Pod",
     PF_OCI_ID_CRIO, 31400, false, "/proc/31400/ns/net",
     "/var/run/netns/4a8f7b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b", "podfence.io/name=vault-0"},
    /* CRI-O whose io.kubernetes.pod.* keys a pod annotation shadowed: CRI-O's own win. */
    {"crio-shadowed", "shop", "web-7d4b9c8f6d-x2x7q", "0f5d8a3c-6e1b-4b7a-9c2d-1e3f5a7b9c0d", "Pod",
     PF_OCI_ID_CRIO, 31337, false, "/proc/31337/ns/net",
     "/var/run/netns/4a8f7b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b", "taking CRI-O's"},
};

static int parse_state(const char *s, struct pf_error *err)
{
	struct pf_oci_state st;
	int r = pf_oci_state_parse(s, strlen(s), &st, err);

	pf_oci_state_done(&st);
	return r;
}

static void test_bad_states(void)
{
	static const struct {
		const char *doc, *msg;
	} bad[] = {
	    {"", "empty"},
	    {"garbage", "line 1"},
	    {"[1,2]", "not a JSON object"},
	    {"{\"status\":\"creating\"}", "'id'"},
	    {"{\"id\":42}", "'id'"},
	    {"{\"id\":\"../../etc/passwd\"}", "not a valid container id"},
	    {"{\"id\":\".hidden\"}", "not a valid container id"},
	    {"{\"id\":\"a/b\"}", "not a valid container id"},
	    {"{\"id\":\"\"}", "not a valid container id"},
	    {"{\"id\":\"a\",\"pid\":\"12\"}", "'pid'"},
	    {"{\"id\":\"a\",\"pid\":-1}", "'pid'"},
	    {"{\"id\":\"a\",\"pid\":99999999999}", "'pid'"},
	    {"{\"id\":\"a\",\"pid\":1.5}", "'pid'"},
	    {"{\"id\":\"a\",\"bundle\":\"relative/dir\"}", "'bundle'"},
	    {"{\"id\":\"a\",\"bundle\":7}", "'bundle'"},
	    {"{\"id\":\"a\",\"annotations\":[]}", "'annotations'"},
	    {"{\"id\":\"a\"} {\"id\":\"b\"}", "line 1"},
	    {"{\"id\":\"a\"", "line 1"},
	};
	struct pf_error err = {0};
	char *big;

	for (size_t i = 0; i < PF_ARRAY_SIZE(bad); i++) {
		pf_error_clear(&err);
		ok(parse_state(bad[i].doc, &err) < 0, "bad state %zu rejected", i);
		has_str(err.msg, bad[i].msg, "bad state %zu: message names the problem", i);
	}

	/* Bounded: a state past the limit is refused before any tree is built. */
	big = malloc(PF_OCI_MAX_STATE + 64);
	memset(big, ' ', PF_OCI_MAX_STATE + 63);
	memcpy(big, "{\"id\":\"a\"}", 10);
	big[PF_OCI_MAX_STATE + 63] = '\0';
	ok(parse_state(big, &err) < 0, "oversized state rejected");
	free(big);

	/* Kubernetes allows 256 KiB of annotations, one value as large (a kubectl
	 * last-applied-configuration easily passes 16 KiB), and CRI-O repeats them
	 * JSON-encoded: such a pod must start. */
	{
		size_t val = 256 * 1024, o = 0;

		big = malloc(2 * val + 64 * 1024);
		o += (size_t)sprintf(big + o, "{\"id\":\"a\",\"annotations\":{\"big\":\"");
		memset(big + o, 'v', val);
		o += val;
		o += (size_t)sprintf(big + o, "\",\"io.kubernetes.cri-o.Annotations\":\"");
		memset(big + o, 'w', val);
		o += val;
		o += (size_t)sprintf(big + o, "\"");
		for (int i = 0; i < 4000; i++)
			o += (size_t)sprintf(big + o, ",\"k%d\":\"\"", i);
		sprintf(big + o, "}}");
		pf_error_clear(&err);
		ok(parse_state(big, &err) == 0, "a pod with 256 KiB annotations is accepted%s%s",
		   err.msg[0] ? ": " : "", err.msg);
		free(big);
	}
	ok(parse_state("{\"id\":\"a\",\"annotations\":null}", &err) == 0, "null annotations ok");
	ok(parse_state("{\"id\":\"x_1.2+3-4\",\"status\":\"stopped\"}", &err) == 0,
	   "poststop state without pid or bundle ok");
}

static int derive(const char *state, const char *config, struct pf_oci_identity *id,
		  struct pf_error *err)
{
	struct pf_oci_state st;
	struct pf_oci_config cfg = {0};
	int r;

	r = pf_oci_state_parse(state, strlen(state), &st, err);
	if (r < 0)
		return r;
	if (config)
		r = pf_oci_config_parse(config, strlen(config), &cfg, err);
	if (r == 0)
		r = pf_oci_identity_derive(&st, &cfg, id, err);
	pf_oci_config_done(&cfg);
	pf_oci_state_done(&st);
	return r;
}

/* Derives an identity from a state without a config and checks its namespace and name. */
static void ok_identity(const char *state, const char *ns, const char *name, const char *what)
{
	struct pf_oci_identity id;
	struct pf_error err = {0};
	int r = derive(state, NULL, &id, &err);

	ok(r == 0 && pf_streq(id.namespace, ns) && pf_streq(id.name, name), "%s", what);
	pf_oci_identity_done(&id);
}

static void test_identity_order(void)
{
	struct pf_oci_identity id;
	struct pf_error err = {0};
	int r;

	/* No runtime vouches for any of it (a Podman or runc container): the old order. */
	ok_identity(
	    "{\"id\":\"c1\",\"annotations\":{"
	    "\"podfence.io/namespace\":\"x\",\"podfence.io/name\":\"y\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"cd\","
	    "\"io.kubernetes.cri.sandbox-name\":\"cdpod\","
	    "\"io.kubernetes.pod.namespace\":\"crio\",\"io.kubernetes.pod.name\":\"criopod\"}}",
	    "crio", "criopod", "no runtime markers: io.kubernetes.pod.* first");

	ok_identity("{\"id\":\"c1\",\"annotations\":{"
		    "\"podfence.io/namespace\":\"x\",\"podfence.io/name\":\"y\","
		    "\"io.kubernetes.cri.sandbox-namespace\":\"cd\","
		    "\"io.kubernetes.cri.sandbox-name\":\"cdpod\"}}",
		    "x", "y",
		    "containerd's names without its markers are not containerd's: podfence.io");

	/* containerd's markers: its names, uid optional, everything else set aside. */
	r = derive("{\"id\":\"c1\",\"annotations\":{"
		   "\"podfence.io/namespace\":\"x\",\"podfence.io/name\":\"y\","
		   "\"io.kubernetes.pod.namespace\":\"victim\",\"io.kubernetes.pod.name\":\"v\","
		   "\"io.kubernetes.cri.container-type\":\"container\","
		   "\"io.kubernetes.cri.sandbox-id\":\"sb1\","
		   "\"io.kubernetes.cri.sandbox-namespace\":\"cd\","
		   "\"io.kubernetes.cri.sandbox-name\":\"cdpod\"}}",
		   NULL, &id, &err);
	ok(r == 0 && pf_streq(id.namespace, "cd") && pf_streq(id.name, "cdpod") && !id.uid &&
	       id.source == PF_OCI_ID_CONTAINERD,
	   "containerd: io.kubernetes.cri.* over forged io.kubernetes.pod.* and podfence.io");
	has_str(id.note, "io.kubernetes.pod.namespace=victim", "the forged pod keys are named");
	has_str(id.note, "podfence.io/name=y", "the podfence.io keys are named");
	pf_oci_identity_done(&id);

	/* A pod on containerd forging CRI-O's markers cannot know its container's id. */
	ok_identity("{\"id\":\"c1\",\"annotations\":{"
		    "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		    "\"io.kubernetes.cri-o.ContainerID\":\"guess\","
		    "\"io.kubernetes.cri-o.SandboxID\":\"guess\","
		    "\"io.kubernetes.pod.namespace\":\"victim\",\"io.kubernetes.pod.name\":\"v\","
		    "\"io.kubernetes.cri.container-type\":\"container\","
		    "\"io.kubernetes.cri.sandbox-id\":\"sb1\","
		    "\"io.kubernetes.cri.sandbox-namespace\":\"cd\","
		    "\"io.kubernetes.cri.sandbox-name\":\"cdpod\"}}",
		    "cd", "cdpod", "forged CRI-O markers on containerd: containerd's identity");

	/* containerd's markers without its names (never so on containerd): not a pod. */
	r = derive("{\"id\":\"c1\",\"annotations\":{"
		   "\"io.kubernetes.cri.container-type\":\"container\","
		   "\"io.kubernetes.cri.sandbox-id\":\"sb1\","
		   "\"io.kubernetes.cri.sandbox-namespace\":\"cd\"}}",
		   NULL, &id, &err);
	ok(r == 0 && id.source == PF_OCI_ID_CONTAINER, "containerd markers without a name: "
						       "container id");
	pf_oci_identity_done(&id);

	/* CRI-O vouches by the container's own id; then its keys, podfence.io set aside. */
	r = derive(
	    "{\"id\":\"c1\",\"annotations\":{"
	    "\"podfence.io/namespace\":\"x\",\"podfence.io/name\":\"y\","
	    "\"io.kubernetes.cri-o.ContainerType\":\"container\","
	    "\"io.kubernetes.cri-o.ContainerID\":\"c1\","
	    "\"io.kubernetes.cri.container-type\":\"container\","
	    "\"io.kubernetes.cri.sandbox-id\":\"sb1\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"victim\","
	    "\"io.kubernetes.cri.sandbox-name\":\"v\","
	    "\"io.kubernetes.pod.namespace\":\"crio\",\"io.kubernetes.pod.name\":\"criopod\"}}",
	    NULL, &id, &err);
	ok(r == 0 && pf_streq(id.namespace, "crio") && pf_streq(id.name, "criopod") &&
	       id.source == PF_OCI_ID_CRIO,
	   "CRI-O (ContainerID is the id): its keys over forged containerd and podfence.io keys");
	has_str(id.note, "io.kubernetes.cri.sandbox-namespace=victim",
		"forged containerd keys named");
	pf_oci_identity_done(&id);

	r = derive("{\"id\":\"sb9\",\"annotations\":{"
		   "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		   "\"io.kubernetes.cri-o.SandboxID\":\"sb9\","
		   "\"io.kubernetes.cri-o.Namespace\":\"real\","
		   "\"io.kubernetes.pod.namespace\":\"victim\",\"io.kubernetes.pod.name\":\"p\"}}",
		   NULL, &id, &err);
	ok(r == 0 && pf_streq(id.namespace, "real") && pf_streq(id.name, "p"),
	   "CRI-O sandbox (SandboxID is the id): CRI-O's Namespace over "
	   "io.kubernetes.pod.namespace");
	has_str(id.note, "taking CRI-O's", "the disagreement is noted");
	pf_oci_identity_done(&id);

	/* CRI-O's own keys are checked like the others: an invalid one is refused, named. */
	r = derive("{\"id\":\"sb9\",\"annotations\":{"
		   "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		   "\"io.kubernetes.cri-o.SandboxID\":\"sb9\","
		   "\"io.kubernetes.cri-o.Namespace\":\"Not_A_Namespace\","
		   "\"io.kubernetes.pod.namespace\":\"ns\",\"io.kubernetes.pod.name\":\"p\"}}",
		   NULL, &id, &err);
	ok(r < 0 && !id.name,
	   "CRI-O sandbox with an invalid io.kubernetes.cri-o.Namespace refused");
	has_str(err.msg, "io.kubernetes.cri-o.Namespace", "message names CRI-O's key");

	r = derive("{\"id\":\"sb9\",\"annotations\":{"
		   "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		   "\"io.kubernetes.cri-o.SandboxID\":\"sb9\","
		   "\"io.kubernetes.cri-o.Labels\":\"[1]\","
		   "\"io.kubernetes.pod.namespace\":\"ns\",\"io.kubernetes.pod.name\":\"p\"}}",
		   NULL, &id, &err);
	ok(r < 0 && !id.name, "CRI-O's io.kubernetes.cri-o.Labels not an object: refused");
	has_str(err.msg, "io.kubernetes.cri-o.Labels", "message names the annotation");

	/* Labels alone (no io.kubernetes.cri-o.Namespace) correct name and namespace. */
	r = derive("{\"id\":\"sb9\",\"annotations\":{"
		   "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		   "\"io.kubernetes.cri-o.SandboxID\":\"sb9\","
		   "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.pod.name\\\":\\\"real\\\","
		   "\\\"io.kubernetes.pod.namespace\\\":\\\"home\\\"}\","
		   "\"io.kubernetes.pod.namespace\":\"victim\",\"io.kubernetes.pod.name\":\"v\"}}",
		   NULL, &id, &err);
	ok(r == 0 && pf_streq(id.namespace, "home") && pf_streq(id.name, "real"),
	   "CRI-O's Labels over shadowed io.kubernetes.pod.* keys%s%s", r ? ": " : "",
	   r ? err.msg : "");
	pf_oci_identity_done(&id);

	/* Proof by both runtimes at once cannot come from either: refused. */
	r = derive("{\"id\":\"sb9\",\"annotations\":{"
		   "\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		   "\"io.kubernetes.cri-o.SandboxID\":\"sb9\","
		   "\"io.kubernetes.cri.container-type\":\"sandbox\","
		   "\"io.kubernetes.cri.sandbox-id\":\"sb9\","
		   "\"io.kubernetes.cri.sandbox-namespace\":\"a\","
		   "\"io.kubernetes.cri.sandbox-name\":\"b\","
		   "\"io.kubernetes.pod.namespace\":\"c\",\"io.kubernetes.pod.name\":\"d\"}}",
		   NULL, &id, &err);
	ok(r < 0, "both runtimes vouching: refused");
	has_str(err.msg, "which runtime", "message says why");

	/* CRI-O-style markers without names and without proof (Podman's pods): podfence.io. */
	r = derive("{\"id\":\"c1\",\"annotations\":{"
		   "\"io.kubernetes.cri-o.ContainerType\":\"container\","
		   "\"io.kubernetes.cri-o.SandboxID\":\"pod1\","
		   "\"podfence.io/namespace\":\"x\",\"podfence.io/name\":\"y\"}}",
		   NULL, &id, &err);
	ok(r == 0 && pf_streq(id.namespace, "x") && id.source == PF_OCI_ID_PODFENCE,
	   "Podman pod markers: podfence.io honoured");
	is_str(id.note, "", "nothing noted");
	pf_oci_identity_done(&id);

	r = derive("{\"id\":\"c1\",\"annotations\":{\"podfence.io/name\":\"solo\"}}", NULL, &id,
		   &err);
	ok(r == 0 && pf_streq(id.namespace, "default") && pf_streq(id.name, "solo") &&
	       pf_streq(id.kind, "Pod"),
	   "podfence.io/name alone: namespace default");
	pf_oci_identity_done(&id);

	r = derive("{\"id\":\"c1\",\"annotations\":{\"podfence.io/namespace\":\"team\"}}", NULL,
		   &id, &err);
	ok(r == 0 && pf_streq(id.namespace, "team") && pf_streq(id.name, "c1") &&
	       pf_streq(id.kind, "Container"),
	   "podfence.io/namespace alone: the container id as name");
	pf_oci_identity_done(&id);

	r = derive("{\"id\":\"c1\",\"annotations\":{\"podfence.io/name\":\"Bad_Name\"}}", NULL, &id,
		   &err);
	ok(r < 0, "invalid podfence.io/name rejected");
	has_str(err.msg, "podfence.io/name", "message names the annotation");

	r = derive("{\"id\":\"c1\",\"annotations\":{\"io.kubernetes.pod.name\":\"p\"}}", NULL, &id,
		   &err);
	ok(r < 0, "pod name without namespace rejected");
	has_str(err.msg, "io.kubernetes.pod.namespace", "message names the missing annotation");

	r = derive("{\"id\":\"c1\",\"annotations\":{\"io.kubernetes.pod.name\":\"p\","
		   "\"io.kubernetes.pod.namespace\":\"n\",\"io.kubernetes.pod.uid\":\"a b\"}}",
		   NULL, &id, &err);
	ok(r < 0, "bad uid rejected");

	r = derive("{\"id\":\"c1\",\"annotations\":{\"podfence.io/name\":7}}", NULL, &id, &err);
	ok(r == 0 && id.source == PF_OCI_ID_CONTAINER, "non-string annotation ignored");
	pf_oci_identity_done(&id);

	r = derive("{\"id\":\"c1\"}", "{\"annotations\":{\"podfence.io/name\":\"fromcfg\"}}", &id,
		   &err);
	ok(r == 0 && pf_streq(id.name, "fromcfg"), "config.json annotations used when the state "
						   "has none");
	pf_oci_identity_done(&id);
}

static void test_config(void)
{
	struct pf_oci_config cfg;
	struct pf_oci_state st;
	struct pf_error err = {0};
	char *netns;
	bool host;
	const char *c;
	int r;

	c = "{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"}]}}";
	ok(pf_oci_config_parse(c, strlen(c), &cfg, &err) == 0 && cfg.has_netns && !cfg.netns_path,
	   "new netns without a path");
	pf_oci_config_done(&cfg);

	c = "{\"linux\":{\"namespaces\":{\"type\":\"network\"}}}";
	ok(pf_oci_config_parse(c, strlen(c), &cfg, &err) < 0, "namespaces not an array rejected");
	c = "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"rel\"}]}}";
	ok(pf_oci_config_parse(c, strlen(c), &cfg, &err) < 0, "relative netns path rejected");
	c = "[]";
	ok(pf_oci_config_parse(c, strlen(c), &cfg, &err) < 0, "config.json not an object");
	c = "{}";
	ok(pf_oci_config_parse(c, strlen(c), &cfg, &err) == 0 && !cfg.has_netns,
	   "no linux section: host network");
	pf_oci_config_done(&cfg);

	/* The pod's annotations are in config.json too, one value up to 256 KiB. */
	{
		size_t val = 256 * 1024, o = 0;
		char *big = malloc(val + 256);

		o += (size_t)sprintf(big, "{\"annotations\":{\"big\":\"");
		memset(big + o, 'v', val);
		o += val;
		sprintf(big + o, "\"},\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}");
		pf_error_clear(&err);
		ok(pf_oci_config_parse(big, strlen(big), &cfg, &err) == 0 && cfg.has_netns,
		   "config.json with a 256 KiB annotation parses%s%s", err.msg[0] ? ": " : "",
		   err.msg);
		pf_oci_config_done(&cfg);
		free(big);
	}

	/* poststop: no pid, the path from config.json */
	c = "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/x\"}]}}";
	r = pf_oci_config_parse(c, strlen(c), &cfg, &err);
	r = r ? r : pf_oci_state_parse("{\"id\":\"a\"}", 10, &st, &err);
	ok(r == 0, "poststop documents parse");
	r = pf_oci_netns_path(&st, &cfg, &netns, &host, &err);
	ok(r == 0 && !host && pf_streq(netns, "/run/netns/x"), "poststop: netns from config.json");
	free(netns);
	pf_oci_config_done(&cfg);
	r = pf_oci_netns_path(&st, NULL, &netns, &host, &err);
	is_int(r, -ENOENT, "neither pid nor config: -ENOENT");
	pf_oci_state_done(&st);
}

static void test_requests(void)
{
	struct pf_oci_identity id = {
	    .namespace = "shop", .name = "web", .uid = NULL, .kind = "Pod"};
	struct pf_node *doc = NULL;
	struct pf_error err = {0};
	char *req = NULL;
	int64_t v;

	ok(pf_ctl_msg_register(&(struct pf_ctl_register){.container = "c\"1\\\n",
							 .netns = "/proc/5/ns/net",
							 .pid = 5,
							 .netns_dev = 4,
							 .netns_ino = 4026531840ull,
							 .namespace = id.namespace,
							 .name = id.name,
							 .uid = id.uid,
							 .kind = id.kind},
			       &req) == 0,
	   "register request built");
	ok(pf_json_parse(req, strlen(req), NULL, &doc, &err) == 0, "register request is JSON");
	is_str(pf_node_str(doc, "op"), "register", "op");
	is_str(pf_node_str(doc, "container"), "c\"1\\\n", "container id escaped and round-trips");
	is_str(pf_node_str(doc, "netns"), "/proc/5/ns/net", "netns");
	ok(pf_node_int(doc, "pid", &v) == 0 && v == 5, "pid");
	ok(pf_node_int(doc, "netns_ino", &v) == 0 && v == 4026531840ll, "netns_ino");
	ok(pf_node_int(doc, "netns_dev", &v) == 0 && v == 4, "netns_dev");
	is_str(pf_node_str(doc, "kind"), "Pod", "kind");
	ok(!pf_node_get(doc, "uid"), "no uid when unknown");
	pf_node_free(doc);
	free(req);

	ok(pf_ctl_msg_unregister("abc", NULL, &req) == 0, "unregister request built");
	is_str(req, "{\"op\":\"unregister\",\"container\":\"abc\"}", "unregister request");
	free(req);
}

static void test_valid_id(void)
{
	char longid[PF_OCI_MAX_ID + 2];

	ok(pf_oci_valid_id("d2c1b0a9f8e7"), "hex id");
	ok(pf_oci_valid_id("my_ctr.1+x-y"), "runc-style id");
	ok(!pf_oci_valid_id("a b"), "space refused");
	ok(!pf_oci_valid_id(".."), "dot-dot refused");
	ok(!pf_oci_valid_id(NULL), "NULL refused");
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ok(!pf_oci_valid_id(longid), "overlong id refused");
	longid[PF_OCI_MAX_ID] = '\0';
	ok(pf_oci_valid_id(longid), "id of the maximum length accepted");
}

static void test_host_netns(void)
{
	struct pf_netns_id id;

	ok(pf_netns_id_of_path("/proc/self/ns/net", &id) == 0, "stat own netns");
	ok(pf_netns_is_host(&id), "own netns counts as the host's");
	id.ino++;
	ok(!pf_netns_is_host(&id), "another inode does not");
	is_int(pf_netns_id_of_path("/nonexistent/ns", &id), -ENOENT, "missing path");
}

/* process.capabilities: any set counts; malformed is an error naming the field. */
static void test_caps(void)
{
	static const struct {
		const char *json;
		int r;
		unsigned caps;
	} c[] = {
	    {"{}", 0, 0},
	    {"{\"process\":{\"capabilities\":null}}", 0, 0},
	    {"{\"process\":{\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"]}}}", 0, 0},
	    {"{\"process\":{\"capabilities\":{\"effective\":[\"CAP_NET_ADMIN\"]}}}", 0,
	     PF_CTL_CAP_NET_ADMIN},
	    {"{\"process\":{\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\"]}}}", 0,
	     PF_CTL_CAP_NET_RAW},
	    {"{\"process\":{\"capabilities\":{\"ambient\":[\"CAP_NET_RAW\"],"
	     "\"permitted\":[\"CAP_NET_ADMIN\"]}}}",
	     0, PF_CTL_CAP_NET_ADMIN | PF_CTL_CAP_NET_RAW},
	    {"{\"process\":{\"capabilities\":[\"CAP_NET_RAW\"]}}", -EINVAL, 0},
	    {"{\"process\":{\"capabilities\":{\"effective\":\"CAP_NET_RAW\"}}}", -EINVAL, 0},
	    {"{\"process\":{\"capabilities\":{\"effective\":[7]}}}", -EINVAL, 0},
	};
	struct pf_node *doc = NULL;
	char *req = NULL;

	for (size_t i = 0; i < PF_ARRAY_SIZE(c); i++) {
		struct pf_oci_config cfg;
		struct pf_error err = {0};
		unsigned caps = 99;

		if (pf_oci_config_parse(c[i].json, strlen(c[i].json), &cfg, &err) < 0) {
			ok(false, "caps case %zu parses: %s", i, err.msg);
			continue;
		}
		is_int(pf_oci_config_caps(&cfg, &caps, &err), c[i].r, "caps case %zu result", i);
		if (c[i].r == 0)
			is_int((int)caps, (int)c[i].caps, "caps case %zu", i);
		else
			ok(strstr(err.msg, "process.capabilities") != NULL,
			   "caps case %zu error names the field: %s", i, err.msg);
		pf_oci_config_done(&cfg);
	}
	ok(pf_ctl_msg_register(
	       &(struct pf_ctl_register){.container = "c1", .netns = "/proc/5/ns/net"}, &req) ==
		   0 &&
	       !strstr(req, "caps"),
	   "no caps, no field");
	free(req);
	ok(pf_ctl_msg_register(
	       &(struct pf_ctl_register){.container = "c1",
					 .netns = "/proc/5/ns/net",
					 .caps = PF_CTL_CAP_NET_ADMIN | PF_CTL_CAP_NET_RAW},
	       &req) == 0,
	   "caps added");
	ok(pf_json_parse(req, strlen(req), NULL, &doc, NULL) == 0, "request with caps is JSON");
	ok(!pf_node_get(doc, "caps_unknown"), "caps known: no caps_unknown");
	{
		const struct pf_node *n = pf_node_get(doc, "caps");

		ok(n && n->type == PF_NODE_SEQ && n->n == 2 &&
		       !strcmp(n->items[0]->str, "CAP_NET_ADMIN") &&
		       !strcmp(n->items[1]->str, "CAP_NET_RAW"),
		   "caps array");
		is_str(pf_node_str(doc, "container"), "c1", "rest of the request kept");
	}
	pf_node_free(doc);
	free(req);
	req = NULL;
	doc = NULL;
	ok(pf_ctl_msg_register(&(struct pf_ctl_register){.container = "c1",
							 .netns = "/proc/5/ns/net",
							 .caps = PF_CTL_CAP_UNKNOWN},
			       &req) == 0 &&
	       pf_json_parse(req, strlen(req), NULL, &doc, NULL) == 0,
	   "request with unknown caps is JSON");
	{
		const struct pf_node *u = pf_node_get(doc, "caps_unknown");

		ok(u && u->type == PF_NODE_BOOL && u->b, "caps_unknown: true");
	}
	pf_node_free(doc);
	free(req);
}

/* holder STATE CONFIG: what pf_oci_sandbox_holder says, as "ID PID" or "" for none. */
static const char *holder(const char *state, const char *config)
{
	static char out[512];
	struct pf_oci_state st;
	struct pf_oci_config cfg;
	struct pf_error err = {0};
	const char *sb;
	int pid;

	out[0] = '\0';
	if (pf_oci_state_parse(state, strlen(state), &st, &err) < 0)
		return "bad state";
	if (pf_oci_config_parse(config, strlen(config), &cfg, &err) < 0) {
		pf_oci_state_done(&st);
		return "bad config";
	}
	if (pf_oci_sandbox_holder(&st, &cfg, &sb, &pid) == 0 && sb)
		snprintf(out, sizeof(out), "%s %d", sb, pid);
	pf_oci_config_done(&cfg);
	pf_oci_state_done(&st);
	return out;
}

static void test_sandbox_holder(void)
{
	char *sbuf, *cbuf;
	size_t len;
	char cfg[1024];
	static const char ann[] = "\"annotations\":{\"io.kubernetes.cri.container-type\":"
				  "\"container\",\"io.kubernetes.cri.sandbox-id\":\"sb1\"}";
	static const char st[] = "{\"id\":\"c1\",\"pid\":200}";
	static const struct {
		const char *path, *want, *what;
	} paths[] = {
	    {"/proc/100/ns/net", "sb1 100", "the pause process's /proc path"},
	    {"/proc/200/ns/net", "", "the container's own pid: no holder"},
	    {"/proc/1/ns/net", "", "pid 1 is never a sandbox"},
	    {"/proc/0100x/ns/net", "", "not a number"},
	    {"/proc/99999999999/ns/net", "", "out of range"},
	    {"/proc/100/ns/net/", "", "trailing slash"},
	    {"/proc/100/ns/pid", "", "another namespace"},
	    {"/proc//ns/net", "", "no pid"},
	    {"/var/run/netns/cni-1", "", "a bind-mounted netns holds itself"},
	};

	sbuf = slurp("containerd-app/state.json", &len);
	cbuf = slurp("containerd-app/config.json", &len);
	is_str(holder(sbuf, cbuf),
	       "3b9f0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b 42000",
	       "containerd app container: its sandbox and the pause pid");
	free(sbuf);
	free(cbuf);
	sbuf = slurp("containerd-sandbox/state.json", &len);
	cbuf = slurp("containerd-sandbox/config.json", &len);
	is_str(holder(sbuf, cbuf), "", "containerd sandbox: holds its netns itself");
	free(sbuf);
	free(cbuf);
	sbuf = slurp("crio-app/state.json", &len);
	cbuf = slurp("crio-app/config.json", &len);
	is_str(holder(sbuf, cbuf), "", "CRI-O app: no containerd markers");
	free(sbuf);
	free(cbuf);

	for (size_t i = 0; i < PF_ARRAY_SIZE(paths); i++) {
		snprintf(cfg, sizeof(cfg),
			 "{%s,\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"%s\"}]}}",
			 ann, paths[i].path);
		is_str(holder(st, cfg), paths[i].want, "%s: %s", paths[i].path, paths[i].what);
	}
	is_str(holder(st, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
			  "\"io.kubernetes.cri.sandbox-id\":\"sb1\"},\"linux\":{\"namespaces\":["
			  "{\"type\":\"network\",\"path\":\"/proc/100/ns/net\"}]}}"),
	       "", "container-type sandbox: no holder");
	is_str(holder(st, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
			  "\"io.kubernetes.cri.sandbox-id\":\"../x\"},\"linux\":{\"namespaces\":["
			  "{\"type\":\"network\",\"path\":\"/proc/100/ns/net\"}]}}"),
	       "", "an invalid sandbox id: no holder");
	is_str(holder(st, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
			  "\"io.kubernetes.cri.sandbox-id\":\"c1\"},\"linux\":{\"namespaces\":["
			  "{\"type\":\"network\",\"path\":\"/proc/100/ns/net\"}]}}"),
	       "", "the sandbox id is the container's own: no holder");
	is_str(holder(st, "{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":"
			  "\"/proc/100/ns/net\"}]}}"),
	       "", "no containerd markers: no holder");
}

int main(void)
{
	for (size_t i = 0; i < PF_ARRAY_SIZE(cases); i++)
		check_case(&cases[i]);
	test_bad_states();
	test_identity_order();
	test_config();
	test_requests();
	test_valid_id();
	test_host_netns();
	test_caps();
	test_sandbox_holder();
	return tap_done();
}
