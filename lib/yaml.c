/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * YAML into the document tree with libyaml's event parser. Plain scalars are typed by the
 * YAML 1.2 core schema (so `yes` and `on` stay strings, unlike YAML 1.1), anchors and aliases
 * are refused (no billion laughs, and a policy reads the same to every tool), and the limits
 * are checked as events arrive, before anything large is built.
 */
#include <stdio.h>
#include <yaml.h>

#include "doc-internal.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

static bool all_in(const char *s, size_t len, const char *set)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

static bool one_of(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && !memcmp(s, *words, len))
			return true;
	return false;
}

static bool is_null(const char *s, size_t len)
{
	static const char *const w[] = {"", "~", "null", "Null", "NULL", NULL};

	return one_of(s, len, w);
}

static int is_bool(const char *s, size_t len)
{
	static const char *const t[] = {"true", "True", "TRUE", NULL};
	static const char *const f[] = {"false", "False", "FALSE", NULL};

	return one_of(s, len, t) ? 1 : one_of(s, len, f) ? 0 : -1;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ ; base in *base, digits after sign/prefix. */
static bool is_int(const char *s, size_t len, int *base)
{
	if (len > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, len - 2, "01234567")) {
		*base = 8;
		return true;
	}
	if (len > 2 && s[0] == '0' && s[1] == 'x' &&
	    all_in(s + 2, len - 2, "0123456789abcdefABCDEF")) {
		*base = 16;
		return true;
	}
	*base = 10;
	if (len && (s[0] == '-' || s[0] == '+'))
		s++, len--;
	return all_in(s, len, "0123456789");
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.inf | \.nan (three casings) */
static bool is_float(const char *s, size_t len)
{
	static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
	static const char *const nan[] = {".nan", ".NaN", ".NAN", NULL};
	size_t i = 0, d = 0;

	if (one_of(s, len, nan))
		return true;
	if (len && (s[0] == '-' || s[0] == '+'))
		i++;
	if (one_of(s + i, len - i, inf))
		return true;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, d++;
	if (i < len && s[i] == '.') {
		size_t f = 0;

		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, f++;
		/* ".5" needs digits after the dot; "1." is fine */
		if (d == 0 && f == 0)
			return false;
		d += f;
	}
	if (d == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = 0;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, e++;
		if (e == 0)
			return false;
	}
	return i == len;
}

static int parse_int(const char *s, int base, int64_t *out)
{
	char *end;

	errno = 0;
	if (base != 10) {
		unsigned long long u = strtoull(s + 2, &end, base);

		if (errno || *end || u > INT64_MAX)
			return -ERANGE;
		*out = (int64_t)u;
		return 0;
	}
	/* strtoll takes the optional sign itself */
	long long v = strtoll(s, &end, 10);

	if (errno || *end)
		return -ERANGE;
	*out = v;
	return 0;
}

struct yctx {
	struct pf_doc_builder b;
	unsigned line, col;
};

static int fail(struct yctx *c, int code, const char *what)
{
	return pf_error_set(c->b.err, code, "line %u, column %u: %s", c->line, c->col, what);
}

/* Type a scalar: by explicit standard tag, else core schema for plain scalars, else string. */
static int on_scalar(struct yctx *c, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	enum pf_node_type t = PF_NODE_STRING;
	struct pf_node *n;
	int64_t v = 0;
	int base, b = -1, r;
	bool want_int = false;

	if (pf_doc_want_key(&c->b))
		return pf_doc_key(&c->b, s, len, c->line);

	if (tag && strcmp(tag, "!")) {
		const char *name = NULL;

		if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
			name = tag + strlen(TAG_PREFIX);

		if (pf_streq(name, "str")) {
			t = PF_NODE_STRING;
		} else if (pf_streq(name, "null")) {
			if (!is_null(s, len))
				return fail(c, EINVAL, "invalid !!null value");
			t = PF_NODE_NULL;
		} else if (pf_streq(name, "bool")) {
			b = is_bool(s, len);
			if (b < 0)
				return fail(c, EINVAL, "invalid !!bool value");
			t = PF_NODE_BOOL;
		} else if (pf_streq(name, "int")) {
			if (!is_int(s, len, &base))
				return fail(c, EINVAL, "invalid !!int value");
			want_int = true;
		} else if (pf_streq(name, "float")) {
			if (!is_float(s, len) && !(is_int(s, len, &base) && base == 10))
				return fail(c, EINVAL, "invalid !!float value");
			t = PF_NODE_FLOAT;
		} else {
			return fail(c, EINVAL,
				    "only the standard tags !!str, !!int, !!float, !!bool and "
				    "!!null are supported");
		}
	} else if (!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (is_null(s, len))
			t = PF_NODE_NULL;
		else if ((b = is_bool(s, len)) >= 0)
			t = PF_NODE_BOOL;
		else if (is_int(s, len, &base))
			want_int = true;
		else if (is_float(s, len))
			t = PF_NODE_FLOAT;
	}
	if (want_int)
		t = PF_NODE_FLOAT; /* unless it fits int64, below */
	r = pf_doc_scalar(&c->b, t, s, len, c->line, c->col, &n);
	if (r < 0)
		return r;
	if (t == PF_NODE_BOOL)
		n->b = b == 1;
	if (want_int && parse_int(n->str, base, &v) == 0) {
		n->type = PF_NODE_INT;
		n->i = v;
	}
	return 0;
}

static int check_collection(struct yctx *c, const yaml_char_t *anchor, const yaml_char_t *tag,
			    const char *std)
{
	if (anchor)
		return fail(c, EINVAL, "anchors and aliases are not supported");
	if (tag && strcmp((const char *)tag, std) && strcmp((const char *)tag, "!"))
		return fail(c, EINVAL, "only the standard tags !!map and !!seq are supported here");
	return 0;
}

static int on_event(struct yctx *c, const yaml_event_t *ev)
{
	int r;

	c->line = (unsigned)ev->start_mark.line + 1;
	c->col = (unsigned)ev->start_mark.column + 1;
	c->b.line = c->line;
	c->b.col = c->col;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail(c, EINVAL, "anchors and aliases are not supported");
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor)
			return fail(c, EINVAL, "anchors and aliases are not supported");
		return on_scalar(c, ev);
	case YAML_MAPPING_START_EVENT:
		r = check_collection(c, ev->data.mapping_start.anchor, ev->data.mapping_start.tag,
				     TAG_PREFIX "map");
		if (r < 0)
			return r;
		if (pf_doc_want_key(&c->b))
			return fail(c, EINVAL, "a mapping key must be a scalar");
		return pf_doc_open(&c->b, PF_NODE_MAP, c->line, c->col);
	case YAML_SEQUENCE_START_EVENT:
		r = check_collection(c, ev->data.sequence_start.anchor, ev->data.sequence_start.tag,
				     TAG_PREFIX "seq");
		if (r < 0)
			return r;
		if (pf_doc_want_key(&c->b))
			return fail(c, EINVAL, "a mapping key must be a scalar");
		return pf_doc_open(&c->b, PF_NODE_SEQ, c->line, c->col);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		return pf_doc_close(&c->b);
	default:
		return 0;
	}
}

int pf_yaml_parse(const char *buf, size_t len, const struct pf_doc_limits *lim,
		  struct pf_node ***docs, size_t *n_docs, struct pf_error *err)
{
	struct pf_doc_limits l;
	struct yctx c = {0};
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int r;

	*docs = NULL;
	*n_docs = 0;
	pf_doc_limits_fill(lim, &l);
	if (len > l.max_bytes)
		return pf_error_set(err, E2BIG, "larger than %zu bytes", l.max_bytes);
	r = pf_doc_builder_init(&c.b, lim, err);
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&parser)) {
		pf_doc_builder_done(&c.b);
		return pf_error_set(err, ENOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			const char *problem = parser.problem ? parser.problem : "syntax error";

			if (parser.error == YAML_MEMORY_ERROR)
				r = pf_error_set(err, ENOMEM, "out of memory");
			else if (parser.context)
				r = pf_error_set(
				    err, EINVAL, "line %zu, column %zu: %s (%s at line %zu)",
				    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				    problem, parser.context, parser.context_mark.line + 1);
			else
				r = pf_error_set(err, EINVAL, "line %zu, column %zu: %s",
						 parser.problem_mark.line + 1,
						 parser.problem_mark.column + 1, problem);
			break;
		}
		r = on_event(&c, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (r >= 0) {
		*docs = PF_TAKE_PTR(c.b.docs);
		*n_docs = c.b.n_docs;
		c.b.n_docs = 0;
		r = 0;
	}
	pf_doc_builder_done(&c.b);
	return r;
}
