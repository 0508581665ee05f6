/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An error that carries a message for a person out of library code (crun's libcrun_error_t). */
#ifndef PF_ERROR_H
#define PF_ERROR_H

#include "util.h"

struct pf_error {
	int code; /* positive errno, 0 when unset */
	char msg[1024];
};

/* Set err (which may be NULL) and return -code (code is a positive errno). */
int pf_error_set(struct pf_error *err, int code, const char *fmt, ...) _printf_(3, 4);
/* Prefix an existing message: "file.yaml: <old>". */
int pf_error_prefix(struct pf_error *err, const char *fmt, ...) _printf_(2, 3);
static inline void pf_error_clear(struct pf_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

#endif
