/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by every part: cleanup attributes, checked parsing, strings. */
#ifndef PF_UTIL_H
#define PF_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#include <sys/param.h> /* MIN, MAX */

static inline void pf_freep(void *p)
{
	free(*(void **)p);
}

static inline void pf_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(pf_freep)
#define _cleanup_close_ _cleanup_(pf_closep)
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

/* Take ownership out of a cleanup variable. */
#define PF_TAKE_PTR(p)                                                                             \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define PF_TAKE_FD(fd)                                                                             \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* Checked number parsing: whole string, base 10, range-checked. 0 or -EINVAL/-ERANGE. */
int pf_parse_u64(const char *s, uint64_t max, uint64_t *out);
int pf_parse_u32(const char *s, uint32_t max, uint32_t *out);
int pf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int pf_parse_bool(const char *s, bool *out);

/* Allocation that aborts on OOM is not used: callers get NULL/-ENOMEM. */
char *pf_strndup0(const char *s, size_t n);
bool pf_streq(const char *a, const char *b); /* NULL-safe */
static inline const char *pf_strna(const char *s)
{
	return s ? s : "n/a";
}

/* Grow *arr (elements of size sz) so that index n fits; doubles capacity. */
int pf_grow(void **arr, size_t *cap, size_t n, size_t sz);

/*
 * A growable NUL-terminated text buffer. The first failure sticks in r and later appends do
 * nothing, so a builder checks once, when it takes the text. A zeroed struct is empty.
 */
struct pf_buf {
	char *s;
	size_t len, cap;
	int r; /* 0 or the first -errno */
};
int pf_buf_add(struct pf_buf *b, const char *s, size_t n);
int pf_buf_puts(struct pf_buf *b, const char *s);
int pf_buf_printf(struct pf_buf *b, const char *fmt, ...) _printf_(2, 3);
/* Forget the text, keep the memory (and a sticky error). */
void pf_buf_clear(struct pf_buf *b);
/* The text ("" when nothing was added), now the caller's; or b->r. b is empty afterwards. */
int pf_buf_take(struct pf_buf *b, char **out);
void pf_buf_done(struct pf_buf *b);
#define _cleanup_buf_ _cleanup_(pf_buf_done)

/* Read a whole file, at most max bytes (-EFBIG past that); NUL-terminated. */
int pf_read_file(const char *path, size_t max, char **out, size_t *len);
/* Read all of fd (stdin), at most max bytes. */
int pf_read_fd(int fd, size_t max, char **out, size_t *len);
/* Write a file atomically (tmp + fsync + rename) with mode. */
int pf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with mode for created components. */
int pf_mkdir_p(const char *path, mode_t mode);
struct sockaddr;
/*
 * Bind a unix socket whose file is then 0600 at most, whatever the umask and with no chmod by
 * path afterwards (the kernel creates the file with the socket inode's mode less the umask,
 * so the mode is set on the fd first). 0 or -errno.
 */
int pf_bind_private(int fd, const struct sockaddr *sa, unsigned len);
/*
 * Before handing path to a library that would create it with a wider mode (sqlite: 0644 less
 * the umask, and its -wal and -shm files take the main file's mode): create it 0600, or if it
 * exists take group and other bits off it and off path+suffix for each of the NULL-terminated
 * suffixes, when they are regular files of ours. Never opens them for I/O (closing such an fd
 * would drop the POSIX locks another sqlite connection of the process holds). 0 or -errno.
 */
int pf_file_private(const char *path, const char *const *suffixes);

/* Wall clock in ms and monotonic clock in ns. */
int64_t pf_now_ms(void);
uint64_t pf_mono_ns(void);

/* RFC 1123 DNS label / subdomain checks (Kubernetes names). */
bool pf_dns1123_label(const char *s);
bool pf_dns1123_subdomain(const char *s);

#endif
