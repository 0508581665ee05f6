/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tree builder shared by the JSON and YAML parsers: one place enforces the limits. */
#ifndef PF_DOC_INTERNAL_H
#define PF_DOC_INTERNAL_H

#include "doc.h"

struct pf_doc_frame {
	struct pf_node *node; /* MAP or SEQ being filled */
	size_t cap;
	char *key; /* MAP: key waiting for its value */
	unsigned key_line;
};

struct pf_doc_builder {
	struct pf_doc_limits lim_buf;
	const struct pf_doc_limits *lim; /* = &lim_buf */
	struct pf_doc_frame *stack;	 /* lim->max_depth frames */
	unsigned depth;
	size_t n_nodes;
	struct pf_node **docs; /* completed top-level values */
	size_t n_docs, cap_docs;
	struct pf_error *err; /* the caller's, or err_buf when it passed none */
	struct pf_error err_buf;
	unsigned line, col; /* position of the event being built, for messages */
};

/* lim with every 0 field (or lim NULL) taken from pf_doc_default_limits. */
void pf_doc_limits_fill(const struct pf_doc_limits *lim, struct pf_doc_limits *out);
int pf_doc_builder_init(struct pf_doc_builder *b, const struct pf_doc_limits *lim,
			struct pf_error *err);
/* Frees everything not taken out of b->docs. */
void pf_doc_builder_done(struct pf_doc_builder *b);

/* A new scalar: str is copied (len bytes, NUL refused). The node is attached to the open
 * container (or becomes a document). On error everything is owned by b. */
int pf_doc_scalar(struct pf_doc_builder *b, enum pf_node_type t, const char *str, size_t len,
		  unsigned line, unsigned col, struct pf_node **out);
/* A map key (only when pf_doc_want_key()). */
int pf_doc_key(struct pf_doc_builder *b, const char *key, size_t len, unsigned line);
bool pf_doc_want_key(const struct pf_doc_builder *b);
/* Open a MAP or SEQ (attached like a scalar) / close the innermost one. */
int pf_doc_open(struct pf_doc_builder *b, enum pf_node_type t, unsigned line, unsigned col);
int pf_doc_close(struct pf_doc_builder *b);

/* Incremental byte offset -> line/column for monotonically growing offsets. */
struct pf_doc_pos {
	const char *buf;
	size_t off;    /* scanned up to here */
	unsigned line; /* 1-based line at off */
	size_t line_start;
};
void pf_doc_pos_at(struct pf_doc_pos *p, size_t off, unsigned *line, unsigned *col);

#endif
