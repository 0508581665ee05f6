/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the JSON parser. Whatever parses must serialize to JSON that parses back to the
 * same text (so the tree is well-formed and the writer escapes everything). */
#include <stdio.h>

#include "doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct pf_node *n)
{
	struct pf_doc_limits big = pf_doc_default_limits;
	struct pf_node *back = NULL;
	struct pf_error err;
	char *a = NULL, *b = NULL;

	/* escapes can make the text longer than the input */
	big.max_bytes = 16 * 1024 * 1024;
	big.max_string = 6 * big.max_string;
	if (pf_node_to_json(n, &a) < 0)
		return;
	if (pf_json_parse(a, strlen(a), &big, &back, &err) < 0) {
		fprintf(stderr, "serialized JSON does not parse: %s\n%s\n", err.msg, a);
		abort();
	}
	if (pf_node_to_json(back, &b) < 0 || strcmp(a, b)) {
		fprintf(stderr, "round trip differs:\n%s\n%s\n", a, b ? b : "(null)");
		abort();
	}
	pf_node_free(back);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_doc_limits lim = pf_doc_default_limits;
	struct pf_node *n = NULL, **docs = NULL;
	struct pf_error err;
	size_t nd = 0;

	/* small limits so the fuzzer reaches them */
	lim.max_depth = 16;
	lim.max_nodes = 2000;
	lim.max_string = 4096;
	lim.max_docs = 8;
	if (pf_json_parse((const char *)data, size, &lim, &n, &err) == 0) {
		const char *s;
		int64_t v;

		pf_node_get(n, "a");
		pf_node_path(n, "a.b.c");
		s = pf_node_str(n, "s");
		(void)s;
		pf_node_int(n, "i", &v);
		roundtrip(n);
		pf_node_free(n);
	}
	if (pf_json_parse_stream((const char *)data, size, &lim, &docs, &nd, &err) == 0) {
		for (size_t i = 0; i < nd; i++)
			roundtrip(docs[i]);
		pf_docs_free(docs, nd);
	}
	return 0;
}
