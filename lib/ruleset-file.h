/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The last resolved ruleset that compiled, kept on disk so a restart can judge by it. */
#ifndef PF_RULESET_FILE_H
#define PF_RULESET_FILE_H

#include "ruleset.h"

/* Bounds on what a file can make the reader allocate (well past what a store produces). */
#define PF_RULESET_FILE_MAX ((size_t)1 << 30)
#define PF_RULESET_FILE_MAX_STR 1024

/*
 * Encode rs (a versioned header, a length, a checksum, then the policies in order).
 * *out is malloc'ed. 0 or -ENOMEM.
 */
int pf_ruleset_encode(const struct pf_ruleset *rs, char **out, size_t *len);
/*
 * Decode what pf_ruleset_encode wrote; every count is checked against what is left, the
 * checksum against the content. 0, -ENOMEM, or -EINVAL with err saying what is wrong.
 */
int pf_ruleset_decode(const char *buf, size_t len, struct pf_ruleset **out, struct pf_error *err);
/*
 * Write rs to path atomically (mode 0600, in the same directory, then renamed). *last holds
 * the checksum of what was written last: unchanged content is not written again. 0 or -errno.
 */
int pf_ruleset_save(const struct pf_ruleset *rs, const char *path, uint64_t *last);
/* Read a file pf_ruleset_save wrote. -ENOENT when there is none. */
int pf_ruleset_load_file(const char *path, struct pf_ruleset **out, struct pf_error *err);

#endif
