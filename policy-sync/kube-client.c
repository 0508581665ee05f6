/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kubernetes API client configuration: kubeconfig or in-cluster, bearer tokens, TLS via libcurl. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "doc.h"
#include "kube-client.h"

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

int pf_base64_decode(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in), o = 0;
	unsigned acc = 0, bits = 0;
	bool pad = false;
	_cleanup_free_ char *buf = malloc(n / 4 * 3 + 4);

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		int v;

		if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		if (ch == '=') {
			pad = true;
			continue;
		}
		v = b64_value(ch);
		if (v < 0 || pad)
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[o] = '\0';
	*out_len = o;
	*out = PF_TAKE_PTR(buf);
	return 0;
}

void pf_kube_client_done(struct pf_kube_client *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_pem);
	free(c->key_pem);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	free(c->origin);
	free(c->namespace);
	memset(c, 0, sizeof(*c));
}

/* kubeconfig paths are relative to the file's directory. */
static int resolve_path(const char *config_path, const char *p, char **out)
{
	const char *slash;

	if (p[0] == '/' || !(slash = strrchr(config_path, '/'))) {
		*out = strdup(p);
	} else if (asprintf(out, "%.*s/%s", (int)(slash - config_path), config_path, p) < 0) {
		*out = NULL;
	}
	return *out ? 0 : -ENOMEM;
}

/* A list of {name: N, <field>: {...}} entries: the map under field for name. */
static const struct pf_node *named(const struct pf_node *root, const char *list, const char *field,
				   const char *name)
{
	const struct pf_node *l = pf_node_get(root, list);

	if (!l || l->type != PF_NODE_SEQ || !name)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (pf_streq(pf_node_str(l->items[i], "name"), name))
			return pf_node_get(l->items[i], field);
	return NULL;
}

static int take_data(const struct pf_node *m, const char *key, char **out, size_t *len,
		     const char *path, struct pf_error *err)
{
	const char *s = pf_node_str(m, key);

	if (!s)
		return 0;
	if (pf_base64_decode(s, out, len) < 0)
		return pf_error_set(err, EINVAL, "%s: %s is not valid base64", path, key);
	return 0;
}

static int take_path(const struct pf_node *m, const char *key, char **out, const char *path)
{
	const char *s = pf_node_str(m, key);

	if (!s || !*s)
		return 0;
	return resolve_path(path, s, out);
}

int pf_kube_client_from_kubeconfig(struct pf_kube_client *c, const char *path, struct pf_error *err)
{
	_cleanup_free_ char *buf = NULL;
	struct pf_node **docs = NULL;
	size_t len, n_docs = 0;
	const struct pf_node *root, *cluster, *user, *v;
	const char *ctx_name, *server, *ns;
	int r;

	memset(c, 0, sizeof(*c));
	r = pf_read_file(path, PF_KUBE_MAX_CONFIG, &buf, &len);
	if (r < 0)
		return pf_error_set(err, -r, "kubeconfig %s: %s", path, strerror(-r));
	r = pf_yaml_parse(buf, len, NULL, &docs, &n_docs, err);
	if (r < 0) {
		pf_error_prefix(err, "kubeconfig %s: ", path);
		return r;
	}
	root = n_docs > 0 ? docs[0] : NULL;
	ctx_name = pf_node_str(root, "current-context");
	if (!ctx_name || !*ctx_name) {
		r = pf_error_set(err, EINVAL, "kubeconfig %s: current-context: not set", path);
		goto out;
	}
	v = named(root, "contexts", "context", ctx_name);
	if (!v) {
		r = pf_error_set(err, EINVAL, "kubeconfig %s: context \"%s\" not found", path,
				 ctx_name);
		goto out;
	}
	cluster = named(root, "clusters", "cluster", pf_node_str(v, "cluster"));
	user = named(root, "users", "user", pf_node_str(v, "user"));
	if (!cluster) {
		r = pf_error_set(err, EINVAL,
				 "kubeconfig %s: cluster \"%s\" of context \"%s\" not found", path,
				 pf_strna(pf_node_str(v, "cluster")), ctx_name);
		goto out;
	}
	server = pf_node_str(cluster, "server");
	if (!server || strncmp(server, "https://", 8) != 0) {
		r = pf_error_set(err, EINVAL,
				 "kubeconfig %s: cluster server: must be an https:// URL (got %s)",
				 path, pf_strna(server));
		goto out;
	}
	v = pf_node_get(cluster, "insecure-skip-tls-verify");
	if (v && v->type == PF_NODE_BOOL && v->b) {
		r = pf_error_set(err, EINVAL,
				 "kubeconfig %s: insecure-skip-tls-verify: refused, podfence-sync "
				 "always verifies the API server",
				 path);
		goto out;
	}
	if (pf_node_get(user, "exec") || pf_node_get(user, "auth-provider")) {
		r = pf_error_set(err, ENOTSUP,
				 "kubeconfig %s: user exec/auth-provider plugins are not "
				 "supported; use a token, tokenFile or client certificate",
				 path);
		goto out;
	}
	c->server = strndup(server, strlen(server) - (server[strlen(server) - 1] == '/'));
	if (asprintf(&c->origin, "kubeconfig %s (context %s)", path, ctx_name) < 0)
		c->origin = NULL;
	if (!c->server || !c->origin) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = take_path(cluster, "certificate-authority", &c->ca_file, path)) < 0 ||
	    (r = take_data(cluster, "certificate-authority-data", &c->ca_pem, &c->ca_pem_len, path,
			   err)) < 0 ||
	    (r = take_path(user, "client-certificate", &c->cert_file, path)) < 0 ||
	    (r = take_path(user, "client-key", &c->key_file, path)) < 0 ||
	    (r = take_data(user, "client-certificate-data", &c->cert_pem, &c->cert_pem_len, path,
			   err)) < 0 ||
	    (r = take_data(user, "client-key-data", &c->key_pem, &c->key_pem_len, path, err)) < 0 ||
	    (r = take_path(user, "tokenFile", &c->token_file, path)) < 0)
		goto out;
	if (pf_node_str(user, "token") && !(c->token = strdup(pf_node_str(user, "token")))) {
		r = -ENOMEM;
		goto out;
	}
	ns = pf_node_str(named(root, "contexts", "context", ctx_name), "namespace");
	if (ns && *ns && !(c->namespace = strdup(ns))) {
		r = -ENOMEM;
		goto out;
	}
	r = 0;
out:
	for (size_t i = 0; i < n_docs; i++)
		pf_node_free(docs[i]);
	free(docs);
	if (r < 0)
		pf_kube_client_done(c);
	return r;
}

int pf_kube_client_in_cluster(struct pf_kube_client *c, struct pf_error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"),
		   *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("PODFENCE_SERVICEACCOUNT_DIR");
	uint32_t p;

	memset(c, 0, sizeof(*c));
	if (!dir || !*dir)
		dir = PF_KUBE_SA_DIR;
	if (!host || !*host || !port || pf_parse_u32(port, 65535, &p) < 0 || p == 0)
		return pf_error_set(err, EINVAL,
				    "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset "
				    "or invalid); use --kubeconfig");
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%u" : "https://%s:%u", host, p) <
		0 ||
	    asprintf(&c->ca_file, "%s/ca.crt", dir) < 0 ||
	    asprintf(&c->token_file, "%s/token", dir) < 0 ||
	    !(c->origin = strdup("in-cluster service account"))) {
		pf_kube_client_done(c);
		return -ENOMEM;
	}
	if (access(c->token_file, R_OK) < 0 || access(c->ca_file, R_OK) < 0) {
		int r =
		    pf_error_set(err, errno, "in-cluster service account: cannot read %s or %s: %m",
				 c->token_file, c->ca_file);
		pf_kube_client_done(c);
		return r;
	}
	/* The account's namespace, where the Lease lives by default; missing is not an error. */
	{
		_cleanup_free_ char *path = NULL, *ns = NULL;
		size_t len;

		if (asprintf(&path, "%s/namespace", dir) >= 0 &&
		    pf_read_file(path, 256, &ns, &len) >= 0) {
			while (len > 0 && (ns[len - 1] == '\n' || ns[len - 1] == ' '))
				ns[--len] = '\0';
			if (len)
				c->namespace = PF_TAKE_PTR(ns);
		}
	}
	return 0;
}

/* The bearer token: the file when there is one (kubelet rotates projected tokens), else static. */
static int auth_header(struct pf_kube_client *c, struct curl_slist **h, struct pf_error *err)
{
	_cleanup_free_ char *tok = NULL, *line = NULL;
	const char *t = c->token;
	size_t len;
	struct curl_slist *n;
	int r;

	if (c->token_file) {
		r = pf_read_file(c->token_file, PF_KUBE_MAX_TOKEN, &tok, &len);
		if (r < 0)
			return pf_error_set(err, -r, "token file %s: %s", c->token_file,
					    strerror(-r));
		while (len > 0 &&
		       (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
			tok[--len] = '\0';
		t = tok;
	}
	if (!t || !*t)
		return 0;
	if (strpbrk(t, "\r\n"))
		return pf_error_set(err, EINVAL, "bearer token contains a line break");
	if (asprintf(&line, "Authorization: Bearer %s", t) < 0)
		return -ENOMEM;
	n = curl_slist_append(*h, line);
	explicit_bzero(line, strlen(line));
	if (tok)
		explicit_bzero(tok, strlen(tok));
	if (!n)
		return -ENOMEM;
	*h = n;
	return 0;
}

#if LIBCURL_VERSION_NUM >= 0x074d00
static int set_blob(CURL *e, CURLoption opt, char *data, size_t len)
{
	struct curl_blob blob = {.data = data, .len = len, .flags = CURL_BLOB_COPY};

	return curl_easy_setopt(e, opt, &blob) == CURLE_OK ? 0 : -ENOTSUP;
}
#else
/* Older libcurl reads certificates from files only; *-data kubeconfig fields are refused. */
#define CURLOPT_CAINFO_BLOB 0
#define CURLOPT_SSLCERT_BLOB 0
#define CURLOPT_SSLKEY_BLOB 0
static int set_blob(CURL *e, int opt, char *data, size_t len)
{
	return -ENOTSUP;
}
#endif

int pf_kube_client_get(struct pf_kube_client *c, const char *path, long timeout_s, CURL **out,
		       struct curl_slist **headers, struct pf_error *err)
{
	_cleanup_free_ char *url = NULL;
	struct curl_slist *h = NULL;
	CURL *e = NULL;
	int r;

	if (asprintf(&url, "%s%s", c->server, path) < 0)
		return -ENOMEM;
	h = curl_slist_append(NULL, "Accept: application/json");
	if (!h)
		return -ENOMEM;
	r = auth_header(c, &h, err);
	if (r < 0)
		goto fail;
	e = curl_easy_init();
	if (!e) {
		r = -ENOMEM;
		goto fail;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_USERAGENT,
			 c->user_agent ? c->user_agent : "podfence-sync/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* Never weaken verification: there is no option for it on purpose. */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	/* A silently dead peer would stall a watch forever. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->ca_pem && (r = set_blob(e, CURLOPT_CAINFO_BLOB, c->ca_pem, c->ca_pem_len)) < 0) {
		pf_error_set(err, ENOTSUP,
			     "libcurl cannot take certificate-authority-data in memory");
		goto fail;
	}
	if (c->cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	if ((c->cert_pem &&
	     (r = set_blob(e, CURLOPT_SSLCERT_BLOB, c->cert_pem, c->cert_pem_len)) < 0) ||
	    (c->key_pem &&
	     (r = set_blob(e, CURLOPT_SSLKEY_BLOB, c->key_pem, c->key_pem_len)) < 0)) {
		pf_error_set(err, ENOTSUP, "libcurl cannot take client certificate data in memory");
		goto fail;
	}
	*out = e;
	*headers = h;
	return 0;
fail:
	if (e)
		curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return r;
}

struct answer {
	struct pf_buf b;
	bool too_long;
};

static size_t answer_write(char *p, size_t size, size_t n, void *u)
{
	struct answer *a = u;

	if (a->b.len + size * n > PF_KUBE_MAX_ANSWER) {
		a->too_long = true;
		return 0;
	}
	return pf_buf_add(&a->b, p, size * n) < 0 ? 0 : size * n;
}

int pf_kube_client_request(struct pf_kube_client *c, const char *method, const char *path,
			   const char *body, long timeout_s, long *code, char **answer,
			   struct pf_error *err)
{
	struct answer a = {0};
	struct curl_slist *h = NULL, *h2;
	CURL *e = NULL;
	CURLcode cr;
	int r;

	if (body && strlen(body) > PF_KUBE_MAX_ANSWER)
		return pf_error_set(err, E2BIG, "%s %s: request body too large", method, path);
	r = pf_kube_client_get(c, path, timeout_s, &e, &h, err);
	if (r < 0)
		return r;
	if (body) {
		h2 = curl_slist_append(h, strcmp(method, "PATCH")
					      ? "Content-Type: application/json"
					      : "Content-Type: application/merge-patch+json");
		if (!h2) {
			r = -ENOMEM;
			goto out;
		}
		h = h2;
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "GET"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
	cr = curl_easy_perform(e);
	if (cr != CURLE_OK) {
		r = pf_error_set(err, a.too_long ? E2BIG : EIO, "%s %s: %s", method, path,
				 a.too_long ? "answer too large" : curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
	if (answer && (r = pf_buf_take(&a.b, answer)) < 0)
		goto out;
	r = 0;
out:
	pf_buf_done(&a.b);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return r;
}
