/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A parsed JSON or YAML document as a bounded tree with positions, so that every part reads
 * outside input (policy files, OCI state, API responses, control messages) the same way and
 * errors can name a line and a field path.
 *
 * Parsers: lib/json.c (yajl), lib/yaml.c (libyaml); the tree and its helpers: lib/doc.c;
 * writing JSON: lib/json-gen.h.
 */
#ifndef PF_DOC_H
#define PF_DOC_H

#include "error.h"

enum pf_node_type {
	PF_NODE_NULL,
	PF_NODE_BOOL,
	PF_NODE_INT,   /* fits int64 */
	PF_NODE_FLOAT, /* other numbers */
	PF_NODE_STRING,
	PF_NODE_MAP,
	PF_NODE_SEQ,
};

struct pf_node {
	enum pf_node_type type;
	unsigned line, col;  /* 1-based; 0 when unknown */
	char *str;	     /* scalars: the text as written (strings unescaped) */
	int64_t i;	     /* PF_NODE_INT */
	bool b;		     /* PF_NODE_BOOL */
	size_t n;	     /* MAP/SEQ: children */
	char **keys;	     /* MAP: keys[n] (unique; a duplicate key is a parse error) */
	unsigned *key_lines; /* MAP: line of each key, 0 when unknown */
	struct pf_node **items;
};

struct pf_doc_limits {
	size_t max_bytes;   /* input size */
	unsigned max_depth; /* nesting */
	size_t max_nodes;   /* total nodes */
	size_t max_string;  /* one scalar's (or key's) length */
	size_t max_docs;    /* documents in one YAML stream / JSON values in one stream */
};
/* 1 MiB, depth 64, 100k nodes, 64 KiB strings, 1024 documents; a 0 field means its default.
 * Scalars containing a NUL byte are refused everywhere, so every str is a proper C string. */
extern const struct pf_doc_limits pf_doc_default_limits;

/* Parse one JSON value; trailing garbage is an error. lim NULL = defaults. Errors name the line
 * and column ("line 3, column 7: ..."). A UTF-8 BOM is skipped. Numbers that fit int64 and are
 * written without fraction or exponent are PF_NODE_INT, others PF_NODE_FLOAT. */
int pf_json_parse(const char *buf, size_t len, const struct pf_doc_limits *lim,
		  struct pf_node **out, struct pf_error *err);
/* Parse a stream of concatenated JSON values (whitespace separated), one doc each. */
int pf_json_parse_stream(const char *buf, size_t len, const struct pf_doc_limits *lim,
			 struct pf_node ***docs, size_t *n_docs, struct pf_error *err);
/* Parse a YAML stream of one or more documents (`---`). Plain scalars are typed as YAML 1.2's
 * core schema (null/~, true/false, integers); quoted ones are strings. Anchors/aliases and
 * tags other than the standard ones are refused. */
int pf_yaml_parse(const char *buf, size_t len, const struct pf_doc_limits *lim,
		  struct pf_node ***docs, size_t *n_docs, struct pf_error *err);
void pf_node_free(struct pf_node *n);
#define pf_node_freep(pp) pf_node_free(*(pp))
/* Free an array of documents as returned by pf_yaml_parse. */
void pf_docs_free(struct pf_node **docs, size_t n_docs);
/* "mapping", "sequence", "string", "integer", "number", "boolean", "null": for messages. */
const char *pf_node_type_name(enum pf_node_type t);

/* Map lookup (NULL when n is not a map or key absent). */
const struct pf_node *pf_node_get(const struct pf_node *n, const char *key);
/* Walk "a.b.c" through maps (keys containing '.' cannot be reached this way). */
const struct pf_node *pf_node_path(const struct pf_node *n, const char *dotted);
/* String value or NULL if missing / not a string. With key NULL these three read n itself. */
const char *pf_node_str(const struct pf_node *n, const char *key);
/* Integer value; -ENOENT missing, -EINVAL wrong type. */
int pf_node_int(const struct pf_node *n, const char *key, int64_t *out);
/* Boolean value; -ENOENT missing, -EINVAL wrong type. */
int pf_node_bool(const struct pf_node *n, const char *key, bool *out);

/* Serialize back to compact JSON (map keys in document order; floats that JSON cannot carry,
 * such as YAML's .inf/.nan, become null). *out is malloc'ed. */
int pf_node_to_json(const struct pf_node *n, char **out);

#endif
