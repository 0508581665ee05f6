/* Test helper: load policy files into the store as one source, the way podfence-sync does.
 * Usage: engine-policy-load DB SOURCE FILE...   (no FILE: the source holds no policy) */
#include <stdio.h>

#include "policy.h"
#include "store.h"

int main(int argc, char **argv)
{
	struct pf_policy_doc *docs = NULL;
	struct pf_policy_file *files;
	struct pf_store *s = NULL;
	struct pf_error err = {};
	size_t n = 0, k = 0;
	int r, rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DB SOURCE FILE...\n", argv[0]);
		return 2;
	}
	files = calloc((size_t)argc, sizeof(*files));
	if (!files)
		return 1;
	for (int i = 3; i < argc; i++) {
		r = pf_policy_parse_file(argv[i], &files[i], &err);
		if (r < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 2;
		}
		n += files[i].n_docs;
	}
	docs = calloc(n + 1, sizeof(*docs));
	if (!docs)
		return 1;
	for (int i = 3; i < argc; i++)
		for (size_t d = 0; d < files[i].n_docs; d++) {
			if (files[i].docs[d].error[0]) {
				fprintf(stderr, "%s: %s\n", argv[i], files[i].docs[d].error);
				rc = 2;
			}
			docs[k++] = files[i].docs[d];
		}
	r = pf_store_open(argv[1], 0, &s, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	r = pf_store_sync_source(s, argv[2], docs, n, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err.msg);
		rc = 1;
	}
	pf_store_close(s);
	free(docs);
	for (int i = 3; i < argc; i++)
		pf_policy_file_free(&files[i]);
	free(files);
	return rc;
}
