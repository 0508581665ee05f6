/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl: what the subcommands share: the output option, the store, query printing. */
#include <stdio.h>

#include "json-gen.h"
#include "query.h"

int pf_cli_parse_output(const char *s, enum pf_output *out)
{
	if (pf_streq(s, "table"))
		*out = PF_OUTPUT_TABLE;
	else if (pf_streq(s, "json"))
		*out = PF_OUTPUT_JSON;
	else if (pf_streq(s, "dot"))
		*out = PF_OUTPUT_DOT;
	else
		return -EINVAL;
	return 0;
}

struct pf_store *pf_cli_open_store(const struct pf_cli *cli)
{
	struct pf_error err = {0};
	struct pf_store *s = NULL;

	if (pf_store_open(cli->db, PF_STORE_READONLY, &s, &err) < 0) {
		fprintf(stderr, "podfencectl: %s\n", err.msg);
		return NULL;
	}
	return s;
}

struct table {
	int n_cols;
	size_t n_rows, cap;
	char **cells; /* n_rows * n_cols, NULL for SQL NULL */
	size_t *width;
};

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n_rows * (size_t)t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
}

static int print_json(sqlite3_stmt *st, int first, int64_t *last_id)
{
	_cleanup_jgen_ struct pf_jgen j = {0};
	int r, rows = 0;

	/* With row ids (event streams): one compact object per line, so a follower can read
	 * line by line; else one array. */
	r = pf_jgen_init(&j, last_id ? 0 : PF_JGEN_PRETTY);
	if (r < 0)
		return r;
	if (!last_id)
		pf_jgen_array_open(&j);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (last_id)
			*last_id = MAX(*last_id, sqlite3_column_int64(st, 0));
		pf_jgen_map_open(&j);
		for (int c = first; c < sqlite3_column_count(st); c++) {
			pf_jgen_key(&j, sqlite3_column_name(st, c));
			switch (sqlite3_column_type(st, c)) {
			case SQLITE_NULL:
				pf_jgen_null(&j);
				break;
			case SQLITE_INTEGER:
				pf_jgen_int(&j, sqlite3_column_int64(st, c));
				break;
			default:
				pf_jgen_str(&j, (const char *)sqlite3_column_text(st, c));
			}
		}
		pf_jgen_map_close(&j);
		if (last_id) {
			if (pf_jgen_flush(&j, stdout) < 0)
				return -EIO;
			fputc('\n', stdout);
		}
		rows++;
	}
	if (!last_id)
		pf_jgen_array_close(&j);
	if (r != SQLITE_DONE)
		return -EIO;
	if (!last_id) {
		size_t len;
		const char *text = pf_jgen_text(&j, &len);

		if (!text)
			return j.r < 0 ? j.r : -ENOMEM;
		fwrite(text, 1, len, stdout);
		if (!len || text[len - 1] != '\n')
			fputc('\n', stdout);
	}
	return rows;
}

static int print_table(sqlite3_stmt *st, int first, int64_t *last_id, bool header)
{
	struct table t = {.n_cols = sqlite3_column_count(st) - first};
	int r, rows;

	t.width = calloc((size_t)t.n_cols, sizeof(*t.width));
	if (!t.width)
		return -ENOMEM;
	for (int c = 0; c < t.n_cols; c++)
		t.width[c] = strlen(sqlite3_column_name(st, c + first));
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (last_id)
			*last_id = MAX(*last_id, sqlite3_column_int64(st, 0));
		if (pf_grow((void **)&t.cells, &t.cap, (t.n_rows + 1) * (size_t)t.n_cols,
			    sizeof(char *)) < 0) {
			table_free(&t);
			return -ENOMEM;
		}
		for (int c = 0; c < t.n_cols; c++) {
			const unsigned char *v = sqlite3_column_text(st, c + first);
			char *s = strdup(v ? (const char *)v : "-");

			t.cells[t.n_rows * (size_t)t.n_cols + (size_t)c] = s;
			if (s)
				t.width[c] = MAX(t.width[c], strlen(s));
		}
		t.n_rows++;
	}
	if (r != SQLITE_DONE) {
		table_free(&t);
		return -EIO;
	}
	if (header) {
		for (int c = 0; c < t.n_cols; c++) {
			char h[128];

			snprintf(h, sizeof(h), "%s", sqlite3_column_name(st, c + first));
			for (char *p = h; *p; p++)
				*p = (char)(*p == '_' ? ' '
						      : (*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
			printf("%-*s%s", c + 1 < t.n_cols ? (int)t.width[c] : 0, h,
			       c + 1 < t.n_cols ? "  " : "\n");
		}
	}
	for (size_t i = 0; i < t.n_rows; i++)
		for (int c = 0; c < t.n_cols; c++) {
			const char *s = t.cells[i * (size_t)t.n_cols + (size_t)c];

			printf("%-*s%s", c + 1 < t.n_cols ? (int)t.width[c] : 0, s ? s : "?",
			       c + 1 < t.n_cols ? "  " : "\n");
		}
	rows = (int)t.n_rows;
	table_free(&t);
	return rows;
}

int pf_cli_print_query(const struct pf_cli *cli, sqlite3 *db, const char *sql,
		       const char *const *params, size_t n_params, int64_t *last_id, bool header)
{
	sqlite3_stmt *st = NULL;
	int r, first = last_id ? 1 : 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "podfencectl: query failed: %s\n", sqlite3_errmsg(db));
		return -EIO;
	}
	for (size_t i = 0; i < n_params; i++)
		sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_TRANSIENT);
	if (cli->output == PF_OUTPUT_JSON)
		r = print_json(st, first, last_id);
	else
		r = print_table(st, first, last_id, header && !cli->no_headers);
	if (r == -EIO)
		fprintf(stderr, "podfencectl: query failed: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	fflush(stdout);
	return r;
}
