/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: the YAML parser. Every document that parses must serialize to JSON that the JSON
 * parser accepts and that serializes to the same text. */
#include <stdio.h>

#include "doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_doc_limits lim = pf_doc_default_limits, big = pf_doc_default_limits;
	struct pf_node **docs = NULL;
	struct pf_error err;
	size_t nd = 0;

	lim.max_depth = 16;
	lim.max_nodes = 2000;
	lim.max_string = 4096;
	lim.max_docs = 8;
	big.max_bytes = 16 * 1024 * 1024;
	big.max_string = 6 * lim.max_string;
	if (pf_yaml_parse((const char *)data, size, &lim, &docs, &nd, &err) < 0)
		return 0;
	for (size_t i = 0; i < nd; i++) {
		struct pf_node *back = NULL;
		char *a = NULL, *b = NULL;

		if (pf_node_to_json(docs[i], &a) < 0)
			continue;
		if (pf_json_parse(a, strlen(a), &big, &back, &err) < 0) {
			fprintf(stderr, "JSON of a YAML document does not parse: %s\n%s\n", err.msg,
				a);
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
	pf_docs_free(docs, nd);
	return 0;
}
