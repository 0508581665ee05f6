/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by every part. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

int pf_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int pf_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int r = pf_parse_u64(s, max, &v);

	if (r < 0)
		return r;
	*out = (uint32_t)v;
	return 0;
}

int pf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int pf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < PF_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

char *pf_strndup0(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

bool pf_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int pf_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap <= n) {
		if (ncap > SIZE_MAX / 2 / sz)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int buf_fail(struct pf_buf *b, int r)
{
	b->r = r;
	return r;
}

int pf_buf_add(struct pf_buf *b, const char *s, size_t n)
{
	if (b->r < 0)
		return b->r;
	if (n > SIZE_MAX - b->len - 1)
		return buf_fail(b, -ENOMEM);
	if (pf_grow((void **)&b->s, &b->cap, b->len + n, 1) < 0)
		return buf_fail(b, -ENOMEM);
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int pf_buf_puts(struct pf_buf *b, const char *s)
{
	return pf_buf_add(b, s, strlen(s));
}

int pf_buf_printf(struct pf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->r < 0)
		return b->r;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return buf_fail(b, -EINVAL);
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		if (pf_grow((void **)&b->s, &b->cap, b->len + (size_t)n, 1) < 0)
			return buf_fail(b, -ENOMEM);
	}
}

void pf_buf_clear(struct pf_buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

int pf_buf_take(struct pf_buf *b, char **out)
{
	int r = b->r < 0 ? b->r : pf_buf_add(b, "", 0);

	if (r < 0) {
		pf_buf_done(b);
		return r;
	}
	*out = PF_TAKE_PTR(b->s);
	b->len = b->cap = 0;
	return 0;
}

void pf_buf_done(struct pf_buf *b)
{
	free(b->s);
	*b = (struct pf_buf){0};
}

int pf_read_fd(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int pf_read_file(const char *path, size_t max, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return pf_read_fd(fd, max, out, len);
}

int pf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	const char *p = data;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			int r = -errno;

			if (errno == EINTR)
				continue;
			unlink(tmp);
			return r;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

int pf_bind_private(int fd, const struct sockaddr *sa, unsigned len)
{
	if (fchmod(fd, 0600) < 0 || bind(fd, sa, (socklen_t)len) < 0)
		return -errno;
	return 0;
}

/*
 * Take group and other bits off path if it is ours. Through an O_PATH fd: closing an ordinary
 * fd of a file would drop every POSIX lock this process holds on it (sqlite's, when another
 * connection of ours has the store open), an O_PATH one does not.
 */
static int tighten(const char *path, bool must_exist)
{
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	char proc[64];
	struct stat st;

	if (fd < 0)
		return errno == ENOENT && !must_exist ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || !(st.st_mode & 077))
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, st.st_mode & 0700) < 0 ? -errno : 0;
}

int pf_file_private(const char *path, const char *const *suffixes)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	int r;

	/* New (no connection of ours can have it open): created 0600, whatever the umask. */
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EEXIST)
		return -errno;
	r = tighten(path, true);
	for (size_t i = 0; r >= 0 && suffixes && suffixes[i]; i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s%s", path, suffixes[i]) < 0)
			return -ENOMEM;
		r = tighten(p, false);
	}
	return r;
}

int pf_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int64_t pf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t pf_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool pf_dns1123_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
			return false;
	}
	return s[0] != '-' && s[n - 1] != '-';
}

bool pf_dns1123_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const char *p;

	if (n == 0 || n > 253)
		return false;
	p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		char lab[64];

		if (l == 0 || l > 63)
			return false;
		memcpy(lab, p, l);
		lab[l] = '\0';
		if (!pf_dns1123_label(lab))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}
