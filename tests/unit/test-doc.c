/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The JSON and YAML parsers: typing, positions, limits, refusals. */
#include <stdio.h>

#include "doc.h"
#include "tap.h"

/* Test names stay on one line. */
static const char *oneline(const char *s)
{
	static char buf[4][256];
	static int k;
	char *o = buf[k++ % 4];
	size_t j = 0;

	for (; *s && j + 3 < sizeof(buf[0]); s++) {
		if (*s == '\n') {
			o[j++] = '\\';
			o[j++] = 'n';
		} else {
			o[j++] = *s;
		}
	}
	o[j] = '\0';
	return o;
}

static struct pf_node *json(const char *s, struct pf_error *err)
{
	struct pf_node *n = NULL;

	pf_error_clear(err);
	if (pf_json_parse(s, strlen(s), NULL, &n, err) < 0)
		return NULL;
	return n;
}

/* Parse YAML expecting exactly one document. */
static struct pf_node *yaml1(const char *s, struct pf_error *err)
{
	struct pf_node **docs = NULL, *n;
	size_t nd = 0;

	pf_error_clear(err);
	if (pf_yaml_parse(s, strlen(s), NULL, &docs, &nd, err) < 0)
		return NULL;
	if (nd != 1) {
		pf_docs_free(docs, nd);
		snprintf(err->msg, sizeof(err->msg), "%zu documents", nd);
		return NULL;
	}
	n = docs[0];
	free(docs);
	return n;
}

static void test_json_types(void)
{
	struct pf_error err;
	struct pf_node *n = json("{\"s\":\"a\\u00e9\\n\",\"i\":-42,\"f\":1.5,\"e\":1e3,\"big\":"
				 "123456789012345678901234,\"t\":true,\"nul\":null,\"l\":[1,{}]}",
				 &err);
	int64_t v = 0;
	bool b = false;

	ok(n, "JSON object parses (%s)", err.msg);
	if (!n)
		return;
	is_int(n->type, PF_NODE_MAP, "root is a map");
	is_int(n->n, 8, "8 members");
	is_str(pf_node_str(n, "s"), "a\xc3\xa9\n", "string unescaped to UTF-8");
	is_int(pf_node_int(n, "i", &v), 0, "int member");
	is_int(v, -42, "int value");
	is_int(pf_node_get(n, "f")->type, PF_NODE_FLOAT, "1.5 is a float");
	is_int(pf_node_get(n, "e")->type, PF_NODE_FLOAT, "1e3 is a float (not an integer literal)");
	is_int(pf_node_get(n, "big")->type, PF_NODE_FLOAT,
	       "integer beyond int64 is a number, not wrapped");
	is_str(pf_node_get(n, "big")->str, "123456789012345678901234", "its text is kept");
	is_int(pf_node_bool(n, "t", &b), 0, "bool member");
	ok(b, "true");
	is_int(pf_node_get(n, "nul")->type, PF_NODE_NULL, "null");
	is_int(pf_node_int(n, "s", &v), -EINVAL, "pf_node_int on a string: -EINVAL");
	is_int(pf_node_int(n, "zz", &v), -ENOENT, "pf_node_int on a missing key: -ENOENT");
	is_int(pf_node_get(n, "l")->n, 2, "list of 2");
	ok(pf_node_str(n, "i") == NULL, "pf_node_str on an int is NULL");
	pf_node_free(n);
}

static void test_json_positions(void)
{
	struct pf_error err;
	struct pf_node *n = json("{\n  \"a\": {\n    \"b\": [\n      7\n    ]\n  }\n}", &err);
	const struct pf_node *b;

	ok(n, "multi-line JSON parses");
	if (!n)
		return;
	b = pf_node_path(n, "a.b");
	ok(b && b->type == PF_NODE_SEQ, "pf_node_path a.b");
	is_int(b ? b->line : 0, 3, "a.b starts on line 3");
	is_int(b ? b->items[0]->line : 0, 4, "its item on line 4");
	is_int(b ? b->items[0]->col : 0, 7, "column 7");
	is_int(pf_node_get(n, "a")->key_lines ? pf_node_get(n, "a")->key_lines[0] : 0, 3,
	       "key line of b");
	ok(pf_node_path(n, "a.x") == NULL, "missing path is NULL");
	pf_node_free(n);
}

static void test_json_errors(void)
{
	struct pf_error err;
	struct pf_doc_limits lim = pf_doc_default_limits;
	struct pf_node *n, **docs_unused = NULL;
	size_t nd_unused = 0;
	char *big;

	ok(!json("{\"a\":1} x", &err), "trailing garbage refused");
	ok(!json("", &err), "empty input refused");
	ok(!json("{\"a\":1,\n\"b\":}", &err), "syntax error refused");
	has_str(err.msg, "line 2", "syntax error names the line");
	ok(!json("{\"a\":1,\"a\":2}", &err), "duplicate key refused");
	has_str(err.msg, "duplicate key 'a'", "message names the key");
	ok(!json(
	       "{\"k1\":1,\"k2\":1,\"k3\":1,\"k4\":1,\"k5\":1,\"k6\":1,\"k7\":1,\"k8\":1,\"k9\":1,"
	       "\"k3\":0}",
	       &err),
	   "duplicate key in a large map refused");
	has_str(err.msg, "duplicate key 'k3'", "and named");
	ok(!json("[\"a\\u0000b\"]", &err), "NUL in a string refused");
	has_str(err.msg, "NUL", "message says NUL");
	ok(!json("[\"\xff\"]", &err), "invalid UTF-8 refused");
	n = json("\xef\xbb\xbf{\"a\":1}", &err);
	ok(n, "UTF-8 BOM skipped (%s)", err.msg);
	pf_node_free(n);

	lim.max_depth = 3;
	ok(pf_json_parse("[[[1]]]", 7, &lim, &n, &err) == 0, "depth 3 within limit 3");
	pf_node_free(n);
	ok(pf_json_parse("[[[[1]]]]", 9, &lim, &n, &err) == -E2BIG, "depth 4 over limit 3");
	has_str(err.msg, "nested too deeply", "message");
	lim = pf_doc_default_limits;
	lim.max_nodes = 3;
	ok(pf_json_parse("[1,2,3]", 7, &lim, &n, &err) == -E2BIG, "4 nodes over limit 3");
	has_str(err.msg, "too many nodes", "message");
	lim = pf_doc_default_limits;
	lim.max_string = 4;
	ok(pf_json_parse("[\"abcd\"]", 8, &lim, &n, &err) == 0, "string at limit");
	pf_node_free(n);
	ok(pf_json_parse("[\"abcde\"]", 9, &lim, &n, &err) == -E2BIG, "string over limit");
	ok(pf_json_parse("{\"abcde\":1}", 11, &lim, &n, &err) == -E2BIG, "key over limit");
	lim = pf_doc_default_limits;
	lim.max_bytes = 10;
	ok(pf_json_parse("[1,2,3,4,5,6]", 13, &lim, &n, &err) == -E2BIG, "input over byte limit");

	{
		const struct pf_doc_limits unset = {.max_depth = 2};

		ok(pf_json_parse("[[1]]", 5, &unset, &n, &err) == 0,
		   "limits left 0 take their defaults");
		pf_node_free(n);
		ok(pf_json_parse("[[[1]]]", 7, &unset, &n, &err) == -E2BIG, "  and set ones apply");
	}

	lim = pf_doc_default_limits;
	lim.max_nodes = 1;
	ok(pf_json_parse("[1]", 3, &lim, &n, NULL) == -E2BIG, "errors without an error object");
	ok(pf_yaml_parse("[1]", 3, &lim, &docs_unused, &nd_unused, NULL) == -E2BIG, "  YAML too");

	/* a deep document with the default limits: refused, without recursion trouble */
	big = malloc(200001);
	memset(big, '[', 200000);
	big[200000] = '\0';
	ok(pf_json_parse(big, 200000, NULL, &n, &err) == -E2BIG, "200k nested arrays refused");
	free(big);
}

static void test_json_stream(void)
{
	struct pf_error err = {0};
	struct pf_node **docs = NULL;
	size_t nd = 0;
	const char *s = "{\"a\":1}\n{\"b\":2}\n[3] 4";

	is_int(pf_json_parse_stream(s, strlen(s), NULL, &docs, &nd, &err), 0, "JSON stream parses");
	is_int(nd, 4, "4 values");
	if (nd == 4) {
		is_int(docs[1]->line, 2, "second value on line 2");
		is_int(docs[3]->i, 4, "a bare number at the end is complete");
	}
	pf_docs_free(docs, nd);
	is_int(pf_json_parse_stream(" \n", 2, NULL, &docs, &nd, &err), 0, "blank stream parses");
	is_int(nd, 0, "to nothing");
	pf_docs_free(docs, nd);
}

struct ytype {
	const char *text;
	enum pf_node_type type;
	int64_t i;
	const char *str;
};

static void test_yaml_core_schema(void)
{
	static const struct ytype cases[] = {
	    {"~", PF_NODE_NULL},
	    {"null", PF_NODE_NULL},
	    {"NULL", PF_NODE_NULL},
	    {"", PF_NODE_NULL},
	    {"true", PF_NODE_BOOL, 1},
	    {"False", PF_NODE_BOOL, 0},
	    {"TRUE", PF_NODE_BOOL, 1},
	    {"yes", PF_NODE_STRING, 0, "yes"},
	    {"on", PF_NODE_STRING, 0, "on"},
	    {"no", PF_NODE_STRING, 0, "no"},
	    {"tRue", PF_NODE_STRING, 0, "tRue"},
	    {"42", PF_NODE_INT, 42},
	    {"-7", PF_NODE_INT, -7},
	    {"+5", PF_NODE_INT, 5},
	    {"0080", PF_NODE_INT, 80},
	    {"0o17", PF_NODE_INT, 15},
	    {"0x1F", PF_NODE_INT, 31},
	    {"0b101", PF_NODE_STRING, 0, "0b101"},
	    {"1_000", PF_NODE_STRING, 0, "1_000"},
	    {"1.5", PF_NODE_FLOAT},
	    {"1.", PF_NODE_FLOAT},
	    {".5", PF_NODE_FLOAT},
	    {"1e3", PF_NODE_FLOAT},
	    {"-.inf", PF_NODE_FLOAT},
	    {".NaN", PF_NODE_FLOAT},
	    {"1e", PF_NODE_STRING, 0, "1e"},
	    {".", PF_NODE_STRING, 0, "."},
	    {"99999999999999999999", PF_NODE_FLOAT},
	    {"\"42\"", PF_NODE_STRING, 0, "42"},
	    {"'true'", PF_NODE_STRING, 0, "true"},
	    {"\"\"", PF_NODE_STRING, 0, ""},
	    {"!!str 42", PF_NODE_STRING, 0, "42"},
	    {"!!int \"12\"", PF_NODE_INT, 12},
	    {"!!bool \"true\"", PF_NODE_BOOL, 1},
	    {"!!float 3", PF_NODE_FLOAT},
	    {"10.0.0.0/8", PF_NODE_STRING, 0, "10.0.0.0/8"},
	    {"|\n  two\n  lines", PF_NODE_STRING, 0, "two\nlines\n"},
	};

	for (size_t k = 0; k < PF_ARRAY_SIZE(cases); k++) {
		const struct ytype *t = &cases[k];
		char doc[128];
		struct pf_error err;
		struct pf_node *n;
		const struct pf_node *v;

		snprintf(doc, sizeof(doc), "v: %s\n", t->text);
		n = yaml1(doc, &err);
		v = pf_node_get(n, "v");
		if (!ok(v && v->type == t->type, "YAML `%s` is %s", oneline(t->text),
			pf_node_type_name(t->type)))
			printf("#   got %s (%s)\n", v ? pf_node_type_name(v->type) : "nothing",
			       err.msg);
		else if (t->type == PF_NODE_INT)
			is_int(v->i, t->i, "  with value %lld", (long long)t->i);
		else if (t->type == PF_NODE_BOOL)
			is_int(v->b, t->i, "  with value %s", t->i ? "true" : "false");
		else if (t->str)
			is_str(v->str, t->str, "  with text '%s'", oneline(t->str));
		pf_node_free(n);
	}
}

static void test_yaml_stream(void)
{
	const char *s = "# comment\n"
			"a: 1\n"
			"---\n"
			"b:\n"
			"  - x\n"
			"  - y: 2\n"
			"---\n"
			"---\n"
			"[1, 2]\n";
	struct pf_error err = {0};
	struct pf_node **docs = NULL;
	size_t nd = 0;

	is_int(pf_yaml_parse(s, strlen(s), NULL, &docs, &nd, &err), 0, "stream parses (%s)",
	       err.msg);
	is_int(nd, 4, "4 documents (one of them empty)");
	if (nd == 4) {
		is_int(docs[0]->line, 2, "doc 1 starts on line 2");
		is_int(docs[1]->line, 4, "doc 2 starts on line 4");
		is_int(docs[2]->type, PF_NODE_NULL, "the empty document is null");
		is_int(docs[3]->type, PF_NODE_SEQ, "flow sequence document");
		const struct pf_node *b = pf_node_get(docs[1], "b");

		ok(b && b->n == 2 && b->items[1]->type == PF_NODE_MAP, "nested block structure");
		if (b && b->n == 2) {
			is_int(b->items[1]->line, 6, "item 2 on line 6");
			is_int(b->items[1]->key_lines[0], 6, "its key on line 6");
		}
	}
	pf_docs_free(docs, nd);
	is_int(pf_yaml_parse("", 0, NULL, &docs, &nd, &err), 0, "empty stream parses");
	is_int(nd, 0, "to no documents");
	pf_docs_free(docs, nd);
	is_int(pf_yaml_parse("# only a comment\n", 17, NULL, &docs, &nd, &err), 0,
	       "comment-only stream");
	is_int(nd, 0, "has no documents");
	pf_docs_free(docs, nd);
}

static void test_yaml_refusals(void)
{
	struct pf_doc_limits lim = pf_doc_default_limits;
	struct pf_node **docs = NULL;
	struct pf_error err;
	size_t nd = 0;
	char *big;
	struct {
		const char *text, *msg;
	} bad[] = {
	    {"a: &x 1\nb: *x\n", "anchors and aliases are not supported"},
	    {"a: &x [1]\n", "anchors and aliases are not supported"},
	    {"a: *x\n", "line 1"},
	    {"a: !foo 1\n", "only the standard tags"},
	    {"a: !!binary aGk=\n", "only the standard tags"},
	    {"a: !!int abc\n", "invalid !!int value"},
	    {"a: !!bool yes\n", "invalid !!bool value"},
	    {"a: !!null x\n", "invalid !!null value"},
	    {"a: !!set {}\n", "only the standard tags"},
	    {"? [1]\n: 2\n", "a mapping key must be a scalar"},
	    {"{[1]: 2}\n", "a mapping key must be a scalar"},
	    {"a: 1\na: 2\n", "line 2: duplicate key 'a'"},
	    {"a: 1\n b: 2\n", "line 2"},
	    {"a: [1,\n", "line 2"},
	    {"a: \"x\\0y\"\n", "NUL"},
	    {"a: \"unterminated\n", "line 2"},
	    {"\ta: 1\n", "line 1"},
	};

	for (size_t k = 0; k < PF_ARRAY_SIZE(bad); k++) {
		pf_error_clear(&err);
		int r = pf_yaml_parse(bad[k].text, strlen(bad[k].text), NULL, &docs, &nd, &err);

		ok(r < 0 && docs == NULL, "refused: %s", oneline(bad[k].text));
		has_str(err.msg, bad[k].msg, "  message: %s", bad[k].msg);
	}

	lim.max_depth = 2;
	ok(pf_yaml_parse("a: [1]\n", 7, &lim, &docs, &nd, &err) == 0, "depth 2 within limit 2");
	pf_docs_free(docs, nd);
	ok(pf_yaml_parse("a: [[1]]\n", 9, &lim, &docs, &nd, &err) == -E2BIG,
	   "depth 3 over limit 2");
	has_str(err.msg, "nested too deeply", "message");
	lim = pf_doc_default_limits;
	lim.max_docs = 2;
	ok(pf_yaml_parse("1\n---\n2\n", 8, &lim, &docs, &nd, &err) == 0,
	   "2 documents within limit");
	pf_docs_free(docs, nd);
	ok(pf_yaml_parse("1\n---\n2\n---\n3\n", 14, &lim, &docs, &nd, &err) == -E2BIG,
	   "3 documents over limit 2");
	has_str(err.msg, "too many documents", "message");
	lim = pf_doc_default_limits;
	lim.max_nodes = 4;
	ok(pf_yaml_parse("[1, 2, 3, 4]\n", 13, &lim, &docs, &nd, &err) == -E2BIG,
	   "5 nodes over limit 4");
	lim = pf_doc_default_limits;
	lim.max_string = 3;
	ok(pf_yaml_parse("abcd\n", 5, &lim, &docs, &nd, &err) == -E2BIG,
	   "scalar over string limit");
	ok(pf_yaml_parse("abcd: 1\n", 8, &lim, &docs, &nd, &err) == -E2BIG,
	   "key over string limit");
	lim = pf_doc_default_limits;
	lim.max_bytes = 4;
	ok(pf_yaml_parse("a: 12\n", 6, &lim, &docs, &nd, &err) == -E2BIG, "input over byte limit");

	big = malloc(100001);
	memset(big, '[', 100000);
	big[100000] = '\0';
	ok(pf_yaml_parse(big, 100000, NULL, &docs, &nd, &err) < 0,
	   "100k nested flow sequences refused");
	free(big);
}

static void test_to_json(void)
{
	struct pf_error err;
	const char *y = "s: \"q\\\"b\\\\\\t\\x01\"\nl: [1, -2, 1.5, true, ~, {}]\nf: .inf\n";
	struct pf_node *n = yaml1(y, &err), *back = NULL;
	char *j = NULL, *j2 = NULL;

	ok(n, "YAML for serialization parses (%s)", err.msg);
	if (!n)
		return;
	is_int(pf_node_to_json(n, &j), 0, "pf_node_to_json");
	is_str(j, "{\"s\":\"q\\\"b\\\\\\t\\u0001\",\"l\":[1,-2,1.5,true,null,{}],\"f\":null}",
	       "compact JSON with escapes; .inf becomes null");
	back = json(j, &err);
	ok(back, "the JSON parses back");
	if (back) {
		pf_node_to_json(back, &j2);
		is_str(j2, j, "and serializes to the same text");
	}
	free(j);
	free(j2);
	pf_node_free(n);
	pf_node_free(back);

	/* found by fuzzing: -0 was written as the integer 0 */
	n = json("[-0.000, 1e3, 2.50]", &err);
	j = NULL;
	if (n)
		pf_node_to_json(n, &j);
	is_str(j, "[-0.0,1000.0,2.5]", "floats are written as floats");
	free(j);
	pf_node_free(n);
}

int main(void)
{
	test_json_types();
	test_json_positions();
	test_json_errors();
	test_json_stream();
	test_yaml_core_schema();
	test_yaml_stream();
	test_yaml_refusals();
	test_to_json();
	return tap_done();
}
