/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The podfence-sync Lease (one writer per cluster) and the Valid condition it writes. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "doc.h"
#include "json-gen.h"
#include "kube-map.h"
#include "kube-status.h"
#include "log.h"

#define NS_PER_S 1000000000ULL

static inline void node_freep(struct pf_node **n)
{
	pf_node_free(*n);
}
/* A request that has not answered by then is a failed one: the loop must not stall longer. */
#define REQUEST_TIMEOUT_S 5
/* After a failed status write, wait this long before writing again. */
#define STATUS_RETRY_NS (5 * NS_PER_S)

struct pf_kube_lease {
	struct pf_kube_client *c;
	char *path; /* of the Lease object */
	char *ns;
	char *identity;
	unsigned duration_s;
	bool held;
	uint64_t next_ns;
	uint64_t renewed_ns; /* our last successful write of the Lease */
	/* The record last seen, and when it was first seen (client-go's observedTime: expiry is
	 * judged by our clock, so the holder's clock never matters). */
	char *obs_holder, *obs_renew;
	uint64_t obs_ns;
	char *last_error; /* logged once per streak */
	bool told_standby;
};

static void now_micro(char *buf, size_t n, bool micro)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (micro)
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (long)(ts.tv_nsec / 1000 % 1000000));
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Kubernetes object names as the API server allows them in a path (DNS subdomains). */
static bool kube_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

int pf_kube_lease_new(struct pf_kube_client *c, const char *namespace, const char *identity,
		      unsigned duration_s, struct pf_kube_lease **out)
{
	struct pf_kube_lease *l;

	if (!kube_name_ok(namespace) || !identity || !*identity || strlen(identity) > 253 ||
	    duration_s < 2 || duration_s > PF_KUBE_LEASE_MAX_S)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->c = c;
	l->duration_s = duration_s;
	if (asprintf(&l->path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", namespace,
		     PF_KUBE_LEASE_NAME) < 0)
		l->path = NULL;
	l->ns = strdup(namespace);
	l->identity = strdup(identity);
	if (!l->path || !l->ns || !l->identity) {
		pf_kube_lease_free(l);
		return -ENOMEM;
	}
	*out = l;
	return 0;
}

void pf_kube_lease_free(struct pf_kube_lease *l)
{
	if (!l)
		return;
	free(l->path);
	free(l->ns);
	free(l->identity);
	free(l->obs_holder);
	free(l->obs_renew);
	free(l->last_error);
	free(l);
}

uint64_t pf_kube_lease_due(const struct pf_kube_lease *l)
{
	return l->next_ns;
}

static void lease_error(struct pf_kube_lease *l, const char *msg)
{
	if (pf_streq(l->last_error, msg))
		return;
	log_warning("Lease %s/%s: %s", l->ns, PF_KUBE_LEASE_NAME, msg);
	free(l->last_error);
	l->last_error = strdup(msg);
}

/* The Lease body: spec with us as holder. rv NULL for a create. */
static int lease_body(const struct pf_kube_lease *l, const char *rv, const char *holder,
		      const char *acquire, const char *renew, int64_t transitions,
		      unsigned duration_s, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "apiVersion", "coordination.k8s.io/v1");
	pf_jgen_kv_str(&j, "kind", "Lease");
	pf_jgen_key(&j, "metadata");
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "name", PF_KUBE_LEASE_NAME);
	pf_jgen_kv_str(&j, "namespace", l->ns);
	if (rv)
		pf_jgen_kv_str(&j, "resourceVersion", rv);
	pf_jgen_map_close(&j);
	pf_jgen_key(&j, "spec");
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "holderIdentity", holder);
	pf_jgen_kv_uint(&j, "leaseDurationSeconds", duration_s);
	pf_jgen_kv_str(&j, "acquireTime", acquire);
	pf_jgen_kv_str(&j, "renewTime", renew);
	pf_jgen_kv_int(&j, "leaseTransitions", transitions);
	pf_jgen_map_close(&j);
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

static void observe(struct pf_kube_lease *l, const char *holder, const char *renew, uint64_t now)
{
	if (pf_streq(l->obs_holder, holder) && pf_streq(l->obs_renew, renew) && l->obs_ns)
		return;
	free(l->obs_holder);
	free(l->obs_renew);
	l->obs_holder = holder ? strdup(holder) : NULL;
	l->obs_renew = renew ? strdup(renew) : NULL;
	l->obs_ns = now;
}

static void set_held(struct pf_kube_lease *l, bool held, const char *other)
{
	if (held && !l->held)
		log_info("holding the Lease %s/%s as %s: this instance writes policy status", l->ns,
			 PF_KUBE_LEASE_NAME, l->identity);
	else if (!held && l->held)
		log_info("lost the Lease %s/%s%s%s: no longer writing policy status", l->ns,
			 PF_KUBE_LEASE_NAME, other ? " to " : "", other ? other : "");
	else if (!held && !l->told_standby && other) {
		log_info("standing by: the Lease %s/%s is held by %s", l->ns, PF_KUBE_LEASE_NAME,
			 other);
		l->told_standby = true;
	}
	if (held)
		l->told_standby = false;
	l->held = held;
}

/* One write of the Lease: create (rv NULL) or replace. 1 when it is ours now, 0 when someone
 * else won the race (409), negative on a failure. */
static int lease_write(struct pf_kube_lease *l, const char *rv, const char *acquire,
		       const char *renew, int64_t transitions, uint64_t now)
{
	_cleanup_free_ char *body = NULL, *coll = NULL;
	struct pf_error err = {0};
	long code = 0;
	int r;

	r = lease_body(l, rv, l->identity, acquire, renew, transitions, l->duration_s, &body);
	if (r < 0)
		return r;
	if (!rv) {
		coll = strndup(l->path, strrchr(l->path, '/') - l->path);
		if (!coll)
			return -ENOMEM;
	}
	r = pf_kube_client_request(l->c, rv ? "PUT" : "POST", rv ? l->path : coll, body,
				   REQUEST_TIMEOUT_S, &code, NULL, &err);
	if (r < 0) {
		lease_error(l, err.msg);
		return r;
	}
	if (code == 409)
		return 0;
	if (code != 200 && code != 201) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "%s answered HTTP %ld (RBAC: leases get, create, update?)",
			 rv ? "update" : "create", code);
		lease_error(l, msg);
		return -EIO;
	}
	free(l->last_error);
	l->last_error = NULL;
	l->renewed_ns = now;
	observe(l, l->identity, renew, now);
	return 1;
}

bool pf_kube_lease_tick(struct pf_kube_lease *l, uint64_t now)
{
	_cleanup_free_ char *answer = NULL;
	_cleanup_(node_freep) struct pf_node *obj = NULL;
	const struct pf_node *spec;
	struct pf_error err = {0};
	char stamp[96];
	const char *holder, *renew, *acquire, *rv;
	int64_t transitions = 0, dur = 0;
	uint64_t period = l->duration_s * NS_PER_S / 3;
	long code = 0;
	int r;

	if (now < l->next_ns)
		return l->held;
	l->next_ns = now + (period ? period : NS_PER_S);
	/* Not renewed for two thirds of a duration: stop writing before anyone may take over. */
	if (l->held && now > l->renewed_ns + l->duration_s * NS_PER_S * 2 / 3)
		set_held(l, false, NULL);
	now_micro(stamp, sizeof(stamp), true);
	if (pf_kube_client_request(l->c, "GET", l->path, NULL, REQUEST_TIMEOUT_S, &code, &answer,
				   &err) < 0) {
		lease_error(l, err.msg);
		return l->held;
	}
	if (code == 404) {
		r = lease_write(l, NULL, stamp, stamp, 0, now);
		if (r >= 0)
			set_held(l, r == 1, NULL);
		return l->held;
	}
	if (code != 200 || !answer || pf_json_parse(answer, strlen(answer), NULL, &obj, &err) < 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "get answered HTTP %ld%s", code,
			 code == 200 ? " with no readable Lease" : " (RBAC: leases get?)");
		lease_error(l, msg);
		return l->held;
	}
	spec = pf_node_get(obj, "spec");
	holder = pf_node_str(spec, "holderIdentity");
	renew = pf_node_str(spec, "renewTime");
	acquire = pf_node_str(spec, "acquireTime");
	rv = pf_node_str(pf_node_get(obj, "metadata"), "resourceVersion");
	pf_node_int(spec, "leaseTransitions", &transitions);
	if (pf_node_int(spec, "leaseDurationSeconds", &dur) < 0 || dur < 1 ||
	    dur > PF_KUBE_LEASE_MAX_S)
		dur = l->duration_s;
	if (!rv) {
		lease_error(l, "the Lease has no resourceVersion");
		return l->held;
	}
	observe(l, holder, renew, now);
	if (holder && *holder && !pf_streq(holder, l->identity)) {
		/* Someone else's: ours only once it has not changed for its whole duration. */
		if (now < l->obs_ns + (uint64_t)dur * NS_PER_S) {
			set_held(l, false, holder);
			return false;
		}
		log_info("Lease %s/%s: %s has not renewed for %" PRId64 " s, taking over", l->ns,
			 PF_KUBE_LEASE_NAME, holder, dur);
		r = lease_write(l, rv, stamp, stamp, transitions + 1, now);
	} else if (!holder || !*holder) {
		r = lease_write(l, rv, stamp, stamp, transitions + 1, now); /* released */
	} else {
		r = lease_write(l, rv, acquire ? acquire : stamp, stamp, transitions, now);
	}
	if (r >= 0)
		set_held(l, r == 1, NULL);
	return l->held;
}

void pf_kube_lease_release(struct pf_kube_lease *l)
{
	_cleanup_free_ char *answer = NULL, *body = NULL;
	_cleanup_(node_freep) struct pf_node *obj = NULL;
	struct pf_error err = {0};
	const char *rv;
	char stamp[96];
	int64_t transitions = 0;
	long code = 0;

	if (!l || !l->held)
		return;
	if (pf_kube_client_request(l->c, "GET", l->path, NULL, REQUEST_TIMEOUT_S, &code, &answer,
				   &err) < 0 ||
	    code != 200 || pf_json_parse(answer, strlen(answer), NULL, &obj, &err) < 0)
		return;
	rv = pf_node_str(pf_node_get(obj, "metadata"), "resourceVersion");
	if (!rv || !pf_streq(pf_node_str(pf_node_get(obj, "spec"), "holderIdentity"), l->identity))
		return;
	pf_node_int(pf_node_get(obj, "spec"), "leaseTransitions", &transitions);
	now_micro(stamp, sizeof(stamp), true);
	/* client-go's release: no holder, a one-second duration */
	if (lease_body(l, rv, "", stamp, stamp, transitions, 1, &body) < 0)
		return;
	if (pf_kube_client_request(l->c, "PUT", l->path, body, REQUEST_TIMEOUT_S, &code, NULL,
				   &err) >= 0 &&
	    code == 200)
		log_info("released the Lease %s/%s", l->ns, PF_KUBE_LEASE_NAME);
	l->held = false;
}

/* ---- status.conditions ---- */

struct pf_kube_status {
	struct pf_kmap written; /* policy key -> what we last wrote (malloc'ed fingerprint) */
	uint64_t retry_ns;	/* no writes before this, after a failure */
	bool failing;
};

int pf_kube_status_new(struct pf_kube_status **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void written_clear(struct pf_kmap *m)
{
	size_t i;

	for (struct pf_kmap_entry *e = pf_kmap_first(m, &i); e; e = pf_kmap_next(m, e, &i))
		free(e->value);
	pf_kmap_clear(m);
}

void pf_kube_status_free(struct pf_kube_status *s)
{
	if (!s)
		return;
	written_clear(&s->written);
	free(s);
}

/* What the Valid condition should say of a policy's current spec. */
static void want_condition(const struct pf_kube_policy *p, const char **valid, const char **reason,
			   const char **msg)
{
	if (p->doc && p->doc->policy) {
		*valid = "True";
		*reason = "Valid";
		*msg = "the spec is valid; podfence-sync mirrors it into every node's store";
	} else {
		*valid = "False";
		*reason = "Invalid";
		*msg = p->doc && p->doc->error[0] ? p->doc->error : "the object could not be read";
	}
}

static int status_body(const struct pf_kube_policy *p, const char *valid, const char *reason,
		       const char *msg, const char *transition, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};

	pf_jgen_init(&j, 0);
	pf_jgen_map_open(&j);
	pf_jgen_key(&j, "status");
	pf_jgen_map_open(&j);
	pf_jgen_kv_int(&j, "observedGeneration", p->generation);
	pf_jgen_key(&j, "conditions");
	pf_jgen_array_open(&j);
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "type", "Valid");
	pf_jgen_kv_str(&j, "status", valid);
	pf_jgen_kv_int(&j, "observedGeneration", p->generation);
	pf_jgen_kv_str(&j, "lastTransitionTime", transition);
	pf_jgen_kv_str(&j, "reason", reason);
	pf_jgen_kv_str(&j, "message", msg);
	pf_jgen_map_close(&j);
	pf_jgen_array_close(&j);
	pf_jgen_map_close(&j);
	pf_jgen_map_close(&j);
	return pf_jgen_take(&j, out);
}

static int write_one(struct pf_kube_status *s, struct pf_kube_client *c,
		     const struct pf_kube_policy *p, const char *valid, const char *reason,
		     const char *msg, char *fingerprint, struct pf_error *err)
{
	_cleanup_free_ char *body = NULL, *path = NULL;
	char stamp[96];
	const char *transition;
	void *old = NULL;
	long code = 0;
	int r;

	if (!kube_name_ok(p->name) || (!p->cluster && !kube_name_ok(p->namespace)))
		return 0; /* not a name the API server would have given us */
	/* lastTransitionTime moves only when the status value does */
	now_micro(stamp, sizeof(stamp), false);
	transition =
	    pf_streq(p->status_valid, valid) && p->status_transition ? p->status_transition : stamp;
	r = status_body(p, valid, reason, msg, transition, &body);
	if (r < 0)
		return r;
	if ((p->cluster
		 ? asprintf(&path, "/apis/podfence.io/v1alpha1/clusterfencepolicies/%s/status",
			    p->name)
		 : asprintf(&path,
			    "/apis/podfence.io/v1alpha1/namespaces/%s/fencepolicies/%s/status",
			    p->namespace, p->name)) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	r = pf_kube_client_request(c, "PATCH", path, body, REQUEST_TIMEOUT_S, &code, NULL, err);
	if (r < 0)
		return r;
	if (code == 404)
		return 0; /* deleted meanwhile: its DELETED event follows */
	if (code != 200)
		return pf_error_set(err, EIO,
				    "%s %s%s%s: status update answered HTTP %ld (RBAC: "
				    "fencepolicies/status, clusterfencepolicies/status patch?)",
				    p->cluster ? "ClusterFencePolicy" : "FencePolicy", p->namespace,
				    p->cluster ? "" : "/", p->name, code);
	log_debug("status of %s %s%s%s: Valid=%s (generation %" PRId64 ")",
		  p->cluster ? "ClusterFencePolicy" : "FencePolicy", p->namespace,
		  p->cluster ? "" : "/", p->name, valid, p->generation);
	r = pf_kmap_put(&s->written, p->key, fingerprint, &old);
	if (r < 0)
		return r;
	free(old);
	return 1;
}

int pf_kube_status_write(struct pf_kube_status *s, struct pf_kube_client *c,
			 const struct pf_kube_policy *p, size_t n, uint64_t now)
{
	struct pf_error err = {0};
	unsigned writes = 0;
	int pending = 0, r;

	if (now < s->retry_ns)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const char *valid, *reason, *msg, *seen;
		char *fp;

		want_condition(&p[i], &valid, &reason, &msg);
		if (p[i].status_observed == p[i].generation && pf_streq(p[i].status_valid, valid) &&
		    pf_streq(p[i].status_reason, reason) && pf_streq(p[i].status_message, msg)) {
			free(pf_kmap_remove(&s->written, p[i].key));
			continue; /* the object says it already */
		}
		/* With the version of the object we wrote over: while the cache still holds that
		 * one, our write's watch event is on its way; a newer one that still differs was
		 * written by someone else since, and is written again. */
		if (asprintf(&fp, "%" PRId64 "\x1f%s\x1f%s\x1f%s", p[i].generation, valid, msg,
			     p[i].resource_version) < 0)
			return -ENOMEM;
		seen = pf_kmap_get(&s->written, p[i].key);
		if (pf_streq(seen, fp)) {
			free(fp);
			continue;
		}
		if (writes >= PF_KUBE_STATUS_BATCH) {
			free(fp);
			pending++;
			continue;
		}
		r = write_one(s, c, &p[i], valid, reason, msg, fp, &err);
		if (r <= 0)
			free(fp);
		if (r < 0) {
			if (!s->failing)
				log_warning("writing policy status failed, will retry: %s",
					    err.msg[0] ? err.msg : strerror(-r));
			s->failing = true;
			s->retry_ns = now + STATUS_RETRY_NS;
			return r;
		}
		writes++;
	}
	if (s->failing)
		log_info("writing policy status works again");
	s->failing = false;
	return pending;
}
