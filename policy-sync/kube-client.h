/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How podfence-sync reaches the Kubernetes API server: a kubeconfig's current context or the
 * in-cluster service account, turned into libcurl requests with TLS verification always on.
 */
#ifndef PF_KUBE_CLIENT_H
#define PF_KUBE_CLIENT_H

#include <curl/curl.h>

#include "error.h"

/* In-cluster paths; PODFENCE_SERVICEACCOUNT_DIR overrides the directory (tests). */
#define PF_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* Bounds on what a kubeconfig or token file can make us read. */
#define PF_KUBE_MAX_CONFIG (4 * 1024 * 1024)
#define PF_KUBE_MAX_TOKEN (64 * 1024)

struct pf_kube_client {
	char *server;  /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_file; /* PEM bundle path, or NULL */
	char *ca_pem;  /* certificate-authority-data, decoded, or NULL */
	size_t ca_pem_len;
	char *cert_file; /* client certificate and key (files or decoded data) */
	char *key_file;
	char *cert_pem;
	size_t cert_pem_len;
	char *key_pem;
	size_t key_pem_len;
	char *token;	  /* static bearer token, or NULL */
	char *token_file; /* re-read before every request: rotated tokens keep working */
	char *origin; /* "kubeconfig F (context C)" or "in-cluster service account", for messages */
	char *namespace; /* the context's namespace, or the service account's; NULL if none */
	const char *user_agent; /* NULL: "podfence-sync/VERSION" */
};

int pf_kube_client_from_kubeconfig(struct pf_kube_client *c, const char *path,
				   struct pf_error *err);
int pf_kube_client_in_cluster(struct pf_kube_client *c, struct pf_error *err);
void pf_kube_client_done(struct pf_kube_client *c);

/*
 * A GET of path ("/api/v1/pods?limit=500") ready to add to a multi handle: the easy handle and
 * its header list (the caller frees both). timeout_s 0 means no overall timeout (watches set
 * their own).
 */
int pf_kube_client_get(struct pf_kube_client *c, const char *path, long timeout_s, CURL **out,
		       struct curl_slist **headers, struct pf_error *err);

/* Bounds on a request body we send and an answer we read back (status, Lease). */
#define PF_KUBE_MAX_ANSWER (1024 * 1024)

/*
 * One request, waited for (at most timeout_s): method "GET", "POST", "PUT" or "PATCH" (body
 * sent as a JSON merge patch). *code is the HTTP status; *answer (NULL-able) gets the body.
 * Negative errno with err set when no answer came.
 */
int pf_kube_client_request(struct pf_kube_client *c, const char *method, const char *path,
			   const char *body, long timeout_s, long *code, char **answer,
			   struct pf_error *err);

/* Decode standard base64 (whitespace ignored). */
int pf_base64_decode(const char *in, char **out, size_t *out_len);

#endif
