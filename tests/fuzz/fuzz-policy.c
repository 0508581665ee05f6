/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target: policy files (YAML or JSON) into the model. A valid policy's canonical JSON must
 * parse back to the same model, and every invalid document must carry a message. */
#include <stdio.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_policy_file f;
	struct pf_error err = {0};

	if (pf_policy_parse_buffer("fuzz", (const char *)data, size, &f, &err) < 0) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < f.n_docs; i++) {
		const struct pf_policy_doc *d = &f.docs[i];
		struct pf_policy_file back;
		char *a = NULL, *b = NULL, *s = NULL, line[2048];

		if (!d->policy) {
			if (!d->error[0])
				abort();
			pf_policy_doc_format_error("fuzz", d, line, sizeof(line));
			continue;
		}
		if (pf_policy_to_json(d->policy, &a) < 0)
			continue;
		if (pf_policy_parse_buffer("canonical", a, strlen(a), &back, &err) < 0 ||
		    back.n_docs != 1 || !back.docs[0].policy) {
			fprintf(stderr, "canonical JSON is not a valid policy: %s %s\n%s\n",
				err.msg, back.n_docs ? back.docs[0].error : "", a);
			abort();
		}
		if (pf_policy_to_json(back.docs[0].policy, &b) < 0 || strcmp(a, b)) {
			fprintf(stderr, "round trip differs:\n%s\n%s\n", a, b ? b : "(null)");
			abort();
		}
		for (size_t r = 0; r < d->policy->n_egress; r++) {
			if (pf_rule_destination_string(&d->policy->egress[r], &s) == 0)
				free(s);
			if (pf_rule_ports_string(&d->policy->egress[r], &s) == 0)
				free(s);
		}
		pf_policy_file_free(&back);
		free(a);
		free(b);
	}
	pf_policy_file_free(&f);
	return 0;
}
