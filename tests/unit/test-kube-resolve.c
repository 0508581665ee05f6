/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfence-sync --kube without a network: the object cache fed as the informers feed it, what
 * names resolve to, relist semantics, base64 and the hash map. */
#include <stdio.h>

#include "../../policy-sync/kube-client.h"
#include "../../policy-sync/kube-map.h"
#include "../../policy-sync/kube-resolve.h"
#include "doc.h"
#include "log.h"
#include "tap.h"

static struct pf_kube_handler h;

static struct pf_node *parse(const char *json)
{
	struct pf_node *n = NULL;
	struct pf_error err = {0};

	if (pf_json_parse(json, strlen(json), NULL, &n, &err) < 0) {
		printf("# bad test JSON: %s\n", err.msg);
		abort();
	}
	return n;
}

static void event(enum pf_kube_res r, enum pf_kube_event t, const char *json)
{
	struct pf_node *n = parse(json);

	if (h.event(h.userdata, r, t, n) < 0)
		abort();
	pf_node_free(n);
}

/* A whole LIST: the given objects replace the resource's set. */
static void relist(enum pf_kube_res r, const char *const *objs, size_t n)
{
	h.list_begin(h.userdata, r);
	for (size_t i = 0; i < n; i++) {
		struct pf_node *o = parse(objs[i]);

		h.list_item(h.userdata, r, o);
		pf_node_free(o);
	}
	h.list_end(h.userdata, r, true);
}

/* "ip ip ..." a workload resolves to, "-" when it does not exist. */
static char *resolved(struct pf_kube_cache *c, enum pf_kind kind, const char *ns, const char *name)
{
	static char out[1024];
	struct pf_kube_workloads w;

	strcpy(out, "-");
	if (pf_kube_resolve(c, &w) < 0)
		return "ENOMEM";
	for (size_t i = 0; i < w.n; i++) {
		if (w.w[i].kind != kind || strcmp(w.w[i].namespace, ns) ||
		    strcmp(w.w[i].name, name))
			continue;
		out[0] = '\0';
		for (size_t j = 0; j < w.w[i].n_ips; j++) {
			char buf[PF_ADDR_STRLEN];

			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", j ? " " : "",
				 pf_addr_fmt(&w.w[i].ips[j], buf));
		}
	}
	pf_kube_workloads_done(&w);
	return out;
}

/* "name name ..." of the pods a workload resolves to by name; its digest in *digest. */
static char *resolved_pods(struct pf_kube_cache *c, enum pf_kind kind, const char *ns,
			   const char *name, uint64_t *digest)
{
	static char out[1024];
	struct pf_kube_workloads w;

	strcpy(out, "-");
	*digest = 0;
	if (pf_kube_resolve(c, &w) < 0)
		return "ENOMEM";
	for (size_t i = 0; i < w.n; i++) {
		if (w.w[i].kind != kind || strcmp(w.w[i].namespace, ns) ||
		    strcmp(w.w[i].name, name))
			continue;
		out[0] = '\0';
		*digest = w.w[i].digest;
		for (size_t j = 0; j < w.w[i].n_pods; j++)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", j ? " " : "",
				 w.w[i].pod_names[j]);
	}
	pf_kube_workloads_done(&w);
	return out;
}

#define POD(ns, name, ips, owner)                                                                  \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"uid\":\"u-" name          \
	"\",\"resourceVersion\":\"1\"" owner                                                       \
	"},\"status\":{\"phase\":\"Running\",\"podIPs\":[" ips "]}}"
#define OWNER(kind, name)                                                                          \
	",\"ownerReferences\":[{\"kind\":\"" kind "\",\"name\":\"" name "\",\"uid\":\"u-" name     \
	"\",\"controller\":true}]"
#define OBJ(ns, name, owner)                                                                       \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"uid\":\"u-" name          \
	"\"" owner "}}"

static void test_resolve(void)
{
	struct pf_kube_cache *c = NULL;
	struct pf_kube_policy *p = NULL;
	size_t n_p = 0;

	ok(pf_kube_cache_new(&c) == 0, "cache");
	pf_kube_cache_handler(c, &h);
	event(PF_KUBE_NAMESPACE, PF_KUBE_ADDED,
	      "{\"metadata\":{\"name\":\"shop\",\"uid\":\"n1\"}}");
	event(PF_KUBE_DEPLOYMENT, PF_KUBE_ADDED, OBJ("shop", "web", ""));
	event(PF_KUBE_REPLICASET, PF_KUBE_ADDED, OBJ("shop", "web-1", OWNER("Deployment", "web")));
	event(PF_KUBE_POD, PF_KUBE_ADDED,
	      POD("shop", "a", "{\"ip\":\"10.0.0.1\"},{\"ip\":\"fd00::1\"}",
		  OWNER("ReplicaSet", "web-1")));
	event(PF_KUBE_POD, PF_KUBE_ADDED,
	      POD("shop", "b", "{\"ip\":\"10.0.0.2\"}", OWNER("ReplicaSet", "web-1")));
	is_str(resolved(c, PF_KIND_DEPLOYMENT, "shop", "web"), "10.0.0.1 10.0.0.2 fd00::1",
	       "Pod -> ReplicaSet -> Deployment");
	is_str(resolved(c, PF_KIND_NAMESPACE, "shop", "shop"), "10.0.0.1 10.0.0.2 fd00::1",
	       "Namespace -> its pods");
	is_str(resolved(c, PF_KIND_POD, "shop", "a"), "10.0.0.1 fd00::1",
	       "Pod -> its IPv4 and IPv6 addresses");

	/* A scale-up pod before its sandbox starts: no IP yet, but a name the store can match. */
	{
		uint64_t d0, d1, d2;

		is_str(resolved_pods(c, PF_KIND_DEPLOYMENT, "shop", "web", &d0), "a b",
		       "Deployment -> its pods by name");
		event(PF_KUBE_POD, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"p\",\"uid\":\"u-p\"" OWNER(
			  "ReplicaSet", "web-1") "},\"status\":{\"phase\":\"Pending\"}}");
		is_str(resolved_pods(c, PF_KIND_DEPLOYMENT, "shop", "web", &d1), "a b p",
		       "a pending pod without an IP counts by name");
		is_str(resolved_pods(c, PF_KIND_REPLICASET, "shop", "web-1", &d2), "a b p",
		       "for each owner up the chain");
		ok(d1 != d0, "the digest changes with the pod names (sync writes them)");
		is_str(resolved(c, PF_KIND_DEPLOYMENT, "shop", "web"), "10.0.0.1 10.0.0.2 fd00::1",
		       "and adds no address");
		is_str(resolved_pods(c, PF_KIND_POD, "shop", "p", &d2), "",
		       "Pod and Namespace refs carry no names (the store matches those by name)");
		event(PF_KUBE_POD, PF_KUBE_DELETED, POD("shop", "p", "", ""));
		is_str(resolved_pods(c, PF_KIND_DEPLOYMENT, "shop", "web", &d2), "a b",
		       "a deleted pod drops out by name");
		ok(d2 == d0, "digest back to what it was");
	}

	/* The pod finishes: its address is free again. */
	event(PF_KUBE_POD, PF_KUBE_MODIFIED,
	      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"b\",\"uid\":\"u-b\"" OWNER(
		  "ReplicaSet", "web-1") "},\"status\":{\"phase\":\"Succeeded\",\"podIPs\":[{"
					 "\"ip\":\"10.0.0.2\"}]}}");
	is_str(resolved(c, PF_KIND_DEPLOYMENT, "shop", "web"), "10.0.0.1 fd00::1",
	       "a Succeeded pod drops out");
	{
		uint64_t d;

		is_str(resolved_pods(c, PF_KIND_DEPLOYMENT, "shop", "web", &d), "a",
		       "a Succeeded pod drops out by name too");
	}
	event(PF_KUBE_POD, PF_KUBE_DELETED, POD("shop", "a", "", ""));
	is_str(resolved(c, PF_KIND_DEPLOYMENT, "shop", "web"), "",
	       "a deleted pod drops out; the Deployment stays, empty");

	/* A recreated ReplicaSet of the same name (other uid) does not own the old pod. */
	event(PF_KUBE_POD, PF_KUBE_ADDED,
	      POD("shop", "c", "{\"ip\":\"10.0.0.3\"}", OWNER("ReplicaSet", "web-1")));
	event(PF_KUBE_REPLICASET, PF_KUBE_MODIFIED,
	      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web-1\",\"uid\":\"other\"" OWNER(
		  "Deployment", "web") "}}");
	is_str(resolved(c, PF_KIND_REPLICASET, "shop", "web-1"), "",
	       "ownerReference uid must match the owner");

	/* Job -> CronJob, and a Service with cluster IPs and EndpointSlices (headless: only
	 * endpoints). */
	event(PF_KUBE_CRONJOB, PF_KUBE_ADDED, OBJ("shop", "nightly", ""));
	event(PF_KUBE_JOB, PF_KUBE_ADDED, OBJ("shop", "nightly-1", OWNER("CronJob", "nightly")));
	event(PF_KUBE_POD, PF_KUBE_ADDED,
	      POD("shop", "j", "{\"ip\":\"10.0.1.1\"}", OWNER("Job", "nightly-1")));
	is_str(resolved(c, PF_KIND_CRONJOB, "shop", "nightly"), "10.0.1.1",
	       "Pod -> Job -> CronJob");
	event(PF_KUBE_SERVICE, PF_KUBE_ADDED,
	      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"db\"},\"spec\":{\"clusterIPs\":["
	      "\"10.96.0.1\",\"fd00:96::1\"]}}");
	event(PF_KUBE_SERVICE, PF_KUBE_ADDED,
	      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"hl\"},\"spec\":{\"clusterIP\":"
	      "\"None\"}}");
	event(PF_KUBE_ENDPOINTSLICE, PF_KUBE_ADDED,
	      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"db-x\",\"labels\":{\"kubernetes.io/"
	      "service-name\":\"db\"}},"
	      "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.0.2.1\"]},{"
	      "\"addresses\":[\"10.0.2.2\"]}]}");
	event(PF_KUBE_ENDPOINTSLICE, PF_KUBE_ADDED,
	      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"hl-x\",\"labels\":{\"kubernetes.io/"
	      "service-name\":\"hl\"}},"
	      "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.0.2.3\"]}]}");
	is_str(resolved(c, PF_KIND_SERVICE, "shop", "db"), "10.0.2.1 10.0.2.2 10.96.0.1 fd00:96::1",
	       "Service -> cluster IPs and endpoints");
	is_str(resolved(c, PF_KIND_SERVICE, "shop", "hl"), "10.0.2.3",
	       "headless Service -> endpoints");

	/* The pods behind a Service by its selector, before they have an address (and so before
	 * any EndpointSlice lists them). */
	{
		uint64_t d;

		event(PF_KUBE_SERVICE, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"sel\"},\"spec\":{"
		      "\"clusterIP\":"
		      "\"10.96.0.5\",\"selector\":{\"app\":\"db\",\"tier\":\"x\"}}}");
		event(PF_KUBE_POD, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"s1\",\"labels\":{\"other\":"
		      "\"y\",\"tier\":\"x\",\"app\":\"db\"}},\"status\":{\"phase\":\"Pending\"}}");
		event(PF_KUBE_POD, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"s2\",\"labels\":{\"app\":"
		      "\"db\",\"tier\":\"xx\"}},\"status\":{\"phase\":\"Pending\"}}");
		event(PF_KUBE_POD, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"s3\",\"labels\":{\"app\":"
		      "\"db\\ntier=x\"}},\"status\":{\"phase\":\"Pending\"}}");
		event(PF_KUBE_POD, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"else\",\"name\":\"s4\",\"labels\":{\"app\":"
		      "\"db\",\"tier\":\"x\"}},\"status\":{\"phase\":\"Pending\"}}");
		event(PF_KUBE_POD, PF_KUBE_ADDED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"s5\",\"labels\":{\"app\":"
		      "\"db\",\"tier\":\"x\"}},\"status\":{\"phase\":\"Failed\"}}");
		is_str(
		    resolved_pods(c, PF_KIND_SERVICE, "shop", "sel", &d), "s1",
		    "Service -> the pods its selector picks, by name (all pairs, same namespace, "
		    "not finished)");
		is_str(resolved(c, PF_KIND_SERVICE, "shop", "sel"), "10.96.0.5",
		       "and its cluster IP only (no endpoints yet)");
		is_str(resolved_pods(c, PF_KIND_SERVICE, "shop", "db", &d), "",
		       "a Service without a selector picks no pods by name");
		event(PF_KUBE_SERVICE, PF_KUBE_MODIFIED,
		      "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"sel\"},\"spec\":{"
		      "\"clusterIP\":"
		      "\"10.96.0.5\",\"selector\":{\"app\":\"db\",\"bad\\nkey\":\"x\"}}}");
		is_str(resolved_pods(c, PF_KIND_SERVICE, "shop", "sel", &d), "",
		       "a selector with a pair that cannot be kept picks nothing (not everything)");
	}

	/* A relist replaces the set: what it lacks was deleted while the watch was away. */
	{
		const char *const pods[] = {
		    POD("shop", "j", "{\"ip\":\"10.0.1.9\"}", OWNER("Job", "nightly-1"))};

		relist(PF_KUBE_POD, pods, 1);
	}
	is_str(resolved(c, PF_KIND_POD, "shop", "c"), "-", "relist drops objects it does not list");
	is_str(resolved(c, PF_KIND_CRONJOB, "shop", "nightly"), "10.0.1.9",
	       "relist updates the rest");
	h.list_begin(h.userdata, PF_KUBE_POD);
	h.list_end(h.userdata, PF_KUBE_POD, false);
	is_str(resolved(c, PF_KIND_POD, "shop", "j"), "10.0.1.9",
	       "an aborted list changes nothing");

	/* FencePolicies: server fields do not bother the validator; errors name the field. */
	event(
	    PF_KUBE_FENCEPOLICY, PF_KUBE_ADDED,
	    "{\"apiVersion\":\"podfence.io/"
	    "v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":{\"name\":\"ok\","
	    "\"namespace\":\"shop\",\"uid\":\"x\",\"resourceVersion\":\"7\",\"managedFields\":[{}]}"
	    ","
	    "\"spec\":{\"appliesTo\":[{\"kind\":\"Deployment\",\"name\":\"web\"}]},\"status\":{}}");
	event(PF_KUBE_FENCEPOLICY, PF_KUBE_ADDED,
	      "{\"apiVersion\":\"podfence.io/"
	      "v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":{\"name\":\"bad\","
	      "\"namespace\":\"shop\",\"resourceVersion\":\"8\"},\"spec\":{\"priority\":-1,"
	      "\"appliesTo\":[{\"kind\":\"Deployment\",\"name\":\"web\"}]}}");
	ok(pf_kube_cache_policies(c, &p, &n_p) == 0 && n_p == 2, "two policies");
	for (size_t i = 0; i < n_p; i++) {
		if (!strcmp(p[i].name, "ok")) {
			ok(p[i].doc->policy != NULL,
			   "API object with status and server metadata is valid");
			is_str(p[i].resource_version, "7", "resourceVersion kept");
		} else {
			ok(p[i].doc->policy == NULL, "invalid policy has no model");
			has_str(p[i].doc->error, "spec.priority", "error names the field");
			is_str(p[i].doc->name, "bad",
			       "invalid policy keeps its name for the store");
		}
	}
	pf_kube_policies_free(p, n_p);

	/* ClusterFencePolicies: cluster-scoped (no namespace), keyed apart from a FencePolicy of
	 * the same name; a namespaced FencePolicy reaching into another namespace is invalid. */
	event(PF_KUBE_CLUSTERFENCEPOLICY, PF_KUBE_ADDED,
	      "{\"apiVersion\":\"podfence.io/v1alpha1\",\"kind\":\"ClusterFencePolicy\","
	      "\"metadata\":{\"name\":\"ok\",\"resourceVersion\":\"9\"},\"spec\":{\"appliesTo\":"
	      "[{\"kind\":\"Deployment\",\"name\":\"web\",\"namespace\":\"shop\"}],"
	      "\"egress\":[{\"action\":\"Pass\"}]}}");
	event(PF_KUBE_FENCEPOLICY, PF_KUBE_MODIFIED,
	      "{\"apiVersion\":\"podfence.io/v1alpha1\",\"kind\":\"FencePolicy\",\"metadata\":{"
	      "\"name\":\"bad\",\"namespace\":\"shop\",\"resourceVersion\":\"10\"},\"spec\":{"
	      "\"priority\":0,\"appliesTo\":[{\"kind\":\"Namespace\",\"name\":\"other\"}]}}");
	/* a FencePolicy object whose body claims the cluster kind stays a FencePolicy */
	event(
	    PF_KUBE_FENCEPOLICY, PF_KUBE_ADDED,
	    "{\"apiVersion\":\"podfence.io/v1alpha1\",\"kind\":\"ClusterFencePolicy\","
	    "\"metadata\":{\"name\":\"sneaky\",\"namespace\":\"shop\",\"resourceVersion\":\"12\"},"
	    "\"spec\":{\"appliesTo\":[{\"kind\":\"Namespace\",\"name\":\"other\"}]}}");
	is_int(pf_kube_cache_count(c, PF_KUBE_CLUSTERFENCEPOLICY), 1, "one cluster policy");
	ok(pf_kube_cache_policies(c, &p, &n_p) == 0 && n_p == 4, "four policies, both kinds");
	for (size_t i = 0; i < n_p; i++) {
		if (!strcmp(p[i].key, "/ok")) {
			ok(p[i].doc->policy && p[i].doc->policy->cluster &&
			       !strcmp(p[i].namespace, "") &&
			       p[i].doc->policy->egress[0].action == PF_ACTION_PASS,
			   "the ClusterFencePolicy: valid, no namespace, its Pass");
		} else if (!strcmp(p[i].name, "sneaky")) {
			ok(p[i].doc->policy == NULL && !p[i].doc->cluster &&
			       !strcmp(p[i].namespace, "shop"),
			   "a FencePolicy whose body says ClusterFencePolicy is judged as a "
			   "FencePolicy");
			has_str(p[i].doc->error,
				"spec.appliesTo[0].name: a Namespace ref in a "
				"FencePolicy",
				"  and refused for naming another namespace");
		} else if (!strcmp(p[i].name, "bad")) {
			ok(p[i].doc->policy == NULL, "cross-namespace FencePolicy is invalid");
			has_str(p[i].doc->error,
				"spec.appliesTo[0].name: a Namespace ref in a "
				"FencePolicy must name the policy's own namespace",
				"  the error names the field");
		}
	}
	pf_kube_policies_free(p, n_p);
	event(PF_KUBE_CLUSTERFENCEPOLICY, PF_KUBE_DELETED,
	      "{\"metadata\":{\"name\":\"ok\",\"resourceVersion\":\"11\"}}");
	is_int(pf_kube_cache_count(c, PF_KUBE_CLUSTERFENCEPOLICY), 0,
	       "deleting a cluster policy by name (no namespace in the event)");
	is_int(pf_kube_cache_count(c, PF_KUBE_FENCEPOLICY), 3, "  the FencePolicies stay");

	/* Names Kubernetes would never accept are not kept (bounds what keys can be). */
	{
		char big[301], json[1024];

		memset(big, 'x', 300);
		big[300] = '\0';
		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"%s\"}}", big);
		event(PF_KUBE_DEPLOYMENT, PF_KUBE_ADDED, json);
		is_int(pf_kube_cache_count(c, PF_KUBE_DEPLOYMENT), 1,
		       "an over-long name is ignored");
	}
	pf_kube_cache_free(c);
}

static void test_base64(void)
{
	char *out = NULL;
	size_t len = 0;

	ok(pf_base64_decode("aGVsbG8gd29ybGQ=", &out, &len) == 0 && len == 11 &&
	       !memcmp(out, "hello world", 11),
	   "base64 with padding");
	free(out);
	ok(pf_base64_decode("aGVs\nbG8=", &out, &len) == 0 && len == 5 && !memcmp(out, "hello", 5),
	   "base64 across lines");
	free(out);
	ok(pf_base64_decode("aGV*", &out, &len) == -EINVAL, "base64: bad character refused");
	ok(pf_base64_decode("aG==Vs", &out, &len) == -EINVAL, "base64: data after padding refused");
}

static void test_map(void)
{
	struct pf_kmap m = {0};
	char key[32];
	size_t i, n = 0;
	bool all = true;

	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		all &= pf_kmap_put(&m, key, (void *)(uintptr_t)(i + 1), NULL) == 0;
	}
	ok(all && pf_kmap_size(&m) == 10000, "10000 keys");
	for (i = 0; i < 10000; i += 2) {
		snprintf(key, sizeof(key), "k%zu", i);
		all &= pf_kmap_remove(&m, key) == (void *)(uintptr_t)(i + 1);
	}
	snprintf(key, sizeof(key), "k%d", 4243);
	ok(all && pf_kmap_size(&m) == 5000 && pf_kmap_get(&m, key) == (void *)(uintptr_t)4244 &&
	       !pf_kmap_get(&m, "k4242"),
	   "remove and get");
	for (struct pf_kmap_entry *e = pf_kmap_first(&m, &i); e; e = pf_kmap_next(&m, e, &i))
		n++;
	is_int(n, 5000, "iteration visits every entry once");
	pf_kmap_clear(&m);
}

int main(void)
{
	pf_log_open("test-kube-resolve", PF_LOG_STDERR, LOG_ERR);
	test_resolve();
	test_base64();
	test_map();
	return tap_done();
}
