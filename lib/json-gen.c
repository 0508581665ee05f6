/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The JSON generator helpers (see json-gen.h): yajl_gen, printing into a pf_buf. */
#include <inttypes.h>

#include "json-gen.h"

static void print_cb(void *ctx, const char *s, size_t len)
{
	pf_buf_add(ctx, s, len);
}

static int status(struct pf_jgen *j, yajl_gen_status st)
{
	int r;

	if (j->r < 0)
		return j->r;
	switch (st) {
	case yajl_gen_status_ok:
		/* yajl has no way to say that printing failed: the buffer holds it. */
		r = j->out.r;
		break;
	case yajl_max_depth_exceeded:
		r = -ELOOP;
		break;
	case yajl_gen_invalid_number:
		r = -ERANGE;
		break;
	case yajl_gen_invalid_string:
		r = -EILSEQ;
		break;
	default: /* a key that is not a string, a value after the end, a generator in error */
		r = -EINVAL;
	}
	if (r < 0)
		j->r = r;
	return r;
}

int pf_jgen_init(struct pf_jgen *j, unsigned flags)
{
	*j = (struct pf_jgen){0};
	j->g = yajl_gen_alloc(NULL);
	if (!j->g)
		return j->r = -ENOMEM;
	if (!yajl_gen_config(j->g, yajl_gen_print_callback, print_cb, &j->out))
		return j->r = -EINVAL;
	if ((flags & PF_JGEN_PRETTY) && !yajl_gen_config(j->g, yajl_gen_beautify, 1))
		return j->r = -EINVAL;
	return 0;
}

void pf_jgen_done(struct pf_jgen *j)
{
	if (j->g)
		yajl_gen_free(j->g);
	pf_buf_done(&j->out);
	*j = (struct pf_jgen){0};
}

/* A generator that failed to start has no g: every call reports that first error. */
#define GEN(j, call) ((j)->r < 0 ? (j)->r : status((j), (call)))

int pf_jgen_map_open(struct pf_jgen *j)
{
	return GEN(j, yajl_gen_map_open(j->g));
}

int pf_jgen_map_close(struct pf_jgen *j)
{
	return GEN(j, yajl_gen_map_close(j->g));
}

int pf_jgen_array_open(struct pf_jgen *j)
{
	return GEN(j, yajl_gen_array_open(j->g));
}

int pf_jgen_array_close(struct pf_jgen *j)
{
	return GEN(j, yajl_gen_array_close(j->g));
}

int pf_jgen_strn(struct pf_jgen *j, const char *s, size_t len)
{
	return GEN(j, yajl_gen_string(j->g, (const unsigned char *)s, len));
}

int pf_jgen_str(struct pf_jgen *j, const char *s)
{
	return s ? pf_jgen_strn(j, s, strlen(s)) : pf_jgen_null(j);
}

int pf_jgen_key(struct pf_jgen *j, const char *key)
{
	return pf_jgen_strn(j, key, strlen(key));
}

int pf_jgen_int(struct pf_jgen *j, int64_t v)
{
	return GEN(j, yajl_gen_integer(j->g, (long long)v));
}

int pf_jgen_uint(struct pf_jgen *j, uint64_t v)
{
	char num[24];
	int n;

	/* yajl_gen_integer takes a long long: larger counters go as their digits. */
	if (v <= INT64_MAX)
		return pf_jgen_int(j, (int64_t)v);
	n = snprintf(num, sizeof(num), "%" PRIu64, v);
	return GEN(j, yajl_gen_number(j->g, num, (size_t)n));
}

int pf_jgen_bool(struct pf_jgen *j, bool v)
{
	return GEN(j, yajl_gen_bool(j->g, v));
}

int pf_jgen_null(struct pf_jgen *j)
{
	return GEN(j, yajl_gen_null(j->g));
}

int pf_jgen_raw(struct pf_jgen *j, const char *json)
{
	/* yajl_gen_number prints its text as is, with the separators a value needs. */
	return GEN(j, yajl_gen_number(j->g, json, strlen(json)));
}

int pf_jgen_kv_str(struct pf_jgen *j, const char *key, const char *s)
{
	int r = pf_jgen_key(j, key);

	return r < 0 ? r : pf_jgen_str(j, s);
}

int pf_jgen_kv_int(struct pf_jgen *j, const char *key, int64_t v)
{
	int r = pf_jgen_key(j, key);

	return r < 0 ? r : pf_jgen_int(j, v);
}

int pf_jgen_kv_uint(struct pf_jgen *j, const char *key, uint64_t v)
{
	int r = pf_jgen_key(j, key);

	return r < 0 ? r : pf_jgen_uint(j, v);
}

int pf_jgen_kv_bool(struct pf_jgen *j, const char *key, bool v)
{
	int r = pf_jgen_key(j, key);

	return r < 0 ? r : pf_jgen_bool(j, v);
}

const char *pf_jgen_text(const struct pf_jgen *j, size_t *len)
{
	if (j->r < 0 || j->out.r < 0)
		return NULL;
	if (len)
		*len = j->out.len;
	return j->out.s ? j->out.s : "";
}

int pf_jgen_take(struct pf_jgen *j, char **out)
{
	int r = j->r < 0 ? j->r : pf_buf_take(&j->out, out);

	pf_jgen_done(j);
	return r;
}

int pf_jgen_flush(struct pf_jgen *j, FILE *f)
{
	size_t len;
	const char *s = pf_jgen_text(j, &len);

	if (!s)
		return j->r < 0 ? j->r : j->out.r;
	if (len && fwrite(s, 1, len, f) != len)
		return j->r = -EIO;
	pf_buf_clear(&j->out);
	yajl_gen_reset(j->g, NULL);
	return 0;
}
