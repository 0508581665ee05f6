/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: one place decides where messages go. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static int log_targets = PF_LOG_STDERR;
static int log_level = LOG_INFO;
static const char *log_ident = "podfence";

void pf_log_open(const char *ident, int targets, int max_level)
{
	log_ident = ident;
	log_targets = targets;
	log_level = max_level;
	if (targets & PF_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pf_log_set_level(int max_level)
{
	log_level = max_level;
}

int pf_log_get_level(void)
{
	return log_level;
}

int pf_log_internal(int level, int err, const char *fmt, ...)
{
	char buf[2048], fmt2[1024];
	const char *f = fmt;
	va_list ap;
	int saved = errno;

	if (err < 0)
		err = -err;
	if (level > log_level)
		return -err;
	/* Expand %m to the error passed in, not whatever errno happens to hold. */
	if (err && strstr(fmt, "%m")) {
		size_t o = 0;

		for (const char *p = fmt; *p && o + 128 < sizeof(fmt2); p++) {
			if (p[0] == '%' && p[1] == '%') {
				fmt2[o++] = *p++;
				fmt2[o++] = *p;
			} else if (p[0] == '%' && p[1] == 'm') {
				const char *e = strerror(err);

				for (; *e && o + 2 < sizeof(fmt2); e++) {
					if (*e == '%')
						fmt2[o++] = '%';
					fmt2[o++] = *e;
				}
				p++;
			} else {
				fmt2[o++] = *p;
			}
		}
		fmt2[o] = '\0';
		f = fmt2;
	}
	va_start(ap, fmt);
	/* f is fmt with %m expanded: still the caller's checked format. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(buf, sizeof(buf), f, ap);
#pragma GCC diagnostic pop
	va_end(ap);
	if (log_targets & PF_LOG_SYSLOG)
		syslog(level, "%s", buf);
	if (log_targets & PF_LOG_STDERR)
		fprintf(stderr, "%s: %s\n", log_ident, buf);
	errno = saved;
	return -err;
}
