/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small JSON writer for the engine's replies. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "util.h"

static void jw_put(struct pf_jw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *b;

		while (cap < w->len + n + 1)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->failed = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void jw_sep(struct pf_jw *w)
{
	if (w->need_comma)
		jw_put(w, ",", 1);
	w->need_comma = true;
}

void pf_jw_raw(struct pf_jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

static void jw_string(struct pf_jw *w, const char *s)
{
	jw_put(w, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jw_put(w, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			jw_put(w, esc, 6);
		} else {
			jw_put(w, (const char *)p, 1);
		}
	}
	jw_put(w, "\"", 1);
}

void pf_jw_key(struct pf_jw *w, const char *k)
{
	jw_sep(w);
	jw_string(w, k);
	jw_put(w, ":", 1);
	w->need_comma = false;
}

void pf_jw_str(struct pf_jw *w, const char *s)
{
	jw_sep(w);
	if (s)
		jw_string(w, s);
	else
		jw_put(w, "null", 4);
}

void pf_jw_u64(struct pf_jw *w, uint64_t v)
{
	char b[32];

	jw_sep(w);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	pf_jw_raw(w, b);
}

void pf_jw_i64(struct pf_jw *w, int64_t v)
{
	char b[32];

	jw_sep(w);
	snprintf(b, sizeof(b), "%" PRId64, v);
	pf_jw_raw(w, b);
}

void pf_jw_bool(struct pf_jw *w, bool v)
{
	jw_sep(w);
	pf_jw_raw(w, v ? "true" : "false");
}

void pf_jw_open(struct pf_jw *w, char c)
{
	jw_sep(w);
	jw_put(w, &c, 1);
	w->need_comma = false;
}

void pf_jw_close(struct pf_jw *w, char c)
{
	jw_put(w, &c, 1);
	w->need_comma = true;
}

char *pf_jw_take(struct pf_jw *w)
{
	if (w->failed) {
		free(w->buf);
		w->buf = NULL;
		return NULL;
	}
	return PF_TAKE_PTR(w->buf);
}

