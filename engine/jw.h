/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small JSON writer for the engine's replies. */
#ifndef PF_ENGINE_JW_H
#define PF_ENGINE_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pf_jw {
	char *buf;
	size_t len, cap;
	bool failed;
	bool need_comma;
};
void pf_jw_raw(struct pf_jw *w, const char *s);
void pf_jw_key(struct pf_jw *w, const char *k);
void pf_jw_str(struct pf_jw *w, const char *s);
void pf_jw_u64(struct pf_jw *w, uint64_t v);
void pf_jw_i64(struct pf_jw *w, int64_t v);
void pf_jw_bool(struct pf_jw *w, bool v);
void pf_jw_open(struct pf_jw *w, char c);
void pf_jw_close(struct pf_jw *w, char c);
char *pf_jw_take(struct pf_jw *w);

#endif
