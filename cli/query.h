/* SPDX-License-Identifier: GPL-2.0-or-later */
/* podfencectl: print the rows of a query on the store as an aligned table or as JSON. */
#ifndef PF_CLI_QUERY_H
#define PF_CLI_QUERY_H

#include <sqlite3.h>

#include "cli.h"
#include "store.h"

/* Open the store read-only; prints the error and returns NULL on failure. */
struct pf_store *pf_cli_open_store(const struct pf_cli *cli);

/*
 * Run sql (with text parameters params[0..n_params-1] bound to ?1..?N) and print the rows:
 * a table with a header line (NULL shows as "-"), or a JSON array of objects (integers as
 * numbers, NULL as null). With `last_id`, the first column is a row id that is not printed and
 * the greatest one seen is stored there (for --follow). header: print the table's header line.
 * Returns rows printed or -errno.
 */
int pf_cli_print_query(const struct pf_cli *cli, sqlite3 *db, const char *sql,
		       const char *const *params, size_t n_params, int64_t *last_id, bool header);

#endif
