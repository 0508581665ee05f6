/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal TAP producer for C unit tests (no framework, as crun's tests). `make check` runs
 * them under automake's TAP driver, one result per ok/not ok; a test that exits non-zero fails
 * whatever it printed. A whole test is skipped with the plan `1..0 # SKIP why` and exit 0.
 */
#ifndef PF_TAP_H
#define PF_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
	do {                                                                                       \
		long long _g = (long long)(got), _w = (long long)(want);                           \
		if (!ok(_g == _w, __VA_ARGS__))                                                    \
			printf("#   got %lld, want %lld\n", _g, _w);                               \
	} while (0)
#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *_g = (got), *_w = (want);                                              \
		if (!ok(_g && _w && !strcmp(_g, _w), __VA_ARGS__))                                 \
			printf("#   got '%s', want '%s'\n", _g ? _g : "(null)",                    \
			       _w ? _w : "(null)");                                                \
	} while (0)
#define has_str(hay, needle, ...)                                                                  \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!ok(_h && strstr(_h, _n), __VA_ARGS__))                                        \
			printf("#   '%s' does not contain '%s'\n", _h ? _h : "(null)", _n);        \
	} while (0)

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Before any case: the driver reads the empty plan as a skip (an exit status of 77 would be
 * an error to it). */
static inline int tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	return 0;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif
