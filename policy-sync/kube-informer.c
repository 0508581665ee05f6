/* SPDX-License-Identifier: GPL-2.0-or-later */
/* List/watch of the Kubernetes resources podfence-sync mirrors, all in one curl multi loop. */
#include <curl/curl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>

#include "kube-informer.h"
#include "log.h"

const struct pf_kube_res_info pf_kube_resources[_PF_KUBE_RES_MAX] = {
    [PF_KUBE_NAMESPACE] = {"/api/v1", "namespaces", "Namespace"},
    [PF_KUBE_POD] = {"/api/v1", "pods", "Pod"},
    [PF_KUBE_SERVICE] = {"/api/v1", "services", "Service"},
    [PF_KUBE_ENDPOINTSLICE] = {"/apis/discovery.k8s.io/v1", "endpointslices", "EndpointSlice"},
    [PF_KUBE_REPLICASET] = {"/apis/apps/v1", "replicasets", "ReplicaSet"},
    [PF_KUBE_DEPLOYMENT] = {"/apis/apps/v1", "deployments", "Deployment"},
    [PF_KUBE_STATEFULSET] = {"/apis/apps/v1", "statefulsets", "StatefulSet"},
    [PF_KUBE_DAEMONSET] = {"/apis/apps/v1", "daemonsets", "DaemonSet"},
    [PF_KUBE_JOB] = {"/apis/batch/v1", "jobs", "Job"},
    [PF_KUBE_CRONJOB] = {"/apis/batch/v1", "cronjobs", "CronJob"},
    [PF_KUBE_FENCEPOLICY] = {"/apis/podfence.io/v1alpha1", "fencepolicies", "FencePolicy"},
    [PF_KUBE_CLUSTERFENCEPOLICY] = {"/apis/podfence.io/v1alpha1", "clusterfencepolicies",
				    "ClusterFencePolicy"},
};

#define LIST_PAGE_SIZE 500 /* objects a page asks for, at most; fewer when they are large */
#define LIST_TIMEOUT_S 60
/* client-go picks a watch timeout in [5, 10) minutes so that watches do not reconnect in step. */
#define WATCH_TIMEOUT_MIN_S 300
/* Bounds on what the server can make us buffer. A list page larger than the body cap is asked
 * for again with half the objects; PODFENCE_KUBE_MAX_LIST_BODY (bytes, tests only) lowers it. */
#define MAX_LIST_BODY ((size_t)128 << 20)
#define MIN_LIST_BODY ((size_t)64 << 10)
#define MAX_WATCH_LINE ((size_t)16 << 20)
#define MAX_ERROR_BODY ((size_t)64 << 10)
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000
#define RETRY_AFTER_MAX_S 300

static const struct pf_doc_limits api_limits = {
    .max_bytes = MAX_LIST_BODY,
    .max_depth = 64,
    .max_nodes = 16 << 20,
    .max_string = 1 << 20,
    .max_docs = 1,
};

enum state {
	ST_IDLE,
	ST_LIST,
	ST_WATCH,
	ST_WAIT,
};

enum next {
	NEXT_LIST_FRESH, /* a new LIST from scratch */
	NEXT_LIST_PAGE,	 /* retry the current page (continue token) */
	NEXT_WATCH,	 /* WATCH from rv */
};

struct informer {
	struct pf_kube_informers *set;
	enum pf_kube_res res;
	enum state state;
	enum next next;
	uint64_t wake_ns;
	CURL *easy;
	struct curl_slist *headers;
	char *buf; /* list body, or the unfinished line of a watch stream */
	size_t len, cap;
	bool too_big;
	char *rv;	/* resourceVersion to watch from */
	char *cont;	/* continue token of the list in progress */
	unsigned limit; /* objects the next page asks for: halved when pages are large */
	bool listing;	/* a list_begin is open */
	bool synced;
	bool gone;   /* a watch said 410: relist */
	bool broken; /* a watch stream carried garbage: relist */
	unsigned failures;
	unsigned long retry_after_s;
	unsigned long stream_events;
	uint64_t started_ns;
	char errbuf[CURL_ERROR_SIZE];
	char last_error[512];
};

struct pf_kube_informers {
	struct pf_kube_client *client;
	struct pf_kube_handler h;
	bool watch;
	CURLM *multi;
	struct informer inf[_PF_KUBE_RES_MAX];
	struct pf_kube_stats stats;
	unsigned seed;
	size_t max_body; /* MAX_LIST_BODY unless the test-only variable lowers it */
};

static const char *res_name(const struct informer *f)
{
	return pf_kube_resources[f->res].plural;
}

static int buf_append(struct informer *f, const char *data, size_t n, size_t max)
{
	if (f->len + n > max) {
		f->too_big = true;
		return -EFBIG;
	}
	if (f->len + n + 1 > f->cap) {
		size_t cap = MAX(f->cap * 2, f->len + n + 1);
		char *b = realloc(f->buf, MAX(cap, 4096));

		if (!b)
			return -ENOMEM;
		f->buf = b;
		f->cap = MAX(cap, 4096);
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	f->buf[f->len] = '\0';
	return 0;
}

static void buf_reset(struct informer *f)
{
	f->len = 0;
	f->too_big = false;
	if (f->cap > (1u << 20)) {
		/* Do not keep a big list page's buffer around for the life of a watch. */
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
}

static long response_code(struct informer *f)
{
	long code = 0;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static const char *obj_rv(const struct pf_node *obj)
{
	return pf_node_str(pf_node_get(obj, "metadata"), "resourceVersion");
}

static int set_rv(struct informer *f, const char *rv)
{
	char *n;

	if (!rv || !*rv)
		return 0;
	n = strdup(rv);
	if (!n)
		return -ENOMEM;
	free(f->rv);
	f->rv = n;
	return 0;
}

/* One line of a watch stream: {"type": ..., "object": {...}}. */
static int watch_line(struct informer *f, const char *line, size_t len)
{
	struct pf_kube_informers *in = f->set;
	struct pf_node *ev = NULL;
	struct pf_error err = {0};
	const struct pf_node *obj;
	const char *type;
	int r;

	if (len == 0)
		return 0;
	r = pf_json_parse(line, len, &api_limits, &ev, &err);
	if (r < 0) {
		snprintf(f->last_error, sizeof(f->last_error), "watch %s: bad event: %.400s",
			 res_name(f), err.msg);
		f->broken = true;
		return r;
	}
	type = pf_node_str(ev, "type");
	obj = pf_node_get(ev, "object");
	if (!type || !obj || obj->type != PF_NODE_MAP) {
		snprintf(f->last_error, sizeof(f->last_error),
			 "watch %s: event without type or object", res_name(f));
		f->broken = true;
		r = -EBADMSG;
	} else if (strcmp(type, "BOOKMARK") == 0) {
		in->stats.bookmarks++;
		f->stream_events++; /* a live stream: the backoff can start over */
		r = set_rv(f, obj_rv(obj));
	} else if (strcmp(type, "ERROR") == 0) {
		int64_t code = 0;

		pf_node_int(obj, "code", &code);
		snprintf(f->last_error, sizeof(f->last_error), "watch %s: %" PRId64 " %s",
			 res_name(f), code, pf_strna(pf_node_str(obj, "message")));
		if (code == 410)
			f->gone = true;
		r = -EPROTO; /* end this stream */
	} else {
		enum pf_kube_event t;

		if (strcmp(type, "ADDED") == 0)
			t = PF_KUBE_ADDED;
		else if (strcmp(type, "MODIFIED") == 0)
			t = PF_KUBE_MODIFIED;
		else if (strcmp(type, "DELETED") == 0)
			t = PF_KUBE_DELETED;
		else {
			pf_node_free(ev);
			return 0; /* a type from the future: skip */
		}
		in->stats.events++;
		f->stream_events++;
		r = in->h.event(in->h.userdata, f->res, t, obj);
		if (r >= 0)
			r = set_rv(f, obj_rv(obj));
	}
	pf_node_free(ev);
	return r;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct informer *f = userdata;
	size_t n = size * nmemb;
	char *nl;

	if (f->state == ST_LIST)
		return buf_append(f, data, n, f->set->max_body) < 0 ? 0 : n;
	if (response_code(f) != 200)
		return buf_append(f, data, n, MAX_ERROR_BODY) < 0 ? 0 : n;
	if (buf_append(f, data, n, MAX_WATCH_LINE) < 0) {
		snprintf(f->last_error, sizeof(f->last_error),
			 "watch %s: event larger than %zu bytes", res_name(f), MAX_WATCH_LINE);
		f->broken = true;
		return 0;
	}
	/* Only whole lines are events; a stream cut mid-line loses nothing we acted on. */
	while ((nl = memchr(f->buf, '\n', f->len))) {
		size_t ll = (size_t)(nl - f->buf);

		if (watch_line(f, f->buf, ll) < 0)
			return 0;
		memmove(f->buf, nl + 1, f->len - ll - 1);
		f->len -= ll + 1;
		f->buf[f->len] = '\0';
	}
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct informer *f = userdata;
	size_t n = size * nmemb;
	char v[32];
	size_t i = 12, j = 0;
	uint32_t s;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		f->retry_after_s = 0;
	else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		while (i < n && (data[i] == ' ' || data[i] == '\t'))
			i++;
		while (i < n && j < sizeof(v) - 1 && data[i] >= '0' && data[i] <= '9')
			v[j++] = data[i++];
		v[j] = '\0';
		/* The HTTP-date form is not parsed: the default backoff applies then. */
		if (j > 0 && pf_parse_u32(v, UINT32_MAX, &s) == 0)
			f->retry_after_s = s;
	}
	return n;
}

static void end_transfer(struct informer *f)
{
	if (f->easy) {
		curl_multi_remove_handle(f->set->multi, f->easy);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
	}
	curl_slist_free_all(f->headers);
	f->headers = NULL;
}

static void fail(struct informer *f, enum next next, unsigned long retry_after_s);

static void start(struct informer *f, enum next next)
{
	struct pf_kube_informers *in = f->set;
	const struct pf_kube_res_info *ri = &pf_kube_resources[f->res];
	_cleanup_free_ char *path = NULL;
	struct pf_error err = {0};
	long timeout = LIST_TIMEOUT_S;
	char *esc = NULL;
	int r;

	buf_reset(f);
	f->gone = f->broken = false;
	f->stream_events = 0;
	if (next == NEXT_LIST_FRESH) {
		free(f->cont);
		f->cont = NULL;
		if (f->listing)
			in->h.list_end(in->h.userdata, f->res, false);
		in->h.list_begin(in->h.userdata, f->res);
		f->listing = true;
		in->stats.lists++;
	}
	if (next == NEXT_WATCH) {
		long w = WATCH_TIMEOUT_MIN_S + (long)(rand_r(&in->seed) % WATCH_TIMEOUT_MIN_S);

		esc = curl_easy_escape(NULL, f->rv ? f->rv : "", 0);
		r = esc ? asprintf(&path,
				   "%s/"
				   "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&"
				   "timeoutSeconds=%ld",
				   ri->api, ri->plural, esc, w)
			: -1;
		timeout = w + 60;
		f->state = ST_WATCH;
		in->stats.watches++;
	} else {
		if (f->cont)
			esc = curl_easy_escape(NULL, f->cont, 0);
		r = (!f->cont || esc) ? asprintf(&path, "%s/%s?limit=%u%s%s", ri->api, ri->plural,
						 f->limit, esc ? "&continue=" : "", esc ? esc : "")
				      : -1;
		f->state = ST_LIST;
		in->stats.pages++;
	}
	curl_free(esc);
	if (r < 0) {
		path = NULL;
		snprintf(f->last_error, sizeof(f->last_error), "%s: out of memory", ri->plural);
		fail(f, next, 0);
		return;
	}
	r = pf_kube_client_get(in->client, path, timeout, &f->easy, &f->headers, &err);
	if (r < 0) {
		snprintf(f->last_error, sizeof(f->last_error), "%s: %.400s", ri->plural,
			 err.msg[0] ? err.msg : strerror(-r));
		fail(f, next, 0);
		return;
	}
	f->errbuf[0] = '\0';
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(f->easy, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
	f->started_ns = pf_mono_ns();
	if (curl_multi_add_handle(in->multi, f->easy) != CURLM_OK) {
		end_transfer(f);
		snprintf(f->last_error, sizeof(f->last_error), "%s: cannot start transfer",
			 ri->plural);
		fail(f, next, 0);
	}
}

/* Exponential backoff with jitter, or the server's Retry-After. */
static void fail(struct informer *f, enum next next, unsigned long retry_after_s)
{
	struct pf_kube_informers *in = f->set;
	uint64_t ms;

	f->failures++;
	if (retry_after_s > 0) {
		ms = MIN(retry_after_s, (unsigned long)RETRY_AFTER_MAX_S) * 1000;
		ms += (uint64_t)rand_r(&in->seed) % (ms / 10 + 1);
	} else {
		uint64_t d = BACKOFF_MIN_MS << MIN(f->failures - 1, 10u);

		d = MIN(d, (uint64_t)BACKOFF_MAX_MS);
		ms = d / 2 + (uint64_t)rand_r(&in->seed) % (d / 2 + 1);
	}
	/* Log the first failures of a streak, then every tenth: a long outage must not flood. */
	if (f->failures <= 3 || f->failures % 10 == 0)
		log_warning("Kubernetes %s (retry %u in %" PRIu64 " ms)", f->last_error,
			    f->failures, ms);
	f->state = ST_WAIT;
	f->next = next;
	f->wake_ns = pf_mono_ns() + ms * 1000000;
}

/* A short message from a Status body, for the log. */
static void status_message(struct informer *f, long code, const char *what)
{
	struct pf_node *st = NULL;
	struct pf_error err = {0};
	const char *msg = NULL;

	if (f->len && pf_json_parse(f->buf, f->len, NULL, &st, &err) == 0)
		msg = pf_node_str(st, "message");
	snprintf(f->last_error, sizeof(f->last_error), "%s %s: HTTP %ld%s%s", what, res_name(f),
		 code, msg ? ": " : "", msg ? msg : "");
	pf_node_free(st);
}

/* The string value of the first "key" in [p, end), when it is a plain name; "" otherwise. */
static void name_after(const char *p, const char *end, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key), n = 0;
	const char *v;

	out[0] = '\0';
	for (v = p; (v = memmem(v, (size_t)(end - v), key, kl)); v += kl) {
		const char *c = v + kl;

		while (c < end && (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r'))
			c++;
		if (c >= end || *c != ':')
			continue;
		for (c++; c < end && (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r'); c++)
			;
		if (c >= end || *c != '"')
			return;
		for (c++; c < end && n + 1 < size && *c != '"'; c++) {
			if (!(*c == '-' || *c == '.' || *c == '_' || (*c >= 'a' && *c <= 'z') ||
			      (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
				break;
			out[n++] = *c;
		}
		out[c < end && *c == '"' ? n : 0] = '\0';
		return;
	}
}

/*
 * The name of the first item of a list page cut at the body cap (a page of one object, so the
 * object that is too large): API servers write an object's metadata early and its name first
 * in it. Only for the message; "" when the prefix does not show it.
 */
static void first_item_name(const char *buf, size_t len, char *out, size_t size)
{
	const char *end = buf + len, *p = memmem(buf, len, "\"items\"", 7);
	char ns[254], name[254];

	out[0] = '\0';
	if (!p || !(p = memmem(p, (size_t)(end - p), "\"metadata\"", 10)))
		return;
	end = MIN(end, p + 4096);
	name_after(p, end, "\"namespace\"", ns, sizeof(ns));
	name_after(p, end, "\"name\"", name, sizeof(name));
	if (name[0])
		snprintf(out, size, "%s%s%s", ns, ns[0] ? "/" : "", name);
}

/*
 * A page's body reached the cap: ask for the same page (same continue token, nothing of it was
 * taken) with half the objects. One object alone over the cap cannot be listed: say which,
 * keep what we have, and retry with backoff from a fresh list (the continue token's snapshot
 * would hold the object as it was; its owner may shrink or delete it meanwhile).
 */
static void list_too_big(struct informer *f)
{
	struct pf_kube_informers *in = f->set;
	char name[512];

	if (f->limit > 1) {
		f->limit /= 2;
		in->stats.shrunk++;
		log_info(
		    "Kubernetes list %s: a page is larger than %zu bytes; asking for %u objects "
		    "a page",
		    res_name(f), in->max_body, f->limit);
		return start(f, NEXT_LIST_PAGE);
	}
	first_item_name(f->buf, f->len, name, sizeof(name));
	snprintf(f->last_error, sizeof(f->last_error),
		 "list %s: %s %s is larger than the %zu-byte response limit on its own; the last "
		 "complete list of %s stays in force",
		 res_name(f), pf_kube_resources[f->res].kind, name[0] ? name : "(name not shown)",
		 in->max_body, res_name(f));
	in->stats.errors++;
	fail(f, NEXT_LIST_FRESH, 0);
}

/* After a page of len bytes: halve the next page when this one came near the cap, grow it back
 * (up to LIST_PAGE_SIZE) when it was small. */
static void page_sized(struct informer *f, size_t len)
{
	size_t cap = f->set->max_body;

	if (len > cap / 2 && f->limit > 1)
		f->limit /= 2;
	else if (len < cap / 8 && f->limit < LIST_PAGE_SIZE)
		f->limit = MIN(f->limit * 2, (unsigned)LIST_PAGE_SIZE);
}

static void list_done(struct informer *f, CURLcode cr, long code)
{
	struct pf_kube_informers *in = f->set;
	struct pf_node *list = NULL;
	struct pf_error err = {0};
	const struct pf_node *items, *md;
	const char *cont;
	int r;

	if (cr != CURLE_OK && f->too_big)
		return list_too_big(f);
	if (cr != CURLE_OK) {
		snprintf(f->last_error, sizeof(f->last_error), "list %s: %s", res_name(f),
			 f->errbuf[0] ? f->errbuf : curl_easy_strerror(cr));
		in->stats.errors++;
		return fail(f, NEXT_LIST_PAGE, 0);
	}
	if (code == 410) {
		/* The continue token expired: a consistent list has to start over. */
		in->stats.gone++;
		return start(f, NEXT_LIST_FRESH);
	}
	if (code != 200) {
		status_message(f, code, "list");
		if (code == 429 || code >= 500)
			in->stats.throttled++;
		else
			in->stats.errors++;
		return fail(f, NEXT_LIST_PAGE, (code == 429 || code >= 500) ? f->retry_after_s : 0);
	}
	r = pf_json_parse(f->buf, f->len, &api_limits, &list, &err);
	items = pf_node_get(list, "items");
	md = pf_node_get(list, "metadata");
	if (r < 0 || (items && items->type != PF_NODE_SEQ && items->type != PF_NODE_NULL)) {
		snprintf(f->last_error, sizeof(f->last_error), "list %s: bad response: %.400s",
			 res_name(f), r < 0 ? err.msg : "items is not a list");
		pf_node_free(list);
		in->stats.errors++;
		return fail(f, NEXT_LIST_FRESH, 0);
	}
	page_sized(f, f->len);
	buf_reset(f);
	for (size_t i = 0; items && items->type == PF_NODE_SEQ && i < items->n; i++) {
		r = in->h.list_item(in->h.userdata, f->res, items->items[i]);
		if (r < 0) {
			snprintf(f->last_error, sizeof(f->last_error), "list %s: %s", res_name(f),
				 strerror(-r));
			pf_node_free(list);
			in->stats.errors++;
			return fail(f, NEXT_LIST_FRESH, 0);
		}
	}
	cont = pf_node_str(md, "continue");
	if (cont && *cont) {
		char *c = strdup(cont);

		pf_node_free(list);
		if (!c)
			return fail(f, NEXT_LIST_FRESH, 0);
		free(f->cont);
		f->cont = c;
		return start(f, NEXT_LIST_PAGE);
	}
	r = set_rv(f, pf_node_str(md, "resourceVersion"));
	pf_node_free(list);
	if (r < 0)
		return fail(f, NEXT_LIST_FRESH, 0);
	free(f->cont);
	f->cont = NULL;
	f->listing = false;
	in->h.list_end(in->h.userdata, f->res, true);
	f->synced = true;
	f->failures = 0;
	if (in->watch)
		start(f, NEXT_WATCH);
	else
		f->state = ST_IDLE;
}

static void watch_done(struct informer *f, CURLcode cr, long code)
{
	struct pf_kube_informers *in = f->set;
	bool quick = pf_mono_ns() - f->started_ns < 1000000000ULL;

	if (f->gone || code == 410) {
		in->stats.gone++;
		log_info("Kubernetes watch %s: resourceVersion %s expired, relisting", res_name(f),
			 pf_strna(f->rv));
		return start(f, NEXT_LIST_FRESH);
	}
	if (f->broken) {
		in->stats.errors++;
		return fail(f, NEXT_LIST_FRESH, 0);
	}
	if (f->stream_events > 0)
		f->failures = 0;
	if (cr == CURLE_OK && code == 200) {
		/* The server ended the watch (timeoutSeconds): continue where it stopped. A server
		 * that closes at once every time gets backoff, not a busy loop. */
		if (quick && f->stream_events == 0) {
			snprintf(f->last_error, sizeof(f->last_error), "watch %s: closed at once",
				 res_name(f));
			return fail(f, NEXT_WATCH, 0);
		}
		return start(f, NEXT_WATCH);
	}
	if (cr != CURLE_OK) {
		in->stats.reconnects++;
		snprintf(f->last_error, sizeof(f->last_error), "watch %s: %s", res_name(f),
			 f->errbuf[0] ? f->errbuf : curl_easy_strerror(cr));
		return fail(f, NEXT_WATCH, 0);
	}
	status_message(f, code, "watch");
	if (code == 429 || code >= 500)
		in->stats.throttled++;
	else
		in->stats.errors++;
	fail(f, NEXT_WATCH, (code == 429 || code >= 500) ? f->retry_after_s : 0);
}

int pf_kube_informers_new(struct pf_kube_client *c, const struct pf_kube_handler *h, bool watch,
			  struct pf_kube_informers **out)
{
	struct pf_kube_informers *in = calloc(1, sizeof(*in));
	const char *env;
	uint64_t v;

	if (!in)
		return -ENOMEM;
	in->client = c;
	in->h = *h;
	in->watch = watch;
	in->seed = (unsigned)(pf_mono_ns() ^ (uint64_t)getpid());
	in->max_body = MAX_LIST_BODY;
	if ((env = getenv("PODFENCE_KUBE_MAX_LIST_BODY")) && *env) {
		/* tests only: a cap they can reach without 128 MiB pages */
		if (pf_parse_u64(env, MAX_LIST_BODY, &v) < 0 || v < MIN_LIST_BODY) {
			log_error("PODFENCE_KUBE_MAX_LIST_BODY=%s: must be %zu..%zu bytes", env,
				  MIN_LIST_BODY, MAX_LIST_BODY);
			free(in);
			return -EINVAL;
		}
		in->max_body = (size_t)v;
	}
	in->multi = curl_multi_init();
	if (!in->multi) {
		free(in);
		return -ENOMEM;
	}
	for (int i = 0; i < _PF_KUBE_RES_MAX; i++) {
		in->inf[i].set = in;
		in->inf[i].res = (enum pf_kube_res)i;
		in->inf[i].state = ST_WAIT;
		in->inf[i].next = NEXT_LIST_FRESH;
		in->inf[i].wake_ns = 0;
		in->inf[i].limit = LIST_PAGE_SIZE;
	}
	*out = in;
	return 0;
}

void pf_kube_informers_free(struct pf_kube_informers *in)
{
	if (!in)
		return;
	for (int i = 0; i < _PF_KUBE_RES_MAX; i++) {
		struct informer *f = &in->inf[i];

		end_transfer(f);
		if (f->listing)
			in->h.list_end(in->h.userdata, f->res, false);
		free(f->buf);
		free(f->rv);
		free(f->cont);
	}
	curl_multi_cleanup(in->multi);
	free(in);
}

int pf_kube_informers_run(struct pf_kube_informers *in, int timeout_ms, int fd)
{
	struct curl_waitfd wfd = {.fd = fd, .events = CURL_WAIT_POLLIN};
	uint64_t now = pf_mono_ns();
	CURLMsg *msg;
	int running, left, numfds;
	CURLMcode mc;

	for (int i = 0; i < _PF_KUBE_RES_MAX; i++) {
		struct informer *f = &in->inf[i];

		if (f->state != ST_WAIT)
			continue;
		if (f->wake_ns <= now) {
			timeout_ms = 0;
			break;
		}
		timeout_ms = (int)MIN((uint64_t)timeout_ms, (f->wake_ns - now) / 1000000 + 1);
	}
	mc =
	    curl_multi_poll(in->multi, fd >= 0 ? &wfd : NULL, fd >= 0 ? 1 : 0, timeout_ms, &numfds);
	if (mc != CURLM_OK)
		return log_error_errno(-EIO, "curl_multi_poll: %s", curl_multi_strerror(mc));
	mc = curl_multi_perform(in->multi, &running);
	if (mc != CURLM_OK)
		return log_error_errno(-EIO, "curl_multi_perform: %s", curl_multi_strerror(mc));
	while ((msg = curl_multi_info_read(in->multi, &left))) {
		struct informer *f;
		char *priv = NULL;
		long code;
		CURLcode cr;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		f = (struct informer *)priv;
		if (!f)
			continue;
		cr = msg->data.result;
		code = response_code(f);
		/* Done with the handle before the callbacks start the next request. */
		end_transfer(f);
		if (f->state == ST_LIST)
			list_done(f, cr, code);
		else
			watch_done(f, cr, code);
	}
	now = pf_mono_ns();
	for (int i = 0; i < _PF_KUBE_RES_MAX; i++) {
		struct informer *f = &in->inf[i];

		if (f->state == ST_WAIT && f->wake_ns <= now)
			start(f, f->next);
	}
	return fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN) ? 1 : 0;
}

bool pf_kube_informers_synced(const struct pf_kube_informers *in)
{
	for (int i = 0; i < _PF_KUBE_RES_MAX; i++)
		if (!in->inf[i].synced)
			return false;
	return true;
}

unsigned pf_kube_informers_failures(const struct pf_kube_informers *in, const char **last_error)
{
	unsigned worst = 0;

	*last_error = NULL;
	for (int i = 0; i < _PF_KUBE_RES_MAX; i++)
		if (in->inf[i].failures > worst) {
			worst = in->inf[i].failures;
			*last_error = in->inf[i].last_error;
		}
	return worst;
}

const struct pf_kube_stats *pf_kube_informers_stats(const struct pf_kube_informers *in)
{
	return &in->stats;
}
