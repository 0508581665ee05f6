/*
 * A parsed JSON or YAML document as a bounded tree with positions, so that every part reads
 * outside input (policy files, OCI state, API responses, control messages) the same way and
 * errors can name a line and a field path.
 *
 * DRAFT CONTRACT: owned by the policy-model maintainer.
 */
#ifndef PF_DOC_H
#define PF_DOC_H

#include "error.h"

enum pf_node_type {
	PF_NODE_NULL,
	PF_NODE_BOOL,
	PF_NODE_INT,	/* fits int64 */
	PF_NODE_FLOAT,	/* other numbers */
	PF_NODE_STRING,
	PF_NODE_MAP,
	PF_NODE_SEQ,
};

struct pf_node {
	enum pf_node_type type;
	unsigned line, col; /* 1-based; 0 when unknown */
	char *str;	    /* scalars: the text as written (strings unescaped) */
	int64_t i;	    /* PF_NODE_INT */
	bool b;		    /* PF_NODE_BOOL */
	size_t n;	    /* MAP/SEQ: children */
	char **keys;	    /* MAP: keys[n] */
	struct pf_node **items;
};

struct pf_doc_limits {
	size_t max_bytes;   /* input size */
	unsigned max_depth; /* nesting */
	size_t max_nodes;   /* total nodes */
	size_t max_string;  /* one scalar's length */
};
/* 1 MiB, depth 64, 100k nodes, 64 KiB strings. */
extern const struct pf_doc_limits pf_doc_default_limits;

/* Parse one JSON value; trailing garbage is an error. lim NULL = defaults. */
int pf_json_parse(const char *buf, size_t len, const struct pf_doc_limits *lim, struct pf_node **out,
		  struct pf_error *err);
/* Parse a YAML stream of one or more documents (`---`). Plain scalars are typed as YAML 1.2's
 * core schema (null/~, true/false, integers); quoted ones are strings. Anchors/aliases and
 * tags other than the standard ones are refused. */
int pf_yaml_parse(const char *buf, size_t len, const struct pf_doc_limits *lim, struct pf_node ***docs,
		  size_t *n_docs, struct pf_error *err);
void pf_node_free(struct pf_node *n);

/* Map lookup (NULL when n is not a map or key absent). */
const struct pf_node *pf_node_get(const struct pf_node *n, const char *key);
/* Walk "a.b.c" through maps. */
const struct pf_node *pf_node_path(const struct pf_node *n, const char *dotted);
/* String value or NULL if missing / not a string. */
const char *pf_node_str(const struct pf_node *n, const char *key);
/* Integer value; -ENOENT missing, -EINVAL wrong type. */
int pf_node_int(const struct pf_node *n, const char *key, int64_t *out);

/* Serialize back to compact JSON. */
int pf_node_to_json(const struct pf_node *n, char **out);

#endif
