/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The document tree: building it under limits, reading it, writing it back as JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "doc-internal.h"
#include "json-gen.h"

const struct pf_doc_limits pf_doc_default_limits = {
    .max_bytes = 1024 * 1024,
    .max_depth = 64,
    .max_nodes = 100000,
    .max_string = 64 * 1024,
    .max_docs = 1024,
};

const char *pf_node_type_name(enum pf_node_type t)
{
	switch (t) {
	case PF_NODE_NULL:
		return "null";
	case PF_NODE_BOOL:
		return "boolean";
	case PF_NODE_INT:
		return "integer";
	case PF_NODE_FLOAT:
		return "number";
	case PF_NODE_STRING:
		return "string";
	case PF_NODE_MAP:
		return "mapping";
	case PF_NODE_SEQ:
		return "sequence";
	}
	return "unknown";
}

void pf_node_free(struct pf_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			free(n->keys[i]);
		pf_node_free(n->items[i]);
	}
	free(n->keys);
	free(n->key_lines);
	free(n->items);
	free(n->str);
	free(n);
}

void pf_docs_free(struct pf_node **docs, size_t n_docs)
{
	for (size_t i = 0; docs && i < n_docs; i++)
		pf_node_free(docs[i]);
	free(docs);
}

/* ---- building ------------------------------------------------------------------------------ */

void pf_doc_limits_fill(const struct pf_doc_limits *lim, struct pf_doc_limits *out)
{
	const struct pf_doc_limits *d = &pf_doc_default_limits;

	*out = lim ? *lim : *d;
	/* A zero limit is a field the caller did not set, not "nothing allowed". */
	if (!out->max_bytes)
		out->max_bytes = d->max_bytes;
	if (!out->max_depth)
		out->max_depth = d->max_depth;
	if (!out->max_nodes)
		out->max_nodes = d->max_nodes;
	if (!out->max_string)
		out->max_string = d->max_string;
	if (!out->max_docs)
		out->max_docs = d->max_docs;
}

int pf_doc_builder_init(struct pf_doc_builder *b, const struct pf_doc_limits *lim,
			struct pf_error *err)
{
	memset(b, 0, sizeof(*b));
	pf_doc_limits_fill(lim, &b->lim_buf);
	b->lim = &b->lim_buf;
	b->err = err ? err : &b->err_buf;
	b->stack = calloc(b->lim->max_depth + 1, sizeof(*b->stack));
	if (!b->stack)
		return pf_error_set(err, ENOMEM, "out of memory");
	return 0;
}

void pf_doc_builder_done(struct pf_doc_builder *b)
{
	/* Open nodes are already attached (to their parent or to docs); only keys still waiting
	 * for their value are not. */
	for (unsigned i = 0; b->stack && i < b->depth; i++)
		free(b->stack[i].key);
	free(b->stack);
	pf_docs_free(b->docs, b->n_docs);
	memset(b, 0, sizeof(*b));
}

static int where(struct pf_doc_builder *b, int code, const char *what)
{
	return pf_error_set(b->err, code, "line %u, column %u: %s", b->line, b->col, what);
}

bool pf_doc_want_key(const struct pf_doc_builder *b)
{
	return b->depth > 0 && b->stack[b->depth - 1].node->type == PF_NODE_MAP &&
	       !b->stack[b->depth - 1].key;
}

/* Attach a finished or freshly opened node where it belongs. Takes ownership of n. */
static int attach(struct pf_doc_builder *b, struct pf_node *n)
{
	struct pf_doc_frame *f;
	struct pf_node *p;

	if (b->depth == 0) {
		if (b->n_docs >= b->lim->max_docs) {
			pf_node_free(n);
			return where(b, E2BIG, "too many documents");
		}
		if (pf_grow((void **)&b->docs, &b->cap_docs, b->n_docs, sizeof(*b->docs)) < 0) {
			pf_node_free(n);
			return pf_error_set(b->err, ENOMEM, "out of memory");
		}
		b->docs[b->n_docs++] = n;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	p = f->node;
	if (p->type == PF_NODE_MAP && !f->key) {
		pf_node_free(n);
		return where(b, EINVAL, "a mapping key must be a scalar");
	}
	if (p->n >= f->cap) {
		size_t cap = f->cap;
		size_t c2 = cap;

		if (pf_grow((void **)&p->items, &cap, p->n, sizeof(*p->items)) < 0)
			goto oom;
		if (p->type == PF_NODE_MAP) {
			if (pf_grow((void **)&p->keys, &c2, p->n, sizeof(*p->keys)) < 0)
				goto oom;
			c2 = f->cap;
			if (pf_grow((void **)&p->key_lines, &c2, p->n, sizeof(*p->key_lines)) < 0)
				goto oom;
		}
		f->cap = cap;
	}
	if (p->type == PF_NODE_MAP) {
		p->keys[p->n] = PF_TAKE_PTR(f->key);
		p->key_lines[p->n] = f->key_line;
	}
	p->items[p->n++] = n;
	return 0;
oom:
	pf_node_free(n);
	return pf_error_set(b->err, ENOMEM, "out of memory");
}

static struct pf_node *new_node(struct pf_doc_builder *b, enum pf_node_type t, unsigned line,
				unsigned col)
{
	struct pf_node *n;

	if (b->n_nodes >= b->lim->max_nodes) {
		where(b, E2BIG, "too many nodes");
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		pf_error_set(b->err, ENOMEM, "out of memory");
		return NULL;
	}
	b->n_nodes++;
	n->type = t;
	n->line = line;
	n->col = col;
	return n;
}

static int check_string(struct pf_doc_builder *b, const char *s, size_t len)
{
	if (len > b->lim->max_string)
		return where(b, E2BIG, "string too long");
	if (memchr(s, '\0', len))
		return where(b, EINVAL, "string contains a NUL character");
	return 0;
}

int pf_doc_scalar(struct pf_doc_builder *b, enum pf_node_type t, const char *str, size_t len,
		  unsigned line, unsigned col, struct pf_node **out)
{
	struct pf_node *n;
	int r;

	b->line = line;
	b->col = col;
	r = check_string(b, str, len);
	if (r < 0)
		return r;
	n = new_node(b, t, line, col);
	if (!n)
		return -b->err->code;
	n->str = pf_strndup0(str, len);
	if (!n->str) {
		pf_node_free(n);
		return pf_error_set(b->err, ENOMEM, "out of memory");
	}
	if (out)
		*out = n;
	return attach(b, n);
}

int pf_doc_key(struct pf_doc_builder *b, const char *key, size_t len, unsigned line)
{
	struct pf_doc_frame *f;
	int r;

	if (!pf_doc_want_key(b))
		return where(b, EINVAL, "unexpected mapping key");
	r = check_string(b, key, len);
	if (r < 0)
		return r;
	f = &b->stack[b->depth - 1];
	f->key = pf_strndup0(key, len);
	if (!f->key)
		return pf_error_set(b->err, ENOMEM, "out of memory");
	f->key_line = line;
	return 0;
}

int pf_doc_open(struct pf_doc_builder *b, enum pf_node_type t, unsigned line, unsigned col)
{
	struct pf_node *n;
	int r;

	b->line = line;
	b->col = col;
	if (b->depth >= b->lim->max_depth)
		return where(b, E2BIG, "nested too deeply");
	n = new_node(b, t, line, col);
	if (!n)
		return -b->err->code;
	r = attach(b, n);
	if (r < 0)
		return r;
	b->stack[b->depth++] = (struct pf_doc_frame){.node = n};
	return 0;
}

static int cmp_keyp(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Duplicate keys are refused: which of two values wins differs between parsers, and a policy
 * must mean one thing. Sorting pointers keeps this O(n log n) for a hostile map. */
static int check_dups(struct pf_doc_builder *b, const struct pf_node *m)
{
	_cleanup_free_ char ***w = NULL;
	size_t dup = SIZE_MAX;

	if (m->n < 2)
		return 0;
	if (m->n <= 8) {
		for (size_t i = 0; i < m->n && dup == SIZE_MAX; i++)
			for (size_t j = i + 1; j < m->n; j++)
				if (!strcmp(m->keys[i], m->keys[j])) {
					dup = j;
					break;
				}
	} else {
		w = malloc(m->n * sizeof(*w));
		if (!w)
			return pf_error_set(b->err, ENOMEM, "out of memory");
		for (size_t i = 0; i < m->n; i++)
			w[i] = &m->keys[i];
		qsort(w, m->n, sizeof(*w), cmp_keyp);
		for (size_t i = 1; i < m->n; i++)
			if (!strcmp(*w[i - 1], *w[i])) {
				dup = (size_t)MAX(w[i - 1] - m->keys, w[i] - m->keys);
				break;
			}
	}
	if (dup != SIZE_MAX)
		return pf_error_set(b->err, EINVAL, "line %u: duplicate key '%.64s'",
				    m->key_lines[dup] ? m->key_lines[dup] : m->line, m->keys[dup]);
	return 0;
}

int pf_doc_close(struct pf_doc_builder *b)
{
	struct pf_doc_frame *f;
	int r;

	if (b->depth == 0)
		return where(b, EINVAL, "unbalanced end of mapping or sequence");
	f = &b->stack[b->depth - 1];
	if (f->key)
		return where(b, EINVAL, "mapping key without a value");
	if (f->node->type == PF_NODE_MAP) {
		r = check_dups(b, f->node);
		if (r < 0)
			return r;
	}
	b->depth--;
	return 0;
}

void pf_doc_pos_at(struct pf_doc_pos *p, size_t off, unsigned *line, unsigned *col)
{
	if (p->line == 0)
		p->line = 1;
	for (; p->off < off; p->off++)
		if (p->buf[p->off] == '\n') {
			p->line++;
			p->line_start = p->off + 1;
		}
	*line = p->line;
	/* Callers only move forward; should one step back over a line start, clamp. */
	*col = off >= p->line_start ? (unsigned)(off - p->line_start) + 1 : 1;
}

/* ---- reading ------------------------------------------------------------------------------- */

const struct pf_node *pf_node_get(const struct pf_node *n, const char *key)
{
	if (!n || n->type != PF_NODE_MAP || !key)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->keys[i], key))
			return n->items[i];
	return NULL;
}

const struct pf_node *pf_node_path(const struct pf_node *n, const char *dotted)
{
	const char *p = dotted;

	if (!dotted)
		return NULL;
	while (n && *p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		const struct pf_node *next = NULL;

		if (n->type != PF_NODE_MAP)
			return NULL;
		for (size_t i = 0; i < n->n; i++)
			if (strlen(n->keys[i]) == l && !memcmp(n->keys[i], p, l)) {
				next = n->items[i];
				break;
			}
		n = next;
		p += l;
		if (*p == '.')
			p++;
	}
	return n;
}

const char *pf_node_str(const struct pf_node *n, const char *key)
{
	const struct pf_node *v = key ? pf_node_get(n, key) : n;

	return v && v->type == PF_NODE_STRING ? v->str : NULL;
}

int pf_node_int(const struct pf_node *n, const char *key, int64_t *out)
{
	const struct pf_node *v = key ? pf_node_get(n, key) : n;

	if (!v)
		return -ENOENT;
	if (v->type != PF_NODE_INT)
		return -EINVAL;
	*out = v->i;
	return 0;
}

int pf_node_bool(const struct pf_node *n, const char *key, bool *out)
{
	const struct pf_node *v = key ? pf_node_get(n, key) : n;

	if (!v)
		return -ENOENT;
	if (v->type != PF_NODE_BOOL)
		return -EINVAL;
	*out = v->b;
	return 0;
}

/* ---- writing ------------------------------------------------------------------------------- */

static int gen_node(struct pf_jgen *j, const struct pf_node *n)
{
	char num[64];

	switch (n->type) {
	case PF_NODE_NULL:
		return pf_jgen_null(j);
	case PF_NODE_BOOL:
		return pf_jgen_bool(j, n->b);
	case PF_NODE_INT:
		return pf_jgen_int(j, n->i);
	case PF_NODE_FLOAT: {
		double d = n->str ? strtod(n->str, NULL) : 0;

		if (n->str &&
		    (strstr(n->str, "inf") || strstr(n->str, "Inf") || strstr(n->str, "INF")))
			d = INFINITY;
		if (!isfinite(d) || (n->str && (strstr(n->str, "nan") || strstr(n->str, "NaN") ||
						strstr(n->str, "NAN"))))
			return pf_jgen_null(j);
		/* Shortest text that reads back the same double (yajl_gen_double prints 20
		 * digits); a float stays a float when read back ("-0" would become the
		 * integer 0). */
		snprintf(num, sizeof(num), "%.17g", d);
		if (!strpbrk(num, ".e"))
			strcat(num, ".0");
		return pf_jgen_raw(j, num);
	}
	case PF_NODE_STRING:
		return pf_jgen_str(j, n->str ? n->str : "");
	case PF_NODE_MAP:
	case PF_NODE_SEQ:
		/* Trees deeper than yajl's 128 levels (only hand-built ones: the parsers are
		 * depth-limited) fail with -ELOOP. */
		PF_JGEN_OR_FAIL(n->type == PF_NODE_MAP ? pf_jgen_map_open(j)
						       : pf_jgen_array_open(j));
		for (size_t i = 0; i < n->n; i++) {
			if (n->type == PF_NODE_MAP)
				PF_JGEN_OR_FAIL(pf_jgen_key(j, n->keys[i]));
			PF_JGEN_OR_FAIL(gen_node(j, n->items[i]));
		}
		return n->type == PF_NODE_MAP ? pf_jgen_map_close(j) : pf_jgen_array_close(j);
	}
	return -EINVAL;
}

int pf_node_to_json(const struct pf_node *n, char **out)
{
	_cleanup_jgen_ struct pf_jgen j = {0};
	int r = pf_jgen_init(&j, 0);

	if (r < 0)
		return r;
	r = n ? gen_node(&j, n) : pf_jgen_null(&j);
	if (r < 0)
		return r;
	return pf_jgen_take(&j, out);
}
