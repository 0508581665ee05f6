/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writing JSON: yajl_gen behind a few helpers, so that every part escapes strings one way. */
#ifndef PF_JSON_GEN_H
#define PF_JSON_GEN_H

#include <stdio.h>
#include <yajl/yajl_gen.h>

#include "util.h"

/*
 * A generator writing into a pf_buf (yajl's own buffer cannot report running out of memory).
 * Every helper returns 0 or -errno and keeps the first error in r, so a writer may check each
 * call (PF_JGEN_OR_FAIL) or only pf_jgen_take()'s result. A zeroed struct is safe to
 * pf_jgen_done().
 */
struct pf_jgen {
	yajl_gen g;
	struct pf_buf out;
	int r;
};

/* Indented output (yajl's beautify: four spaces, a newline after the top-level value). */
#define PF_JGEN_PRETTY (1u << 0)

int pf_jgen_init(struct pf_jgen *j, unsigned flags);
void pf_jgen_done(struct pf_jgen *j);
#define _cleanup_jgen_ _cleanup_(pf_jgen_done)

/* Return from the calling function with the error of a pf_jgen_* call. */
#define PF_JGEN_OR_FAIL(call)                                                                      \
	do {                                                                                       \
		int _jr = (call);                                                                  \
		if (_jr < 0)                                                                       \
			return _jr;                                                                \
	} while (0)

int pf_jgen_map_open(struct pf_jgen *j);
int pf_jgen_map_close(struct pf_jgen *j);
int pf_jgen_array_open(struct pf_jgen *j);
int pf_jgen_array_close(struct pf_jgen *j);
int pf_jgen_key(struct pf_jgen *j, const char *key);
/* A string, or null when s is NULL. */
int pf_jgen_str(struct pf_jgen *j, const char *s);
int pf_jgen_strn(struct pf_jgen *j, const char *s, size_t len);
int pf_jgen_int(struct pf_jgen *j, int64_t v);
int pf_jgen_uint(struct pf_jgen *j, uint64_t v);
int pf_jgen_bool(struct pf_jgen *j, bool v);
int pf_jgen_null(struct pf_jgen *j);
/* A value that is already JSON text (one complete value, e.g. a stored policy), as is. */
int pf_jgen_raw(struct pf_jgen *j, const char *json);

/* A key and its value, in one call. */
int pf_jgen_kv_str(struct pf_jgen *j, const char *key, const char *s);
int pf_jgen_kv_int(struct pf_jgen *j, const char *key, int64_t v);
int pf_jgen_kv_uint(struct pf_jgen *j, const char *key, uint64_t v);
int pf_jgen_kv_bool(struct pf_jgen *j, const char *key, bool v);

/* The text so far (NUL-terminated, owned by j), or NULL after an error. */
const char *pf_jgen_text(const struct pf_jgen *j, size_t *len);
/* The text, now the caller's (*out malloc'ed); or the first error. j is empty afterwards. */
int pf_jgen_take(struct pf_jgen *j, char **out);
/* Write the text to f and start over, ready for another top-level value (a stream of
 * documents, one per line). 0, the first error, or -EIO. */
int pf_jgen_flush(struct pf_jgen *j, FILE *f);

#endif
