/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The JSON generator helpers and the text buffer: escapes, numbers, errors, streams. */
#include <stdio.h>

#include "doc.h"
#include "json-gen.h"
#include "tap.h"

static void test_buf(void)
{
	struct pf_buf b = {0};
	char *s = NULL;

	ok(pf_buf_take(&b, &s) == 0 && s && !strcmp(s, ""), "empty buffer takes as \"\"");
	free(s);
	pf_buf_puts(&b, "a");
	pf_buf_printf(&b, "%d-%s", 42, "x");
	for (int i = 0; i < 1000; i++)
		pf_buf_add(&b, "0123456789", 10);
	ok(b.r == 0 && b.len == 10005, "appends grow the buffer");
	pf_buf_clear(&b);
	pf_buf_puts(&b, "z");
	ok(pf_buf_take(&b, &s) == 0, "take");
	is_str(s, "z", "clear forgets the text");
	ok(b.s == NULL && b.len == 0, "empty after take");
	free(s);
	b.r = -ENOMEM;
	ok(pf_buf_puts(&b, "x") == -ENOMEM && pf_buf_take(&b, &s) == -ENOMEM,
	   "an error sticks until take");
	pf_buf_done(&b);
}

static void test_gen(void)
{
	_cleanup_jgen_ struct pf_jgen j = {0};
	struct pf_node *n = NULL;
	char *s = NULL;

	ok(pf_jgen_init(&j, 0) == 0, "init");
	pf_jgen_map_open(&j);
	pf_jgen_kv_str(&j, "s", "a\"b\\c\n\t\r\x01\x7f/");
	pf_jgen_key(&j, "l");
	pf_jgen_array_open(&j);
	pf_jgen_int(&j, 1);
	pf_jgen_int(&j, -2);
	pf_jgen_bool(&j, true);
	pf_jgen_null(&j);
	pf_jgen_str(&j, NULL);
	pf_jgen_uint(&j, UINT64_MAX);
	pf_jgen_raw(&j, "{\"x\":[1]}");
	pf_jgen_array_close(&j);
	pf_jgen_kv_int(&j, "i", INT64_MIN);
	pf_jgen_kv_uint(&j, "u", 7);
	pf_jgen_kv_bool(&j, "b", false);
	pf_jgen_map_close(&j);
	ok(pf_jgen_take(&j, &s) == 0, "take");
	/* yajl's escapes: the short forms where JSON has one, \u00XX for other controls. */
	is_str(s,
	       "{\"s\":\"a\\\"b\\\\c\\n\\t\\r\\u0001\x7f/\",\"l\":[1,-2,true,null,null,"
	       "18446744073709551615,{\"x\":[1]}],\"i\":-9223372036854775808,\"u\":7,\"b\":false}",
	       "compact document");
	ok(s && pf_json_parse(s, strlen(s), NULL, &n, NULL) == 0, "parses back");
	is_str(pf_node_str(n, "s"), "a\"b\\c\n\t\r\x01\x7f/", "string round-trips");
	pf_node_free(n);
	free(s);
	s = NULL;

	ok(pf_jgen_init(&j, 0) == 0, "init again");
	ok(pf_jgen_key(&j, "k") == 0, "a lone string is a value");
	ok(pf_jgen_int(&j, 1) == -EINVAL, "a second top-level value is refused");
	ok(pf_jgen_map_open(&j) == -EINVAL, "the error sticks");
	ok(pf_jgen_text(&j, NULL) == NULL, "no text after an error");
	ok(pf_jgen_take(&j, &s) == -EINVAL && !s, "take reports it");

	ok(pf_jgen_init(&j, PF_JGEN_PRETTY) == 0, "pretty");
	pf_jgen_array_open(&j);
	pf_jgen_int(&j, 1);
	pf_jgen_array_close(&j);
	is_str(pf_jgen_text(&j, NULL), "[\n    1\n]\n", "beautified, with a final newline");
	pf_jgen_done(&j);
}

static void test_flush(void)
{
	_cleanup_jgen_ struct pf_jgen j = {0};
	FILE *f;
	char *out = NULL;
	size_t len = 0;

	f = open_memstream(&out, &len);
	ok(f && pf_jgen_init(&j, 0) == 0, "init");
	for (int i = 0; i < 2; i++) {
		pf_jgen_map_open(&j);
		pf_jgen_kv_int(&j, "n", i);
		pf_jgen_map_close(&j);
		ok(pf_jgen_flush(&j, f) == 0, "flush %d", i);
		fputc('\n', f);
	}
	fclose(f);
	is_str(out, "{\"n\":0}\n{\"n\":1}\n", "one document per flush");
	free(out);
}

int main(void)
{
	test_buf();
	test_gen();
	test_flush();
	return tap_done();
}
