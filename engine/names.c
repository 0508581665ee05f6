/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-pod DNS names (names.h): a table by address, a list by age for eviction. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "names.h"
#include "store.h"
#include "siphash.h"
#include "util.h"

struct pf_name_addr {
	struct pf_hnode node;
	struct pf_addr addr;
	struct pf_name_addr *older, *newer;
	size_t n;
	/* names[i] expires at expires[i]; view[] points at names[] for pf_names lookups */
	char names[PF_NAMES_MAX_PER_ADDR][PF_DNS_MAX_NAME + 1];
	int64_t expires[PF_NAMES_MAX_PER_ADDR];
	const char *view[PF_NAMES_MAX_PER_ADDR];
};

/* The pod's resolver chooses the addresses (and a pod chooses what it asks): keyed hash. */
static uint64_t addr_hash(const struct pf_addr *a)
{
	return pf_keyed_hash(a->b, sizeof(a->b));
}

static bool addr_eq(const struct pf_hnode *n, const void *key)
{
	return pf_addr_eq(&pf_container_of(n, struct pf_name_addr, node)->addr, key);
}

/* Cheap, seeded per pod: which slots collide cannot be planned; a collision only costs the
 * keyed table lookup behind it. */
static size_t slot(const struct pf_pod_names *n, const struct pf_addr *a)
{
	uint64_t x, y, h;

	memcpy(&x, a->b, 8);
	memcpy(&y, a->b + 8, 8);
	h = (x ^ n->filter_seed) * 0x9e3779b97f4a7c15ull + y;
	h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
	return (size_t)(h >> 40) % PF_NAMES_FILTER_SLOTS;
}

static struct pf_name_addr *find(const struct pf_pod_names *n, const struct pf_addr *a)
{
	struct pf_hnode *h = pf_hashtable_find(&n->by_addr, addr_hash(a), addr_eq, a);

	return h ? pf_container_of(h, struct pf_name_addr, node) : NULL;
}

static void unlink_age(struct pf_pod_names *n, struct pf_name_addr *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		n->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		n->newest = e->older;
	e->older = e->newer = NULL;
}

static void link_newest(struct pf_pod_names *n, struct pf_name_addr *e)
{
	e->older = n->newest;
	e->newer = NULL;
	if (n->newest)
		n->newest->newer = e;
	else
		n->oldest = e;
	n->newest = e;
}

static void drop(struct pf_pod_names *n, struct pf_name_addr *e)
{
	n->dirty = true;
	if (n->filter)
		n->filter[slot(n, &e->addr)]--;
	unlink_age(n, e);
	pf_hashtable_del(&n->by_addr, &e->node);
	free(e);
}

/* Remove names[i] of e, keeping view[] in step. */
static void remove_name(struct pf_name_addr *e, size_t i)
{
	e->n--;
	if (i != e->n) {
		memcpy(e->names[i], e->names[e->n], sizeof(e->names[i]));
		e->expires[i] = e->expires[e->n];
	}
	for (size_t k = 0; k < e->n; k++)
		e->view[k] = e->names[k];
}

static size_t lookup(void *ctx, const struct pf_addr *dst, const char *const **out)
{
	struct pf_pod_names *n = ctx;
	struct pf_name_addr *e;

	if (!n->filter || !n->filter[slot(n, dst)])
		return 0;
	e = find(n, dst);
	if (!e)
		return 0;
	/* what expired since the last sweep does not count */
	for (size_t i = 0; i < e->n;)
		if (e->expires[i] <= n->now_ms)
			remove_name(e, i);
		else
			i++;
	if (!e->n) {
		drop(n, e);
		return 0;
	}
	*out = e->view;
	return e->n;
}

void pf_pod_names_init(struct pf_pod_names *n, uint64_t *evicted)
{
	memset(n, 0, sizeof(*n));
	pf_hashtable_init(&n->by_addr, 64, PF_NAMES_MAX_ADDRS, PF_HASHTABLE_GROW);
	n->evicted = evicted;
	n->view = (struct pf_names){.lookup = lookup, .ctx = n};
}

void pf_pod_names_free(struct pf_pod_names *n)
{
	while (n->oldest)
		drop(n, n->oldest);
	pf_hashtable_fini(&n->by_addr);
	free(n->filter);
	n->filter = NULL;
}

int pf_pod_names_read_resolvers(struct pf_pod_names *n, const char *path)
{
	char buf[4097];
	ssize_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	char *line, *save = NULL;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = 0;
	n->n_resolvers = 0;
	for (line = strtok_r(buf, "\n", &save); line && n->n_resolvers < PF_NAMES_MAX_RESOLVERS;
	     line = strtok_r(NULL, "\n", &save)) {
		char word[16], addr[64];
		struct pf_addr a;

		if (sscanf(line, " %15s %63s", word, addr) != 2 || strcmp(word, "nameserver"))
			continue;
		if (pf_addr_parse(addr, &a) == 0)
			n->resolvers[n->n_resolvers++] = a;
	}
	return 0;
}

bool pf_pod_names_is_resolver(const struct pf_pod_names *n, const struct pf_addr *a)
{
	for (size_t i = 0; i < n->n_resolvers; i++)
		if (pf_addr_eq(&n->resolvers[i], a))
			return true;
	return false;
}

static void set_name(struct pf_pod_names *n, struct pf_name_addr *e, const char *name,
		     int64_t expires)
{
	size_t i, oldest = 0;

	n->dirty = true;
	for (i = 0; i < e->n; i++)
		if (!strcmp(e->names[i], name)) {
			e->expires[i] = expires;
			return;
		}
	if (e->n == PF_NAMES_MAX_PER_ADDR) {
		/* the name expiring first goes */
		for (i = 1; i < e->n; i++)
			if (e->expires[i] < e->expires[oldest])
				oldest = i;
		remove_name(e, oldest);
		if (n->evicted)
			(*n->evicted)++;
	}
	snprintf(e->names[e->n], sizeof(e->names[0]), "%s", name);
	e->expires[e->n] = expires;
	e->n++;
	for (size_t k = 0; k < e->n; k++)
		e->view[k] = e->names[k];
}

size_t pf_pod_names_add(struct pf_pod_names *n, const struct pf_dns_answer *a, int64_t now_ms)
{
	size_t set = 0;

	for (size_t i = 0; i < a->n_addrs; i++) {
		uint32_t ttl = MAX(a->addrs[i].ttl, (uint32_t)PF_NAMES_TTL_MIN_S);
		int64_t expires = now_ms + (int64_t)MIN(ttl, (uint32_t)PF_NAMES_TTL_MAX_S) * 1000;
		struct pf_name_addr *e = find(n, &a->addrs[i].addr);

		if (!e) {
			if (n->by_addr.count >= PF_NAMES_MAX_ADDRS && n->oldest) {
				drop(n, n->oldest);
				if (n->evicted)
					(*n->evicted)++;
			}
			if (!n->filter) {
				n->filter = calloc(PF_NAMES_FILTER_SLOTS, sizeof(*n->filter));
				if (!n->filter)
					break;
				pf_random_bytes(&n->filter_seed, sizeof(n->filter_seed));
			}
			e = calloc(1, sizeof(*e));
			if (!e)
				break;
			e->addr = a->addrs[i].addr;
			if (pf_hashtable_add(&n->by_addr, &e->node, addr_hash(&e->addr)) < 0) {
				free(e);
				break;
			}
			n->filter[slot(n, &e->addr)]++;
		} else {
			unlink_age(n, e);
		}
		link_newest(n, e);
		for (size_t k = 0; k < a->n_names; k++, set++)
			set_name(n, e, a->names[k], expires);
	}
	return set;
}

void pf_pod_names_expire(struct pf_pod_names *n, int64_t now_ms)
{
	/* every address is looked at once: at most PF_NAMES_MAX_ADDRS */
	for (struct pf_name_addr *e = n->oldest, *next; e; e = next) {
		next = e->newer;
		for (size_t i = 0; i < e->n;)
			if (e->expires[i] <= now_ms) {
				remove_name(e, i);
				n->dirty = true;
			} else {
				i++;
			}
		if (!e->n)
			drop(n, e);
	}
}

struct pf_dns_name_row *pf_pod_names_rows(const struct pf_pod_names *n, size_t *count)
{
	struct pf_dns_name_row *rows;
	size_t total = 0, k = 0;

	*count = 0;
	for (const struct pf_name_addr *e = n->oldest; e; e = e->newer)
		total += e->n;
	if (!total)
		return NULL;
	rows = calloc(total, sizeof(*rows));
	if (!rows)
		return NULL;
	for (const struct pf_name_addr *e = n->oldest; e; e = e->newer)
		for (size_t i = 0; i < e->n; i++, k++) {
			snprintf(rows[k].name, sizeof(rows[k].name), "%s", e->names[i]);
			pf_addr_fmt(&e->addr, rows[k].ip);
			rows[k].expires_ms = e->expires[i];
		}
	*count = total;
	return rows;
}

size_t pf_pod_names_count(const struct pf_pod_names *n)
{
	return n->by_addr.count;
}

void pf_pod_names_foreach(const struct pf_pod_names *n,
			  bool (*fn)(void *data, const char *name, const struct pf_addr *a,
				     int64_t expires_ms),
			  void *data)
{
	for (const struct pf_name_addr *e = n->oldest; e; e = e->newer)
		for (size_t i = 0; i < e->n; i++)
			if (!fn(data, e->names[i], &e->addr, e->expires[i]))
				return;
}
