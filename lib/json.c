/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON into the document tree with yajl's callback parser: the tree is built by our own code,
 * so limits (depth, nodes, string size) hold while parsing and every node gets a position
 * computed from yajl_get_bytes_consumed().
 */
#include <stdio.h>
#include <yajl/yajl_parse.h>

#include "doc-internal.h"

struct jctx {
	struct pf_doc_builder b;
	struct pf_doc_pos pos;
	size_t base; /* bytes skipped before the text given to yajl (BOM) */
	yajl_handle h;
};

/* Position of the last byte yajl consumed, i.e. of the token just seen. */
static void here(struct jctx *c, size_t back, unsigned *line, unsigned *col)
{
	size_t off = c->base + yajl_get_bytes_consumed(c->h);

	off = off > back ? off - back : 0;
	pf_doc_pos_at(&c->pos, off, line, col);
}

static int scalar(struct jctx *c, enum pf_node_type t, const char *s, size_t len, size_t back,
		  struct pf_node **out)
{
	unsigned line, col;

	here(c, back, &line, &col);
	return pf_doc_scalar(&c->b, t, s, len, line, col, out) < 0 ? 0 : 1;
}

static int on_null(void *ctx)
{
	return scalar(ctx, PF_NODE_NULL, "null", 4, 4, NULL);
}

static int on_bool(void *ctx, int v)
{
	struct pf_node *n;
	int r = scalar(ctx, PF_NODE_BOOL, v ? "true" : "false", v ? 4 : 5, v ? 4 : 5, &n);

	if (r)
		n->b = !!v;
	return r;
}

static bool int_syntax(const char *s, size_t len)
{
	size_t i = 0;

	if (len && s[0] == '-')
		i++;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int on_number(void *ctx, const char *s, size_t len)
{
	struct pf_node *n;
	int64_t v;

	if (!scalar(ctx, PF_NODE_FLOAT, s, len, len, &n))
		return 0;
	/* Out of int64 range stays a FLOAT: its text is kept for whoever wants it. */
	if (int_syntax(s, len) && pf_parse_i64(n->str, INT64_MIN, INT64_MAX, &v) == 0) {
		n->type = PF_NODE_INT;
		n->i = v;
	}
	return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	return scalar(ctx, PF_NODE_STRING, (const char *)s, len, 1, NULL);
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
	struct jctx *c = ctx;
	unsigned line, col;

	here(c, 1, &line, &col);
	c->b.line = line;
	c->b.col = col;
	return pf_doc_key(&c->b, (const char *)s, len, line) < 0 ? 0 : 1;
}

static int open_node(void *ctx, enum pf_node_type t)
{
	struct jctx *c = ctx;
	unsigned line, col;

	here(c, 1, &line, &col);
	return pf_doc_open(&c->b, t, line, col) < 0 ? 0 : 1;
}

static int on_start_map(void *ctx)
{
	return open_node(ctx, PF_NODE_MAP);
}

static int on_start_array(void *ctx)
{
	return open_node(ctx, PF_NODE_SEQ);
}

static int on_end(void *ctx)
{
	struct jctx *c = ctx;

	here(c, 1, &c->b.line, &c->b.col);
	return pf_doc_close(&c->b) < 0 ? 0 : 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number, /* raw text: we decide int vs float ourselves */
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]) || !s[i])
			return false;
	return true;
}

static int parse(const char *buf, size_t len, const struct pf_doc_limits *lim, bool stream,
		 struct pf_node ***docs, size_t *n_docs, struct pf_error *err)
{
	struct pf_doc_limits l;
	struct jctx c = {0};
	yajl_status st;
	int r;

	pf_doc_limits_fill(lim, &l);
	if (len > l.max_bytes)
		return pf_error_set(err, E2BIG, "larger than %zu bytes", l.max_bytes);
	r = pf_doc_builder_init(&c.b, lim, err);
	if (r < 0)
		return r;
	c.pos.buf = buf;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		c.base = 3;
	c.h = yajl_alloc(&callbacks, NULL, &c);
	if (!c.h) {
		pf_doc_builder_done(&c.b);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	if (stream)
		yajl_config(c.h, yajl_allow_multiple_values, 1);

	st = yajl_parse(c.h, (const unsigned char *)buf + c.base, len - c.base);
	/* yajl calls an empty stream a premature EOF; for a stream it is zero documents. */
	if (st == yajl_status_ok && (!stream || !blank(buf + c.base, len - c.base)))
		st = yajl_complete_parse(c.h);
	if (st == yajl_status_error) {
		unsigned char *e = yajl_get_error(c.h, 0, NULL, 0);
		size_t off = c.base + yajl_get_bytes_consumed(c.h);
		unsigned line, col;
		char *nl;

		if (off > len)
			off = len;
		pf_doc_pos_at(&c.pos, off, &line, &col);
		/* yajl's messages end in a newline and start with "lexical error: ". */
		if (e && (nl = strchr((char *)e, '\n')))
			*nl = '\0';
		r = pf_error_set(err, EINVAL, "line %u, column %u: %s", line, col,
				 e ? (const char *)e : "parse error");
		if (e)
			yajl_free_error(c.h, e);
	} else if (st == yajl_status_client_canceled) {
		r = -(c.b.err->code ? c.b.err->code : EINVAL);
	} else if (c.b.depth > 0 || (!stream && c.b.n_docs != 1)) {
		r = pf_error_set(err, EINVAL, "premature end of input");
	} else {
		*docs = PF_TAKE_PTR(c.b.docs);
		*n_docs = c.b.n_docs;
		c.b.n_docs = 0;
		r = 0;
	}
	yajl_free(c.h);
	pf_doc_builder_done(&c.b);
	return r;
}

int pf_json_parse(const char *buf, size_t len, const struct pf_doc_limits *lim,
		  struct pf_node **out, struct pf_error *err)
{
	struct pf_node **docs = NULL;
	size_t n = 0;
	int r = parse(buf, len, lim, false, &docs, &n, err);

	if (r < 0)
		return r;
	*out = docs[0];
	free(docs);
	return 0;
}

int pf_json_parse_stream(const char *buf, size_t len, const struct pf_doc_limits *lim,
			 struct pf_node ***docs, size_t *n_docs, struct pf_error *err)
{
	*docs = NULL;
	*n_docs = 0;
	return parse(buf, len, lim, true, docs, n_docs, err);
}
