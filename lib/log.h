/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging for the programs: syslog (journald) and/or stderr. Library code logs at debug only. */
#ifndef PF_LOG_H
#define PF_LOG_H

#include <syslog.h>

#include "util.h"

enum {
	PF_LOG_STDERR = 1 << 0,
	PF_LOG_SYSLOG = 1 << 1,
};

void pf_log_open(const char *ident, int targets, int max_level);
void pf_log_set_level(int max_level);
int pf_log_get_level(void);
/* Logs and returns -abs(err) when err != 0 (so callers can `return log_error_errno(r, ...)`).
 * %m in fmt prints strerror(abs(err)). */
int pf_log_internal(int level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) pf_log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) pf_log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) pf_log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) pf_log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) pf_log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) pf_log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) pf_log_internal(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) pf_log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) pf_log_internal(LOG_ERR, (e), __VA_ARGS__)

#endif
